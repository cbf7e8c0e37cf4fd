"""kill -9 at any moment, then the same command again: resumes and equals an uninterrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engine.toy_stages import run_toy

ROOT = Path(__file__).resolve().parents[2]


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` except manifests (they hold timings), by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def artifacts(workspace: Path) -> dict[str, bytes]:
    """All finished artifacts of a workspace (no logs, run record or lock)."""
    return {f"{stage.name}/{k}": v for stage in sorted(workspace.iterdir())
            if stage.is_dir() and stage.name not in ("logs",) and not stage.name.startswith(".")
            for k, v in tree(stage).items()}


def _start(photos: Path, workspace: Path, *overrides: str) -> subprocess.Popen:
    script = ROOT / "tests" / "engine" / "toy_stages.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(script), str(photos), str(workspace), *overrides], env=env)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the run ended before it could be killed")
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("items_before_kill", [1, 7, 19])
def test_kill_mid_stage_then_rerun_equals_uninterrupted(numbers: Path, tmp_path: Path, items_before_kill: int) -> None:
    reference = run_toy(numbers, tmp_path / "reference")
    workspace = tmp_path / "ws"
    proc = _start(numbers, workspace, "square.delay=0.05")

    def ready() -> bool:
        partial = list((workspace / "square").glob("*.partial/values"))
        return bool(partial) and len(list(partial[0].iterdir())) >= items_before_kill

    _kill_when(proc, ready)
    square_folders = list((workspace / "square").iterdir())
    assert square_folders and all(p.name.endswith(".partial") for p in square_folders)
    resumed = run_toy(numbers, workspace)
    assert resumed.ran == ("square", "total")
    assert artifacts(workspace) == artifacts(tmp_path / "reference")
    assert resumed.folder("total").name == reference.folder("total").name


def test_kill_at_random_moments(numbers: Path, tmp_path: Path) -> None:
    """Kills at several wall-clock moments, including before, between and after stages."""
    reference = artifacts(run_toy(numbers, tmp_path / "reference").workspace)
    workspace = tmp_path / "ws"
    for delay in (0.05, 0.4, 0.9, 1.3):
        proc = _start(numbers, workspace, "square.delay=0.02")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run_toy(numbers, workspace)
    assert artifacts(workspace) == reference
