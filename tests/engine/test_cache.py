"""Cache rules: what reruns after a change, what is reused, what never counts as done."""

import json
import logging
from pathlib import Path

import pytest

from photogrammetry.engine.store import ArtifactStore
from tests.engine.toy_stages import run_toy


def _total(result) -> int:
    return json.loads((result.folder("total") / "total.json").read_text())["total"]


def test_second_run_does_nothing_and_says_so(numbers: Path, tmp_path: Path, caplog) -> None:
    first = run_toy(numbers, tmp_path / "ws")
    assert first.ran == ("listing", "square", "total")
    with caplog.at_level(logging.INFO, logger="photogrammetry"):
        second = run_toy(numbers, tmp_path / "ws")
    assert second.ran == ()
    assert "Nothing to do" in caplog.text
    assert _total(second) == sum(i * i for i in range(1, 21))


def test_late_option_reruns_only_downstream(numbers: Path, tmp_path: Path) -> None:
    run_toy(numbers, tmp_path / "ws")
    assert run_toy(numbers, tmp_path / "ws", "total.offset=5").ran == ("total",)
    assert run_toy(numbers, tmp_path / "ws", "square.power=3").ran == ("square", "total")


def test_option_outside_the_key_reruns_nothing(numbers: Path, tmp_path: Path) -> None:
    run_toy(numbers, tmp_path / "ws")
    assert run_toy(numbers, tmp_path / "ws", "square.delay=0.001").ran == ()


def test_going_back_finds_earlier_artifacts(numbers: Path, tmp_path: Path) -> None:
    original = run_toy(numbers, tmp_path / "ws")
    run_toy(numbers, tmp_path / "ws", "square.power=3")
    back = run_toy(numbers, tmp_path / "ws")
    assert back.ran == ()
    assert back.folder("total") == original.folder("total")


def test_changed_input_file_reruns_from_the_first_stage(numbers: Path, tmp_path: Path) -> None:
    run_toy(numbers, tmp_path / "ws")
    (numbers / "n05.txt").write_text("50")
    result = run_toy(numbers, tmp_path / "ws")
    assert result.ran == ("listing", "square", "total")
    assert _total(result) == sum(i * i for i in range(1, 21)) - 25 + 2500


def test_force_reruns_stage_and_everything_after(numbers: Path, tmp_path: Path) -> None:
    first = run_toy(numbers, tmp_path / "ws")
    forced = run_toy(numbers, tmp_path / "ws", force=("square",))
    assert forced.ran == ("square", "total")
    assert forced.folder("square") == first.folder("square")
    assert _total(forced) == _total(first)


def test_until_stops_after_the_stage(numbers: Path, tmp_path: Path) -> None:
    result = run_toy(numbers, tmp_path / "ws", until="square")
    assert [s.name for s in result.stages] == ["listing", "square"]
    assert not (tmp_path / "ws" / "total").exists()
    assert run_toy(numbers, tmp_path / "ws").ran == ("total",)


@pytest.mark.parametrize("damage", ["no_manifest", "truncated_manifest", "wrong_key", "partial_only"])
def test_partial_or_corrupt_artifact_is_never_done(numbers: Path, tmp_path: Path, damage: str) -> None:
    first = run_toy(numbers, tmp_path / "ws")
    folder = first.folder("square")
    manifest = folder / "manifest.json"
    if damage == "no_manifest":
        manifest.unlink()
    elif damage == "truncated_manifest":
        manifest.write_text(manifest.read_text()[:40])
    elif damage == "wrong_key":
        manifest.write_text(manifest.read_text().replace(folder.name, "0" * 16))
    else:
        folder.rename(folder.with_name(folder.name + ".partial"))
    assert ArtifactStore(tmp_path / "ws").find("square", folder.name) is None
    again = run_toy(numbers, tmp_path / "ws")
    assert again.ran == ("square",)  # same key downstream: total is reused
    assert ArtifactStore(tmp_path / "ws").find("square", folder.name) is not None
    assert _total(again) == _total(first)


def test_keys_ignore_device_and_workers(numbers: Path, tmp_path: Path) -> None:
    from photogrammetry.engine.runner import RunOptions, RunRequest, run_pipeline
    from photogrammetry.engine.settings import resolve_config
    from tests.engine.toy_stages import TOY

    first = run_toy(numbers, tmp_path / "ws")
    request = RunRequest(photos=numbers, workspace=tmp_path / "ws", config=resolve_config(TOY, preset=None))
    again = run_pipeline(TOY, request, RunOptions(device="cpu", workers=1, progress=True))
    assert again.ran == ()
    assert again.folder("total") == first.folder("total")
