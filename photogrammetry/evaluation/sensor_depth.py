"""Depth maps against sensor depth, relative to it: for real captures (RGB-D) with true cameras.

A depth map of any camera (another size, another pose: the estimate's own, aligned into the
ground truth's frame) is compared with the sensor depth of its view by reprojection, never pixel
by pixel, so undistorted images of another size and estimated cameras are scored alike:

- each kept estimate pixel is lifted to a 3D point, projected into the true camera and compared
  with the sensor's depth there: the ratio ``z_true_camera / sensor``;
- each sensor pixel is lifted, projected into the estimate's camera and compared with the
  estimate there: whether the sensor pixel was given a depth within a tolerance.

Depth maps are read bilinearly where the 4 pixels around a point agree within 5 %, else at the
nearest pixel (no depth is invented across an edge).

Both depth maps must be in the ground truth's units and frame (multiply the estimate by the Sim3
scale, move its pose with :meth:`Sim3.apply_to_pose`). Pixel centres are at ``+0.5``
(:mod:`photogrammetry.evaluation.cameras`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from photogrammetry.evaluation.cameras import CameraPose, PinholeCamera


@dataclass(frozen=True, kw_only=True, eq=False)
class PosedDepth:
    """A depth map with the camera it was made in."""

    depth: np.ndarray
    """(H, W) z depth; 0 or non-finite = none."""
    camera: PinholeCamera
    """Intrinsics at the map's size."""
    pose: CameraPose
    """``cam_from_world`` in the ground truth's frame."""


@dataclass(frozen=True, kw_only=True, eq=False)
class SensorComparison:
    """One depth map against the sensor depth of its view."""

    ratios: np.ndarray
    """(N,) estimate / sensor depth of the kept pixels that land on a sensor depth."""
    kept: float
    """Fraction of the map's pixels with a depth."""
    covered: int
    """Sensor pixels given a depth within the tolerance."""
    num_sensor: int
    """Sensor pixels with a depth."""
    covered_per_view_ratio: int = 0
    """As ``covered``, after dividing the estimate by its median ratio to the sensor (its scale
    error, e.g. camera drift, left out)."""


def lift(view: PosedDepth) -> tuple[np.ndarray, np.ndarray]:
    """(P, 3) world points of the valid pixels of ``view`` and their (P,) flat pixel indices."""
    depth = view.depth
    valid = np.isfinite(depth) & (depth > 0)
    rows, cols = np.nonzero(valid)
    z = depth[rows, cols].astype(np.float64)
    pixels = np.stack([cols + 0.5, rows + 0.5, np.ones(len(rows))])
    in_camera = (np.linalg.inv(view.camera.K) @ pixels) * z
    points = (view.pose.R.T @ (in_camera - view.pose.t[:, None])).T
    return points, rows * depth.shape[1] + cols


def _interpolate(depth: np.ndarray, x: np.ndarray, y: np.ndarray, smooth: float) -> np.ndarray:
    """``depth`` (H, W) at continuous pixel positions (P,) (centres at ``+0.5``): bilinear where
    the 4 neighbours are valid and within ``smooth`` (relative) of each other, else the nearest
    pixel (depth edges stay sharp); 0 outside the map."""
    height, width = depth.shape
    padded = np.pad(np.where(np.isfinite(depth), depth, 0.0), 1)
    cols, rows = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    out = np.zeros(len(x), np.float64)
    out[inside] = padded[rows[inside] + 1, cols[inside] + 1]
    c0, r0 = np.floor(x - 0.5).astype(np.int64), np.floor(y - 0.5).astype(np.int64)
    c0, r0 = np.clip(c0, -1, width - 1) + 1, np.clip(r0, -1, height - 1) + 1
    corners = np.stack([padded[r0, c0], padded[r0, c0 + 1], padded[r0 + 1, c0], padded[r0 + 1, c0 + 1]])
    low, high = corners.min(axis=0), corners.max(axis=0)
    blend = inside & (low > 0) & (high <= low * (1.0 + smooth))
    fx, fy = (x - 0.5 - np.floor(x - 0.5))[blend], (y - 0.5 - np.floor(y - 0.5))[blend]
    c = corners[:, blend]
    out[blend] = (c[0] * (1 - fx) + c[1] * fx) * (1 - fy) + (c[2] * (1 - fx) + c[3] * fx) * fy
    return out


