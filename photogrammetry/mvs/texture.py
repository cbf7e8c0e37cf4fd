"""Depths where the photo has no texture: kept only between textured depths that imply them.

Where a patch of the reference photo is flat (a clear or overcast sky, a white wall), photo-consistency
is undefined: every depth matches equally, and what the sweep gives there comes from its smoothing
(semi-global aggregation, PatchMatch's neighbour planes), which carries the depth of the nearest
textured surface into the flat area. Between textured surfaces (a wall between its door frames and
its pictures) that is the right depth; beyond the last one (the sky around a building) it is a sheet
that the other views, smoothed alike, confirm. So a kept depth on a flat patch (grey standard
deviation in a window below ``min_contrast`` times the window's mean grey) stays only where textured
kept depths lie on both sides of it along its row or its column and the depth interpolated between
them (linear in inverse depth, as a plane's is along a line) matches it within ``enclosed_tolerance``:
a depth propagated from confident neighbours, not extrapolated from one side.

Texture must also stand above a photo's noise. A window whose grey standard deviation is below
``min_grey_std`` (of the full range) is flat whatever its mean: the JPEG and sensor noise of a deep
blue sky reaches 1 % of its grey (opt-in, see :class:`~photogrammetry.mvs.filter_options.FilterOptions`).
And a kept depth on a dark pixel whose own 3x3 neighbourhood is flat (mean grey below ``dark_grey``,
standard deviation below ``dark_std``: a black background, a gap between columns, a shadow) is
dropped, enclosed or not. Such a pixel shows nothing a window could match; its depth is the one the
matching window or the aggregation carried from the textured surface beside it (the foreground
fattens), and the textured depths around a dark gap enclose it as they enclose a wall. Relative to a
floor of :data:`DARK`, the noise of a black background reads as texture, so this is measured apart.
The dark pixels within ``dark_reach`` pixels of such a neighbourhood go with it: their own 3x3
neighbourhood reaches the bright foreground, so it is not flat, but they show the background too (the
temple's one- or two-pixel dark outline, the rim of a basilica's black window opening).

What the enclosure leaves at an object's outline against a flat background is its fringe: the sweep's
windows and its coarse levels carry the object's depth several pixels onto the background beside it
(foreground fattening), and those pixels are kept where a window still reaches the object's texture
(the 5x5 contrast) or where such pixels enclose the rest (between a spire and a dome). A fringe pixel
shows the background: its own 3x3 neighbourhood is flat, and it joins the flat background that has no
depth through other flat pixels. So a kept depth whose own 3x3 contrast is below ``min_contrast``
and that joins, through such pixels and within ``fringe_reach`` steps, a flat region without depth that
touches the photo's border and covers at least ``fringe_area`` of it (the sky beyond the last surface) is
dropped (:func:`fringe`). The object's own outline stops the walk (its 3x3 neighbourhood is not flat);
a flat patch without depth inside the object (a hole between textured depths) or a small one at the
border (a stretch of carpet, a cabinet door between kept depths) seeds nothing.
"""

from __future__ import annotations

import cv2
import numpy as np

FAR = np.iinfo(np.int32).max // 4
"""Distance, in pixels, recorded where no textured depth lies in a direction."""

DARK = 0.05
"""Mean grey (of the full range) below which the contrast is taken relative to this level instead."""


def _unit(grey: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1] of a grey image (uint8, or float in [0, 1])."""
    return grey.astype(np.float32) / (255.0 if grey.dtype == np.uint8 else 1.0)


def local_stats(grey: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) float32 mean and standard deviation of a grey image (H, W) (uint8, or float in [0, 1]),
    in [0, 1], over the ``(2 radius + 1)^2`` window around each pixel."""
    values = _unit(grey)
    size = (2 * radius + 1, 2 * radius + 1)
    mean = cv2.blur(values, size, borderType=cv2.BORDER_REFLECT)
    square = cv2.blur(values * values, size, borderType=cv2.BORDER_REFLECT)
    return mean, np.sqrt(np.maximum(square - mean * mean, 0.0))


def local_contrast(grey: np.ndarray, radius: int) -> np.ndarray:
    """(H, W) float32 standard deviation of a grey image (H, W) (uint8, or float in [0, 1]) over the
    ``(2 radius + 1)^2`` window around each pixel, divided by the window's mean grey (at least
    :data:`DARK`): a dark wall's texture counts as much as a bright one's."""
    mean, std = local_stats(grey, radius)
    return std / np.maximum(mean, DARK)


def dark_and_flat(grey: np.ndarray, dark_grey: float, dark_std: float, reach: int = 0) -> np.ndarray:
    """(H, W) bool: the 3x3 neighbourhood of the pixel of a grey image (H, W) (uint8, or float in
    [0, 1]) has a mean below ``dark_grey`` and a standard deviation below ``dark_std`` (of the full range),
    or the pixel's own grey is below ``dark_grey`` and such a pixel lies within ``reach`` pixels
    (Chebyshev distance) of it."""
    mean, std = local_stats(grey, 1)
    flat = (mean < dark_grey) & (std < dark_std)
    if reach <= 0:
        return flat
    near = cv2.dilate(flat.astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)) > 0
    return flat | (near & (_unit(grey) < dark_grey))


