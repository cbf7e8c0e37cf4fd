"""Mutual nearest neighbours with Lowe's ratio test and a least similarity, in torch (CPU or CUDA).

Descriptors are compared as unit vectors (RootSIFT for SIFT, see
:func:`~photogrammetry.matching.descriptors.unit_descriptors`); the distance is Euclidean.
A match ``(i, j)`` is kept when ``j`` is ``i``'s nearest neighbour and ``i`` is ``j``'s,
``i``'s nearest distance is below ``ratio`` times its second nearest, and their cosine similarity
is above ``min_similarity`` (XFeat's authors match its descriptors by mutual nearest neighbours
with a similarity above 0.82 and no ratio test).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from photogrammetry.io.features import Features, Matches
from photogrammetry.matching.descriptors import unit_descriptors


def mutual_nn_ratio(desc0: Any, desc1: Any, ratio: float, min_similarity: float = -1.0) -> tuple[Any, Any]:
    """Match two sets of unit descriptors.

    Args:
        desc0: ``(M, D)`` float tensor of unit descriptors.
        desc1: ``(N, D)`` float tensor of unit descriptors.
        ratio: Largest allowed nearest / second-nearest distance ratio; 1 or more disables it.
        min_similarity: A match's cosine similarity must exceed it; -1 or less disables it.

    Returns:
        ``(K, 2)`` int64 index pairs and ``(K,)`` float32 scores (cosine similarity).
    """
    import torch

    if len(desc0) == 0 or len(desc1) == 0:
        return torch.empty((0, 2), dtype=torch.int64), torch.empty(0)
    sim = desc0 @ desc1.T
    top = sim.topk(min(2, sim.shape[1]), dim=1)
    nn01 = top.indices[:, 0]
    idx0 = torch.arange(len(desc0), device=sim.device)
    keep = _mutual(sim, top.values[:, 0], nn01, idx0)
    if ratio < 1.0 and sim.shape[1] > 1:
        dist = torch.sqrt(torch.clamp(2.0 - 2.0 * top.values, min=0.0))
        keep &= dist[:, 0] < ratio * dist[:, 1]
    if min_similarity > -1.0:
        keep &= top.values[:, 0] > min_similarity
    matches = torch.stack([idx0[keep], nn01[keep]], dim=1)
    return matches, top.values[keep, 0]


def _mutual(sim: Any, best: Any, nn01: Any, idx0: Any) -> Any:
    """Whether each row ``i`` is the first row holding the largest value of column ``nn01[i]`` (the
    same as ``sim.argmax(dim=0)[nn01] == idx0``): ``(M,)`` bool.

    A column's largest value (``amax``, vectorised along the rows on a CPU) equals row ``i``'s
    ``best`` exactly where row ``i`` holds it; rows tied on one column keep the first of them, as
    ``argmax`` does. About 15x faster than ``sim.argmax(dim=0)`` on a CPU (2048 x 2048)."""
    import torch

    keep = sim.amax(dim=0)[nn01] == best
    claimed = nn01[keep]
    if len(torch.unique(claimed)) < len(claimed):  # ties: keep the first row claiming each column
        first = torch.full((sim.shape[1],), len(idx0), dtype=idx0.dtype, device=sim.device)
        first.scatter_reduce_(0, claimed, idx0[keep], reduce="amin")
        keep &= first[nn01] == idx0
    return keep


class NearestNeighbourMatcher:
    """The ``nn-ratio`` matcher: mutual nearest neighbours, a ratio test and a least similarity."""

    def __init__(self, *, ratio: float, device: str, min_similarity: float = -1.0) -> None:
        self.ratio, self.min_similarity = ratio, min_similarity
        self.device = device

    def prepare(self, features: Features) -> Any:
        """``(N, D)`` unit descriptors on the device."""
        import torch

        return torch.from_numpy(unit_descriptors(features.descriptors)).to(self.device)

    def match(self, prepared0: Any, prepared1: Any) -> Matches:
        """Matches between two prepared images."""
        import torch

        with torch.inference_mode():
            indices, scores = mutual_nn_ratio(prepared0, prepared1, self.ratio, self.min_similarity)
        return Matches(indices.cpu().numpy().astype(np.int32), scores.float().cpu().numpy())
