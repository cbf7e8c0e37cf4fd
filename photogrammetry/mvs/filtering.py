"""Keep the depths that other views confirm: confidence, forward-backward reprojection, masks.

A reference pixel ``p`` at depth ``d`` is projected into a source view, where the source's own
depth (nearest pixel) is read and projected back into the reference, giving ``p'`` at ``d'``.
The source agrees when ``|p - p'|`` is below ``max_reprojection_px`` and ``|d - d'| / d`` below
``max_relative_depth``. The source depth is read bilinearly, and only where its four neighbouring pixels all have one
(no mixing across holes). A pixel is kept when enough sources agree and its confidence is high
enough; a pixel whose confidence exceeds ``high_confidence`` needs fewer agreeing sources
(``confident_views``): on real photos most right depths are seen well by one or two sources only,
and a sharp, high matching peak ranks right from wrong about as well as a second agreeing source.
Its depth becomes the mean of its own and the agreeing ``d'`` (less noise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from photogrammetry.errors import ConfigError
from photogrammetry.mvs.geometry import pixel_grid, project, relative_projection, sample
from photogrammetry.mvs.scene import MVSView


@dataclass(frozen=True, kw_only=True)
class FilterOptions:
    """What makes a depth trustworthy."""

    min_consistent_views: int = 2
    """Source views that must agree with a pixel's depth."""
    max_reprojection_px: float = 1.0
    """Largest forward-backward reprojection error of an agreeing source, in pixels."""
    max_relative_depth: float = 0.01
    """Largest relative depth difference of an agreeing source."""
    min_confidence: float = 0.3
    """Pixels below this confidence are dropped before the consistency check (a real office walk, 20
    frames: kept depths within 2 % of the sensor, per-view scale divided out, 0.60 -> 0.62 with ncc,
    0.56 -> 0.57 with lite)."""
    confident_views: int = 1
    """Source views that must agree with a pixel whose confidence exceeds ``high_confidence``
    (never more than ``min_consistent_views``: a larger value acts as it)."""
    high_confidence: float = 0.7
    """Confidence above which ``confident_views`` agreeing sources are enough (1: never). Same walk:
    sensor pixels given a depth within 5 % 0.084 -> 0.131 (ncc), 0.074 -> 0.087 (lite); on the orbit
    render, lower values let ncc keep wrong depths (F-score at 1 % 0.959, 0.954 at 0.7, 0.946 at 0.6)."""
    disparity_px: float = 0.0
    """A source also agrees when its depth differs by more than ``max_relative_depth`` but moves the point by
    less than this many pixels in that source (a short baseline measures depth coarsely: the tolerance
    follows it); 0: ``max_relative_depth`` alone."""
    max_loose_depth: float = 0.03
    """The largest relative depth difference that ``disparity_px`` allows."""
    loose_views: int = 0
    """Sources that must agree, within the tolerance of ``disparity_px``, with a pixel that fewer sources
    confirm within ``max_relative_depth`` (never fewer than those; 0: as many)."""
    num_sources: int = 0
    """Views each depth is checked against: the best this many by the source selection's score
    (:func:`~photogrammetry.mvs.selection.select_sources`: along a video, also frames farther away than
    the sweep's sources); 0: the sweep's sources (``selection.num_sources``). A check costs far less than
    sweeping a source."""
    average_depths: bool = True
    """Replace each kept depth by the mean of its own and its agreeing sources' depths."""

    def __post_init__(self) -> None:
        if self.min_consistent_views < 0:
            raise ConfigError(f"min_consistent_views must be >= 0, got {self.min_consistent_views}")
        if self.disparity_px < 0 or self.max_loose_depth < 0 or self.loose_views < 0:
            raise ConfigError("disparity_px, max_loose_depth and loose_views must be >= 0, got "
                              f"{self.disparity_px}, {self.max_loose_depth}, {self.loose_views}")
        if self.num_sources < 0:
            raise ConfigError(f"filtering.num_sources must be >= 0, got {self.num_sources}")
        if self.confident_views < 0:
            raise ConfigError(f"confident_views must be >= 0, got {self.confident_views}")


@dataclass(frozen=True)
class Filtered:
    """A filtered depth map and how many sources agree per pixel."""

    depth: np.ndarray
    """(H, W) float32 depth, 0 where dropped."""
    agreeing: np.ndarray
    """(H, W) uint8 number of agreeing sources."""


