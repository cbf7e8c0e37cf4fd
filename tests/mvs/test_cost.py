"""Similarities, the robust mean over sources and the sub-hypothesis winner."""

from __future__ import annotations

import pytest
import torch

from photogrammetry.mvs.cost import aggregate_sources, similarity, winner_take_all


def test_ncc_is_one_for_an_affine_copy_and_minus_one_for_a_negative():
    ref = torch.randn(1, 12, 16)
    warped = torch.stack([2 * ref + 0.3, -ref, torch.randn(1, 12, 16)], dim=1)  # (C, D, h, W)
    score = similarity(ref, warped, "ncc", 2)
    assert score[0].min() > 0.999
    assert score[1].max() < -0.999
    assert score[2].abs().mean() < 0.5


def test_dot_is_the_window_mean_of_descriptor_products():
    ref = torch.nn.functional.normalize(torch.randn(8, 6, 7), dim=0)
    score = similarity(ref, ref[:, None], "dot", 0)
    assert torch.allclose(score, torch.ones(1, 6, 7), atol=1e-6)
    with pytest.raises(ValueError):
        similarity(ref, ref[:, None], "l1", 0)


def test_aggregate_sources_keeps_the_best():
    scores = torch.tensor([0.9, -1.0, 0.5, 0.1]).reshape(4, 1, 1, 1)
    assert aggregate_sources(scores, 2).item() == pytest.approx(0.7)
    assert aggregate_sources(scores, 9).item() == pytest.approx(0.125)


@pytest.mark.parametrize("best", [1, 2, 3])
def test_aggregate_sources_equals_the_mean_of_topk_bit_for_bit(best):
    scores = torch.rand(5, 4, 6, 7, generator=torch.Generator().manual_seed(4)) * 2 - 1
    scores[1, 0] = scores[3, 0]  # ties
    expected = scores.topk(best, dim=0).values.mean(dim=0)
    assert torch.equal(aggregate_sources(scores, best), expected)


def test_dot_in_place_equals_dot_on_a_copy():
    gen = torch.Generator().manual_seed(5)
    ref = torch.nn.functional.normalize(torch.randn(8, 6, 7, generator=gen), dim=0)
    warped = torch.randn(3, 8, 4, 6, 7, generator=gen)  # (S, C, D, h, W)
    expected = similarity(ref, warped, "dot", 1)
    assert torch.equal(similarity(ref, warped.clone(), "dot", 1, overwrite=True), expected)
    grey = torch.cat([ref, torch.randn(1, 6, 7, generator=gen)])
    warped = torch.cat([warped, torch.randn(3, 1, 4, 6, 7, generator=gen)], dim=1)
    expected = similarity(grey, warped, "dot+ncc", 1, grey_channel=True)
    assert torch.equal(similarity(grey, warped.clone(), "dot+ncc", 1, grey_channel=True, overwrite=True), expected)


def test_winner_is_the_parabola_vertex():
    hyps = torch.arange(10.0)[:, None, None]
    volume = -(hyps - 4.3) ** 2 * 0.01  # a parabola peaking between hypotheses 4 and 5
    won = winner_take_all(volume.expand(10, 2, 3), temperature=0.1)
    assert torch.allclose(won.index, torch.full((2, 3), 4.3), atol=1e-4)
    assert ((won.confidence > 0) & (won.confidence <= 1)).all()
    sharp = winner_take_all(-(hyps - 4.0).abs().expand(10, 1, 1), temperature=0.01)
    assert sharp.confidence.item() > 0.99
