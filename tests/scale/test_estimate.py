"""Metric scale: circle and triangulation geometry, and each method on the turntable sample scene
(ground-truth cameras, in metres, scaled by an arbitrary factor)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from photogrammetry.scale import TargetSpec, marker_scale, platform_scale, points_scale, radius_scale
from photogrammetry.scale.geometry import Observation, fit_circle, triangulate
from photogrammetry.scale.markers import known_distances
from tests.scale.markers import paint_scene, ring_of_markers

SCENE = Path(__file__).resolve().parents[2] / "sample_scenes" / "turntable"
FACTOR = 3.7
"""The test models are the ground truth (metres) times this: the scale to find is 1 / FACTOR."""
RADIUS_M = 0.65 * np.cos(np.radians(20.0))
"""Camera-to-axis distance of the sample scene (0.65 m from the object's centre, 20 degrees up)."""


@pytest.fixture(scope="module")
def model():
    import pycolmap

    reconstruction = pycolmap.Reconstruction(SCENE / "gt" / "sparse")
    reconstruction.transform(pycolmap.Sim3d(FACTOR, pycolmap.Rotation3d(), np.zeros(3)))
    return reconstruction


def test_fit_circle_recovers_radius_and_axis() -> None:
    rng = np.random.default_rng(0)
    angles = rng.uniform(0, 2 * np.pi, 30)
    points = np.column_stack([2.0 * np.cos(angles), 2.0 * np.sin(angles), np.full(30, 0.5)])
    circle = fit_circle(points + rng.normal(0, 1e-3, points.shape))
    assert circle.radius == pytest.approx(2.0, abs=2e-3)
    assert abs(circle.normal[2]) == pytest.approx(1.0, abs=1e-3)
    assert np.allclose(circle.centre, [0, 0, 0.5], atol=2e-3)


def test_triangulate_two_views() -> None:
    point = np.array([0.1, -0.2, 3.0])
    views = []
    for x in (-0.5, 0.5):
        pose = np.column_stack([np.eye(3), [x, 0, 0]])
        cam = pose @ np.append(point, 1)
        views.append(Observation(cam_from_world=pose, ray=cam[:2] / cam[2]))
    found, error = triangulate(views)
    assert np.allclose(found, point) and error < 1e-9
    assert triangulate(views[:1]) is None


def test_radius_scale(model) -> None:
    names = [im.name for im in model.images.values()]
    found = radius_scale(model, names, RADIUS_M)
    assert found.scale == pytest.approx(1 / FACTOR, rel=1e-3)
    assert found.relative_uncertainty < 1e-3 and found.samples == 24


def test_platform_scale(model) -> None:
    found = platform_scale(model, 0.13633)  # the sample scene's platform: 0.1363 m radius
    assert found.scale == pytest.approx(1 / FACTOR, rel=5e-3)
    assert 0 < found.relative_uncertainty < 0.01 and found.samples > 50


def test_marker_scale(model, tmp_path: Path) -> None:
    painted = paint_scene(SCENE, tmp_path / "painted", ring_of_markers(0.115, 0.03, 8))
    found = marker_scale(model, lambda name: painted / Path(name).with_suffix(".png"),
                         TargetSpec(kind="aruco", marker_mm=30.0))
    assert found.scale == pytest.approx(1 / FACTOR, rel=0.01)
    assert 0 < found.relative_uncertainty < 0.01 and found.samples >= 6 * 4


def test_marker_scale_without_markers_says_so(model) -> None:
    with pytest.raises(ValueError, match="no aruco target"):
        marker_scale(model, lambda name: SCENE / "images" / name, TargetSpec(kind="aruco", marker_mm=30.0))


def test_points_scale(model) -> None:
    ends = np.array([[0.05, -0.1, 0.0], [-0.05, -0.1, 0.0]])  # 10 cm apart on the platform
    lines = []
    for image in list(model.images.values())[:4]:
        K = model.cameras[image.camera_id].calibration_matrix()
        pose = image.cam_from_world().matrix()
        for label, end in zip("AB", ends * FACTOR):
            p = K @ (pose @ np.append(end, 1))
            lines.append(f"{label} {image.name} {p[0] / p[2]:.3f} {p[1] / p[2]:.3f}")
    found = points_scale(model, "\n".join(lines), 0.1)
    assert found.scale == pytest.approx(1 / FACTOR, rel=1e-3)
    assert 0 < found.relative_uncertainty < 0.01 and found.samples == 8
    with pytest.raises(ValueError, match="exactly two points"):
        points_scale(model, lines[0], 0.1)


def test_known_distances_are_short_ones_on_one_target() -> None:
    charuco = TargetSpec(kind="charuco", square_mm=30.0, marker_mm=22.0, board=(5, 7))
    pairs = known_distances([(-1, 0), (-1, 1), (-1, 4), (-1, 10)], charuco)  # 4 corners a row
    assert {(a[1], b[1]): round(d, 2) for a, b, d in pairs} == {(0, 1): 30.0, (0, 4): 30.0, (1, 4): 42.43}
    aruco = known_distances([(3, 0), (3, 1), (3, 2), (7, 0)], TargetSpec(marker_mm=40.0))
    assert sorted(round(d, 2) for *_, d in aruco) == [40.0, 40.0, 56.57]  # never across markers
