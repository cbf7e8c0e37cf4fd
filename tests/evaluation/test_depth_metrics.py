"""Depth-map metrics against GT depth rendered from the mesh or read from PNGs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from photogrammetry.evaluation.depth_metrics import (
    depth_view_metrics,
    evaluate_depth,
    find_depth_maps,
    read_colmap_array,
    read_depth_map,
)
from photogrammetry.evaluation.ground_truth import GroundTruth, GTView
from photogrammetry.evaluation.raycast import MeshRaycaster, gt_depth_map

from .synthetic import Synthetic

SCALE = 0.37  # estimate units per GT unit


def test_perfect_depth_in_other_units(synthetic: Synthetic, gt_depths: dict[str, np.ndarray]) -> None:
    estimate = {name: depth * SCALE for name, depth in gt_depths.items()}
    metrics = evaluate_depth(estimate, synthetic.gt, scale=1 / SCALE)
    assert metrics.num_views == 10
    assert all(v == pytest.approx(1.0) for v in metrics.within.values())
    assert metrics.completeness == pytest.approx(1.0)


def test_lower_resolution_estimate_is_compared_at_its_size(synthetic: Synthetic) -> None:
    raycaster = MeshRaycaster([(synthetic.vertices, synthetic.faces)])
    view = synthetic.gt.views[synthetic.gt.names[0]]
    half = raycaster.depth(view.camera.scaled_to(60, 45), view.pose)
    metrics = evaluate_depth({view.name: half}, synthetic.gt)
    assert metrics.within[0.005] == pytest.approx(1.0)
    assert metrics.per_view[view.name].num_gt_valid == int((half > 0).sum())


def test_scaled_depth_fails_fine_thresholds(synthetic: Synthetic, gt_depths: dict[str, np.ndarray]) -> None:
    estimate = {name: depth * 1.05 for name, depth in gt_depths.items()}
    metrics = evaluate_depth(estimate, synthetic.gt)
    assert metrics.within[0.01] < 0.2
    assert metrics.within[0.005] <= metrics.within[0.01] <= metrics.within[0.02]
    assert metrics.completeness == pytest.approx(1.0)


def test_holes_lower_completeness_only() -> None:
    truth = np.full((10, 10), 2.0, dtype=np.float32)
    estimate = truth.copy()
    estimate[:5] = 0.0
    estimate[5, :5] = np.nan
    metrics = depth_view_metrics(estimate, truth, extent=10.0, thresholds=(0.01,))
    assert metrics.completeness == pytest.approx(0.45)
    assert metrics.within[0.01] == 1.0
    assert metrics.num_compared == 45


def test_colmap_array_round_trip(tmp_path: Path) -> None:
    depth = np.random.default_rng(0).random((7, 5)).astype(np.float32)
    path = tmp_path / "a.jpg.geometric.bin"
    # COLMAP writes the (W, H) transpose in Fortran order: x runs fastest, as in a C-order (H, W)
    path.write_bytes(b"5&7&1&" + depth.astype("<f4").tobytes())
    np.testing.assert_array_equal(read_colmap_array(path), depth)
    np.testing.assert_array_equal(read_depth_map(path), depth)


def test_find_depth_maps_by_name_or_stem(tmp_path: Path) -> None:
    np.save(tmp_path / "a.jpg.npy", np.ones((2, 2), np.float32))
    np.save(tmp_path / "b.npy", np.ones((2, 2), np.float32))
    (tmp_path / "c.png.geometric.bin").write_bytes(b"1&1&1&" + np.float32(1).tobytes())
    found = find_depth_maps(tmp_path, ["a.jpg", "b.jpg", "c.png", "d.jpg"])
    assert {n: p.name for n, p in found.items()} == {
        "a.jpg": "a.jpg.npy",
        "b.jpg": "b.npy",
        "c.png": "c.png.geometric.bin",
    }


def test_depth_png_is_read_and_resampled(
    synthetic: Synthetic, gt_depths: dict[str, np.ndarray], tmp_path: Path
) -> None:
    name = synthetic.gt.names[0]
    depth_scale = 1e-3
    cv2.imwrite(str(tmp_path / "d.png"), np.round(gt_depths[name] / depth_scale).astype(np.uint16))
    view = synthetic.gt.views[name]
    gt = GroundTruth(
        views={name: GTView(name=name, camera=view.camera, pose=view.pose, depth_path=tmp_path / "d.png")},
        extent=synthetic.gt.extent,
        source=tmp_path,
        depth_scale=depth_scale,
    )
    full = gt_depth_map(gt, name)
    np.testing.assert_allclose(full, gt_depths[name], atol=depth_scale)
    half = gt_depth_map(gt, name, width=60, height=45)
    assert half.shape == (45, 60)
    np.testing.assert_array_equal(half, full[1::2, 1::2])  # centre 2k+1 falls on pixel 2k+1
