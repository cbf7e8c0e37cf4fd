"""The output folder: stable names, hard links or copies outside the cache, replaced as a whole."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import photogrammetry.engine.escalate as escalate
from photogrammetry.cli import main
from photogrammetry.engine.runner import RunResult, StageOutcome
from photogrammetry.errors import ConfigError
from photogrammetry.export.publish import PUBLISHED_FILE, publish
from photogrammetry.io.jsonio import read_json, write_json
from photogrammetry.stages import export
from tests.export.artifacts import context, upstream
from tests.export.scenes import moved_scene
from tests.io.gltf_check import check_glb

PUBLISHED = {"model.glb", "model.obj", "model.mtl", "model.png", "model.ply", "export.json", PUBLISHED_FILE,
             "cameras/transforms.json", "cameras/colmap/cameras.bin", "cameras/colmap/images.bin",
             "cameras/colmap/points3D.bin", "cameras/colmap/rigs.bin", "cameras/colmap/frames.bin",
             *(f"cameras/images/{name}" for name in moved_scene("orbit", seed=4).names)}


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An export artifact of the moved orbit scene, with the engine's manifest beside it."""
    root = tmp_path_factory.mktemp("publish")
    export.run(export.ExportConfig(), context(root), **upstream(moved_scene("orbit", seed=4), root).kwargs())
    write_json(root / "export" / "manifest.json", {"stage_version": 2})
    return root / "export"


def files_of(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_publishing_links_every_file_under_its_stable_name(artifact: Path, tmp_path: Path) -> None:
    published = publish(artifact, tmp_path / "out")
    assert files_of(tmp_path / "out") == PUBLISHED  # no manifest, nothing hidden
    assert published.model == tmp_path / "out" / "model.glb" and published.linked
    assert check_glb(published.model.read_bytes()) == []
    assert os.path.samefile(tmp_path / "out" / "model.ply", artifact / "model.ply")  # a hard link, not a copy
    ours, theirs = (read_json(folder / "cameras" / "transforms.json") for folder in (tmp_path / "out", artifact))
    for moved, kept in zip(ours["frames"], theirs["frames"], strict=True):  # the photos are published alongside
        assert moved["file_path"] == kept["file_path"] and moved["file_path"].startswith("images/")
        assert os.path.samefile(tmp_path / "out" / "cameras" / moved["file_path"],
                                artifact / "cameras" / kept["file_path"])
    assert read_json(tmp_path / "out" / PUBLISHED_FILE)["source"] == str(artifact.resolve())


def test_publishing_again_replaces_the_whole_folder(artifact: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish(artifact, out)
    (out / "model.obj").unlink()
    (out / "stale.txt").write_text("left by an older version")
    publish(artifact, out)
    assert files_of(out) == PUBLISHED
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging or old folder left behind


def test_a_folder_of_other_files_is_never_replaced(artifact: Path, tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("mine")
    with pytest.raises(ConfigError, match="did not publish"):
        publish(artifact, tmp_path / "mine")
    assert files_of(tmp_path / "mine") == {"thesis.tex"}
    with pytest.raises(ConfigError, match="inside the cached export"):
        publish(artifact, artifact / "out")
    (tmp_path / "empty").mkdir()
    assert publish(artifact, tmp_path / "empty").model is not None


def test_run_publishes_and_its_last_line_names_the_glb(artifact: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def finished_run(stages, request, options, stop=None) -> RunResult:
        return RunResult(workspace=request.workspace, stages=(StageOutcome("export", "k", "ran", 1.0, artifact),))

    monkeypatch.setattr(escalate, "run_pipeline", finished_run)
    (tmp_path / "photos").mkdir()
    for output, where in ((None, tmp_path / "ws" / "output"), (tmp_path / "final", tmp_path / "final")):
        args = ["run", str(tmp_path / "photos"), "-w", str(tmp_path / "ws"), *(["-o", str(output)] if output else [])]
        result = CliRunner().invoke(main, args)
        logging.getLogger("photogrammetry").handlers.clear()
        assert result.exit_code == 0, result.output
        assert files_of(where) == PUBLISHED
        assert result.stderr.strip().splitlines()[-1].endswith(f"The model: {where / 'model.glb'}")
    assert json.loads((tmp_path / "final" / "export.json").read_text())["units"] == "normalised"


def test_paths_outside_the_artifact_are_rewritten_for_the_new_place(artifact: Path, tmp_path: Path) -> None:
    """Exports of older versions named the ingest artifact's photos from ``cameras/``."""
    copy = tmp_path / "cache" / "export"
    for path in artifact.rglob("*"):
        if path.is_file():
            (copy / path.relative_to(artifact)).parent.mkdir(parents=True, exist_ok=True)
            (copy / path.relative_to(artifact)).write_bytes(path.read_bytes())
    (tmp_path / "cache" / "photo.jpg").write_bytes(b"photo")
    transforms = read_json(copy / "cameras" / "transforms.json")
    transforms["frames"][0]["file_path"] = "../../photo.jpg"
    write_json(copy / "cameras" / "transforms.json", transforms)
    publish(copy, tmp_path / "out" / "deeper")
    published = read_json(tmp_path / "out" / "deeper" / "cameras" / "transforms.json")
    assert (tmp_path / "out" / "deeper" / "cameras" / published["frames"][0]["file_path"]).read_bytes() == b"photo"
    assert published["frames"][1]["file_path"] == transforms["frames"][1]["file_path"]
