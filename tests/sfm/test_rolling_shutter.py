"""Rolling shutter on a sequence: the readout's geometry, and the sfm stage's search on synthetic videos."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pycolmap
import pytest
from scipy.spatial.transform import Rotation

from photogrammetry.errors import ConfigError
from photogrammetry.sfm.rolling_shutter import (cauchy_cost, observation_cameras, row_times, sequence_velocities,
                                                unroll)
from photogrammetry.sfm.rolling_shutter_options import RollingShutterOptions
from tests.sfm.conftest import run_sfm
from tests.sfm.rigs import forward_video, write_rig
from tests.sfm.synthetic import SyntheticScene


def test_velocities_are_the_turn_and_step_per_frame_from_the_neighbours():
    turn = Rotation.from_rotvec([0.0, 0.02, 0.0])
    rotations = np.stack([(turn ** k).as_matrix() for k in range(5)])
    centres = np.arange(5)[:, None] * np.array([[0.1, 0.0, 0.3]])
    angular, linear = sequence_velocities(rotations, centres)
    np.testing.assert_allclose(angular, np.tile([0.0, 0.02, 0.0], (5, 1)), atol=1e-12)
    np.testing.assert_allclose(linear, np.tile([0.1, 0.0, 0.3], (5, 1)), atol=1e-12)
    # a frame left out: the neighbours two frames apart, the step halved
    angular, _ = sequence_velocities(rotations[[0, 2, 3]], frames=np.array([0, 2, 3]))
    np.testing.assert_allclose(angular, np.tile([0.0, 0.02, 0.0], (3, 1)), atol=1e-12)
    with pytest.raises(ValueError, match="two frames"):
        sequence_velocities(rotations[:1])


def test_unrolled_keypoints_land_where_the_middle_rows_camera_sees_them():
    rng = np.random.default_rng(0)
    K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])
    points = np.column_stack([rng.uniform(-2, 2, (200, 2)), rng.uniform(3, 6, 200)])
    w = np.array([0.01, 0.12, -0.02])  # 7 degrees a frame, mostly a pan
    rotations, centres = np.eye(3)[None], np.zeros((1, 3))
    global_xy = points[:, :2] / points[:, 2:] * 500.0 + [320.0, 240.0]
    xy = global_xy
    for _ in range(5):  # each point's row sets its time
        R, C = observation_cameras(np.zeros(200, int), xy[:, 1], rotations, centres, w[None], np.zeros((1, 3)), 480,
                                   0.4)
        cam = np.einsum("nij,nj->ni", R, points - C)
        xy = cam[:, :2] / cam[:, 2:] * 500.0 + [320.0, 240.0]
    assert np.median(np.linalg.norm(xy - global_xy, axis=1)) > 3.0  # the shutter moves them by pixels
    back = unroll(xy, K, w, row_times(xy[:, 1], 480, 0.4))
    np.testing.assert_allclose(back, global_xy, atol=1e-6)  # a pure turn: the unrolling is exact
    np.testing.assert_allclose(unroll(xy, K, w, np.zeros(200)), xy, atol=1e-9)


def test_the_cauchy_cost_leaves_points_behind_the_camera_out():
    assert cauchy_cost(np.array([0.0, 1.0, np.nan])) == pytest.approx(np.log(2.0) / 2)


@pytest.mark.parametrize("settings, match", [({"max_tau": 0.0}, "max_tau"), ({"tolerance": 0.6}, "tolerance"),
                                             ({"min_gain": -0.1}, "min_gain")])
def test_bad_options_are_refused_by_name(settings, match):
    with pytest.raises(ConfigError, match=match):
        RollingShutterOptions(**settings)


def _run(rig, folder, *settings):
    ingest, features, matches = write_rig(rig, folder / "in")
    scene = SyntheticScene(ingest=ingest, features=features, matches=matches, truth=None)
    return run_sfm(scene, folder / "out", *settings)


def _focal(result) -> float:
    return next(iter(pycolmap.Reconstruction(result.model).cameras.values())).focal_length


# not marked slow: CI runs the readout search's path through this test
def test_a_rolling_shutter_walk_gets_its_readout_and_focal_length_back(tmp_path, caplog):
    """A walk straight ahead read out over 0.3 of the frame interval while it turns (the lens held, where the
    shutter's shear would otherwise go): the search finds +0.301, the cost falls 6 %, the focal length comes
    back from +0.28 % to -0.11 % (measured)."""
    rig = dataclasses.replace(forward_video(), readout=0.3, readout_moves=False)
    with caplog.at_level(logging.INFO, logger="photogrammetry"):
        result = _run(rig, tmp_path, "rolling_shutter.enabled=true", "refine_extra_params=never")
    line = next(r.message for r in caplog.records if r.message.startswith("rolling shutter:"))
    tau = float(line.split("readout ")[1].split(" ")[0])
    assert tau == pytest.approx(0.3, abs=0.03) and "keypoints unrolled" in line
    assert len(result.summary.registered) == len(rig.rotations)
    assert _focal(result) == pytest.approx(rig.focal, rel=0.01)


@pytest.mark.slow
def test_a_global_shutter_walk_comes_out_unchanged(tmp_path, caplog):
    rig = forward_video()
    with caplog.at_level(logging.INFO, logger="photogrammetry"):
        searched = _run(rig, tmp_path / "on", "rolling_shutter.enabled=true")
    line = next(r.message for r in caplog.records if r.message.startswith("rolling shutter:"))
    assert line.endswith("not kept")
    plain = _run(rig, tmp_path / "off", "rolling_shutter.enabled=false")
    assert _focal(searched) == pytest.approx(_focal(plain), rel=1e-9)
    a, b = (pycolmap.Reconstruction(r.model) for r in (searched, plain))
    assert a.num_points3D() == b.num_points3D()
    assert a.compute_mean_reprojection_error() == pytest.approx(b.compute_mean_reprojection_error(), rel=1e-9)