def _nearest_before(anchor: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every pixel of (H, W) maps, the distance (``FAR`` where none) to the nearest ``anchor`` pixel
    at or before it along its row, and that pixel's value in ``values``."""
    columns = np.broadcast_to(np.arange(anchor.shape[1]), anchor.shape)
    index = np.maximum.accumulate(np.where(anchor, columns, -1), axis=1)
    distance = np.where(index >= 0, columns - index, FAR)
    return distance, np.take_along_axis(values, np.maximum(index, 0), axis=1)


def enclosed_along_rows(anchor: np.ndarray, inverse: np.ndarray, tolerance: float, reach: int = FAR) -> np.ndarray:
    """(H, W) bool: an ``anchor`` pixel lies on each side along the row, each within ``reach`` pixels,
    and the inverse depth interpolated between the nearest two (their values of ``inverse``) is within
    ``tolerance`` (relative) of ``inverse``."""
    left, left_value = _nearest_before(anchor, inverse)
    right, right_value = (a[:, ::-1] for a in _nearest_before(anchor[:, ::-1], inverse[:, ::-1]))
    both = (left < reach) & (right < reach)
    weight = left / np.maximum(left + right, 1)
    between = left_value * (1 - weight) + right_value * weight
    return both & (np.abs(inverse - between) <= tolerance * np.maximum(between, 1e-12))


def fringe(depth: np.ndarray, grey: np.ndarray, contrast: float, reach: int, min_area: float = 0.0) -> np.ndarray:
    """(H, W) bool: the kept depths of the fringe (see the module's docstring): pixels of ``depth`` > 0
    whose 3x3 contrast (:func:`local_contrast`) is below ``contrast``, joined (8-connected) through such
    pixels, within ``reach`` steps, to a connected region of flat pixels without depth that touches the
    border of the map and holds at least ``min_area`` of its pixels. ``grey`` (H, W): the photo at the
    map's size (uint8, or float in [0, 1])."""
    kept = depth > 0
    flat = local_contrast(grey, 1) < contrast
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~kept & flat).astype(np.uint8), connectivity=8)
    border = np.zeros(count, bool)
    border[np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])] = True
    border &= stats[:, cv2.CC_STAT_AREA] >= min_area * kept.size
    border[0] = False
    region = border[labels].astype(np.uint8)
    walk = (kept & flat).astype(np.uint8)
    dropped = np.zeros_like(kept)
    for _ in range(reach):
        step = (cv2.dilate(region, np.ones((3, 3), np.uint8)) > 0) & (walk > 0) & ~dropped
        if not step.any():
            break
        dropped |= step
        region[step] = 1
    return dropped


def keep_textured(depth: np.ndarray, grey: np.ndarray, min_contrast: float, radius: int, tolerance: float,
                  min_grey_std: float = 0.0, dark_grey: float = 0.0, dark_std: float = 0.0,
                  dark_reach: int = 0) -> np.ndarray:
    """Which kept depths to keep: those on textured pixels, and those on flat ones that textured
    depths enclose along the row or the column, none on a dark flat pixel (see the module's docstring).

    Args:
        depth: (H, W) kept depths, 0 where none.
        grey: (H, W) the reference photo in grey at the map's size (uint8, or float in [0, 1]).
        min_contrast: Local contrast (:func:`local_contrast`) below which a pixel is flat.
        radius: Radius of the window of the contrast.
        tolerance: Relative difference allowed between a flat pixel's inverse depth and the one
            interpolated between the textured depths that enclose it.
        min_grey_std: Grey standard deviation (of the full range) in the window below which a pixel
            is flat whatever its contrast; 0: the contrast alone.
        dark_grey: Mean grey of a 3x3 neighbourhood below which, where it is also flat (``dark_std``),
            the pixel's depth is dropped; 0: none is.
        dark_std: Grey standard deviation of that neighbourhood below which it is flat.
        dark_reach: Dark pixels (grey below ``dark_grey``) within this many pixels of a dark flat
            neighbourhood are dropped with it; 0: none.

    Returns:
        (H, W) bool, false where ``depth`` is 0.
    """
    kept = depth > 0
    mean, std = local_stats(grey, radius)
    textured = (std / np.maximum(mean, DARK) >= min_contrast) & (std >= min_grey_std)
    anchor = kept & textured
    inverse = np.where(kept, 1.0 / np.where(kept, depth, 1.0), 0.0)
    rows = enclosed_along_rows(anchor, inverse, tolerance)
    columns = enclosed_along_rows(anchor.T, inverse.T, tolerance).T
    blank = dark_and_flat(grey, dark_grey, dark_std, dark_reach) if dark_grey > 0 else np.zeros_like(kept)
    return kept & ~blank & (textured | rows | columns)
