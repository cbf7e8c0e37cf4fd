"""Matching costs of depth hypotheses: similarity per source, robust mean over sources, winner.

The similarities share one code path: ``ncc``, the zero-mean normalised cross-correlation of
feature channels over a square window (the classical cost on grey levels), ``dot``, the window
mean of dot products of L2-normalised learned descriptors, and ``dot+ncc``, their weighted mean,
for feature maps that carry a grey level as their last channel (each part over its own window:
the learned descriptors already see a wide context, the grey levels need a wider window). All
lie in ``[-1, 1]``, higher is better; a source sample outside the image or behind the camera
scores ``-1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from photogrammetry.mvs.geometry import box_filter

INVALID = -1.0
"""Similarity of a sample that falls outside a source image or behind its camera."""


@dataclass(frozen=True, kw_only=True)
class MatchCost:
    """How hypotheses are scored (fixed by the MVS method; see :mod:`photogrammetry.mvs.methods`)."""

    similarity: str = "ncc"
    """``ncc``, ``dot`` or ``dot+ncc`` of the coarsest level (the sweep over the whole range), and of
    the finer levels unless ``refine_similarity`` is set."""
    refine_similarity: str | None = None
    """Similarity of the finer (refining) levels, if it differs."""
    grey_channel: bool = False
    """The feature maps end with a grey-level channel: ``dot`` leaves it out, ``ncc`` uses only it."""
    window_radius: int = 4
    """Radius of the similarity window in pixels of each level."""
    ncc_radius: int = 0
    """Radius of the grey-level NCC window of features with a grey channel (``dot+ncc``, and ``ncc``
    refining levels); 0: ``window_radius``."""
    ncc_weight: float = 0.5
    """Weight of the grey-level NCC in ``dot+ncc`` (the learned similarity has ``1 - ncc_weight``)."""
    temperature: float = 0.1
    """Softmax temperature of the confidence (similarities lie in ``[-1, 1]``)."""
    best_sources: int = 2
    """Sources averaged per hypothesis: the best-matching ones (occlusion-robust)."""

    def radius(self, kind: str) -> int:
        """Window radius of similarity ``kind`` (the larger of both parts for ``dot+ncc``)."""
        ncc = (self.ncc_radius or self.window_radius) if self.grey_channel else self.window_radius
        return {"ncc": ncc, "dot": self.window_radius}.get(kind, max(ncc, self.window_radius))


def similarity(ref: Any, warped: Any, kind: str, radius: int, grey_channel: bool = False, *,
               overwrite: bool = False, ncc_radius: int = 0, ncc_weight: float = 0.5) -> Any:
    """Similarity of a reference tile with warped source features, per hypothesis.

    Args:
        ref: (C, h, W) reference features.
        warped: ([S,] C, D, h, W) features of one or S sources sampled at each hypothesis.
        kind: ``ncc``, ``dot`` or ``dot+ncc`` (see the module docstring).
        radius: window radius in pixels.
        grey_channel: the last channel is a grey level (``dot`` skips it, ``ncc`` uses only it).
        overwrite: ``warped`` may be overwritten (``dot`` and ``dot+ncc`` then multiply in place,
            after the NCC has read the grey level: no second tensor of its size; the same values).
        ncc_radius: window radius of the grey-level NCC (:meth:`MatchCost.radius` of ``ncc`` resolves it);
            0: ``radius``.
        ncc_weight: weight of the NCC in ``dot+ncc``, the learned part's is ``1 - ncc_weight``.

    Returns:
        ([S,] D, h, W) similarity in ``[-1, 1]``.
    """
    if kind not in ("ncc", "dot", "dot+ncc") or (kind == "dot+ncc" and not grey_channel):
        raise ValueError(f"unknown similarity {kind!r} (grey channel: {grey_channel}); use ncc, dot or dot+ncc")
    learned = slice(0, -1) if grey_channel else slice(None)
    grey = slice(-1, None) if grey_channel else slice(None)
    ncc_radius = ncc_radius or radius
    if kind == "ncc":
        return _ncc(ref[grey], warped[..., grey, :, :, :], ncc_radius)
    ncc = _ncc(ref[grey], warped[..., grey, :, :, :], ncc_radius) if kind == "dot+ncc" else None
    products = warped[..., learned, :, :, :]
    products = products.mul_(ref[learned, None]) if overwrite else ref[learned, None] * products
    dot = box_filter(products.sum(dim=-4), radius)
    return dot if ncc is None else dot.mul_(1.0 - ncc_weight).add_(ncc, alpha=ncc_weight)


def _ncc(ref: Any, warped: Any, radius: int) -> Any:
    """Zero-mean NCC over windows, averaged over channels: ref (C, h, W), warped ([S,] C, D, h, W)."""
    r = ref[:, None]
    mean_r, mean_w = box_filter(r, radius), box_filter(warped, radius)
    var_r = (box_filter(r * r, radius) - mean_r**2).clamp(min=0)
    var_w = (box_filter(warped * warped, radius) - mean_w**2).clamp(min=0)
    cov = box_filter(r * warped, radius) - mean_r * mean_w
    ncc = cov / (var_r * var_w + 1e-10).sqrt()
    return ncc.clamp(-1.0, 1.0).mean(dim=-4)


def aggregate_sources(scores: Any, best: int) -> Any:
    """Mean of the ``best`` highest similarities over sources (occlusion-robust).

    The highest ones are kept as a running sorted list over the sources (an element-wise maximum
    and minimum per source and kept slot): the same values as ``topk``, in a few passes over the
    volume instead of a sort along its first axis, which on the CPU costs several times more.

    Args:
        scores: (S, D, h, W) per-source similarities.
        best: how many sources count for each hypothesis and pixel.

    Returns:
        (D, h, W) aggregated similarity.
    """
    import torch

    k = max(1, min(best, scores.shape[0]))
    if k == scores.shape[0]:
        return scores.mean(dim=0)
    top: list[Any] = []  # highest first
    for score in scores:
        for j, kept in enumerate(top):
            top[j], score = torch.maximum(kept, score), torch.minimum(kept, score)
        if len(top) < k:
            top.append(score)
    total = top[0].clone()
    for kept in top[1:]:
        total += kept
    return total.div_(k)


@dataclass(frozen=True)
class Winner:
    """The best hypothesis of each pixel, refined to sub-hypothesis precision."""

    index: Any
    """(h, W) fractional hypothesis index (parabola vertex around the integer winner)."""
    score: Any
    """(h, W) aggregated similarity of the winner."""
    confidence: Any
    """(h, W) probability mass of the winner and its two neighbours, softmax over hypotheses."""


def winner_take_all(volume: Any, temperature: float) -> Winner:
    """Pick the best hypothesis per pixel of an aggregated volume (D, h, W), higher is better."""
    import torch

    depth_count = volume.shape[0]
    best = volume.argmax(dim=0, keepdim=True)
    lo, hi = (best - 1).clamp(min=0), (best + 1).clamp(max=depth_count - 1)
    s0, s1, s2 = volume.gather(0, lo), volume.gather(0, best), volume.gather(0, hi)
    curvature = s0 - 2 * s1 + s2
    inner = (best > 0) & (best < depth_count - 1) & (curvature < 0)
    offset = torch.where(inner, 0.5 * (s0 - s2) / torch.where(inner, curvature, -1.0), 0.0).clamp(-0.5, 0.5)
    prob = torch.softmax(volume / temperature, dim=0)
    mass = prob.gather(0, best) + torch.where(best > 0, prob.gather(0, lo), 0.0) + \
        torch.where(best < depth_count - 1, prob.gather(0, hi), 0.0)
    return Winner(index=(best + offset)[0], score=s1[0], confidence=mass[0])
