"""Sim3 algebra and estimation; rotation and vector angles."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from photogrammetry.evaluation.cameras import CameraPose, PinholeCamera, rotation_angle_deg, vector_angle_deg
from photogrammetry.evaluation.similarity import Sim3, ransac_umeyama, umeyama

from .synthetic import random_sim3


def _rotation(axis_angle) -> np.ndarray:
    return cv2.Rodrigues(np.asarray(axis_angle, dtype=np.float64))[0]


def test_rotation_angle_small_and_large_angles() -> None:
    for degrees in (1e-6, 0.5, 90.0, 179.9):
        R = _rotation(np.radians(degrees) * np.array([0.6, 0.0, 0.8]))
        assert rotation_angle_deg(R) == pytest.approx(degrees, rel=1e-6)


def test_vector_angle() -> None:
    angles = vector_angle_deg(np.array([[1.0, 0, 0], [1, 0, 0]]), np.array([[0.0, 2, 0], [-3, 0, 0]]))
    np.testing.assert_allclose(angles, [90.0, 180.0])


def test_umeyama_recovers_similarity() -> None:
    truth = random_sim3()
    src = np.random.default_rng(0).normal(size=(20, 3))
    fitted = umeyama(src, truth.apply(src))
    assert fitted.scale == pytest.approx(truth.scale)
    np.testing.assert_allclose(fitted.matrix, truth.matrix, atol=1e-9)


def test_umeyama_rejects_collinear_points() -> None:
    line = np.outer(np.arange(5.0), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="degenerate"):
        umeyama(line, line)


def test_ransac_ignores_outliers() -> None:
    truth = random_sim3()
    src = np.random.default_rng(1).normal(size=(12, 3))
    dst = truth.apply(src)
    dst[:2] += 10.0  # two grossly wrong cameras
    fitted, inliers = ransac_umeyama(src, dst, threshold=0.01)
    assert inliers.tolist() == [False, False] + [True] * 10
    np.testing.assert_allclose(fitted.matrix, truth.matrix, atol=1e-9)
    assert not np.allclose(umeyama(src, dst).matrix, truth.matrix, atol=1e-3)


def test_sim3_inverse_and_matrix_round_trip() -> None:
    sim = random_sim3()
    points = np.random.default_rng(2).normal(size=(5, 3))
    np.testing.assert_allclose(sim.inverse().apply(sim.apply(points)), points, atol=1e-12)
    np.testing.assert_allclose(Sim3.from_matrix(sim.matrix).matrix, sim.matrix, atol=1e-12)
    with pytest.raises(ValueError):
        Sim3(scale=-1.0)


def test_pose_transform_keeps_projections() -> None:
    sim = random_sim3()
    pose = CameraPose.from_center(R=_rotation([0.1, 0.2, 0.3]), center=np.array([1.0, 2.0, -1.0]))
    moved = sim.apply_to_pose(pose)
    point = np.array([0.5, -0.3, 4.0])
    before = pose.R @ point + pose.t
    after = moved.R @ sim.apply(point) + moved.t
    np.testing.assert_allclose(after, sim.scale * before, atol=1e-12)


def test_camera_rescale_keeps_pixel_centre_convention() -> None:
    camera = PinholeCamera(K=np.array([[100.0, 0, 32], [0, 100, 24], [0, 0, 1]]), width=64, height=48)
    half = camera.scaled_to(32, 24)
    np.testing.assert_allclose(half.K, [[50, 0, 16], [0, 50, 12], [0, 0, 1]])
    with pytest.raises(ValueError, match="shape"):
        PinholeCamera(K=np.eye(2), width=1, height=1)
