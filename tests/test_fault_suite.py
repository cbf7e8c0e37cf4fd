"""A few faults in the real stages, through ``benchmarks/faults.py``: ``kill -9`` and Ctrl-C at moments
picked from the stages' progress, and damaged results, each resumed to the uninterrupted run's bytes.
2.5 to 4 minutes on two CPU cores (``python -m benchmarks.faults`` runs all thirteen stages)."""

import signal
from pathlib import Path

import pytest

from benchmarks.faults import damage_round, prepare, run_to_end, signal_walk


@pytest.mark.slow
def test_real_stages_survive_signals_and_damage(tmp_path: Path) -> None:
    photos = prepare(tmp_path)
    reference = tmp_path / "reference"
    assert run_to_end(photos, reference).returncode == 0
    plan = [("features", signal.SIGKILL), ("sfm", signal.SIGKILL), ("depth", signal.SIGINT),
            ("depth", signal.SIGKILL), ("mesh", signal.SIGKILL)]
    faults = signal_walk(photos, reference, tmp_path / "ws", plan)
    faults += damage_round(photos, reference, tmp_path / "ws", ["features", "depth", "fusion", "mesh", "texture"])
    assert [(f.stage, f.kind, f.landed.split(" ")[0]) for f in faults[:5]] == [
        ("features", "kill -9", "features"), ("sfm", "kill -9", "sfm"), ("depth", "SIGINT", "depth"),
        ("depth", "kill -9", "depth"), ("mesh", "kill -9", "mesh")]
    assert [f.landed for f in faults[5:]] == ["detected"] * 5
    assert all(f.ok for f in faults), [vars(f) for f in faults if not f.ok]  # every file of every result identical
