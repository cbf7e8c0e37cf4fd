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

By default (``min_score``) a soft score also keeps pixels the counts drop (:func:`agreement_score`):
each source adds the likelihood of its reprojection error and of the relative depth difference over
the difference that moves the point by a pixel there (a short baseline is tolerant, a long one strict, within
0.5-2 %); the support is the smaller of a pixel's own sum and its 5x5 neighbourhood's mean (right
depths come in patches that sources confirm, wrong ones in speckle), and the score is the support
times the sweep confidence: two sources and a middling peak, or one source and a sharp one.
Setting ``min_score`` to 0 leaves the counts alone.

Given the reference photo in grey and no object mask, a kept depth on a flat pixel (the sky) then
stays only where textured kept depths enclose it and imply it (``min_contrast``), and none on a dark
flat pixel (``dark_grey``: a black background the foreground's depth was carried onto)
(:mod:`~photogrammetry.mvs.texture`). Last, the kept surfaces grow through the raw map (``grow_reach``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from photogrammetry.mvs.filter_options import FilterOptions
from photogrammetry.mvs.geometry import box_filter, pixel_grid, project, relative_projection, sample
from photogrammetry.mvs.growth import grow_surfaces
from photogrammetry.mvs.implied import close_surfaces
from photogrammetry.mvs.scene import MVSView
from photogrammetry.mvs.texture import fringe, keep_textured, local_contrast


@dataclass(frozen=True)
class Filtered:
    """A filtered depth map and how many sources agree per pixel."""

    depth: np.ndarray
    """(H, W) float32 depth, 0 where dropped."""
    agreeing: np.ndarray
    """(H, W) uint8 number of agreeing sources."""


class SourceCheck(NamedTuple):
    """One source's verdict on every reference pixel, (H, W) tensors."""

    agree: Any
    """Bool: the source agrees (within ``max_relative_depth`` or the looser ``disparity_px``)."""
    back_depth: Any
    """The source's depth seen from the reference (0: none)."""
    exact: Any
    """Bool: it agrees within ``max_relative_depth``."""
    likelihood: Any
    """``exp(-(e / SCORE_SIGMA_PX)^2 / 2 - (r / s)^2 / 2)`` with ``e`` the forward-backward reprojection
    error, ``r`` the relative depth difference and ``s`` the relative depth change that moves the point
    by ``SCORE_SIGMA_PX`` in the source (within ``SCORE_RELATIVE_RANGE``); 0 where the source has no
    depth."""


SCORE_SIGMA_PX = 1.0
"""Pixels of reprojection error, and of the point's move in the source, at which a source's
likelihood falls to ``exp(-1/2)``."""
SCORE_RELATIVE_RANGE = (0.005, 0.02)
"""Bounds of the relative depth spread ``s`` of the likelihood: a short baseline cannot measure depth
finer than a pixel, but up to 2 % only (with a measure in pixels alone, the office walk's short
baselines confirmed wrong depths: kept within 5 % fell from 0.90 to 0.86 at the same completeness)."""


def check_source(ref: MVSView, depth: Any, src: MVSView, src_depth: Any, options: FilterOptions) -> SourceCheck:
    """Forward-backward check of one source.

    Args:
        ref: The reference view (intrinsics at the depth map's size).
        depth: (H, W) reference depth tensor (0 = none).
        src: The source view (intrinsics at its depth map's size).
        src_depth: (H', W') source depth tensor (0 = none).
        options: Thresholds.

    Returns:
        The source's :class:`SourceCheck`.
    """
    import torch

    height, width = depth.shape
    device = depth.device
    pixels = pixel_grid(height, width, device=device)
    A, b = (torch.as_tensor(m, dtype=torch.float32, device=device) for m in relative_projection(ref, src))
    uv, z = project(A, b, pixels, depth.reshape(1, -1) * torch.tensor([[1.0], [1.0 + EPSILON]], device=device))
    pixels_per_depth = (uv[1] - uv[0]).norm(dim=1) / EPSILON
    tolerance = relative_tolerance(pixels_per_depth, options)
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
    seen = inside & (back_depth > 0) & (depth.reshape(-1) > 0)
    spread = (SCORE_SIGMA_PX / pixels_per_depth.clamp(min=1e-9)).clamp(*SCORE_RELATIVE_RANGE)
    likelihood = torch.where(seen, torch.exp(-0.5 * ((error / SCORE_SIGMA_PX) ** 2 + (rel / spread) ** 2)), 0.0)
    return SourceCheck(*(x.reshape(height, width) for x in (agree, back_depth, exact, likelihood)))


EPSILON = 1e-3
"""Relative depth step of the numerical derivative of a source position with respect to depth."""


def relative_tolerance(pixels_per_depth: Any, options: FilterOptions) -> Any:
    """(N,) relative depth difference within which a source agrees, from ``pixels_per_depth`` (N,):
    how far a relative depth change moves each reference pixel's point in the source, in pixels. The
    larger of ``max_relative_depth`` and the difference that moves the point by ``disparity_px`` in the
    source (at most ``max_loose_depth``)."""
    loose = (options.disparity_px / pixels_per_depth.clamp(min=1e-9)).clamp(max=options.max_loose_depth)
    return loose.clamp(min=options.max_relative_depth)


def bilinear_depth(depth: Any, uv: Any) -> Any:
    """(N,) depth map (H, W) read bilinearly at pixel positions (N, 2); 0 where a neighbour has none."""
    import torch

    valid = (depth > 0).to(depth.dtype)
    values, inside = sample(torch.stack([depth, valid]), uv[None])
    complete = inside[0] & (values[1, 0] > 1 - 1e-4)
    return values[0, 0] * complete


SUPPORT_RADIUS = 2
"""Radius of the neighbourhood whose mean agreement bounds a pixel's support (5x5)."""


def agreement_score(likelihood: Any, confidence: Any) -> Any:
    """(H, W) agreement score of a map: ``min(L, mean of L over the SUPPORT_RADIUS window) *
    confidence``, ``L`` (H, W) the sum over the checked sources of their
    :attr:`SourceCheck.likelihood`, ``confidence`` (H, W) the sweep's. Two sources that confirm a
    depth within a pixel give a support of about 2 (the default ``min_score`` 0.9 is reached from a
    confidence of 0.45), one source about 1 (from 0.9), none 0.

    Office frames 0-7 (own scale), kept pixels at the counts' accuracy within 5 %: 0.166 with half the
    confidence added (the former score), 0.183 with the support times the confidence, 0.198 times its
    square (``lite-ncc``; ``ncc`` 0.181 and 0.195). As the sole rule, at thresholds as accurate as the
    counts on the office, the square kept 15-18 % fewer depths than the counts on the landmark and the
    temple (``lite`` maps, lower confidences), the confidence itself 6 %: so the confidence itself."""
    import torch

    support = torch.minimum(likelihood, box_filter(likelihood, SUPPORT_RADIUS))
    return support * confidence.clamp(min=0.0)


def filter_depth(ref: MVSView, depth: np.ndarray, confidence: np.ndarray, mask: np.ndarray | None,
                 sources: Sequence[tuple[MVSView, np.ndarray]], options: FilterOptions,
                 device: str = "cpu", grey: np.ndarray | None = None) -> Filtered:
    """Filter one reference depth map.

    Args:
        ref: The reference view, intrinsics at the depth map's size.
        depth: (H, W) raw depth.
        confidence: (H, W) confidence in [0, 1].
        mask: (H, W) bool object mask (true = keep), or ``None``.
        sources: ``(view, raw depth (H', W'))`` of the views to check against.
        options: Thresholds.
        device: torch device.
        grey: (H, W) the reference photo in grey at the map's size (uint8): with it and no ``mask``,
            depths on flat pixels stay only where textured depths enclose them (``min_contrast``).
    """
    import torch

    present = depth > 0 if mask is None else (depth > 0) & mask
    d = torch.from_numpy(np.where(present, depth, 0.0).astype(np.float32)).to(device)
    total, count, exact, likelihood = d.clone(), torch.zeros_like(d), torch.zeros_like(d), torch.zeros_like(d)
    for src, src_depth in sources:
        check = check_source(ref, d, src, torch.from_numpy(src_depth.astype(np.float32)).to(device), options)
        count += check.agree.float()
        exact += check.exact.float()
        likelihood += check.likelihood
        total += torch.where(check.agree, check.back_depth, 0.0)
    conf = torch.from_numpy(confidence.astype(np.float32)).to(device)
    needed = torch.where(conf > options.high_confidence, min(options.confident_views, options.min_consistent_views),
                         options.min_consistent_views)
    kept = (exact >= needed) | (count >= needed.clamp(min=options.loose_views))
    if options.min_score > 0:
        kept |= agreement_score(likelihood, conf) >= options.min_score
    candidate = (conf >= options.min_confidence) & (d > 0)
    merged = total / (count + 1) if options.average_depths else d
    out = torch.where(kept & candidate, merged, 0.0)
    agreeing = torch.where(candidate, count, 0.0).clamp(max=255).to(torch.uint8)
    confirmed = (count >= options.implied_views).cpu().numpy()
    strict = (exact >= options.grow_views).cpu().numpy()
    textured = np.ones_like(strict)
    if grey is not None and mask is None and options.min_contrast > 0:  # a flat pixel cannot confirm a depth
        textured = local_contrast(grey, options.texture_radius) >= options.min_contrast
        confirmed, strict = confirmed & textured, strict & (local_contrast(grey, 1) >= options.min_contrast) & textured
    merged = merged.cpu().numpy()
    kept_depth = texture_rules(close_surfaces(out.cpu().numpy(), merged, confirmed, options), grey, mask, options)
    if options.grow_reach > 0 and mask is None:  # what grows passes the texture rules too
        grown = grow_surfaces(kept_depth, merged, strict, textured, options)
        passed = (kept_depth > 0) | (texture_rules(grown, grey, mask, options) > 0)
        kept_depth = np.where(passed, grown, 0.0).astype(np.float32)
    return Filtered(depth=kept_depth, agreeing=agreeing.cpu().numpy())


def texture_rules(depth: np.ndarray, grey: np.ndarray | None, mask: np.ndarray | None,
                  options: FilterOptions) -> np.ndarray:
    """(H, W) float32 ``depth`` (H, W) without the depths that the photo's texture does not support (flat
    pixels that textured depths do not enclose, dark flat ones, the fringe on a flat background:
    :mod:`~photogrammetry.mvs.texture`); unchanged without ``grey`` (H, W), with an object ``mask``, or
    with ``min_contrast`` 0."""
    if grey is None or mask is not None or options.min_contrast <= 0:
        return depth
    keep = keep_textured(depth, grey, options.min_contrast, options.texture_radius, options.enclosed_tolerance,
                         options.min_grey_std, options.dark_grey, options.dark_std, options.dark_reach)
    depth = np.where(keep, depth, 0.0).astype(np.float32)
    if options.fringe_reach > 0:
        depth[fringe(depth, grey, options.min_contrast, options.fringe_reach, options.fringe_area)] = 0.0
    return depth
