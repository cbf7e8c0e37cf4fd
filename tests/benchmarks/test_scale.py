"""The scale benchmark's bookkeeping: later runs reuse all but the per-item stages, stage boundaries
and worker processes come from the run's log, ratios in the table."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.scale import _Sampler, print_tables, reuse, rss_mb


def test_a_later_run_gets_the_first_runs_workspace_less_the_per_item_stages(tmp_path: Path) -> None:
    first = tmp_path / "ws-local"
    for stage in ("ingest", "features", "pairs", "matches", "sfm", "undistort", "depth"):
        (first / stage / "key").mkdir(parents=True)
        (first / stage / "key" / "manifest.json").write_text(stage)
    (first / ".lock").write_text("")
    reuse(first, tmp_path / "ws-ray2", ["features", "matches", "depth"])
    assert sorted(p.name for p in (tmp_path / "ws-ray2").iterdir()) == ["ingest", "pairs", "sfm", "undistort"]
    assert (tmp_path / "ws-ray2" / "sfm" / "key" / "manifest.json").read_text() == "sfm"
    reuse(first, tmp_path / "ws-depth", ["depth"])  # --stages depth: features and matches are reused too
    assert sorted(p.name for p in (tmp_path / "ws-depth").iterdir()) == [
        "features", "ingest", "matches", "pairs", "sfm", "undistort"]


def test_the_sampler_follows_the_stages_and_the_workers_of_the_log() -> None:
    sampler = _Sampler(every=1.0)
    sampler.on_log("stage 3 of 9: matches: running (abc), about 1 min left")
    sampler.on_log("2 Ray workers: host-a:123, host.b:4567")
    assert sampler.stage == "matches" and sampler.workers == {123, 4567}
    assert rss_mb() > 1 and rss_mb(os.getpid()) > 1


def test_the_table_gives_one_node_over_two(capsys: pytest.CaptureFixture[str]) -> None:
    seconds = {"features": 2.0, "matches": 6.0, "depth": 10.0}
    results = {(25, "ray1"): {"seconds": seconds, "load": 1.0},
               (25, "ray2"): {"seconds": {k: v / 2 for k, v in seconds.items()}, "load": 1.0}}
    print_tables(results, ["ray1", "ray2"], [25])
    lines = capsys.readouterr().out.splitlines()
    per_item = next(line for line in lines if "| per-item" in line)
    assert "18.0" in per_item and "9.0" in per_item and "2.00x" in per_item
