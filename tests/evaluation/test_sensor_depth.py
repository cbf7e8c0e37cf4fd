"""Depth maps against sensor depth by reprojection: exact, scaled, resized, moved and cross-view maps."""

from __future__ import annotations

import numpy as np
import pytest

from photogrammetry.evaluation.cameras import CameraPose
from photogrammetry.evaluation.raycast import MeshRaycaster
from photogrammetry.evaluation.sensor_depth import PosedDepth, compare_with_sensor, sensor_metrics

from .synthetic import Synthetic, random_sim3


def _posed(synthetic: Synthetic, gt_depths: dict[str, np.ndarray], name: str) -> PosedDepth:
    view = synthetic.gt.views[name]
    return PosedDepth(depth=gt_depths[name], camera=view.camera, pose=view.pose)


def test_exact_and_scaled_maps(synthetic: Synthetic, gt_depths: dict[str, np.ndarray]) -> None:
    name = synthetic.gt.names[0]
    sensor = _posed(synthetic, gt_depths, name)
    exact = compare_with_sensor(sensor, sensor)
    np.testing.assert_allclose(exact.ratios, 1.0, atol=1e-9)
    assert exact.covered == exact.num_sensor == int((gt_depths[name] > 0).sum())
    assert exact.kept == pytest.approx((gt_depths[name] > 0).mean())
    far = PosedDepth(depth=sensor.depth * 1.03, camera=sensor.camera, pose=sensor.pose)
    metrics = sensor_metrics({name: compare_with_sensor(far, sensor)})
    assert metrics.within == {0.01: 0.0, 0.02: 0.0, 0.05: 1.0} and metrics.covered == 1.0
    assert metrics.median_error == pytest.approx(0.03, abs=1e-6) and metrics.view_ratios[name] == pytest.approx(1.03)
    assert metrics.within_per_view_ratio[0.01] == 1.0  # the view's own ratio divided out
    farther = PosedDepth(depth=sensor.depth * 1.08, camera=sensor.camera, pose=sensor.pose)
    metrics = sensor_metrics({name: compare_with_sensor(farther, sensor)})
    assert metrics.covered == 0.0 and metrics.covered_per_view_ratio == 1.0
    half = PosedDepth(depth=sensor.depth[:, : sensor.depth.shape[1] // 2], camera=sensor.camera, pose=sensor.pose)
    assert compare_with_sensor(half, sensor).covered < 0.6 * exact.covered  # half the sensor pixels unanswered


def test_resized_map_in_another_frame(synthetic: Synthetic, gt_depths: dict[str, np.ndarray]) -> None:
    """An estimate at half size, made in another frame and mapped back by its Sim3, scores as the truth."""
    name = synthetic.gt.names[2]
    sensor = _posed(synthetic, gt_depths, name)
    width, height = sensor.camera.width // 2, sensor.camera.height // 2
    small = MeshRaycaster([(synthetic.vertices, synthetic.faces)]).depth(sensor.camera.scaled_to(width, height),
                                                                         sensor.pose)
    sim = random_sim3()
    estimate_pose = sim.inverse().apply_to_pose(sensor.pose)  # the camera in the estimate's frame
    estimate = PosedDepth(depth=small / sim.scale, camera=sensor.camera.scaled_to(width, height),
                          pose=sim.apply_to_pose(estimate_pose))
    aligned = PosedDepth(depth=estimate.depth * sim.scale, camera=estimate.camera, pose=estimate.pose)
    metrics = sensor_metrics({name: compare_with_sensor(aligned, sensor)})
    assert metrics.median_error < 1e-3 and metrics.within[0.05] > 0.97 and metrics.covered > 0.9


def test_neighbouring_views_agree(synthetic: Synthetic, gt_depths: dict[str, np.ndarray]) -> None:
    """The check of true cameras: one view's depth reprojected into its neighbour's."""
    a, b = synthetic.gt.names[:2]
    comparison = compare_with_sensor(_posed(synthetic, gt_depths, a), _posed(synthetic, gt_depths, b))
    assert len(comparison.ratios) > 1000 and np.median(np.abs(comparison.ratios - 1)) < 0.01
    truth = _posed(synthetic, gt_depths, a)
    moved = CameraPose.from_center(R=truth.pose.R, center=truth.pose.center + 0.3 * truth.pose.R[2])
    wrong = PosedDepth(depth=truth.depth, camera=truth.camera, pose=moved)  # a camera 0.3 too far forward
    other = compare_with_sensor(wrong, _posed(synthetic, gt_depths, a))
    assert np.median(np.abs(other.ratios - 1)) > 0.02
