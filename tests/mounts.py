"""Small tmpfs mounts for the fault tests: a full disk and a read-only workspace.

Root ignores file permissions, so a read-only workspace is made as the kernel sees it: a
tmpfs remounted read-only. Mounting needs root (or CAP_SYS_ADMIN); elsewhere the tests that
use these are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``folder`` (created); skips the test when it cannot be mounted."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (a full disk and a read-only mount are simulated with one)")
    folder.mkdir(parents=True, exist_ok=True)
    done = _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def remount(folder: Path, options: str) -> None:
    """Remount the tmpfs at ``folder`` with ``options`` (``ro``, ``rw``, ``size=8m``)."""
    done = _mount("-o", f"remount,{options}", str(folder))
    if done.returncode != 0:
        pytest.skip(f"cannot remount {folder} with {options}: {done.stderr.strip()}")


def fill(folder: Path, leave_bytes: int) -> Path:
    """Fill the file system of ``folder`` up to ``leave_bytes`` free; returns the filler file."""
    filler = folder / "filler.bin"
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave_bytes))
    return filler
