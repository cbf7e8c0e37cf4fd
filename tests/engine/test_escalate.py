"""``auto``'s escalation (:mod:`photogrammetry.engine.escalate`) on a toy pipeline whose model stage
registers as many photos as its settings say: the decision, the log, the run record, and that a second
run, an interrupted one and ``force`` compute every stage once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pytest

from photogrammetry.engine.escalate import run_escalating
from photogrammetry.engine.runner import RunOptions, RunRequest, RunResult
from photogrammetry.engine.settings import CPU_ESCALATION, CPU_PRESET, Escalation, choose_preset, resolve_config
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.engine.workspace import read_run_record, workspace_status
from photogrammetry.errors import ConfigError, StageError
from photogrammetry.io.jsonio import read_json, write_json
from tests.engine.toy_stages import TOY

CALLS: list[tuple[str, str]] = []
"""(stage, its kind) for every stage computed in this process."""
BREAK: set[str] = set()
"""Kinds whose model stage is interrupted (once each, as a kill would)."""


@dataclass(frozen=True, kw_only=True)
class KindConfig:
    kind: str = "sift"
    """The preset's features (changes the key of this stage and all after)."""
    registered: int = 0
    """Photos the model registers; negative: the stage fails."""


def _features(config: KindConfig, ctx: StageContext, *, listing: list[str]) -> dict:
    CALLS.append(("features", config.kind))
    write_json(ctx.out / "kind.json", config.kind)
    return {"photos": len(listing)}


def _model(config: KindConfig, ctx: StageContext, *, listing: list[str], features: str) -> dict:
    CALLS.append(("model", config.kind))
    if config.kind in BREAK:
        BREAK.discard(config.kind)
        raise KeyboardInterrupt
    if config.registered < 0:
        raise StageError(f"{config.kind}: no model")
    write_json(ctx.out / "model.json", config.kind)
    return {"registered": min(config.registered, len(listing)), "images": len(listing)}


def _mesh(config: KindConfig, ctx: StageContext, *, model: str) -> dict:
    CALLS.append(("mesh", model))
    write_json(ctx.out / "mesh.json", model)
    return {"from": model}


STAGES = (
    TOY[0],  # listing: the same key for both presets (like ingest)
    StageSpec(name="features", version=1, config=KindConfig, run=_features, requires=("listing",),
              load=lambda f: read_json(f / "kind.json")),
    StageSpec(name="model", version=1, config=KindConfig, run=_model, requires=("listing", "features"),
              load=lambda f: read_json(f / "model.json")),
    StageSpec(name="mesh", version=1, config=KindConfig, run=_mesh, requires=("model",),
              load=lambda f: read_json(f / "mesh.json")),
)
RULE = Escalation(preset="learned", below=0.5, stage="model")


def _request(numbers: Path, workspace: Path, preset: str, registered: int, **fields) -> RunRequest:
    overrides = [f"{stage}.kind={preset}" for stage in ("features", "model")] + [f"model.registered={registered}"]
    return RunRequest(photos=numbers, workspace=workspace, config=resolve_config(STAGES, preset=None,
                                                                                  overrides=overrides),
                      preset=preset, **fields)


STARTS: list[Path] = []
"""The workspaces ``on_start`` was called with (the CLI opens its log file there: once a run)."""


def _run(numbers: Path, workspace: Path, first: int, second: int, *, escalate: bool = True, **fields) -> RunResult:
    CALLS.clear()
    STARTS.clear()
    request = _request(numbers, workspace, "sift", first, **fields)
    fallback = _request(numbers, workspace, "learned", second, **fields) if escalate else None
    result = run_escalating(STAGES, request, RunOptions(device="cpu", progress=False, on_start=STARTS.append),
                            fallback=fallback, rule=RULE)
    assert STARTS == [workspace]
    return result


def test_a_model_that_keeps_enough_photos_is_kept_without_a_second_attempt(numbers: Path, tmp_path: Path,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="photogrammetry")
    result = _run(numbers, tmp_path / "ws", 10, 20)  # 10 of 20: not under half
    assert CALLS == [("features", "sift"), ("model", "sift"), ("mesh", "sift")]
    assert result.ran == ("listing", "features", "model", "mesh")
    assert read_run_record(tmp_path / "ws").preset == "sift" and "trying" not in caplog.text


