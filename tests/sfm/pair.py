"""Two synthetic views of random points, as keypoints in pixels, for the verification tests."""

from __future__ import annotations

import numpy as np

F_PX, SIZE = 500.0, (640, 480)
"""Focal length (px) and image size (width, height) of both views."""


def _project(points: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    cam = points @ R.T + t
    return F_PX * cam[:, :2] / cam[:, 2:] + np.array(SIZE) / 2


def two_views(rng: np.random.Generator, n: int, *, degrees: float, noise_px: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) pixels of ``n`` points 3-6 m ahead seen from the origin and from 0.5 m to the right, turned by
    ``degrees`` about the vertical, each with Gaussian noise of ``noise_px``."""
    points = np.column_stack([rng.uniform(-1.5, 1.5, n), rng.uniform(-1.0, 1.0, n), rng.uniform(3.0, 6.0, n)])
    a = np.radians(degrees)
    R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    x1, x2 = _project(points, np.eye(3), np.zeros(3)), _project(points, R, np.array([-0.5, 0.0, 0.0]))
    if noise_px:
        x1, x2 = x1 + rng.normal(0, noise_px, x1.shape), x2 + rng.normal(0, noise_px, x2.shape)
    return x1, x2
