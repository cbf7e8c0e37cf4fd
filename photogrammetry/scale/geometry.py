"""Geometry for metric scale: multi-view triangulation, circles through camera centres, the turntable's platform."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Observation:
    """A point seen in one registered image."""

    cam_from_world: np.ndarray
    """(3, 4) pose of the image."""
    ray: np.ndarray
    """(2,) normalised image coordinates (camera frame, z = 1), distortion removed."""


def triangulate(observations: Sequence[Observation]) -> tuple[np.ndarray, float] | None:
    """Least-squares (DLT) point from two or more observations.

    Returns:
        The (3,) world point and its largest reprojection error in normalised units, or
        ``None`` with fewer than two observations or a point behind a camera.
    """
    if len(observations) < 2:
        return None
    rows = []
    for obs in observations:
        P, (x, y) = obs.cam_from_world, obs.ray
        rows += [x * P[2] - P[0], y * P[2] - P[1]]
    _, _, vt = np.linalg.svd(np.asarray(rows))
    if abs(vt[-1, 3]) < 1e-12:
        return None
    X = vt[-1, :3] / vt[-1, 3]
    error = 0.0
    for obs in observations:
        p = obs.cam_from_world @ np.append(X, 1.0)
        if p[2] <= 0:
            return None
        error = max(error, float(np.linalg.norm(p[:2] / p[2] - obs.ray)))
    return X, error


@dataclass(frozen=True)
class Circle:
    """A circle in 3D fitted to points."""

    centre: np.ndarray
    """(3,) centre."""
    normal: np.ndarray
    """(3,) unit normal of the circle's plane (the turntable's axis for camera centres)."""
    radius: float
    """Radius."""
    residuals: np.ndarray
    """(N,) distance of each point from the axis minus the radius."""


def fit_circle(points: np.ndarray) -> Circle:
    """Circle through (N, 3) points, N >= 3: plane by SVD, then an algebraic (Kasa) circle in it."""
    if points.ndim != 2 or points.shape[1] != 3 or len(points) < 3:
        raise ValueError(f"a circle needs (N >= 3, 3) points, got {points.shape}")
    mean = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - mean)
    u, v, normal = vt
    xy = np.stack([(points - mean) @ u, (points - mean) @ v], axis=1)
    A = np.column_stack([2 * xy, np.ones(len(xy))])
    (cx, cy, c), *_ = np.linalg.lstsq(A, (xy ** 2).sum(axis=1), rcond=None)
    radius = float(np.sqrt(c + cx ** 2 + cy ** 2))
    centre = mean + cx * u + cy * v
    offsets = points - centre
    in_plane = offsets - np.outer(offsets @ normal, normal)
    return Circle(centre=centre, normal=normal, radius=radius, residuals=np.linalg.norm(in_plane, axis=1) - radius)


@dataclass(frozen=True)
class PlatformGeometry:
    """The turntable in the model's frame."""

    centre: np.ndarray
    """(3,) where the axis crosses the platform's top."""
    axis: np.ndarray
    """(3,) unit axis, pointing from the platform towards the cameras."""
    radius: float
    """Radius of the platform's top (98th percentile of ``radial``)."""
    radial: np.ndarray
    """(K,) distances from the axis of the sparse points on the platform's top."""


def estimate_platform(centres: np.ndarray, points: np.ndarray, *, bin_fraction: float = 0.01) -> PlatformGeometry:
    """The platform from (N, 3) camera centres (N >= 3) and (M, 3) sparse points.

    Heights along the axis are binned (``bin_fraction`` of the cameras' circle radius) and
    smoothed; of the peaks holding at least half the largest count, the lowest is the top.
    """
    circle = fit_circle(centres)
    axis = circle.normal if (centres - circle.centre).mean(axis=0) @ circle.normal >= 0 else -circle.normal
    offsets = points - circle.centre
    heights = offsets @ axis
    width = bin_fraction * circle.radius
    counts, edges = np.histogram(heights, bins=max(1, int(np.ptp(heights) / width)))
    smooth = np.convolve(counts, [1, 2, 1], mode="same")
    peaks = [i for i in range(len(smooth)) if smooth[i] >= 0.5 * smooth.max()
             and smooth[i] >= smooth[max(0, i - 1)] and smooth[i] >= smooth[min(len(smooth) - 1, i + 1)]]
    peak = (edges[peaks[0]] + edges[peaks[0] + 1]) / 2
    layer = np.abs(heights - peak) < 1.5 * (edges[1] - edges[0])
    top = float(np.median(heights[layer]))
    radial = np.linalg.norm(offsets[layer] - np.outer(heights[layer], axis), axis=1)
    return PlatformGeometry(centre=circle.centre + top * axis, axis=axis, radius=float(np.percentile(radial, 98)),
                            radial=radial)
