"""Dense geometry metrics: accuracy, completeness, precision / recall / F-score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import open3d as o3d

from photogrammetry.evaluation.geometry_metrics import (
    GeometryEvalConfig,
    crop_to_box,
    evaluate_geometry,
    sample_surface,
)

from .synthetic import Synthetic

CONFIG = GeometryEvalConfig(max_points=200_000, gt_samples=100_000)


def test_surface_samples_lie_on_the_mesh() -> None:
    vertices = np.array([[0.0, 0, 0], [2, 0, 0], [0, 1, 0], [0, 0, 5]])
    faces = np.array([[0, 1, 2]])
    points = sample_surface(vertices, faces, 1000, seed=1)
    assert np.all(points[:, 2] == 0)
    assert np.all(points[:, 0] / 2 + points[:, 1] <= 1 + 1e-12) and np.all(points[:, :2] >= 0)
    assert np.mean(points[:, 0] < 1.0) == pytest.approx(0.75, abs=0.05)  # uniform by area


def test_surface_points_score_perfectly(synthetic: Synthetic) -> None:
    points = sample_surface(synthetic.vertices, synthetic.faces, 200_000, seed=7)
    metrics = evaluate_geometry(points, synthetic.vertices, synthetic.faces, extent=synthetic.gt.extent, config=CONFIG)
    assert all(v == 1.0 for v in metrics.precision.values())
    assert all(v == pytest.approx(1.0, abs=1e-3) for v in metrics.fscore.values())
    assert metrics.accuracy_median < 1e-6


def test_noisy_points_lose_fine_thresholds(synthetic: Synthetic) -> None:
    rng = np.random.default_rng(0)
    points = sample_surface(synthetic.vertices, synthetic.faces, 200_000, seed=7)
    points += rng.normal(scale=0.01 * synthetic.gt.extent, size=points.shape)
    metrics = evaluate_geometry(points, synthetic.vertices, synthetic.faces, extent=synthetic.gt.extent, config=CONFIG)
    assert metrics.fscore[0.005] < 0.7
    assert metrics.fscore[0.005] < metrics.fscore[0.01] < metrics.fscore[0.02]
    # at most the median of |N(0, 1 %)| (0.674 %); less where the thin floor has another side near
    assert 0.004 < metrics.accuracy_median < 0.0068


def test_partial_points_lose_recall_not_precision(synthetic: Synthetic) -> None:
    points = sample_surface(synthetic.vertices, synthetic.faces, 200_000, seed=7)
    metrics = evaluate_geometry(
        points[points[:, 0] > 0], synthetic.vertices, synthetic.faces, extent=synthetic.gt.extent, config=CONFIG
    )
    assert metrics.precision[0.01] == 1.0
    assert 0.4 < metrics.recall[0.01] < 0.6


def test_crop_to_box_keeps_margin() -> None:
    points = np.array([[0.0, 0, 0], [1.05, 0, 0], [1.2, 0, 0]])
    kept = crop_to_box(points, np.array([[-1.0, -1, -1], [1, 1, 1]]), 0.1)
    assert len(kept) == 2


def test_no_points_is_an_error(synthetic: Synthetic) -> None:
    with pytest.raises(ValueError):
        evaluate_geometry(np.zeros((0, 3)), synthetic.vertices, synthetic.faces, extent=1.0)


def test_mesh_samples_land_in_the_box(tmp_path: Path) -> None:
    """A room-sized mesh around a small object: every sample is spent inside the object's box."""
    import open3d as o3d

    from photogrammetry.evaluation.geometry_metrics import read_points

    small = np.array([[0.0, 0, 0], [0.1, 0, 0], [0, 0.1, 0]])
    room = np.array([[-50.0, -50, -1], [50, -50, -1], [0, 50, -1]])
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.concatenate([small, room])),
                                     o3d.utility.Vector3iVector(np.array([[0, 1, 2], [3, 4, 5]])))
    path = tmp_path / "room.ply"
    o3d.io.write_triangle_mesh(str(path), mesh)
    box = np.array([[-0.01, -0.01, -0.01], [0.11, 0.11, 0.01]])
    shift = np.array([5.0, 0, 0])
    points = read_points(path, mesh_samples=1000, transform=lambda x: x - shift, box=(box - shift, 0.0))
    assert len(points) == 1000  # a plain sample would put about 1 of 1000 on the small triangle
    assert np.all(points[:, 2] > -0.02)
    everywhere = read_points(path, mesh_samples=1000)
    assert (everywhere[:, 2] > -0.5).sum() < 20


def test_points_on_the_surroundings_are_accurate_but_not_counted_as_recall() -> None:
    box = o3d.geometry.TriangleMesh.create_box(1.0, 1.0, 1.0)
    table = o3d.geometry.TriangleMesh.create_box(3.0, 3.0, 0.1).translate((-1.0, -1.0, -0.1))
    vertices, faces = np.asarray(box.vertices), np.asarray(box.triangles)
    surroundings = np.asarray(table.vertices), np.asarray(table.triangles)
    on_object = sample_surface(vertices, faces, 20_000, seed=1)
    on_table = sample_surface(*surroundings, 5_000, seed=2)
    points = np.concatenate([on_object, on_table[on_table[:, 2] > -1e-9]])
    config = GeometryEvalConfig(max_points=50_000, gt_samples=20_000)
    alone = evaluate_geometry(points, vertices, faces, extent=np.sqrt(3), config=config)
    around = evaluate_geometry(points, vertices, faces, extent=np.sqrt(3), config=config, surroundings=surroundings)
    assert alone.precision[0.01] < 0.95
    assert around.precision[0.01] == 1.0
    assert around.recall == alone.recall
