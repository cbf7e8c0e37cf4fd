"""``lite-ncc``: learned features and grey-level NCC in one similarity, each over its own window."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from photogrammetry.mvs.cascade import CascadeOptions, FeatureBank, estimate_depth
from photogrammetry.mvs.cost import MatchCost, similarity
from photogrammetry.mvs.methods import method_spec
from photogrammetry.mvs.multiview import match_cost, read_image, working_views
from photogrammetry.mvs.options import MVSOptions
from photogrammetry.mvs.selection import SelectionOptions, depth_range, select_sources
from tests.mvs.test_cascade import assert_close_to_the_truth


def grey_features(seed: int):
    """Unit descriptors (8, 6, 7) with a grey channel, and 3 sources' (3, 9, 4, 6, 7) warped ones."""
    gen = torch.Generator().manual_seed(seed)
    ref = torch.cat([torch.nn.functional.normalize(torch.randn(8, 6, 7, generator=gen), dim=0),
                     torch.randn(1, 6, 7, generator=gen)])
    warped = torch.cat([torch.nn.functional.normalize(torch.randn(3, 8, 4, 6, 7, generator=gen), dim=1),
                        torch.randn(3, 1, 4, 6, 7, generator=gen)], dim=1)
    return ref, warped


def test_the_weight_moves_the_similarity_from_the_learned_one_to_ncc_each_over_its_window():
    ref, warped = grey_features(7)
    dot = similarity(ref, warped, "dot", 1, grey_channel=True)
    ncc = similarity(ref, warped, "ncc", 1, grey_channel=True, ncc_radius=3)
    assert not torch.allclose(ncc, similarity(ref, warped, "ncc", 1, grey_channel=True))  # the NCC's own window
    for weight in (0.0, 0.3, 1.0):
        mixed = similarity(ref, warped, "dot+ncc", 1, grey_channel=True, ncc_radius=3, ncc_weight=weight)
        assert torch.allclose(mixed, (1 - weight) * dot + weight * ncc, atol=1e-6)
        in_place = similarity(ref, warped.clone(), "dot+ncc", 1, grey_channel=True, ncc_radius=3,
                              ncc_weight=weight, overwrite=True)
        assert torch.equal(in_place, mixed)


def test_the_window_of_a_tile_covers_both_parts():
    cost = MatchCost(similarity="dot+ncc", grey_channel=True, window_radius=1, ncc_radius=4)
    assert (cost.radius("dot"), cost.radius("ncc"), cost.radius("dot+ncc")) == (1, 4, 4)
    assert MatchCost(window_radius=4, ncc_radius=2).radius("ncc") == 4  # no grey channel: one window


def test_the_options_reach_the_cost_and_bad_ones_are_refused():
    from photogrammetry.errors import ConfigError

    spec = method_spec("lite-ncc")
    cost = match_cost(MVSOptions(method="lite-ncc", ncc_weight=0.3), None)
    assert (cost.similarity, cost.grey_channel, cost.ncc_weight) == ("dot+ncc", True, 0.3)
    assert (cost.window_radius, cost.ncc_radius) == (spec.window_radius, spec.ncc_radius)
    assert match_cost(MVSOptions(method="lite-ncc", ncc_radius=3), None).ncc_radius == 3
    for bad in ({"ncc_weight": 1.5}, {"ncc_radius": -1}):
        with pytest.raises(ConfigError):
            MVSOptions(method="lite-ncc", **bad)


@pytest.fixture(scope="module")
def hybrid(facade):
    """The facade's view 5 at 160 px, its sources, range and a bank of ``lite-ncc`` features."""
    views = working_views(facade, 160)
    name = facade.names[5]
    sources = select_sources(facade, SelectionOptions())[name]
    extractor = method_spec("lite-ncc").build(None, "cpu", True)  # fp16 asked for: the CPU computes in float32
    bank = FeatureBank(extractor, lambda n: read_image(views[n]), 2, "cpu", 2**30)
    near_far = depth_range(facade, facade.views[name], SelectionOptions())
    cost = match_cost(MVSOptions(method="lite-ncc"), extractor)
    return name, (views[name], [views[s] for s in sources], near_far, bank, cost)


def test_the_hybrid_finds_the_facade_depth(hybrid, sample_scene_dir):
    name, args = hybrid
    assert args[3].get(name, 1).dtype == torch.float32
    assert_close_to_the_truth(estimate_depth(*args, CascadeOptions(hypotheses=(32, 8))), name,
                              sample_scene_dir("facade"))


def test_the_hybrid_gives_the_same_map_in_tiles_of_a_few_rows(hybrid):
    """Its NCC window is wider than the learned one's: the tiles' overlap must cover it."""
    _, args = hybrid
    assert args[4].radius("dot+ncc") > args[4].window_radius
    roomy = estimate_depth(*args, CascadeOptions(hypotheses=(32, 8), memory_budget_mb=1024))
    tight = estimate_depth(*args, CascadeOptions(hypotheses=(32, 8), memory_budget_mb=1))
    same = np.isclose(roomy.depth, tight.depth, rtol=1e-4)
    assert same.mean() > 0.995
    assert np.isclose(roomy.confidence[same], tight.confidence[same], atol=1e-3).mean() > 0.995


def test_half_precision_features_give_nearly_the_same_map(hybrid, facade):
    """What CUDA under ``fp16`` gives the sweep: the network's maps rounded to float16 (returned as
    float32), the grey level too; forced here on the CPU."""
    name, (ref, sources, near_far, bank, cost) = hybrid
    half = FeatureBank(lambda images: bank.extractor(images).half().float(), bank.load, 2, "cpu", 2**30)
    options = CascadeOptions(hypotheses=(32, 8))
    full = estimate_depth(ref, sources, near_far, bank, cost, options)
    rounded = estimate_depth(ref, sources, near_far, half, cost, options)
    assert not np.array_equal(full.depth, rounded.depth)
    assert np.isclose(full.depth, rounded.depth, rtol=1e-3).mean() > 0.98
