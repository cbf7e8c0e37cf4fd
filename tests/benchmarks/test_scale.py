"""The scale benchmark's bookkeeping: later runs reuse all but the per-item stages, stage boundaries
and worker processes come from the run's log, ratios in the table."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.scale import _Sampler, cpu_path, print_tables, reuse, rss_mb


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


def test_the_sampler_takes_the_pool_start_and_the_cpu_seconds_from_the_log() -> None:
    sampler = _Sampler(every=1.0)
    sampler.on_log("started 2 Ray workers in 5.3 s: host-a:123, host-a:124")
    sampler.on_log("stage 9 of 9: depth: running (abc), about 1 min left")
    for cpu in ("4.0", "1.0"):  # the sweep, then the filter: summed per actor
        sampler.on_log(f"Ray workers' share: host-a:123 12 items, busy 5.0 s, {cpu} CPU s; "
                       "host-a:124 13 items, busy 6.5 s, 2.5 CPU s")
    sampler.on_log("depth: done in 12.0 s (25 views)")
    assert sampler.pool_start == 5.3 and sampler.workers == {123, 124}
    assert sampler.usage["depth"] == {"host-a:123": {"items": 24, "busy": 10.0, "cpu": 5.0},
                                      "host-a:124": {"items": 26, "busy": 13.0, "cpu": 5.0}}
    assert 0 <= sampler.driver_cpu["depth"] < 5
    got = {"driver_cpu": {"depth": 0.5}, "usage": sampler.usage}
    assert cpu_path(got, "depth") == 5.5 and cpu_path(got, "matches") is None


def test_the_table_gives_one_node_over_two(capsys: pytest.CaptureFixture[str]) -> None:
    seconds = {"features": 2.0, "matches": 6.0, "depth": 10.0}
    results = {(25, "ray1"): {"seconds": seconds, "load": 1.0, "worker_mb": {"depth": 1016.2},
                              "worker_rise_mb": {"depth": 380.4}},
               (25, "ray2"): {"seconds": {k: v / 2 for k, v in seconds.items()}, "load": 1.0}}
    print_tables(results, ["ray1", "ray2"], [25])
    lines = capsys.readouterr().out.splitlines()
    per_item = next(line for line in lines if "| per-item" in line)
    assert "18.0" in per_item and "9.0" in per_item and "2.00x" in per_item
    assert any("| depth" in line and "1016 (+380)" in line for line in lines)  # peak and rise in the stage


def test_the_cpu_table_gives_the_cpu_path_of_one_node_over_two(capsys: pytest.CaptureFixture[str]) -> None:
    one = {"driver_cpu": {"depth": 1.0}, "seconds": {"depth": 20.0}, "load": 1.0,
           "usage": {"depth": {"a:1": {"items": 50, "busy": 19.0, "cpu": 17.0}}}}
    two = {"driver_cpu": {"depth": 1.0}, "seconds": {"depth": 10.0}, "load": 1.0,
           "usage": {"depth": {"a:2": {"items": 26, "busy": 9.0, "cpu": 9.0}, "a:3": {"items": 24, "busy": 8.0, "cpu": 8.0}}}}
    print_tables({(25, "ray1"): one, (25, "ray2"): two}, ["ray1", "ray2"], [25], ["depth"])
    lines = capsys.readouterr().out.splitlines()
    cpu = next(line for line in lines if "| depth" in line and "26/24" in line)
    assert "| 85 " in cpu and "18.0" in cpu and "10.0" in cpu and "1.80x" in cpu  # busy 17 of 2 x 10 s
