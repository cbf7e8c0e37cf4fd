"""The training loss of the ``lite`` networks on one rendered example (``scripts/train_mvs.py``).

An example is a reference crop with its true depth, a few source crops and per-pixel depth
hypotheses (``start - i * interval`` in inverse depth, as a cascade level makes them). Its volume is
scored by the very cost code the sweep uses (:mod:`photogrammetry.mvs.cost`). The loss is the
cross-entropy of the softmax over hypotheses against the true depth's two neighbouring hypotheses,
plus, on request, a smooth-L1 of the winner's refined (fractional) index, taken as at inference
(:func:`~photogrammetry.mvs.cost.winner_take_all`: a parabola through the best hypothesis and its
neighbours), against the true one: the cross-entropy rewards the right hypothesis, this term the
precision within it. torch is imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SUBPIXEL_BETA = 0.1
"""Smooth-L1 transition of the sub-hypothesis term, in hypotheses (about L1 above it)."""


@dataclass(frozen=True)
class LossTerms:
    """What one example gives."""

    loss: Any
    """Scalar tensor: cross-entropy plus the weighted sub-hypothesis term."""
    won: float
    """Fraction of the true-depth pixels whose best hypothesis is within one of the truth."""
    subpixel: float | None
    """Median |refined index - true index| over the pixels won (hypotheses), on the levels asked for."""


def _visible(ref, depth: np.ndarray, sources, torch) -> Any:
    """(h, w) bool: true depth seen by at least one source (its own true depth agrees)."""
    from photogrammetry.mvs.filter_options import FilterOptions
    from photogrammetry.mvs.filtering import check_source

    options = FilterOptions(max_reprojection_px=1.5, max_relative_depth=0.01)
    d = torch.from_numpy(depth)
    seen = torch.zeros(depth.shape, dtype=torch.bool)
    for view, _, src_depth in sources:
        seen |= check_source(ref, d, view, torch.from_numpy(src_depth), options)[0]
    return seen


def _volume(model, sample, device: str, best_sources: int) -> Any:
    """(D, h, w) aggregated similarity of the example's hypotheses, as the sweep scores them."""
    import torch

    from photogrammetry.mvs.cost import INVALID, aggregate_sources, similarity
    from photogrammetry.mvs.geometry import pixel_grid, project, relative_projection, sample as sample_map

    def features(image):
        batch = torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1)[None].float() / 255
        return torch.nn.functional.normalize(model(batch)[0], dim=0)

    ref, image, depth = sample.ref
    h, w = depth.shape
    ref_feat = features(image)
    start = torch.from_numpy(sample.start.astype(np.float32)).to(device).reshape(1, -1)
    steps = torch.arange(sample.count, device=device, dtype=torch.float32)[:, None]
    hyp_depth = 1.0 / (start - steps * sample.interval).clamp(min=1e-6)
    pixels = pixel_grid(h, w, device=device)
    scores = []
    for view, src_image, _ in sample.sources:
        A, b = (torch.as_tensor(m, dtype=torch.float32, device=device) for m in relative_projection(ref, view))
        uv, z = project(A, b, pixels, hyp_depth)
        warped, inside = sample_map(features(src_image), uv)
        score = similarity(ref_feat, warped.reshape(-1, sample.count, h, w), "dot", 1)
        scores.append(torch.where(((z > 0) & inside).reshape(-1, h, w), score, INVALID))
    return aggregate_sources(torch.stack(scores), best_sources)


def sample_loss(model, sample, device: str, best_sources: int = 2, regularizer=None,
                subpixel_weight: float = 0.0, subpixel: bool = False) -> LossTerms | None:
    """The loss of one example (``None`` when fewer than 50 of its pixels have a usable true depth).

    Args:
        model: The feature network (images -> descriptors, with a ``log_temperature``).
        sample: ``ref`` (view, image (h, w, 3) uint8, depth (h, w)), ``sources`` [(view, image, depth)],
            ``start`` (h, w) inverse depth of hypothesis 0, ``interval`` and ``count``.
        device: Torch device.
        best_sources: Sources averaged per hypothesis, as in the sweep.
        regularizer: The learned volume regulariser, when trained with the features.
        subpixel_weight: Weight of the sub-hypothesis term (0: cross-entropy alone).
        subpixel: Compute the sub-hypothesis term (and its median error) on this example.
    """
    import torch

    volume = _volume(model, sample, device, best_sources)
    if regularizer is not None:
        volume = regularizer(volume)
    depth = sample.ref[2]
    target = (sample.start - 1 / np.maximum(depth, 1e-9)) / sample.interval
    valid = (depth > 0) & (target >= 0) & (target <= sample.count - 1)
    valid &= _visible(sample.ref[0], depth, sample.sources, torch).numpy()
    if valid.sum() < 50:
        return None
    t = torch.from_numpy(np.clip(target, 0, sample.count - 1).astype(np.float32)).to(device)
    mask = torch.from_numpy(valid).to(device)
    nll, won = _soft_cross_entropy(volume / model.log_temperature.exp(), t, mask)
    loss, error = nll, None
    if subpixel or subpixel_weight > 0:
        term, error = _subpixel_term(volume, t, mask)
        loss = loss + subpixel_weight * term if subpixel_weight > 0 else loss
    return LossTerms(loss=loss, won=won, subpixel=error)


def _soft_cross_entropy(volume, t, mask) -> tuple[Any, float]:
    """Mean cross-entropy against the two hypotheses around the fractional index ``t`` (h, w) over
    ``mask``, and the fraction won within one hypothesis."""
    import torch

    logp = torch.log_softmax(volume, dim=0)
    lo = t.floor().long().clamp(max=volume.shape[0] - 1)
    hi = (lo + 1).clamp(max=volume.shape[0] - 1)
    frac = t - lo.float()
    nll = -((1 - frac) * logp.gather(0, lo[None])[0] + frac * logp.gather(0, hi[None])[0])
    won = ((volume.argmax(dim=0).float() - t).abs() <= 1.0)[mask].float().mean()
    return nll[mask].mean(), float(won)


def _subpixel_term(volume, t, mask) -> tuple[Any, float | None]:
    """Smooth-L1 of the refined winner index against ``t`` over the pixels of ``mask`` won within
    one hypothesis (a zero tensor where none), and the median absolute error there."""
    import torch

    from photogrammetry.mvs.cost import winner_take_all

    index = winner_take_all(volume, 1.0).index
    near = mask & ((volume.argmax(dim=0).float() - t).abs() <= 1.0)
    if not bool(near.any()):
        return volume.sum() * 0.0, None
    error = index[near] - t[near]
    term = torch.nn.functional.smooth_l1_loss(error, torch.zeros_like(error), beta=SUBPIXEL_BETA)
    return term, float(error.detach().abs().median())
