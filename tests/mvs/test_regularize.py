"""Semi-global aggregation of similarity volumes."""

from __future__ import annotations

import pytest
import torch

from photogrammetry.mvs.regularize import SGMOptions, _diagonal_scan, _scan, semi_global


def _reference_scan(cost: torch.Tensor, p1: float, p2: float) -> torch.Tensor:
    """Hirschmüller's recursion written out pixel by pixel: cost (D, L) -> (D, L)."""
    depth, length = cost.shape
    out = cost.clone()
    for i in range(1, length):
        prev = out[:, i - 1]
        low = prev.min()
        for d in range(depth):
            options = [prev[d], low + p2]
            if d > 0:
                options.append(prev[d - 1] + p1)
            if d < depth - 1:
                options.append(prev[d + 1] + p1)
            out[d, i] = cost[d, i] + min(options) - low
    return out


def test_scan_matches_the_recursion():
    cost = torch.rand(5, 3, 9, generator=torch.Generator().manual_seed(0))
    fast = _scan(cost, 0.05, 0.2)
    for row in range(3):
        assert torch.allclose(fast[:, row], _reference_scan(cost[:, row], 0.05, 0.2), atol=1e-6)


def _textbook_scan(cost: torch.Tensor, p1: float, p2: float) -> torch.Tensor:
    """The vectorised recursion as first written (a step's candidates concatenated afresh)."""
    out = torch.empty_like(cost)
    previous = out[..., 0] = cost[..., 0]
    inf = torch.full_like(previous[:1], float("inf"))
    for i in range(1, cost.shape[-1]):
        low = previous.min(dim=0, keepdim=True).values
        up = torch.cat([previous[1:], inf]) + p1
        down = torch.cat([inf, previous[:-1]]) + p1
        best = torch.minimum(torch.minimum(previous, low + p2), torch.minimum(up, down))
        previous = cost[..., i] + best - low
        out[..., i] = previous
    return out


@pytest.mark.parametrize("depth", [1, 2, 7])
def test_scan_in_place_equals_the_textbook_recursion_bit_for_bit(depth):
    cost = torch.rand(depth, 6, 33, generator=torch.Generator().manual_seed(3))
    assert torch.equal(_scan(cost, 0.06, 0.3), _textbook_scan(cost, 0.06, 0.3))
    columns = cost.transpose(1, 2)  # a strided view, as semi_global passes it
    assert torch.equal(_scan(columns, 0.06, 0.3), _textbook_scan(columns, 0.06, 0.3))


def test_diagonal_scan_follows_diagonals_and_restarts_at_the_border():
    cost = torch.rand(4, 5, 7, generator=torch.Generator().manual_seed(1))
    scanned = _diagonal_scan(cost, 0.05, 0.2)
    for start_row, start_col in [(0, 0), (0, 3), (2, 0), (4, 0), (0, 6)]:
        length = min(5 - start_row, 7 - start_col)
        rows = torch.arange(length) + start_row
        cols = torch.arange(length) + start_col
        expected = _reference_scan(cost[:, rows, cols], 0.05, 0.2)
        assert torch.allclose(scanned[:, rows, cols], expected, atol=1e-6)


@pytest.mark.parametrize("paths", [4, 8])
def test_noisy_plane_is_recovered(paths):
    """A slanted surface whose per-pixel scores are drowned in noise: winners of the regularised
    volume are right far more often, and a clean volume keeps its winners."""
    gen = torch.Generator().manual_seed(2)
    depth, height, width = 24, 40, 50
    truth = (4 + 16 * torch.arange(width) / width).round().long().expand(height, width)
    hyps = torch.arange(depth)[:, None, None]
    clean = 1.0 - 0.15 * (hyps - truth[None]).abs().clamp(max=4).float()
    noisy = (clean + 0.3 * torch.randn(depth, height, width, generator=gen)).clamp(-1, 1)
    options = SGMOptions(p1=0.03, p2=0.15, paths=paths)
    raw_close = ((noisy.argmax(0) - truth).abs() <= 1).float().mean()
    sgm_close = ((semi_global(noisy, options).argmax(0) - truth).abs() <= 1).float().mean()
    assert raw_close < 0.6
    assert sgm_close > 0.9
    assert (semi_global(clean, options).argmax(0) == truth).all()
    out = semi_global(noisy, options)
    assert out.shape == noisy.shape and out.min() >= -1 and out.max() <= 1


def test_depth_edges_survive():
    """Two fronto-parallel surfaces side by side with clear evidence: the step stays where it is."""
    depth, height, width = 16, 10, 30
    truth = torch.where(torch.arange(width) < 15, 3, 12).expand(height, width)
    hyps = torch.arange(depth)[:, None, None]
    volume = 1.0 - 0.2 * (hyps - truth[None]).abs().clamp(max=5).float()
    assert (semi_global(volume, SGMOptions()).argmax(0) == truth).all()


def test_options_are_checked():
    with pytest.raises(ValueError):
        SGMOptions(paths=6)
    with pytest.raises(ValueError):
        SGMOptions(p1=0.3, p2=0.1)
