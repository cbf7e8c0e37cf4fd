"""The training loss's sub-hypothesis term (photogrammetry.mvs.training)."""

from __future__ import annotations

import pytest
import torch

from photogrammetry.mvs.training import _subpixel_term


def parabola_volume(peak: torch.Tensor, count: int = 8) -> torch.Tensor:
    """(count, h, w) similarities, a parabola in the hypothesis index with its vertex at ``peak`` (h, w)."""
    index = torch.arange(count, dtype=torch.float32)[:, None, None]
    return 1.0 - 0.05 * (index - peak[None]) ** 2


def test_the_refined_index_of_a_parabola_is_its_vertex():
    peak = torch.tensor([[2.3, 4.7], [5.5, 1.2]])
    mask = torch.ones(2, 2, dtype=torch.bool)
    term, error = _subpixel_term(parabola_volume(peak), peak, mask)
    assert error == pytest.approx(0.0, abs=1e-5) and term.item() == pytest.approx(0.0, abs=1e-6)


def test_an_off_vertex_truth_is_penalised_and_moves_the_volume():
    peak = torch.tensor([[2.3, 4.7], [5.5, 1.2]])
    volume = parabola_volume(peak).requires_grad_()
    truth = peak + 0.3
    term, error = _subpixel_term(volume, truth, torch.ones(2, 2, dtype=torch.bool))
    assert error == pytest.approx(0.3, abs=1e-4)
    assert term.item() == pytest.approx(0.3 - 0.05, abs=1e-4)  # smooth-L1, beta 0.1: |x| - beta / 2
    term.backward()
    assert volume.grad.abs().sum() > 0


def test_only_pixels_won_within_one_hypothesis_count():
    peak = torch.tensor([[2.0, 2.0]])
    truth = torch.tensor([[2.0, 6.0]])  # the second pixel's winner is 4 hypotheses off: not counted
    term, error = _subpixel_term(parabola_volume(peak), truth, torch.ones(1, 2, dtype=torch.bool))
    assert error == pytest.approx(0.0, abs=1e-5)
    none_term, none_error = _subpixel_term(parabola_volume(peak), truth, torch.tensor([[False, True]]))
    assert none_error is None and none_term.item() == 0.0
