"""PatchMatch over a pyramid of scales (ACMM-style multi-scale), the refinement of a swept map.

With ``propagation.scales = k`` the map is refined by PatchMatch
(:func:`~photogrammetry.mvs.propagation.refine_planes`) first at ``1/2^(k-1)`` of its size, then at
each larger size up to its own. At a coarse scale the same window covers more of the scene, and the
area-averaged images carry less noise, so weak texture (a wall, a dark cabinet) is matched there that
the full size cannot score. Each level's planes, upsampled to the next size (nearest pixel, the plane's
depth evaluated along the finer pixel's ray), start that level's low-confidence pixels instead of
random planes; its weakly textured pixels, whose own cost says nothing, keep the coarse plane at the
coarse cost (plus ``fill_penalty``) unless a neighbour's plane costs less. Pixels whose sweep
confidence reaches ``keep_confidence`` keep their swept depth at every level: the fine detail stays.
The coarse-filled depths are then checked like any other by the consistency filter
(:mod:`photogrammetry.mvs.filtering`): their confidence is below ``high_confidence``, so they need
``min_consistent_views`` agreeing sources.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from photogrammetry.mvs.geometry import normals_from_depth
from photogrammetry.mvs.plane_cost import PlaneCost
from photogrammetry.mvs.propagation import Planes, PropagationOptions, refine_planes
from photogrammetry.mvs.scene import MVSView


def scaled(view: MVSView, factor: int) -> MVSView:
    """``view`` at ``1/factor`` of its size (at least 1 pixel a side), intrinsics to match."""
    return view.resized(max(1, round(view.width / factor)), max(1, round(view.height / factor)))


def rays(view: MVSView) -> np.ndarray:
    """(H, W, 3) rays ``K^-1 (u + 0.5, v + 0.5, 1)`` through the pixel centres of ``view``."""
    u, v = np.meshgrid(np.arange(view.width) + 0.5, np.arange(view.height) + 0.5)
    return np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(view.K).T


def upsample_planes(planes: Planes, coarse: MVSView, fine: MVSView) -> Planes:
    """The planes of ``coarse``'s pixels at ``fine``'s (the same camera at another size): each fine pixel
    takes the plane of the coarse pixel it lies in, its depth along its own ray (the coarse pixel's depth
    where the plane is seen edge-on there); normals and costs as they are."""
    rows = np.minimum(((np.arange(fine.height) + 0.5) * coarse.height / fine.height).astype(int), coarse.height - 1)
    cols = np.minimum(((np.arange(fine.width) + 0.5) * coarse.width / fine.width).astype(int), coarse.width - 1)
    offset = planes.depth * np.sum(planes.normal * rays(coarse), axis=-1)  # n . X of each coarse plane
    normal = planes.normal[rows[:, None], cols[None, :]]
    along = np.sum(normal * rays(fine), axis=-1)
    depth = planes.depth[rows[:, None], cols[None, :]]
    facing = along < -1e-9
    depth = np.where(facing, offset[rows[:, None], cols[None, :]] / np.where(facing, along, -1.0), depth)
    return Planes(depth=depth.astype(np.float32), normal=normal.astype(np.float32),
                  cost=planes.cost[rows[:, None], cols[None, :]].astype(np.float32))


def _shrink(image: np.ndarray, view: MVSView, nearest: bool = False) -> np.ndarray:
    """``image`` (H, W) resampled to ``view``'s size (area-averaged, or nearest pixel)."""
    if image.shape == (view.height, view.width):
        return image
    return cv2.resize(image, (view.width, view.height), interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def _refine(ref: MVSView, sources: Sequence[MVSView], greys: Sequence[np.ndarray], depth: np.ndarray,
            confidence: np.ndarray, bounds: tuple[float, float], options: PropagationOptions, device: str,
            init: Planes | None) -> Planes:
    """One level: PatchMatch of ``ref``'s map (every array at ``ref``'s size, sources at theirs)."""
    import torch

    tensors = [torch.from_numpy(np.ascontiguousarray(g)).to(device).float().div_(255.0) for g in greys]
    with torch.inference_mode():
        cost_fn = PlaneCost(ref, sources, tensors[0], tensors[1:], options)
        normal = normals_from_depth(np.where(confidence >= options.keep_confidence, depth, 0.0), ref.K, 2)
        return refine_planes(cost_fn, *(torch.from_numpy(np.ascontiguousarray(a)).to(device)
                                        for a in (depth, normal, confidence.astype(np.float32))), bounds, options,
                             init)


def propagate(ref: MVSView, sources: Sequence[MVSView], greys: Sequence[np.ndarray], depth: np.ndarray,
              confidence: np.ndarray, bounds: tuple[float, float], options: PropagationOptions,
              device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """A swept map refined by PatchMatch, over ``options.scales`` scales, and its confidence.

    Args:
        ref: The reference view (intrinsics at the map's size).
        sources: Its source views.
        greys: (H, W) uint8 grey images of ``ref`` then of each source, at their views' sizes.
        depth: (H, W) swept depth.
        confidence: (H, W) sweep confidence in [0, 1].
        bounds: ``(near, far)`` depth range.
        options: Search settings.
        device: torch device.

    Returns:
        Depth (H, W) float32 and confidence (H, W) float32: the sweep's where it was kept (at least
        ``keep_confidence``), elsewhere ``filled_confidence * (1 - cost)`` (clipped to [0, 1]).
    """
    planes = previous = None
    for level in reversed(range(options.scales)):
        factor = 2**level
        view, views = scaled(ref, factor), [scaled(s, factor) for s in (ref, *sources)]
        init = None if planes is None else upsample_planes(planes, previous, view)
        planes = _refine(view, views[1:], [_shrink(g, v) for g, v in zip(greys, views, strict=True)],
                         _shrink(depth, view, nearest=True), _shrink(confidence, view, nearest=True), bounds,
                         options, device, init)
        previous = view
    kept = confidence >= options.keep_confidence
    score = options.filled_confidence * np.clip(1.0 - planes.cost, 0.0, 1.0)
    return planes.depth, np.where(kept, confidence, score).astype(np.float32)
