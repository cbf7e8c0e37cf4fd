"""On a walk straight ahead the principal point is refined where the views pin it down (sfm.refine)."""

from __future__ import annotations

import logging
from pathlib import Path

import pycolmap
import pytest

import photogrammetry
from photogrammetry.io.sfm import load_sfm
from photogrammetry.sfm.intrinsics import WALK_PRINCIPAL_POINT_MAX_SD, focal_deviations, principal_point_deviations
from tests.sfm.conftest import run_sfm
from tests.sfm.rigs import forward_video, write_rig
from tests.sfm.synthetic import SyntheticScene

OFFSET = (4.0, -14.0)
"""The rig's principal point off the centre, pixels: 14 px above it, about what the real office walk has
(10 px of 360)."""


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    rig = forward_video(principal_point=OFFSET)
    folder = tmp_path_factory.mktemp("walk")
    ingest, features, matches = write_rig(rig, folder / "in")
    scene = SyntheticScene(ingest=ingest, features=features, matches=matches, truth=None)
    return rig, scene, folder


def test_a_walk_with_its_principal_point_off_the_centre_finds_it(walk, caplog):
    rig, scene, folder = walk
    with caplog.at_level(logging.INFO, logger="photogrammetry"):
        result = run_sfm(scene, folder / "out")
    assert result.summary.forward_motion > 0.9  # a walk straight ahead
    assert len(result.summary.registered) == len(rig.rotations)
    assert result.summary.principal_point_refined
    assert any("principal point refined (a walk straight ahead)" in r.message for r in caplog.records)
    camera = next(iter(pycolmap.Reconstruction(result.model).cameras.values()))
    assert camera.principal_point_x == pytest.approx(rig.width / 2 + OFFSET[0], abs=3.0)
    assert camera.principal_point_y == pytest.approx(rig.height / 2 + OFFSET[1], abs=3.0)
    # the distortion chosen with the point free: held at the centre, it came out 2.1 % short (limited)
    assert camera.focal_length == pytest.approx(rig.focal, rel=0.01)


def test_the_principal_point_deviation_is_small_where_the_views_pin_it_and_follows_the_focal_ones(walk):
    _, _, folder = walk
    model = pycolmap.Reconstruction(folder / "out" / "model")
    camera_id = next(iter(model.cameras))
    sd = principal_point_deviations(model, distortion=False, num_threads=1)[camera_id]
    assert 0.0 < sd < WALK_PRINCIPAL_POINT_MAX_SD
    # the same covariance gives the focal length's: freeing the principal point widens it
    held = focal_deviations(model, focal=True, principal_point=False, distortion=False, num_threads=1)[camera_id]
    free = focal_deviations(model, focal=True, principal_point=True, distortion=False, num_threads=1)[camera_id]
    assert 0.0 < held <= free < 0.01 * model.camera(camera_id).focal_length


SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
OFFICE = SHARED_DATA / "deepvideomvs_hololens_office" / "images"


@pytest.mark.slow
@pytest.mark.skipif(not OFFICE.is_dir(), reason="../shared/data/deepvideomvs_hololens_office is absent")
def test_the_real_office_walk_finds_its_principal_point(tmp_path):
    """Frames 20-39 of the real office walk (540 x 360, no EXIF; true principal point (270.0, 169.7) in COLMAP's
    pixels, 10 px above the centre): measured (274.2-275.0, 168.4-169.5) with ``cpu`` and ``fast``."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for frame in sorted(OFFICE.iterdir())[20:40]:
        (photos / frame.name).symlink_to(frame)
    result = photogrammetry.run(photos, tmp_path / "ws", preset="fast", until="sfm", progress=False)
    sfm = load_sfm(result.folder("sfm"))
    assert sfm.summary.principal_point_refined and sfm.summary.forward_motion > 0.35
    camera = next(iter(pycolmap.Reconstruction(sfm.model).cameras.values()))
    assert camera.principal_point_x == pytest.approx(270.0, abs=6.0)
    assert camera.principal_point_y == pytest.approx(169.7, abs=6.0)  # the centre is 180: 10 px off
    assert camera.focal_length == pytest.approx(495.5, rel=0.04)  # measured -2.1 %: the tracks' own optimum
