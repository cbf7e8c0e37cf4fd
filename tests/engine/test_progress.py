"""Progress lines for people: slow rates read as seconds per item; --workers caps torch's threads."""

from __future__ import annotations

import logging

from photogrammetry.engine import progress
from photogrammetry.engine.progress import format_rate


def test_rates_read_naturally():
    assert format_rate(2.5, "image") == "2.5 image/s"
    assert format_rate(0.08, "view") == "12.5 s/view"
    assert format_rate(0.0, "view") == "0.0 view/s"


def test_log_lines_carry_counts_rate_and_eta(monkeypatch, caplog):
    clock = iter(float(t) for t in range(0, 1000, 20))
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    log = logging.getLogger("test-progress")
    with caplog.at_level(logging.INFO, logger="test-progress"):
        list(progress.track(range(3), desc="depth", total=3, unit="view", enabled=False, log=log))
    assert "depth: 1/3 views, 20.0 s/view, ETA 40s" in caplog.text


def test_workers_cap_torch_threads(numbers, tmp_path):
    import torch

    from photogrammetry.engine.runner import RunOptions, RunRequest, run_pipeline
    from photogrammetry.engine.settings import resolve_config
    from tests.engine.toy_stages import TOY

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        config = resolve_config(TOY, preset=None, overrides=())
        request = RunRequest(photos=numbers, workspace=tmp_path / "ws", config=config, overrides=())
        run_pipeline(TOY, request, RunOptions(device="cpu", progress=False, workers=1))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_bars_and_lines_carry_the_runs_time_left(monkeypatch, caplog):
    """The stage's own time left (from its measured rate) goes to ``left``, whose words follow the bar
    (refreshed at most once a second) or end the line."""
    asked: list[float | None] = []

    def left(stage_left):
        asked.append(stage_left)
        return "about 3 min left"

    clock = iter(float(t) for t in range(0, 1000, 20))
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    log = logging.getLogger("test-progress")
    list(progress.track(range(3), desc="depth", total=3, unit="view", enabled=True, log=log, left=left))
    assert asked == [40.0, 20.0, 0.0]  # 20 s per view
    asked.clear()
    with caplog.at_level(logging.INFO, logger="test-progress"):
        list(progress.track(range(3), desc="depth", total=3, unit="view", enabled=False, log=log, left=left))
    assert "depth: 1/3 views, 20.0 s/view, ETA 40s; about 3 min left" in caplog.text
    assert asked == [40.0, 20.0, 0.0]
