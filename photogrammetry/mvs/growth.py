"""Kept depths grown through the raw map: hysteresis, as Canny's edges or seed-and-grow stereo.

The consistency filter ranks each pixel alone (:mod:`~photogrammetry.mvs.filtering`), and on real photos
it drops as many right raw depths as it keeps: a right depth that one source confirms, or that the sweep
found with a low confidence, is dropped beside a kept one. The sweep's right depths come in smooth
surfaces, so a dropped raw depth that passes a looser check (a source within the strict tolerance, on a
textured pixel) is kept where it joins a kept depth (a seed) through neighbours whose depths step by at
most a small relative amount, within a reach of that seed (:func:`grow`): a depth jump (an object's
outline) stops it, and so does noise, whose neighbours do not step smoothly.

A grown depth is about as right as the seed it grows from (office frames 20-31: 97 % within 5 % of the
sensor from right seeds, 9 % from wrong ones), and the wrong kept depths that the checks let through come
in small segments; so the segments of at most ``grow_area`` of the map are dropped rather than grown
(:func:`grow_surfaces`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from photogrammetry.mvs.implied import speckles

if TYPE_CHECKING:
    from photogrammetry.mvs.filter_options import FilterOptions


JUMP = 0.05
"""Relative depth difference between 4-neighbouring raw depths that :func:`near_jumps` calls a depth jump."""


def near_jumps(depth: np.ndarray, margin: int) -> np.ndarray:
    """(H, W) bool: pixels within ``margin`` pixels of a depth jump of the map ``depth`` (H, W; 0: none):
    4-neighbours, both with a depth, that differ by more than :data:`JUMP` (relative); none if ``margin`` 0."""
    if margin <= 0:
        return np.zeros(depth.shape, bool)
    logs = np.log(np.where(depth > 0, depth, 1.0))
    valid = depth > 0
    jump = np.zeros(depth.shape, bool)
    across = valid[:, 1:] & valid[:, :-1] & (np.abs(np.diff(logs, axis=1)) > np.log1p(JUMP))
    jump[:, 1:] |= across
    jump[:, :-1] |= across
    down = valid[1:] & valid[:-1] & (np.abs(np.diff(logs, axis=0)) > np.log1p(JUMP))
    jump[1:] |= down
    jump[:-1] |= down
    distance = cv2.distanceTransform((~jump).astype(np.uint8), cv2.DIST_L2, 3)
    return distance <= margin


def _links(depth: np.ndarray, allowed: np.ndarray, step: float) -> np.ndarray:
    """(2H - 1, 2W - 1) bool grid: the ``allowed`` pixels (H, W) at even positions, and between two
    4-neighbours of them a link where their ``depth`` (H, W) differs by at most ``step`` (relative)."""
    height, width = depth.shape
    logs = np.log(np.where(depth > 0, depth, 1.0))
    limit = np.log1p(step)
    grid = np.zeros((2 * height - 1, 2 * width - 1), bool)
    grid[::2, ::2] = allowed
    grid[::2, 1::2] = allowed[:, :-1] & allowed[:, 1:] & (np.abs(np.diff(logs, axis=1)) <= limit)
    grid[1::2, ::2] = allowed[:-1] & allowed[1:] & (np.abs(np.diff(logs, axis=0)) <= limit)
    return grid


def grow(seeds: np.ndarray, depth: np.ndarray, candidate: np.ndarray, step: float, reach: int) -> np.ndarray:
    """(H, W) bool: the ``candidate`` pixels (H, W) that join a ``seed`` (H, W) through a path of at most
    ``reach`` 4-neighbour steps over candidate pixels, each step between depths (``depth``, H, W) within
    ``step`` of each other (relative); seeds excluded.

    The path is a geodesic dilation of the seeds (``scipy.ndimage.binary_dilation`` with a mask) on the
    grid of :func:`_links`, two grid steps per pixel."""
    from scipy import ndimage

    allowed = (candidate | seeds) & (depth > 0)
    if reach <= 0 or not (seeds & allowed).any() or not (candidate & ~seeds).any():
        return np.zeros_like(candidate)
    grid = _links(depth, allowed, step)
    start = np.zeros_like(grid)
    start[::2, ::2] = seeds & allowed
    cross = ndimage.generate_binary_structure(2, 1)
    reached = ndimage.binary_dilation(start, cross, iterations=2 * reach, mask=grid)
    return reached[::2, ::2] & candidate & ~seeds


def grow_surfaces(kept: np.ndarray, raw: np.ndarray, strict: np.ndarray, droppable: np.ndarray,
                  options: FilterOptions) -> np.ndarray:
    """(H, W) float32: the kept depths (H, W, 0: none) outside segments (4-neighbours within ``speckle_step``)
    of at most ``grow_area`` of the map, and the depths ``raw`` (H, W: the raw map, or its mean with the
    agreeing sources) of the ``strict`` pixels (H, W) that join them (:func:`grow`, ``grow_step``,
    ``grow_reach``), the segments of at most ``speckle_area`` of the result dropped; ``options``: the
    :class:`~photogrammetry.mvs.filter_options.FilterOptions`."""
    seeds = (kept > 0) & ~speckles(kept, int(round(options.grow_area * kept.size)), options.speckle_step)
    candidate = strict & (raw > 0) & ~near_jumps(raw, options.grow_margin)
    added = grow(seeds, np.where(seeds, kept, raw), candidate, options.grow_step, options.grow_reach)
    kept = np.where(seeds | ~droppable, kept, np.where(added, raw, 0.0)).astype(np.float32)
    small = speckles(kept, int(round(options.speckle_area * kept.size)), options.speckle_step)
    return np.where(small, 0.0, kept).astype(np.float32)
