"""Fixtures of the sfm tests: synthetic scenes (no images) and a sample scene with SIFT matches."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from photogrammetry.engine.settings import resolve_config
from photogrammetry.engine.stage import StageContext
from photogrammetry.io.sfm import SfmResult, load_sfm
from photogrammetry.stages import sfm
from tests.sfm.synthetic import SyntheticScene, make_scene

SAMPLE_SCENES = Path(__file__).resolve().parents[2] / "sample_scenes"


def run_sfm(scene: SyntheticScene, out: Path, *settings: str) -> SfmResult:
    """Run the sfm stage's entry function on ``scene`` into ``out`` and load its result; ``settings``:
    ``option=value`` as ``--set sfm.option=value`` takes them (``mapping.mapper=global``)."""
    out.mkdir(parents=True, exist_ok=True)
    ctx = StageContext(name="sfm", out=out, photos=out, workers=2, progress=False)
    config = resolve_config([sfm.STAGE], preset=None, overrides=[f"sfm.{s}" for s in settings])["sfm"]
    sfm.run(config, ctx, ingest=scene.ingest, features=scene.features, matches=scene.matches)
    return load_sfm(out)


@pytest.fixture(scope="session")
def synthetic_scene(tmp_path_factory) -> SyntheticScene:
    """Eight views of 300 points with 0.5 px keypoint noise and 20 % wrong matches."""
    return make_scene(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="session")
def synthetic_sfm(synthetic_scene, tmp_path_factory) -> SfmResult:
    """The sfm artifact of :func:`synthetic_scene` with the default settings."""
    logging.getLogger("photogrammetry").setLevel(logging.INFO)
    return run_sfm(synthetic_scene, tmp_path_factory.mktemp("sfm"))


@pytest.fixture()
def scene_factory(tmp_path) -> Callable[..., SyntheticScene]:
    """Makes synthetic scenes in the test's temporary folder (see :func:`make_scene`)."""
    counter = iter(range(1000))
    return lambda **kw: make_scene(tmp_path / f"scene{next(counter)}", **kw)
