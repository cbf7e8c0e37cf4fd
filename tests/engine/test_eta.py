"""The run's time left: stage costs in work units, corrected by measured rates; heartbeat lines."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time

import pytest

from photogrammetry.engine.eta import Cost, Estimator, format_left, manifest_rate, manifest_units_per_photo
from photogrammetry.engine.progress import Heartbeat

COSTS = {"ingest": Cost(seconds=0.01, count="images"), "features": Cost(seconds=0.5, count="images"),
         "pairs": Cost(seconds=0.0), "matches": Cost(unit="pair", seconds=0.1, per_photo=5.0, count="pairs",
                                                    units_from="pairs.pairs"),
         "depth": Cost(unit="view", seconds=8.0, count="views", units_from="sfm.registered")}


def test_time_left_reads_naturally():
    assert format_left(None) == "time left unknown"
    assert format_left(20) == "less than a minute left"
    assert format_left(61) == "about 1 min left"
    assert format_left(12.4 * 60) == "about 12 min left"
    assert format_left(3 * 3600) == "about 3.0 h left"


def test_unknown_until_the_photo_count_is_known():
    eta = Estimator(COSTS)
    assert eta.remaining(["ingest", "features"]) is None
    eta.observe("ingest", {"images": 20}, seconds=0.2)  # exactly the default rate
    assert eta.remaining(["features"]) == pytest.approx(20 * 0.5)
    assert eta.remaining(["matches"]) == pytest.approx(20 * 5.0 * 0.1)  # pairs estimated per photo


def test_measured_units_and_speed_of_earlier_stages_correct_the_defaults():
    eta = Estimator(COSTS)
    eta.observe("ingest", {"images": 20}, seconds=0.2)
    eta.observe("features", {"images": 20}, seconds=30.0)  # 3x slower than the default 0.5 s/image
    speed = (0.2 + 30.0) / (0.2 + 10.0)
    assert eta.speed() == pytest.approx(speed)
    eta.observe("pairs", {"pairs": 40})
    assert eta.estimate("matches") == pytest.approx(40 * 0.1 * speed)  # the pair count, not 5 per photo
    eta.observe("sfm", {"registered": 15})
    assert eta.estimate("depth") == pytest.approx(15 * 8.0 * speed)
    assert eta.remaining(["matches", "depth"]) == pytest.approx((4.0 + 120.0) * speed)


def test_reused_stages_and_short_stages_leave_the_default_rates_alone():
    eta = Estimator(COSTS)
    eta.observe("ingest", {"images": 10})  # reused: no time
    eta.observe("features", {"images": 10}, seconds=0.5)  # under a second: too short to tell
    assert eta.speed() == 1.0
    assert eta.estimate("features") == pytest.approx(5.0)


def test_a_stage_whose_method_is_slower_has_its_own_default_rate():
    """Background masks cost about a second a photo, an alpha channel nothing: a run that makes
    background masks is not taken for a machine a hundred times slower than the reference."""
    @dataclasses.dataclass
    class Masks:
        method: str

    masks = Cost(seconds=0.01, count="images", method="method", method_seconds={"background": 1.0})
    assert masks.of(Masks("none")) is masks and masks.of(None) is masks
    assert masks.of(Masks("background")).seconds == 1.0
    eta = Estimator({**COSTS, "masks": masks.of(Masks("background"))})
    eta.observe("ingest", {"images": 24}, seconds=0.24)
    eta.observe("masks", {"images": 24}, seconds=27.0)
    assert eta.speed() == pytest.approx(27.24 / 24.24)
    assert eta.estimate("features") == pytest.approx(24 * 0.5 * 27.24 / 24.24)


def test_earlier_runs_rates_take_precedence():
    manifests = [{"seconds": 60.0, "counts": {"views": 20}}, {"seconds": 10.0, "work": {"unit": "view", "units": 5}},
                 {"seconds": 99.0, "counts": {}}, {"seconds": 0.0, "counts": {"views": 3}}]
    rates = [r for m in manifests if (r := manifest_rate(COSTS["depth"], m)) is not None]
    assert rates == [3.0, 2.0]
    eta = Estimator(COSTS, {"depth": rates})
    eta.observe("ingest", {"images": 10}, seconds=50.0)  # a slow machine for the defaults...
    eta.observe("sfm", {"registered": 8})
    assert eta.estimate("depth") == pytest.approx(8 * 2.5)  # ...but depth's own history wins
    assert eta.work("depth") == {"unit": "view", "units": 8.0, "photos": 10}


def test_earlier_runs_units_per_photo_stand_in_until_the_units_are_known():
    costs = {"mesh": Cost(unit="point", seconds=1e-4, per_photo=1000, units_from="fusion.points")}
    earlier = [{"seconds": 9.0, "work": {"unit": "point", "units": 90_000, "photos": 30}},
               {"seconds": 9.0, "work": {"unit": "view", "units": 90_000, "photos": 30}}]  # another unit: ignored
    assert [manifest_units_per_photo(costs["mesh"], m) for m in earlier] == [3000.0, None]
    eta = Estimator(costs, per_photo={"mesh": [3000.0]})
    eta.observe("ingest", {"images": 10})
    assert eta.units("mesh") == 30_000  # 3000 a photo, not the default 1000
    eta.observe("fusion", {"points": 50_000})
    assert eta.units("mesh") == 50_000


def test_heartbeat_logs_while_a_slow_step_runs(caplog):
    log = logging.getLogger("test-heartbeat")
    with caplog.at_level(logging.INFO, logger="test-heartbeat"):
        with Heartbeat("sfm", "verification", log=log, interval=0.05, left=lambda s: "about 3 min left",
                       separate=False) as beat:
            time.sleep(0.18)
            beat.step("mapping")
            time.sleep(0.18)
        count = len(caplog.records)
        time.sleep(0.12)
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("sfm: verification, 0s elapsed, about 3 min left") for line in lines)
    assert any(line.startswith("sfm: mapping, ") for line in lines)
    assert 4 <= count <= 8  # one line per interval, none after the step
    assert len(caplog.records) == count


def test_heartbeat_is_quiet_for_quick_steps(caplog):
    log = logging.getLogger("test-heartbeat")
    with caplog.at_level(logging.INFO, logger="test-heartbeat"):
        with Heartbeat("mesh", "poisson surface", log=log, interval=0.5, separate=False):
            pass
        with Heartbeat("mesh", "poisson surface", log=log, interval=0.5):
            pass
    assert not caplog.records


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_heartbeat_logs_while_a_native_call_holds_the_gil(tmp_path):
    """A regular expression that backtracks holds the GIL for about a second, as open3d's Poisson does
    for minutes: no thread could log, the forked heartbeat does (through the inherited file handler)."""
    path = tmp_path / "run.log"
    log = logging.getLogger("test-heartbeat-fork")
    handler = logging.FileHandler(path)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        with Heartbeat("mesh", "poisson surface", log=log, interval=0.05) as beat:
            time.sleep(0.2)
            beat.step("detail levels")
            start = time.perf_counter()
            re.match(r"(a+)+$", "a" * 24 + "b")
            held = time.perf_counter() - start
            time.sleep(0.1)
    finally:
        log.removeHandler(handler)
        handler.close()
    lines = path.read_text().splitlines()
    assert held > 0.3
    assert any(line.startswith("mesh: poisson surface, 0s elapsed") for line in lines)
    assert sum(line.startswith("mesh: detail levels, ") for line in lines) >= held / 0.05 / 2
    count = len(lines)
    time.sleep(0.15)
    assert len(path.read_text().splitlines()) == count  # the child left with the step


def test_a_run_counts_its_stages_and_records_its_work(numbers, tmp_path, caplog):
    """Each stage's first line says where it stands and the time left; manifests keep the units
    of work, which later runs read as this machine's rates."""
    from dataclasses import replace

    from photogrammetry.engine.runner import RunOptions, RunRequest, run_pipeline
    from photogrammetry.engine.settings import resolve_config
    from photogrammetry.io.jsonio import read_json
    from tests.engine.toy_stages import TOY

    costs = {"listing": Cost(unit="file", seconds=0.01, count="files"),
             "square": Cost(unit="item", seconds=0.01, count="items", units_from="listing.files")}
    stages = tuple(replace(s, cost=costs.get(s.name)) for s in TOY)
    config = resolve_config(stages, preset=None, overrides=())
    request = RunRequest(photos=numbers, workspace=tmp_path / "ws", config=config, until="square")
    with caplog.at_level(logging.INFO, logger="photogrammetry"):
        result = run_pipeline(stages, request, RunOptions(device="cpu", progress=False, workers=1))
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("stage 1 of 2: listing: running (") and line.endswith("time left unknown")
               for line in lines)  # no photo count yet
    assert any(line.startswith("stage 2 of 2: square: running (") and line.endswith("less than a minute left")
               for line in lines)  # 20 files listed: 20 items at 0.01 s
    manifest = read_json(result.folder("square") / "manifest.json")
    assert manifest["work"] == {"unit": "item", "units": 20.0}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="photogrammetry"):
        run_pipeline(stages, replace(request, until=None), RunOptions(device="cpu", progress=False, workers=1))
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("stage 1 of 3: listing: up to date (") for line in lines)
    assert any(line.startswith("stage 3 of 3: total: running (") for line in lines)
