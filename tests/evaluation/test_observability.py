"""Observability of the GT surface: what completeness may count."""

from __future__ import annotations

import numpy as np
import open3d as o3d
import pytest

from photogrammetry.evaluation.cameras import PinholeCamera
from photogrammetry.evaluation.geometry_metrics import GeometryEvalConfig, evaluate_geometry, sample_surface
from photogrammetry.evaluation.observability import Observers, observation_counts

from .synthetic import look_at

CAMERA = PinholeCamera(K=np.array([[100.0, 0, 60], [0, 100.0, 45], [0, 0, 1]]), width=120, height=90)


def cube() -> tuple[np.ndarray, np.ndarray]:
    """A unit cube centred at the origin: vertices, faces."""
    box = o3d.geometry.TriangleMesh.create_box(1.0, 1.0, 1.0).translate((-0.5, -0.5, -0.5))
    return np.asarray(box.vertices), np.asarray(box.triangles)


def front_observers(count: int = 3) -> Observers:
    """``count`` cameras 4 units out along +x, a little apart in y, looking at the cube."""
    views = [(CAMERA, look_at(np.array([4.0, y, 0.0]), np.zeros(3))) for y in np.linspace(-0.2, 0.2, count)]
    return Observers(views=views, occluders=cube(), offset=1e-4)


def test_only_the_faces_towards_the_cameras_are_observed() -> None:
    points = np.array([[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0], [0.5, 0.2, -0.3], [0.0, 0.0, 0.5]])
    counts = observation_counts(points, front_observers(3))
    # front face: seen by all; back face and top face (cameras at its height): hidden
    assert counts.tolist() == [3, 0, 3, 0]


def test_points_outside_the_frame_are_not_observed() -> None:
    far_side = np.array([[0.5, 40.0, 0.0]])  # in front of the cameras but far out of the image
    assert observation_counts(far_side, front_observers(2))[0] == 0


def test_completeness_counts_only_observed_surface() -> None:
    vertices, faces = cube()
    samples = sample_surface(vertices, faces, 50_000, seed=1)
    seen_face = samples[samples[:, 0] > 0.5 - 1e-9]  # the estimate: just the face the cameras see
    config = GeometryEvalConfig(max_points=50_000, gt_samples=50_000)
    everything = evaluate_geometry(seen_face, vertices, faces, extent=np.sqrt(3), config=config)
    observed = evaluate_geometry(seen_face, vertices, faces, extent=np.sqrt(3), config=config,
                                 observers=front_observers(3))
    assert everything.recall[0.01] < 0.3  # one face of six, plus its border
    assert observed.recall[0.01] > 0.99
    assert observed.observed_fraction == pytest.approx(1 / 6, abs=0.02)
    assert everything.observed_fraction == 1.0
    whole = GeometryEvalConfig(max_points=50_000, gt_samples=50_000, min_views=0)
    assert evaluate_geometry(seen_face, vertices, faces, extent=np.sqrt(3), config=whole,
                             observers=front_observers(3)).recall[0.01] == everything.recall[0.01]


def test_nothing_observed_is_an_error() -> None:
    vertices, faces = cube()
    behind = Observers(views=[(CAMERA, look_at(np.array([4.0, 0, 0]), np.array([8.0, 0, 0])))],
                       occluders=cube(), offset=1e-4)
    with pytest.raises(ValueError, match="no GT surface"):
        evaluate_geometry(vertices, vertices, faces, extent=1.0, observers=behind,
                          config=GeometryEvalConfig(min_views=1, gt_samples=1000))