def check_source(ref: MVSView, depth: Any, src: MVSView, src_depth: Any,
                 options: FilterOptions) -> tuple[Any, Any, Any]:
    """Forward-backward check of one source.

    Args:
        ref: The reference view (intrinsics at the depth map's size).
        depth: (H, W) reference depth tensor (0 = none).
        src: The source view (intrinsics at its depth map's size).
        src_depth: (H', W') source depth tensor (0 = none).
        options: Thresholds.

    Returns:
        ``agree`` (H, W) bool, ``back_depth`` (H, W): the source's depth seen from the reference, and
        ``exact`` (H, W) bool: it agrees within ``max_relative_depth`` (``agree`` may be looser).
    """
    import torch

    height, width = depth.shape
    device = depth.device
    pixels = pixel_grid(height, width, device=device)
    A, b = (torch.as_tensor(m, dtype=torch.float32, device=device) for m in relative_projection(ref, src))
    uv, z = project(A, b, pixels, depth.reshape(1, -1) * torch.tensor([[1.0], [1.0 + EPSILON]], device=device))
    tolerance = relative_tolerance(uv, options)
    uv, z = uv[:1], z[:1]
    d_src = bilinear_depth(src_depth, uv[0])
    inside = (z[0] > 0) & (d_src > 0)
    src_pixels = torch.stack([uv[0, :, 0], uv[0, :, 1], torch.ones_like(d_src)])
    A2, b2 = (torch.as_tensor(m, dtype=torch.float32, device=device) for m in relative_projection(src, ref))
    back_uv, back_z = project(A2, b2, src_pixels, d_src.reshape(1, -1))
    back_depth = back_z[0]
    error = (back_uv[0] - pixels[:2].T).norm(dim=1)
    rel = (back_depth - depth.reshape(-1)).abs() / depth.reshape(-1).clamp(min=1e-12)
    agree = inside & (back_depth > 0) & (depth.reshape(-1) > 0) & \
        (error < options.max_reprojection_px) & (rel < tolerance)
    exact = agree & (rel < options.max_relative_depth)
    return agree.reshape(height, width), back_depth.reshape(height, width), exact.reshape(height, width)


EPSILON = 1e-3
"""Relative depth step of the numerical derivative of a source position with respect to depth."""


def relative_tolerance(uv: Any, options: FilterOptions) -> Any:
    """(N,) relative depth difference within which a source agrees, from the source positions
    ``uv`` (2, N, 2) of the reference pixels at their depth and ``1 + EPSILON`` times it: the larger of
    ``max_relative_depth`` and the difference that moves the point by ``disparity_px`` in the source
    (at most ``max_loose_depth``)."""
    pixels_per_depth = (uv[1] - uv[0]).norm(dim=1) / EPSILON
    loose = (options.disparity_px / pixels_per_depth.clamp(min=1e-9)).clamp(max=options.max_loose_depth)
    return loose.clamp(min=options.max_relative_depth)


def bilinear_depth(depth: Any, uv: Any) -> Any:
    """(N,) depth map (H, W) read bilinearly at pixel positions (N, 2); 0 where a neighbour has none."""
    import torch

    valid = (depth > 0).to(depth.dtype)
    values, inside = sample(torch.stack([depth, valid]), uv[None])
    complete = inside[0] & (values[1, 0] > 1 - 1e-4)
    return values[0, 0] * complete


def filter_depth(ref: MVSView, depth: np.ndarray, confidence: np.ndarray, mask: np.ndarray | None,
                 sources: Sequence[tuple[MVSView, np.ndarray]], options: FilterOptions,
                 device: str = "cpu") -> Filtered:
    """Filter one reference depth map.

    Args:
        ref: The reference view, intrinsics at the depth map's size.
        depth: (H, W) raw depth.
        confidence: (H, W) confidence in [0, 1].
        mask: (H, W) bool object mask (true = keep), or ``None``.
        sources: ``(view, raw depth (H', W'))`` of the views to check against.
        options: Thresholds.
        device: torch device.
    """
    import torch

    keep = (confidence >= options.min_confidence) & (depth > 0)
    if mask is not None:
        keep &= mask
    d = torch.from_numpy(np.where(keep, depth, 0.0).astype(np.float32)).to(device)
    total, count, exact = d.clone(), torch.zeros_like(d), torch.zeros_like(d)
    for src, src_depth in sources:
        agree, back, strict = check_source(ref, d, src, torch.from_numpy(src_depth.astype(np.float32)).to(device),
                                           options)
        count += agree.float()
        exact += strict.float()
        total += torch.where(agree, back, 0.0)
    confident = torch.from_numpy(confidence > options.high_confidence).to(device)
    needed = torch.where(confident, min(options.confident_views, options.min_consistent_views),
                         options.min_consistent_views)
    kept = (exact >= needed) | (count >= needed.clamp(min=options.loose_views))
    out = torch.where(kept, total / (count + 1) if options.average_depths else d, 0.0)
    return Filtered(depth=out.cpu().numpy(), agreeing=count.clamp(max=255).to(torch.uint8).cpu().numpy())
