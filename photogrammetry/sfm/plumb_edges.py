"""The straight scene edges of a photo, for the plumb-line fit (:mod:`photogrammetry.sfm.plumb`).

A lens with radial distortion bends the straight edges of a scene (door frames, shelves, tiles), and
OpenCV's line segment detector (LSD) breaks a bent edge into several short, nearly collinear segments.
Each photo's segments are chained where one continues another (:func:`chains`: same contrast polarity,
turning by at most ``max_angle_deg``, the next one starting within ``max_gap`` ahead and
``max_offset_px`` beside); chains (or single segments) that span ``min_span`` of the image and stray at
most ``max_bend`` of their length from a straight line stand for straight scene edges. LSD's segments are
straight by construction, so each edge is then located along them every ``edge_step_px``
(:func:`edge_points`): with the segments' end points alone, an edge that LSD kept whole told nothing and
only the bent ones counted (office frames 0-59 in thirds, each warped by ``k1`` = 0, +-0.05 and +-0.15: what
was measured less what was put in varied by 1.2-1.8 % within a third, with the edge points by 0.2-0.5 % where
measured).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from photogrammetry.sfm.plumb_options import PlumbOptions


def line_segments(gray: np.ndarray, options: PlumbOptions) -> np.ndarray:
    """OpenCV's LSD segments of a grey image (H, W) uint8, at most ``max_image_px`` across while found.

    Returns:
        (N, 4) float64 ``x0, y0, x1, y1`` in pixels of ``gray``, ordered so that the brighter side lies
        the same way of every segment; those shorter than ``min_segment`` of the diagonal left out.
    """
    import cv2

    scale = min(1.0, options.max_image_px / max(gray.shape))
    small = gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    found = cv2.createLineSegmentDetector().detect(small)[0]
    if found is None:
        return np.zeros((0, 4))
    segments = found.reshape(-1, 4).astype(np.float64) / scale
    lengths = np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
    return segments[lengths >= options.min_segment * math.hypot(*gray.shape)]


def _successors(segments: np.ndarray, diag: float, options: PlumbOptions) -> np.ndarray:
    """Each segment's continuation (the index of the segment that carries its edge on, mutual best
    match), -1 where none: (N,) int."""
    start, end = segments[:, :2], segments[:, 2:]
    direction = (end - start) / np.linalg.norm(end - start, axis=1, keepdims=True)
    normal = np.stack([-direction[:, 1], direction[:, 0]], axis=1)
    step = start[None, :, :] - end[:, None, :]  # [i, j]: from i's end to j's start
    ahead = np.einsum("ijk,ik->ij", step, direction)
    beside_i = np.abs(np.einsum("ijk,ik->ij", step, normal))
    beside_j = np.abs(np.einsum("ijk,jk->ij", step, normal))
    ok = ((direction @ direction.T >= math.cos(math.radians(options.max_angle_deg)))
          & (ahead >= -2 * options.max_offset_px) & (ahead <= options.max_gap * diag)
          & (beside_i <= options.max_offset_px) & (beside_j <= options.max_offset_px))
    np.fill_diagonal(ok, False)
    cost = np.where(ok, np.linalg.norm(step, axis=2), np.inf)
    after, before = np.argmin(cost, axis=1), np.argmin(cost, axis=0)
    has = np.isfinite(cost[np.arange(len(segments)), after])
    mutual = has & (before[after] == np.arange(len(segments)))
    return np.where(mutual, after, -1)


def chains(segments: np.ndarray, diag: float, options: PlumbOptions) -> list[list[int]]:
    """The straight scene edges among ``segments`` (N, 4): chains of segments, each continuing the last
    (one segment alone where none continues it), spanning ``min_span`` of ``diag`` and straight within
    ``max_bend``; per chain its segments' indices in order."""
    if len(segments) == 0:
        return []
    after = _successors(segments, diag, options) if len(segments) > 1 else np.array([-1])
    starts = set(range(len(segments))) - set(after[after >= 0].tolist())
    out = []
    for first in sorted(starts):
        path, seen = [first], {first}
        while after[path[-1]] >= 0 and after[path[-1]] not in seen:
            path.append(int(after[path[-1]]))
            seen.add(path[-1])
        ends = segments[path].reshape(-1, 2)
        span = float(np.linalg.norm(ends[-1] - ends[0]))
        if span >= options.min_span * diag and _bend(ends) <= options.max_bend * span:
            out.append(path)
    return out


