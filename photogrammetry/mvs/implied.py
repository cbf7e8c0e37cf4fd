"""Speckles out, implied depths in: the kept map's small segments dropped, the raw depths its neighbours imply kept.

The consistency filter ranks each pixel on its own, and its mistakes have shapes. A wrong depth that
its sources happen to confirm is kept alone or in a small patch (speckle), while a right depth comes in
a surface; so a connected segment of kept depths (neighbours within ``step`` of relative depth) smaller
than an area is dropped (:func:`speckles`: OpenCV's ``filterSpeckles`` on the logarithm of depth, as
stereo matchers clean disparity maps). And a right raw depth that its sources confirm only loosely, or
with a low confidence, lies inside a kept surface: kept depths on both sides of it along its row or its
column, close by, imply its depth (inverse depth is linear along a line across a plane). Such a raw depth
is kept where it matches that interpolation (:func:`implied`), so surfaces close over what the checks
dropped where the photo and the neighbours agree, and nothing grows beyond their edges.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from photogrammetry.mvs.texture import enclosed_along_rows

if TYPE_CHECKING:
    from photogrammetry.mvs.filter_options import FilterOptions

LOG_UNIT = 0.0025
"""Relative depth of one step of the 16-bit codes :func:`speckles` hands OpenCV (log depth / this)."""

LOG_OFFSET = 8000
"""Added to the codes so that every depth from ``exp(-20)`` to ``exp(60)`` is a positive int16 (0: none)."""


def speckles(depth: np.ndarray, max_area: int, step: float) -> np.ndarray:
    """(H, W) bool: the kept depths (``depth`` > 0) in 4-connected segments of at most ``max_area``
    pixels, neighbours within a relative depth difference of ``step`` joining a segment."""
    kept = depth > 0
    if max_area <= 0 or not kept.any():
        return np.zeros_like(kept)
    logs = np.log(np.where(kept, depth, 1.0)) / LOG_UNIT
    codes = np.where(kept, np.clip(np.round(logs) + LOG_OFFSET, 1, np.iinfo(np.int16).max), 0).astype(np.int16)
    cv2.filterSpeckles(codes, 0, int(max_area), max(1, int(round(np.log1p(step) / LOG_UNIT))))
    return kept & (codes == 0)


def implied(kept: np.ndarray, raw: np.ndarray, candidate: np.ndarray, reach: int, tolerance: float) -> np.ndarray:
    """(H, W) bool: the ``candidate`` pixels without a kept depth whose ``raw`` depth (H, W) lies within
    ``tolerance`` (relative, in inverse depth) of the one interpolated between the nearest ``kept`` depths
    (H, W, 0: none) on both sides along its row or its column, both within ``reach`` pixels."""
    has = kept > 0
    todo = candidate & ~has & (raw > 0)
    if not todo.any() or not has.any():
        return np.zeros_like(todo)
    values = np.where(has, kept, np.where(raw > 0, raw, 1.0))
    inverse = (1.0 / values).astype(np.float64)
    rows = enclosed_along_rows(has, inverse, tolerance, reach)
    columns = enclosed_along_rows(has.T, inverse.T, tolerance, reach).T
    return todo & (rows | columns)


def close_surfaces(kept: np.ndarray, raw: np.ndarray, confirmed: np.ndarray, options: FilterOptions) -> np.ndarray:
    """(H, W) float32 kept depths with the speckles dropped (``speckle_area``), the depths ``raw`` (H, W: the
    raw map, or its mean with the agreeing sources) of ``confirmed`` pixels (H, W) that their kept
    neighbours imply added (``implied_reach``), the speckles of the result dropped again; ``options``: the
    :class:`~photogrammetry.mvs.filter_options.FilterOptions`."""
    area = int(round(options.speckle_area * kept.size))
    kept = np.where(speckles(kept, area, options.speckle_step), 0.0, kept).astype(np.float32)
    if options.implied_reach <= 0:
        return kept
    added = implied(kept, raw, confirmed, options.implied_reach, options.implied_tolerance)
    kept = np.where(added, raw, kept).astype(np.float32)
    return np.where(speckles(kept, area, options.speckle_step), 0.0, kept).astype(np.float32)