def test_a_model_that_loses_the_photos_is_tried_again_and_the_better_one_kept(numbers: Path, tmp_path: Path,
                                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="photogrammetry")
    result = _run(numbers, tmp_path / "ws", 3, 13)
    assert CALLS == [("features", "sift"), ("model", "sift"), ("features", "learned"), ("model", "learned"),
                     ("mesh", "learned")]
    assert caplog.text.count("preset auto: sift registered 3 of 20 photos, under 50%: trying learned for the "
                             "stages up to model") == 1
    assert caplog.text.count("preset auto: learned registered 13 of 20 photos: kept, the rest runs with learned") == 1
    record = read_run_record(tmp_path / "ws")
    assert record.preset == "learned" and record.settings["features"]["kind"] == "learned"
    assert record.preset_reason == ("auto: sift registered 3 of 20 photos, learned registered 13 of 20 photos: "
                                    "learned kept")
    status = workspace_status(STAGES, tmp_path / "ws")
    assert [s.state for s in status.stages] == ["done"] * 4 and status.preset == "learned"
    assert result.ran == ("listing", "features", "model", "mesh")  # the kept attempt's, then the rest
    assert [s.counts for s in result.stages][2] == {"registered": 13, "images": 20}
    caplog.clear()
    again = _run(numbers, tmp_path / "ws", 3, 13)  # every stage of both attempts reused, the same decision
    assert CALLS == [] and again.ran == () and [s.key for s in again.stages] == [s.key for s in result.stages]
    assert "learned registered 13 of 20 photos: kept" in caplog.text
    assert read_run_record(tmp_path / "ws").preset == "learned"


@pytest.mark.parametrize("second", [3, 1])
def test_a_tie_or_a_worse_second_model_keeps_the_first(numbers: Path, tmp_path: Path, second: int,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="photogrammetry")
    _run(numbers, tmp_path / "ws", 3, second)
    assert CALLS == [("features", "sift"), ("model", "sift"), ("features", "learned"), ("model", "learned"),
                     ("mesh", "sift")]
    assert f"learned registered {second} of 20 photos: sift's model kept" in caplog.text
    assert read_run_record(tmp_path / "ws").preset == "sift"


