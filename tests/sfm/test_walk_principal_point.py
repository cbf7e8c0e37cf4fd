"""On a walk straight ahead the principal point is refined where the views pin it down (sfm.refine)."""

from __future__ import annotations

import logging

import pycolmap
import pytest

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
