"""Epipolar distances from known cameras: zero for true correspondences, exact for shifted ones."""

from __future__ import annotations

import numpy as np

from photogrammetry.matching.epipolar import epipolar_errors, fundamental_matrix


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def _project(K, R, t, points):
    x = (K @ (R @ points.T + t[:, None])).T
    return x[:, :2] / x[:, 2:]


def test_true_correspondences_have_zero_error_and_shifts_are_measured_in_pixels() -> None:
    rng = np.random.default_rng(0)
    points = rng.uniform([-1, -1, 4], [1, 1, 6], (50, 3))
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    R0, t0 = np.eye(3), np.zeros(3)
    R1, t1 = _rotation(np.array([0.2, 1.0, 0.1]), 0.2), np.array([-0.8, 0.1, 0.05])
    x0, x1 = _project(K, R0, t0, points), _project(K, R1, t1, points)
    F = fundamental_matrix(K, R0, t0, K, R1, t1)
    assert epipolar_errors(F, x0, x1).max() < 1e-6
    # moving x1 by 3 px perpendicular to its epipolar line gives an error of 3 px
    line = np.hstack([x0, np.ones((50, 1))]) @ F.T
    normal = line[:, :2] / np.linalg.norm(line[:, :2], axis=1, keepdims=True)
    errors = epipolar_errors(F, x0, x1 + 3 * normal)
    assert np.all(errors >= 3 - 1e-6) and np.median(errors) < 4.5
    # the reverse direction is the transpose
    assert epipolar_errors(F.T, x1, x0).max() < 1e-6
