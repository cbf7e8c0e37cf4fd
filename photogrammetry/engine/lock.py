"""One process at a time per workspace.

The lock file ``<workspace>/.lock`` holds the owner's PID and host. The kernel's ``flock``
decides who holds it, so a lock left by a process that died (even by ``kill -9``) is free
again; the PID left in the file then tells us to warn that we took it over.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from photogrammetry.errors import WorkspaceLockedError

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_holder(workspace: Path) -> dict | None:
    """The owner record (``pid``, ``host``, ``command``, ``since``) of the live process that holds
    ``workspace``, or ``None`` when none does; creates nothing."""
    try:
        fd = os.open(workspace / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
        try:
            owner = json.loads(text) if text else {}
        except ValueError:
            owner = {}
        return owner if isinstance(owner, dict) else {}
    finally:
        os.close(fd)  # also releases the shared lock when it was taken
    return None


class WorkspaceLock:
    """Context manager that holds a workspace for the current process."""

    def __init__(self, workspace: Path, command: str = "run") -> None:
        self.path = workspace / LOCK_NAME
        self.command = command
        self._fd: int | None = None

    def _read_owner(self) -> dict:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
            return json.loads(text) if text else {}
        except (OSError, ValueError):
            return {}

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            owner = self._read_owner()
            raise WorkspaceLockedError(
                f"workspace {self.path.parent} is in use by PID {owner.get('pid', '?')} on host "
                f"{owner.get('host', '?')} ({owner.get('command', '?')}, since {owner.get('since', '?')}); "
                "wait for it to finish or stop that process"
            ) from None
        self._fd = fd
        self._warn_if_stale(self._read_owner())
        me = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
              "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode("utf-8"), 0)

    def _warn_if_stale(self, owner: dict) -> None:
        if not owner:
            return
        host, pid = owner.get("host"), owner.get("pid")
        if host == socket.gethostname() and isinstance(pid, int) and _pid_alive(pid) and pid != os.getpid():
            reason = "its process no longer holds the lock"
        elif host == socket.gethostname():
            reason = "its process is gone"
        else:
            reason = "the lock was released"
        log.warning("taking over the lock of %s left by PID %s on host %s (%s)",
                    self.path.parent, pid, host, reason)

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)  # an empty lock file means "released cleanly"
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WorkspaceLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