def edge_points(smooth: np.ndarray, segments: np.ndarray, options: PlumbOptions) -> np.ndarray:
    """Where the edge each of ``segments`` (N, 4) stands for lies, every ``edge_step_px`` along it: the
    strongest grey-level step across it within ``edge_reach_px`` (to a tenth of a pixel or so, a parabola
    through the step's three samples), on ``smooth`` (H, W) float32. LSD's segments are straight by
    construction; these points follow the edge as the lens bent it. Returns (M, 2) float64."""
    import cv2

    out = []
    offsets = np.arange(-options.edge_reach_px, options.edge_reach_px + 1e-9, 0.5)
    for segment in segments:
        start, end = segment[:2], segment[2:]
        length = float(np.linalg.norm(end - start))
        along = (end - start) / length
        across = np.array([-along[1], along[0]])
        base = start + np.arange(2.0, length - 2.0, options.edge_step_px)[:, None] * along
        grid = (base[:, None, :] + offsets[None, :, None] * across).astype(np.float32)
        step = np.abs(np.gradient(cv2.remap(smooth, grid[..., 0], grid[..., 1], cv2.INTER_LINEAR), axis=1))
        found = np.argmax(step, axis=1)
        peak, rows = np.clip(found, 1, len(offsets) - 2), np.arange(len(found))
        before, at, after = step[rows, peak - 1], step[rows, peak], step[rows, peak + 1]
        curvature = before - 2 * at + after
        shift = 0.5 * (before - after) / np.where(curvature < 0, curvature, -1.0)
        keep = (found == peak) & (curvature < 0) & (np.abs(shift) <= 1.0) & (at > 0.5 * np.median(at))
        out.append(base[keep] + (offsets[peak] + 0.5 * shift)[keep, None] * across)
    return np.concatenate(out) if out else np.zeros((0, 2))


def _bend(points: np.ndarray) -> float:
    """The largest distance of ``points`` (M, 2) from their total-least-squares line."""
    centred = points - points.mean(axis=0)
    normal = np.linalg.svd(centred, full_matrices=False)[2][-1]
    return float(np.max(np.abs(centred @ normal)))


@dataclass(frozen=True)
class Edges:
    """One photo's straight scene edges: their points (N, 2), each point's edge (N,) and how many edges."""

    points: np.ndarray
    index: np.ndarray
    count: int

    def keep(self, chains: np.ndarray) -> Edges:
        """Only the chains where ``chains`` (count,) bool is true."""
        new = np.cumsum(chains) - 1
        points = chains[self.index]
        return Edges(self.points[points], new[self.index[points]], int(np.sum(chains)))


def photo_edges(image: np.ndarray, options: PlumbOptions) -> Edges:
    """The edge points of ``image``'s straight scene edges (:func:`chains`, :func:`edge_points`)."""
    import cv2

    segments = line_segments(image, options)
    smooth = cv2.GaussianBlur(image.astype(np.float32), (0, 0), 1.0)
    found = [edge_points(smooth, segments[path], options) for path in
             chains(segments, math.hypot(*image.shape[:2]), options)]
    found = [points for points in found if len(points) >= 6]
    if not found:
        return Edges(np.zeros((0, 2)), np.zeros(0, int), 0)
    index = np.concatenate([np.full(len(c), i) for i, c in enumerate(found)])
    return Edges(np.concatenate(found), index, len(found))


def read_gray(path: Path) -> np.ndarray:
    """A photo as a grey uint8 image (H, W)."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError(f"cannot read {path}: not an image OpenCV reads")
    return image
