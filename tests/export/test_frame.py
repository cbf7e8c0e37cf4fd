"""Levelling on the sample scenes' ground truth moved into an arbitrary frame (no images read beyond GT depth)."""

from __future__ import annotations

import numpy as np
import pytest

from photogrammetry.errors import ConfigError
from photogrammetry.export.frame import FrameOptions, camera_axes, level_rotation, model_frame
from tests.export.scenes import GT_UP, MovedScene, moved_scene


def gt_up_error_deg(scene: MovedScene, options: FrameOptions, cam_from_world: np.ndarray | None = None) -> float:
    poses = scene.cam_from_world if cam_from_world is None else cam_from_world
    frame = model_frame(scene.vertices, poses, scene.points, "sfm", options)
    up = frame.model_from_world[:3, :3] @ scene.moved_from_gt[:3, :3] @ GT_UP
    return float(np.degrees(np.arccos(up[1] / np.linalg.norm(up))))


@pytest.mark.parametrize(("name", "method"), [("orbit", "auto"), ("facade", "auto"), ("turntable", "auto"),
                                             ("turntable", "turntable"), ("orbit", "turntable")])
def test_up_is_found_within_two_degrees(name: str, method: str) -> None:
    assert gt_up_error_deg(moved_scene(name, seed=7), FrameOptions(up=method)) < 2.0  # measured < 0.1 deg


def test_the_cameras_alone_miss_a_facade_shot_from_below() -> None:
    """The facade's cameras all look 9 deg up: their mean up is off by that much; the wall corrects it."""
    facade = moved_scene("facade", seed=7)
    assert gt_up_error_deg(facade, FrameOptions(up="cameras")) > 5.0
    frame = model_frame(facade.vertices, facade.cam_from_world, facade.points, "sfm", FrameOptions())
    assert frame.up.source == "wall" and frame.up.camera_tilt_deg > 5.0


def test_the_orbit_is_levelled_by_its_floor() -> None:
    orbit = moved_scene("orbit", seed=7)
    frame = model_frame(orbit.vertices, orbit.cam_from_world, orbit.points, "sfm", FrameOptions())
    assert frame.up.source == "ground" and frame.up.ground is not None and frame.up.ground.fraction > 0.3


def test_without_a_floor_an_orbit_keeps_the_cameras_up() -> None:
    """Pitches cancel out around an object: no wall is looked for (the vase's side would tilt it)."""
    orbit = moved_scene("orbit", seed=7)
    gt_from_moved = np.linalg.inv(orbit.moved_from_gt)
    gt = orbit.points @ gt_from_moved[:3, :3].T + gt_from_moved[:3, 3]
    vase = (gt[:, 2] > 0.01) & (np.linalg.norm(gt[:, :2], axis=1) < 0.1)  # the vase alone (masks would do that)
    floorless = MovedScene(**{**vars(orbit), "points": orbit.points[vase]})
    frame = model_frame(floorless.vertices, floorless.cam_from_world, floorless.points, "sfm", FrameOptions())
    assert frame.up.source == "cameras"
    assert gt_up_error_deg(floorless, FrameOptions()) < 2.0


def test_a_flipped_second_pass_is_left_out_by_views() -> None:
    """The object turned upside down after 24 views: its second ring circles another axis."""
    turntable = moved_scene("turntable", seed=7)
    flip = np.diag([1.0, -1.0, -1.0])  # the object turned over about its x axis (moved frame)
    centre = turntable.vertices.mean(axis=0)
    second = [np.column_stack([p[:, :3] @ flip, p[:, 3] + p[:, :3] @ (centre - flip @ centre)])
              for p in turntable.cam_from_world]
    poses = np.concatenate([turntable.cam_from_world, np.array(second)])
    assert gt_up_error_deg(turntable, FrameOptions(up="turntable", views=24), poses) < 2.0
    assert gt_up_error_deg(turntable, FrameOptions(up="turntable"), poses) > 3.0  # measured 4.8 deg


def test_the_first_view_looks_at_the_front() -> None:
    orbit = moved_scene("orbit", seed=7)
    frame = model_frame(orbit.vertices, orbit.cam_from_world, orbit.points, "sfm", FrameOptions())
    _, _, ahead = camera_axes(orbit.cam_from_world[:1])
    direction = frame.model_from_world[:3, :3] @ ahead[0]
    assert direction[2] < 0 and abs(direction[0]) < 1e-6 * np.linalg.norm(direction)  # along -Z
    rotation = level_rotation(np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -1.0]))  # looking straight down
    assert np.allclose(rotation @ rotation.T, np.eye(3)) and np.allclose(rotation @ [0, 0, 1.0], [0, 1.0, 0])


@pytest.mark.parametrize("options", [{"views": -1}, {"size": -1.0}, {"plane_max_tilt_deg": 60.0},
                                     {"plane_min_fraction": 0.0}, {"plane_tolerance": 0.5}])
def test_bad_options_are_refused(options: dict) -> None:
    with pytest.raises(ConfigError, match="export.frame"):
        FrameOptions(**options)


def test_none_keeps_the_reconstruction_frame() -> None:
    orbit = moved_scene("orbit", seed=7)
    kept = model_frame(orbit.vertices, orbit.cam_from_world, orbit.points, "sfm",
                       FrameOptions(up="none", origin="none", size=0.0))
    assert np.allclose(kept.model_from_world, np.eye(4)) and kept.units == "sfm"
    sized = model_frame(orbit.vertices, orbit.cam_from_world, None, "sfm", FrameOptions(up="cameras"))
    assert max(sized.size) == pytest.approx(1.0) and sized.units == "normalised"
    assert np.allclose(sized.apply(orbit.vertices).max(axis=0), -sized.apply(orbit.vertices).min(axis=0))
