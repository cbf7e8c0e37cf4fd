"""Workspace lock: a second run is refused; a lock left by a dead process is taken over."""

import json
import logging
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from photogrammetry.engine.lock import WorkspaceLock
from photogrammetry.errors import WorkspaceLockedError
from tests.engine.toy_stages import run_toy


def test_concurrent_run_is_refused(numbers: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    with WorkspaceLock(workspace):
        with pytest.raises(WorkspaceLockedError, match=rf"in use by PID \d+ on host {socket.gethostname()}"):
            run_toy(numbers, workspace)
    assert run_toy(numbers, workspace).ran == ("listing", "square", "total")


def test_lock_held_by_another_process_is_refused(numbers: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from photogrammetry.engine.lock import WorkspaceLock\n"
         "with WorkspaceLock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(30)", str(workspace)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WorkspaceLockedError, match=f"PID {holder.pid}"):
            run_toy(numbers, workspace)
    finally:
        holder.kill()
        holder.wait()
    assert run_toy(numbers, workspace).ran  # the dead holder's lock is free again


def test_stale_lock_is_taken_over_with_a_warning(numbers: Path, tmp_path: Path, caplog) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (workspace / ".lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    with caplog.at_level(logging.WARNING, logger="photogrammetry"):
        result = run_toy(numbers, workspace)
    assert result.ran == ("listing", "square", "total")
    assert f"taking over the lock of {workspace} left by PID {dead.pid}" in caplog.text
    assert (workspace / ".lock").read_text() == ""  # released cleanly afterwards


def test_clean_release_leaves_no_warning(numbers: Path, tmp_path: Path, caplog) -> None:
    run_toy(numbers, tmp_path / "ws")
    with caplog.at_level(logging.WARNING, logger="photogrammetry"):
        run_toy(numbers, tmp_path / "ws")
    assert "taking over" not in caplog.text