def test_no_escalation_before_the_model_or_when_turned_off(numbers: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown stage 'modle'"):
        _run(numbers, tmp_path / "ws", 3, 13, until="modle")
    _run(numbers, tmp_path / "ws", 3, 13, until="features")
    assert CALLS == [("features", "sift")]
    _run(numbers, tmp_path / "ws", 3, 13, escalate=False)
    assert CALLS == [("model", "sift"), ("mesh", "sift")]
    assert read_run_record(tmp_path / "ws").preset == "sift"


def test_until_the_model_stage_escalates_and_records_the_kept_preset(numbers: Path, tmp_path: Path) -> None:
    result = _run(numbers, tmp_path / "ws", 3, 13, until="model")
    assert CALLS == [("features", "sift"), ("model", "sift"), ("features", "learned"), ("model", "learned")]
    assert [s.name for s in result.stages] == ["listing", "features", "model"]
    assert read_run_record(tmp_path / "ws").preset == "learned" and result.stages[-1].counts["registered"] == 13


def test_a_run_stopped_in_the_second_attempt_resumes_it(numbers: Path, tmp_path: Path) -> None:
    BREAK.add("learned")
    with pytest.raises(KeyboardInterrupt):
        _run(numbers, tmp_path / "ws", 3, 13)
    assert CALLS[-1] == ("model", "learned")
    _run(numbers, tmp_path / "ws", 3, 13)
    assert CALLS == [("model", "learned"), ("mesh", "learned")]


@pytest.mark.parametrize(("force", "computed"), [
    (("listing",), [("features", "sift"), ("model", "sift"), ("features", "learned"), ("model", "learned"),
                    ("mesh", "learned")]),
    (("model",), [("model", "sift"), ("model", "learned"), ("mesh", "learned")]),
    (("mesh",), [("mesh", "learned")]),
])
def test_force_computes_every_stage_once(numbers: Path, tmp_path: Path, force: tuple[str, ...],
                                         computed: list[tuple[str, str]]) -> None:
    first = _run(numbers, tmp_path / "ws", 3, 13)
    again = _run(numbers, tmp_path / "ws", 3, 13, force=force)
    assert CALLS == computed
    ran = {"listing": ["listing", "features", "model", "mesh"], "model": ["model", "mesh"], "mesh": ["mesh"]}
    assert again.ran == tuple(ran[force[0]]) and [s.key for s in again.stages] == [s.key for s in first.stages]


def test_a_failed_model_escalates_and_a_failed_second_attempt_keeps_the_first(numbers: Path, tmp_path: Path,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="photogrammetry")
    _run(numbers, tmp_path / "a", -1, 13)
    assert "sift's sparse part failed (sift: no model): trying learned" in caplog.text
    assert CALLS[-1] == ("mesh", "learned") and read_run_record(tmp_path / "a").preset == "learned"
    _run(numbers, tmp_path / "b", 3, -1)
    assert "learned's sparse part failed (learned: no model): sift's model kept" in caplog.text
    assert CALLS[-1] == ("mesh", "sift") and read_run_record(tmp_path / "b").preset == "sift"
    with pytest.raises(StageError, match="^sift: no model"):
        _run(numbers, tmp_path / "c", -1, -1)


def test_auto_escalates_from_cpu_only_where_asked() -> None:
    assert choose_preset("auto", device="cpu").escalation == CPU_ESCALATION
    assert choose_preset("auto", device="cpu").name == CPU_PRESET
    assert choose_preset("auto", device="cpu", escalate=False).escalation is None
    assert choose_preset(CPU_PRESET, device="cpu").escalation is None
    assert choose_preset("auto", device="cpu", overrides=["features.extractor=sift"]).escalation is None
    assert CPU_ESCALATION.escalates({"registered": 3, "images": 20})
    assert not CPU_ESCALATION.escalates({"registered": 20, "images": 20})


def test_on_ray_one_session_serves_the_second_attempt_and_the_rest(numbers: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray", reason="the ray executor needs Ray: pip install -e '.[distributed]'")
    local = _run(numbers, tmp_path / "local", 3, 13)
    starts: list[dict] = []
    init = ray.init
    monkeypatch.setattr(ray, "init", lambda *args, **kwargs: starts.append(kwargs) or init(*args, **kwargs))
    CALLS.clear()
    on_ray = run_escalating(STAGES, _request(numbers, tmp_path / "ws", "sift", 3),
                            RunOptions(device="cpu", progress=False, executor="ray", workers=1),
                            fallback=_request(numbers, tmp_path / "ws", "learned", 13), rule=RULE)
    assert CALLS == [("features", "sift"), ("model", "sift"), ("features", "learned"), ("model", "learned"),
                     ("mesh", "learned")]
    assert [s.key for s in on_ray.stages] == [s.key for s in local.stages]
    assert len(starts) == 2 and starts[1]["num_cpus"] == 1 and not ray.is_initialized()  # the first attempt's, one


def test_the_real_pipeline_escalates_once_and_a_second_run_reuses_both_attempts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A rule that asks for more than every photo makes auto on the CPU try xfeat after cpu on six
    orbit views at 320 px; a second run decides the same from the cached counts, computing nothing."""
    import re
    import shutil

    import photogrammetry
    from photogrammetry import api
    from photogrammetry.engine import settings

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        shutil.copy(Path(__file__).parents[2] / "sample_scenes" / "orbit" / "images" / f"view_{i:03d}.jpg", photos)
    monkeypatch.setattr(settings, "CPU_ESCALATION", Escalation(preset="xfeat", below=1.01))
    caplog.set_level(logging.INFO, logger="photogrammetry")
    overrides = ["ingest.max_image_size=320", "features.resize_min=0", "features.resize_max=320"]

    def run() -> tuple[RunResult, list[str]]:
        caplog.clear()
        result = photogrammetry.run(photos, tmp_path / "ws", device="cpu", until="sfm", overrides=overrides,
                                    progress=False)
        said = re.findall(r"preset auto: (cpu registered \d+ of 6 photos, under 101%: trying xfeat|xfeat .*)",
                          caplog.text)
        return result, said

    first, said = run()
    assert len(said) == 2 and said[0].startswith("cpu registered"), said
    status = photogrammetry.status(tmp_path / "ws")
    kept = "xfeat" if "kept, the rest runs with xfeat" in said[1] else "cpu"
    assert status.preset == kept and status.preset_reason.endswith(f": {kept} kept")
    assert [s.state for s in status.stages[:6]] == ["done"] * 6 and len(status.stages[2].cached_keys) == 2
    html = api.report(tmp_path / "ws", tmp_path / "report.html").path.read_text(encoding="utf-8")
    assert f"preset <code>{kept}</code> (auto: cpu registered" in html
    again, said_again = run()
    assert again.ran == () and said_again == said and [s.key for s in again.stages] == [s.key for s in first.stages]


def test_settings_that_do_not_go_with_the_second_preset_leave_the_run_to_the_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from photogrammetry import api
    from photogrammetry.engine import settings

    monkeypatch.setattr(settings, "CPU_ESCALATION", Escalation(preset="no-such-preset", below=1.01))
    caplog.set_level(logging.INFO, logger="photogrammetry")
    choice = choose_preset("auto", device="cpu")
    request = _request(tmp_path, tmp_path / "ws", "cpu", 0)
    assert choice.escalation is not None and api._fallback(choice, request, None, ()) is None
    assert "preset auto: no-such-preset is not tried where cpu loses the photos: with these settings, unknown " \
           "preset 'no-such-preset'" in caplog.text
