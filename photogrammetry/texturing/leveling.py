"""Exposure and colour levelling: one gain per photo and channel, agreed on by shared points.

Surface points seen by several photos should have one colour. With ``c[p, v]`` the colour of
point ``p`` in photo ``v``, the gains minimise, per channel and in the log domain,

    sum_{p, v} (log c[p, v] + log g[v] - log a[p])^2  +  prior * sum_v (log g[v])^2

over the point colours ``a`` and gains ``g`` (the prior keeps the mean exposure). Robust to
outliers by one reweighting round.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from photogrammetry.meshing.views import CameraView, sample_image
from photogrammetry.texturing.visibility import MeshScene, view_maps, visible

_MIN_VALUE = 4.0 / 255.0
"""Darker samples (noise, clipped shadows) are ignored."""


def observe(points: np.ndarray, views: Sequence[CameraView], scene: MeshScene,
            *, sigma: float = 2.0, erode_px: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Low-passed colours of surface points (P, 3) in every view that sees them (masks eroded by
    ``erode_px`` pixels).

    Returns:
        Point index (M,), view index (M,) and RGB colour (M, 3) float64 in [0, 1] per observation.
    """

    point_ids, view_ids, colors = [], [], []
    for index, view in enumerate(views):
        maps = view_maps(scene, view, view.read_mask(), erode_px=erode_px)
        pix, _, seen = visible(view, maps, points)
        idx = np.flatnonzero(seen)
        image = cv2.GaussianBlur(view.read_image().astype(np.float32) / 255.0, (0, 0), sigma)
        point_ids.append(idx)
        view_ids.append(np.full(len(idx), index))
        colors.append(sample_image(image, pix[idx]).astype(np.float64))
    return np.concatenate(point_ids), np.concatenate(view_ids), np.concatenate(colors)


def _solve(point_ids: np.ndarray, view_ids: np.ndarray, values: np.ndarray, num_points: int,
           num_views: int, prior: float, weights: np.ndarray, iterations: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares for log gains (V,) and log point colours (P,) by block coordinate descent.

    Each half step is exact: a point's colour is the weighted mean of its levelled observations,
    a view's log gain the weighted mean of its residuals shrunk by the prior.
    """
    log_gain = np.zeros(num_views)
    point_weight = np.maximum(np.bincount(point_ids, weights, minlength=num_points), 1e-12)
    view_weight = np.bincount(view_ids, weights, minlength=num_views) + prior
    for _ in range(iterations):
        log_point = np.bincount(point_ids, weights * (values + log_gain[view_ids]), minlength=num_points)
        log_point /= point_weight
        update = np.bincount(view_ids, weights * (log_point[point_ids] - values), minlength=num_views) / view_weight
        if np.max(np.abs(update - log_gain)) < 1e-6:
            log_gain = update
            break
        log_gain = update
    return log_gain, log_point


def exposure_gains(points: np.ndarray, views: Sequence[CameraView], scene: MeshScene, *,
                   prior: float = 0.1, max_gain: float = 2.0, erode_px: int = 0) -> np.ndarray:
    """(V, 3) gains that level the photos' exposure and white balance (1 where undetermined).

    Args:
        points: (P, 3) surface points seen by several views (e.g. well-seen face centres).
        views: The views.
        scene: The mesh, for depth tests.
        prior: Weight pulling each log gain to 0, relative to one observation.
        max_gain: Gains are clipped to ``[1 / max_gain, max_gain]``.
        erode_px: Pixels by which the views' masks are eroded.
    """
    point_ids, view_ids, colors = observe(points, views, scene, erode_px=erode_px)
    gains = np.ones((len(views), 3))
    for channel in range(3):
        keep = colors[:, channel] > _MIN_VALUE
        if keep.sum() < 10 * len(views):
            continue
        p, v, value = point_ids[keep], view_ids[keep], np.log(colors[keep, channel])
        weights = np.ones(len(value))
        for _ in range(2):
            log_gain, log_point = _solve(p, v, value, len(points), len(views), prior, weights)
            residual = np.abs(value + log_gain[v] - log_point[p])
            weights = 1.0 / np.maximum(1.0, residual / 0.05)  # Huber weights, scale 5 %
        gains[:, channel] = np.exp(np.clip(log_gain, -np.log(max_gain), np.log(max_gain)))
    return gains
