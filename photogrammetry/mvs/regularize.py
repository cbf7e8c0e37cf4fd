"""Cost-volume regularisation by semi-global aggregation (Hirschmüller 2008) along scanlines.

A plane-sweep volume scored pixel by pixel is noisy wherever the texture is weak: the best
hypothesis jumps between neighbours. Semi-global matching adds, along each of several
straight paths through the image, a small penalty ``p1`` for a neighbour one hypothesis away
and a larger one ``p2`` for any bigger jump, minimised by dynamic programming; the path costs
are averaged. Smooth and slanted surfaces then win over isolated matches, while depth edges
(where the evidence is strong on both sides) stay sharp.

Volumes here hold similarities in ``[-1, 1]`` (higher is better), as everywhere in
:mod:`photogrammetry.mvs.cost`; they are turned into costs ``(1 - s) / 2`` in ``[0, 1]`` and
back, so that confidence and thresholds keep their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class SGMOptions:
    """Whether, and with what penalties and paths, the semi-global aggregation runs."""

    enabled: bool = True
    """Regularise the cost volumes; off: each pixel takes its own best hypothesis (winner takes all)."""
    p1: float = 0.06
    """Penalty of a one-hypothesis step between neighbouring pixels (cost units: ``(1 - s) / 2``)."""
    p2: float = 0.3
    """Penalty of a larger jump between neighbouring pixels (a depth edge)."""
    paths: int = 4
    """Scanline directions: 4 (rows and columns, both ways) or 8 (also the diagonals)."""

    def __post_init__(self) -> None:
        if self.paths not in (4, 8):
            raise ValueError(f"SGM paths must be 4 or 8, got {self.paths}")
        if not 0 <= self.p1 <= self.p2:
            raise ValueError(f"SGM penalties need 0 <= p1 <= p2, got p1={self.p1}, p2={self.p2}")


def _scan(cost: Any, p1: float, p2: float) -> Any:
    """Path costs along the last axis, first to last: cost (D, N, L) -> (D, N, L).

    The scan runs over a copy with the path axis first, so that each step reads and writes
    contiguous (D, N) slices, and updates a preallocated buffer instead of allocating a step's
    candidates (the same sums and minima, in the same order, as the textbook recursion).
    """
    import torch

    steps = cost.permute(2, 0, 1).contiguous()  # (L, D, N)
    out = torch.empty_like(steps)
    out[0] = steps[0]
    best = torch.empty_like(steps[0])
    shifted = torch.empty_like(steps[0, :-1])
    for i in range(1, steps.shape[0]):
        previous = out[i - 1]
        low = previous.amin(dim=0, keepdim=True)
        torch.minimum(previous, low + p2, out=best)
        torch.add(previous[1:], p1, out=shifted)  # one hypothesis up
        torch.minimum(best[:-1], shifted, out=best[:-1])
        torch.add(previous[:-1], p1, out=shifted)  # one hypothesis down
        torch.minimum(best[1:], shifted, out=best[1:])
        torch.add(steps[i], best, out=out[i])
        out[i].sub_(low)
    return out.permute(1, 2, 0)


def _diagonal_scan(cost: Any, p1: float, p2: float) -> Any:
    """Path costs along the main diagonal direction (down and right): cost (D, H, W) -> same.

    The volume is sheared so that diagonals become columns of a (D, H, H + W - 1) array, scanned
    top to bottom, and sheared back.
    """
    import torch

    depth, height, width = cost.shape
    sheared = torch.full((depth, height, height + width - 1), float("nan"), dtype=cost.dtype, device=cost.device)
    rows = torch.arange(height, device=cost.device)[:, None]
    cols = torch.arange(width, device=cost.device)[None] - rows + height - 1  # one column per diagonal
    sheared[:, rows, cols] = cost
    # A diagonal's cells are contiguous in its column; the cells before it cost nothing, so every
    # path starts afresh where it enters the image (the cells after it are dropped).
    sheared = torch.nan_to_num(sheared, nan=0.0)
    scanned = _scan(sheared.transpose(1, 2), p1, p2).transpose(1, 2)
    return scanned[:, rows, cols]


def semi_global(volume: Any, options: SGMOptions) -> Any:
    """Regularised similarity volume.

    Args:
        volume: (D, H, W) similarities in ``[-1, 1]``, higher is better, hypotheses in order
            (neighbouring indices are neighbouring depths).
        options: Penalties and paths.

    Returns:
        (D, H, W) similarities in ``[-1, 1]``: ``1 - 2 * mean path cost``; a path cost lies
        between the pixel's own cost and that plus ``p2`` (each step subtracts the previous
        pixel's minimum), so the scale of raw similarities is kept.
    """
    cost = ((1.0 - volume) * 0.5).float()
    p1, p2 = options.p1, options.p2
    total = _scan(cost, p1, p2)
    total += _scan(cost.flip(-1), p1, p2).flip(-1)
    columns = cost.transpose(1, 2)
    total += _scan(columns, p1, p2).transpose(1, 2)
    total += _scan(columns.flip(-1), p1, p2).flip(-1).transpose(1, 2)
    if options.paths == 8:
        total += _diagonal_scan(cost, p1, p2)
        total += _diagonal_scan(cost.flip(1, 2), p1, p2).flip(1, 2)
        total += _diagonal_scan(cost.flip(1), p1, p2).flip(1)
        total += _diagonal_scan(cost.flip(2), p1, p2).flip(2)
    mean = total / options.paths
    return (1.0 - 2.0 * mean).clamp(-1.0, 1.0).to(volume.dtype)
