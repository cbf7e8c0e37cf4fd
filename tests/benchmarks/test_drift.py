"""``benchmarks/drift.py``: triangulation with the true cameras and the sensor's depth at keypoints."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.drift import sensor_at, spread, triangulate
from photogrammetry.evaluation import CameraPose, GroundTruth, GTView, PinholeCamera


def test_triangulate_recovers_a_point_seen_by_three_cameras():
    K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    point = np.array([0.3, -0.2, 4.0])
    projections, pixels = [], []
    for x in (-0.5, 0.0, 0.5):
        P = K @ np.hstack([np.eye(3), [[-x], [0.0], [0.0]]])
        h = P @ np.append(point, 1.0)
        projections.append(P)
        pixels.append(h[:2] / h[2])
    assert triangulate(np.stack(projections), np.stack(pixels)) == pytest.approx(point, abs=1e-9)


def test_sensor_at_reads_the_pixel_a_keypoint_lies_in(tmp_path):
    # COLMAP's convention: the top-left pixel spans [0, 1) and its centre is (0.5, 0.5)
    depth = np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000
    path = tmp_path / "d.png"
    cv2.imwrite(str(path), depth)
    camera = PinholeCamera(K=np.array([[4.0, 0, 2], [0, 4.0, 1.5], [0, 0, 1]]), width=4, height=3)
    view = GTView(name="a.png", camera=camera, pose=CameraPose(R=np.eye(3), t=np.zeros(3)), depth_path=path)
    gt = GroundTruth(views={"a.png": view}, extent=1.0, source=tmp_path, depth_scale=0.001)
    found = sensor_at(gt, "a.png", 4, 3, np.array([[0.5, 0.5], [3.9, 2.9], [1.2, 1.7], [1.0, 2.0], [5.0, 1.0]]))
    # pixel (0, 0) holds no depth; (1.0, 2.0) is the corner of pixel (1, 2); the last is outside
    assert found == pytest.approx([0.0, 11.0, 5.0, 9.0, 0.0])


def test_spread_is_the_share_within_1_percent_and_the_largest_departure():
    median, within, largest = spread({"a": 1.0, "b": 1.005, "c": 0.98, "d": 1.0})
    assert (median, within, largest) == (1.0, 0.75, pytest.approx(0.02))
    assert spread({}) == (None, None, None)
