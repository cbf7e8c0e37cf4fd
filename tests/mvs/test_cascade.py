"""The plane sweep: tiles and batches change memory, not results; the cascade finds the depth."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from photogrammetry.evaluation import load_ground_truth
from photogrammetry.evaluation.raycast import gt_depth_map
from photogrammetry.mvs.cascade import CascadeOptions, FeatureBank, Sweep, _first_level, estimate_depth, level_sizes
from photogrammetry.mvs.cost import MatchCost
from photogrammetry.mvs.features import GreyFeatures
from photogrammetry.mvs.geometry import pixel_grid
from photogrammetry.mvs.multiview import read_image, working_views
from photogrammetry.mvs.selection import SelectionOptions, depth_range, select_sources


@pytest.fixture(scope="module")
def setup(facade):
    views = working_views(facade, 160)
    name = facade.names[5]
    sources = select_sources(facade, SelectionOptions())[name]
    bank = FeatureBank(GreyFeatures(), lambda n: read_image(views[n]), 2, "cpu", 2**30)
    return facade, views, name, sources, bank


def test_level_sizes_halve_towards_the_coarsest():
    assert level_sizes(160, 120, 3) == [(40, 30), (80, 60), (160, 120)]


def test_batched_sources_score_as_one_by_one(setup):
    scene, views, name, sources, bank = setup
    ref, feats = bank.get(name, 1), [bank.get(s, 1) for s in sources]
    level = _first_level(*depth_range(scene, scene.views[name], SelectionOptions()), 12, "cpu")
    depth = 1.0 / (level.start - torch.arange(12.0)[:, None] * level.interval)
    pixels = pixel_grid(120, 160)
    batched = Sweep(views[name], [views[s] for s in sources], ref, feats, MatchCost(), 64)
    together = batched._group_scores(ref, pixels, batched.groups[0], depth, 10**7)
    for i, s in enumerate(sources):
        single = Sweep(views[name], [views[s]], ref, [feats[i]], MatchCost(), 64)
        alone = single._group_scores(ref, pixels, single.groups[0], depth, 10**4)  # small hypothesis chunks
        assert torch.allclose(together[i], alone[0], atol=1e-4)


def test_channels_last_sources_score_as_contiguous_ones_bit_for_bit(setup):
    """The CPU warps sources stored channels-last (faster sampling); CUDA's contiguous layout,
    forced on the CPU, gives the very same scores."""
    scene, views, name, sources, _ = setup
    gen = torch.Generator().manual_seed(6)
    ref = torch.nn.functional.normalize(torch.randn(16, 60, 80, generator=gen), dim=0)
    feats = [torch.nn.functional.normalize(torch.randn(16, 60, 80, generator=gen), dim=0) for _ in sources]
    small = {n: v.resized(80, 60) for n, v in views.items()}
    sweep = Sweep(small[name], [small[s] for s in sources], ref, feats, MatchCost(similarity="dot", window_radius=1), 64)
    assert sweep.groups[0][0].is_contiguous(memory_format=torch.channels_last)
    level = _first_level(*depth_range(scene, scene.views[name], SelectionOptions()), 12, "cpu")
    depth = 1.0 / (level.start - torch.arange(12.0)[:, None] * level.interval)
    pixels = pixel_grid(60, 80)
    fast = sweep._group_scores(ref, pixels, sweep.groups[0], depth, 10**7)
    feats_cl, A, b = sweep.groups[0]
    plain = sweep._group_scores(ref, pixels, (feats_cl.contiguous(), A, b), depth, 10**7)
    assert torch.equal(fast, plain)


def test_a_small_memory_budget_gives_the_same_map(setup):
    scene, views, name, sources, bank = setup
    near_far = depth_range(scene, scene.views[name], SelectionOptions())
    args = (views[name], [views[s] for s in sources], near_far, bank, MatchCost())
    roomy = estimate_depth(*args, CascadeOptions(hypotheses=(32, 8), memory_budget_mb=1024))
    tight = estimate_depth(*args, CascadeOptions(hypotheses=(32, 8), memory_budget_mb=1))  # a few rows per tile
    same = np.isclose(roomy.depth, tight.depth, rtol=1e-4)  # float rounding may flip a near tie
    assert same.mean() > 0.995
    close = np.isclose(roomy.confidence[same], tight.confidence[same], atol=1e-3)
    assert close.mean() > 0.995  # a near tie elsewhere in a scanline may shift a confidence a little


def facade_estimate(setup, views: dict, bank: FeatureBank):
    """The cascade's depth of the setup's reference view from ``views`` (names -> working views)."""
    scene, _, name, sources, _ = setup
    near_far = depth_range(scene, scene.views[name], SelectionOptions())
    return estimate_depth(views[name], [views[s] for s in sources], near_far, bank, MatchCost(),
                          CascadeOptions(hypotheses=(32, 8)))


def assert_close_to_the_truth(estimate, name: str, folder) -> None:
    """Over 95 % of the confident half and 80 % of all pixels within 1 % of the extent of the GT depth."""
    gt = load_ground_truth(folder)
    truth = gt_depth_map(gt, name, width=160, height=120)
    valid = truth > 0
    confident = valid & (estimate.confidence > np.quantile(estimate.confidence[valid], 0.5))
    error = np.abs(estimate.depth - truth) / gt.extent
    assert np.mean(error[confident] < 0.01) > 0.95
    assert np.mean(error[valid] < 0.01) > 0.8


def test_confident_depths_are_close_to_the_truth(setup, sample_scene_dir):
    _, views, name, _, bank = setup
    assert_close_to_the_truth(facade_estimate(setup, views, bank), name, sample_scene_dir("facade"))


def test_sources_of_another_size_find_the_depth(setup, sample_scene_dir):
    """Sources photographed at another size (another camera) are matched at their own size: here
    120 x 90 against a 160 x 120 reference."""
    scene, views, name, _, _ = setup
    mixed = {**working_views(scene, 120), name: views[name]}
    bank = FeatureBank(GreyFeatures(), lambda n: read_image(mixed[n]), 2, "cpu", 2**30)
    assert_close_to_the_truth(facade_estimate(setup, mixed, bank), name, sample_scene_dir("facade"))


def test_confidence_ranks_right_from_wrong_depths(setup, sample_scene_dir):
    from photogrammetry.mvs.filter_options import FilterOptions

    _, views, name, _, bank = setup
    estimate = facade_estimate(setup, views, bank)
    gt = load_ground_truth(sample_scene_dir("facade"))
    truth = gt_depth_map(gt, name, width=160, height=120)
    valid = truth > 0
    right = np.abs(estimate.depth - truth) / gt.extent < 0.01
    options = FilterOptions()
    high = valid & (estimate.confidence > options.high_confidence)  # one agreeing source is enough
    low = valid & (estimate.confidence < options.min_confidence)  # dropped
    assert high.mean() > 0.03 and low.mean() > 0.01
    assert right[high].mean() > 0.99 and right[low].mean() < right[high].mean() - 0.03  # 1.0 and 0.94


def test_feature_bank_keeps_the_most_recently_used_views(setup):
    """At most ``max_views`` views stay; one evicted is computed again when asked for, with the same maps."""
    scene, views, _, _, _ = setup
    a, b, c = scene.names[:3]
    bank = FeatureBank(GreyFeatures(), lambda n: read_image(views[n]), 2, "cpu", 2**30, max_views=2)
    first = bank.get(a, 1).clone()
    bank.get(b, 0), bank.get(a, 0), bank.get(c, 1)  # a used after b: b goes
    assert bank.computed == 3 and list(bank._cache) == [a, c]
    bank.get(b, 0)  # computed again; a (least recently used) goes
    assert bank.computed == 4 and list(bank._cache) == [c, b]
    assert torch.equal(bank.get(a, 1), first) and bank.computed == 5
    tiny = FeatureBank(GreyFeatures(), lambda n: read_image(views[n]), 2, "cpu", 1)  # bytes: only the newest view
    tiny.get(a, 0), tiny.get(b, 0)
    assert list(tiny._cache) == [b]


def test_the_feature_bank_drops_the_view_its_plan_uses_last(setup):
    """Over the bound, a view the plan does not name goes first, then the one it uses last; without a
    plan, the least recently used."""
    scene, views, _, _, _ = setup
    a, b, c, d = scene.names[:4]
    bank = FeatureBank(GreyFeatures(), lambda n: read_image(views[n]), 2, "cpu", 2**30, max_views=3)
    bank.plan([c, a, d, b])
    bank.get(a, 0), bank.get(b, 0), bank.get(c, 0), bank.get(d, 0)  # b, used last of them, goes
    assert list(bank._cache) == [a, c, d]
    bank.plan([d, a])
    bank.get(b, 0)  # c is not in the plan
    assert list(bank._cache) == [a, d, b] and bank.computed == 5


def test_any_chunk_of_hypotheses_gives_the_same_map(setup, monkeypatch):
    """The warped features are capped at ``WARP_ELEMENTS`` on the CPU; hypotheses one at a time give
    the same map as all at once, to the last bits (which may differ where rows have an odd width)."""
    from photogrammetry.mvs import cascade

    scene, views, name, sources, bank = setup
    args = (views[name], [views[s] for s in sources], depth_range(scene, scene.views[name], SelectionOptions()),
            bank, MatchCost(similarity="dot"), CascadeOptions(hypotheses=(32, 8)))
    monkeypatch.setattr(cascade, "WARP_ELEMENTS", 2**40)
    whole = estimate_depth(*args)
    monkeypatch.setattr(cascade, "WARP_ELEMENTS", 1)
    single = estimate_depth(*args)
    np.testing.assert_allclose(single.depth, whole.depth, rtol=1e-6)
    np.testing.assert_allclose(single.confidence, whole.confidence, rtol=1e-5, atol=1e-6)


def test_threads_sharing_a_feature_bank_compute_each_view_once(setup):
    from concurrent.futures import ThreadPoolExecutor

    _, views, name, sources, _ = setup
    bank = FeatureBank(GreyFeatures(), lambda n: read_image(views[n]), 2, "cpu", 2**30)
    names = [name, *sources] * 4
    with ThreadPoolExecutor(4) as pool:
        maps = list(pool.map(lambda n: bank.get(n, 1), names))
    assert bank.computed == len(sources) + 1
    assert all(m is bank.get(n, 1) for n, m in zip(names, maps))


def test_a_bounded_feature_cache_gives_the_same_maps(setup):
    """Views swept in turn with a cache of ``num_sources + 1`` views (each view's features computed
    again where evicted) give the same bytes as with every view kept."""
    scene, views, _, _, _ = setup
    sources = select_sources(scene, SelectionOptions(num_sources=3))
    load = lambda n: read_image(views[n])  # noqa: E731
    banks = [FeatureBank(GreyFeatures(), load, 2, "cpu", 2**30), FeatureBank(GreyFeatures(), load, 2, "cpu", 2**30, 4)]
    for name in scene.names[:4]:
        near_far = depth_range(scene, scene.views[name], SelectionOptions())
        maps = [estimate_depth(views[name], [views[s] for s in sources[name]], near_far, bank, MatchCost(),
                               CascadeOptions(hypotheses=(16, 8))) for bank in banks]
        assert np.array_equal(maps[0].depth, maps[1].depth) and np.array_equal(maps[0].confidence, maps[1].confidence)
    assert len(banks[1]._cache) <= 4 < len(banks[0]._cache) and banks[1].computed > banks[0].computed
