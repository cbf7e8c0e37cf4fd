"""The fault matrix on the toy pipeline: ``kill -9`` and Ctrl-C at moments picked from each stage's
progress, and each kind of damage to each stage's result; every case resumes to the uninterrupted
run's bytes. (``benchmarks/faults.py`` runs the same faults on the real stages; a full disk and a
read-only workspace are in ``test_faults.py``.)"""

import logging
import re
import signal
import sys
from pathlib import Path

import pytest

from benchmarks.faults import INTERRUPTED, damage, interrupt, partial_files
from photogrammetry.engine.runner import RunOptions, RunRequest, run_pipeline
from photogrammetry.engine.settings import resolve_config
from photogrammetry.engine.store import QUARANTINE
from tests.engine.test_resume import artifacts
from tests.engine.toy_stages import TOY, run_toy

SCRIPT = Path(__file__).resolve().parent / "toy_stages.py"
NAMES = tuple(s.name for s in TOY)
SLOW = ("listing.delay=0.3", "square.delay=0.03", "total.delay=0.3")
"""Delays that keep each stage's partial folder in view (they change no output and no key)."""

# (stage, files in its partial folder when the signal is sent): as soon as it appears, after its
# first file, and for the item-by-item stage after 1, 9 and 19 of its 20 items (a value and a record each)
MOMENTS = [("listing", 0), ("listing", 1), ("square", 0), ("square", 2), ("square", 18), ("square", 38),
           ("total", 0), ("total", 1)]


def _run_verify(photos: Path, workspace: Path):
    config = resolve_config(TOY, preset=None, overrides=())
    request = RunRequest(photos=photos, workspace=workspace, config=config)
    return run_pipeline(TOY, request, RunOptions(device="cpu", progress=False, verify=True))


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "sigint"])
@pytest.mark.parametrize("stage, files", MOMENTS, ids=[f"{s}-{n}" for s, n in MOMENTS])
def test_signal_at_a_moment_of_progress_then_resume(numbers: Path, tmp_path: Path, stage: str, files: int,
                                                    sig: int) -> None:
    reference = artifacts(run_toy(numbers, tmp_path / "reference").workspace)
    workspace = tmp_path / "ws"
    args = [sys.executable, str(SCRIPT), str(numbers), str(workspace), *SLOW]
    proc, landed, err = interrupt(args, workspace, stage, files, sig, timeout=60, stages=NAMES)
    assert proc is not None, landed
    assert landed.startswith(f"{stage} (")  # stopped inside the stage, its partial folder kept
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 130 and INTERRUPTED in err
        assert "Traceback" not in err
    resumed = run_toy(numbers, workspace)
    assert resumed.ran == NAMES[NAMES.index(stage):]
    assert artifacts(workspace) == reference
    assert all(partial_files(workspace, s) is None for s in NAMES)


@pytest.mark.parametrize("kind", ["truncate", "flip", "delete"])
@pytest.mark.parametrize("stage", NAMES)
def test_damaged_result_is_detected_and_recomputed(numbers: Path, tmp_path: Path, caplog, stage: str,
                                                   kind: str) -> None:
    reference = artifacts(run_toy(numbers, tmp_path / "reference").workspace)
    workspace = tmp_path / "ws"
    run_toy(numbers, workspace)
    rel = damage(workspace, stage, kind)
    with caplog.at_level(logging.WARNING, logger="photogrammetry"):
        again = _run_verify(numbers, workspace)
    assert again.ran == (stage,)  # keys do not depend on outputs: only the damaged stage reruns
    said = {"truncate": r"\d+ B expected, \d+ B found", "flip": "checksum differs", "delete": "missing"}[kind]
    assert f"{stage}: the cached result is damaged" in caplog.text
    assert re.search(f"/{re.escape(rel)}: {said}", caplog.text)
    assert artifacts(workspace) == reference
    assert [p.name.split("-")[0] for p in (workspace / QUARANTINE).iterdir()] == [stage]  # kept, not lost