def sample(view: PosedDepth, points: np.ndarray, *, smooth: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Depth of world ``points`` (P, 3) in ``view``'s camera and ``view``'s depth where they
    project (bilinear on smooth surfaces, else nearest; 0 outside the map or behind the camera),
    both (P,)."""
    in_camera = points @ view.pose.R.T + view.pose.t
    z = in_camera[:, 2]
    ahead = z > 1e-9
    uvw = in_camera[ahead] @ view.camera.K.T
    found = np.zeros(len(points), np.float64)
    found[ahead] = _interpolate(view.depth, uvw[:, 0] / uvw[:, 2], uvw[:, 1] / uvw[:, 2], smooth)
    return z, found


def compare_with_sensor(estimate: PosedDepth, sensor: PosedDepth, *, tolerance: float = 0.05) -> SensorComparison:
    """Compare ``estimate`` with ``sensor`` (another view's sensor depth checks the true cameras).

    Args:
        estimate: the depth map to score, in the sensor's units and frame.
        sensor: the sensor depth and the true camera.
        tolerance: relative difference within which a sensor pixel counts as given a depth.
    """
    points, _ = lift(estimate)
    z, truth = sample(sensor, points)
    hit = truth > 0
    sensor_points, _ = lift(sensor)
    z_back, found = sample(estimate, sensor_points)
    ratios = z[hit] / truth[hit]
    relative = found / np.maximum(z_back, 1e-12)
    given = (found > 0) & (np.abs(relative - 1.0) <= tolerance)
    own = (found > 0) & (np.abs(relative / (np.median(ratios) if len(ratios) else 1.0) - 1.0) <= tolerance)
    kept = np.isfinite(estimate.depth) & (estimate.depth > 0)
    return SensorComparison(ratios=ratios, kept=float(kept.mean()), covered=int(given.sum()),
                            num_sensor=len(sensor_points), covered_per_view_ratio=int(own.sum()))


@dataclass(frozen=True, kw_only=True)
class SensorMetrics:
    """Depth maps of several views against the sensor (pixel-weighted over the views)."""

    kept: float
    """Mean fraction of the maps' pixels with a depth."""
    within: dict[float, float]
    """Fraction of the kept depths within each relative difference of the sensor."""
    median_error: float
    """Median relative difference ``|estimate / sensor - 1|`` of the kept depths."""
    covered: float
    """Fraction of the sensor's pixels given a depth within the comparison's tolerance."""
    within_per_view_ratio: dict[float, float]
    """As ``within``, after dividing each view's depths by its own median ratio (noise without drift)."""
    covered_per_view_ratio: float
    """As ``covered``, after dividing each view's depths by its own median ratio."""
    view_ratios: dict[str, float]
    """Median ratio estimate / sensor of each view."""


def sensor_metrics(comparisons: dict[str, SensorComparison],
                   thresholds: tuple[float, ...] = (0.01, 0.02, 0.05)) -> SensorMetrics:
    """Totals of per-view comparisons; views whose kept depths land on no sensor depth count for
    ``kept`` and ``covered`` only."""
    with_ratios = {n: c.ratios for n, c in comparisons.items() if len(c.ratios)}
    ratios = np.concatenate(list(with_ratios.values())) if with_ratios else np.zeros(0)
    view_ratios = {n: float(np.median(r)) for n, r in with_ratios.items()}
    normalised = np.concatenate([r / view_ratios[n] for n, r in with_ratios.items()]) if with_ratios else ratios
    error, flat = np.abs(ratios - 1.0), np.abs(normalised - 1.0)
    nan = float("nan")
    sensor = sum(c.num_sensor for c in comparisons.values())
    return SensorMetrics(
        kept=float(np.mean([c.kept for c in comparisons.values()])) if comparisons else nan,
        within={t: float(np.mean(error <= t)) if len(error) else nan for t in thresholds},
        median_error=float(np.median(error)) if len(error) else nan,
        covered=sum(c.covered for c in comparisons.values()) / sensor if sensor else nan,
        within_per_view_ratio={t: float(np.mean(flat <= t)) if len(flat) else nan for t in thresholds},
        covered_per_view_ratio=sum(c.covered_per_view_ratio for c in comparisons.values()) / sensor if sensor else nan,
        view_ratios=view_ratios,
    )
