"""Matchers: mutual NN + ratio on constructed descriptors; LightGlue and NN on views of a plane."""

from __future__ import annotations

import numpy as np
import pytest

from photogrammetry.errors import ConfigError
from photogrammetry.features import ExtractionImage, ExtractorOptions, extract, load_extractor
from photogrammetry.io.features import Features
from photogrammetry.matching import MatcherOptions, load_matcher, resolve_matcher
from photogrammetry.matching.descriptors import unit_descriptors
from photogrammetry.matching.lightglue import rename_layers
from photogrammetry.matching.nearest import NearestNeighbourMatcher
from tests.features.synthetic import apply_homography, plane_views


def _features(descriptors: np.ndarray) -> Features:
    n = len(descriptors)
    return Features(np.zeros((n, 2), np.float32), np.ones(n, np.float32), descriptors, (100, 100))


def _nn(desc0: np.ndarray, desc1: np.ndarray, ratio: float = 0.8, min_similarity: float = -1.0):
    matcher = NearestNeighbourMatcher(ratio=ratio, min_similarity=min_similarity, device="cpu")
    return matcher.match(matcher.prepare(_features(desc0)), matcher.prepare(_features(desc1)))


def test_nn_recovers_a_permutation() -> None:
    rng = np.random.default_rng(0)
    desc = rng.normal(size=(200, 64)).astype(np.float32)
    perm = rng.permutation(200)
    matches = _nn(desc, desc[perm] + rng.normal(scale=0.01, size=(200, 64)).astype(np.float32))
    assert len(matches.indices) == 200
    np.testing.assert_array_equal(perm[matches.indices[:, 1]], matches.indices[:, 0])
    assert matches.indices.dtype == np.int32 and matches.scores.dtype == np.float32


def test_nn_ratio_test_drops_ambiguous_matches() -> None:
    rng = np.random.default_rng(1)
    desc = rng.normal(size=(50, 32)).astype(np.float32)
    noisy = desc + rng.normal(scale=0.05, size=(50, 32)).astype(np.float32)
    twins = np.concatenate([noisy, noisy[:10]])  # the first 10 have two equally near neighbours
    matches = _nn(desc, twins)
    assert set(matches.indices[:, 0].tolist()) == set(range(10, 50))
    assert len(_nn(desc, twins, ratio=1.0).indices) == 50


def test_nn_mutual_check_and_empty_inputs() -> None:
    desc0 = np.array([[1, 0], [0.9, 0.1]], np.float32)
    desc1 = np.array([[1, 0]], np.float32)
    np.testing.assert_array_equal(_nn(desc0, desc1, ratio=1.0).indices, [[0, 0]])
    assert _nn(desc0[:0], desc1).indices.shape == (0, 2)


def test_nn_mutual_check_is_argmax_over_columns_ties_included() -> None:
    """The mutual check (column maxima by ``amax``) keeps what ``sim.argmax(dim=0)`` would: rows tied on
    a column (duplicate descriptors) keep the first of them."""
    import torch

    from photogrammetry.matching.nearest import mutual_nn_ratio

    rng = np.random.default_rng(5)
    desc = torch.nn.functional.normalize(torch.from_numpy(rng.normal(size=(60, 16)).astype(np.float32)), dim=1)
    twins = torch.cat([desc[:10], desc[:10], desc[10:]])  # rows 10-19 repeat rows 0-9
    for a, b in ((desc, twins), (twins, desc), (twins, twins), (desc, desc[:40])):
        sim = a @ b.T
        nn01 = sim.topk(2, dim=1).indices[:, 0]
        expected = (sim.argmax(dim=0)[nn01] == torch.arange(len(a))).nonzero()[:, 0]
        indices, _ = mutual_nn_ratio(a, b, ratio=1.0)
        np.testing.assert_array_equal(indices[:, 0].numpy(), expected.numpy())
        np.testing.assert_array_equal(indices[:, 1].numpy(), nn01[expected].numpy())


def test_nn_numpy_on_the_cpu_keeps_what_torch_keeps() -> None:
    """The CPU's numpy matcher and the torch one (CUDA's, here on the CPU) agree, ties, the ratio test
    and the least similarity included; the numpy one's nearest neighbour is a row's first largest column."""
    import torch

    from photogrammetry.matching.nearest import mutual_nn_ratio, mutual_nn_ratio_numpy

    rng = np.random.default_rng(7)
    desc = unit_descriptors(rng.integers(0, 60, size=(300, 128)).astype(np.uint8))
    other = unit_descriptors(np.clip(desc * 400 + rng.normal(scale=8, size=desc.shape), 0, 255).astype(np.uint8))
    twins = np.concatenate([desc[:10], desc[:10], desc[10:]])  # rows 10-19 repeat rows 0-9
    for a, b in ((desc, other), (other, desc[:120]), (twins, desc), (desc, twins), (twins, twins)):
        for ratio, least in ((0.8, -1.0), (1.0, -1.0), (0.9, 0.9), (1.0, 0.95)):
            ours, scores = mutual_nn_ratio_numpy(a, b, ratio, least)
            theirs, expected = mutual_nn_ratio(torch.from_numpy(a), torch.from_numpy(b), ratio, least)
            # among tied columns torch's top-k picks its own; and twin rows' similarities can differ in the
            # last bit within one product (OpenBLAS's kernel on an AMD EPYC put row 11 above its twin, row 1),
            # so which twin is mutual is numpy's own choice: checked against its own product below
            if b is not twins and a is not twins:
                np.testing.assert_array_equal(ours, theirs.numpy())
                np.testing.assert_allclose(scores, expected.numpy(), rtol=1e-6)
            sim = a @ b.T
            nn01 = sim.argmax(axis=1)
            mutual = sim.argmax(axis=0)[nn01] == np.arange(len(a))
            assert set(ours[:, 0]) <= set(np.flatnonzero(mutual)) and np.array_equal(ours[:, 1], nn01[ours[:, 0]])
            if ratio == 1.0 and least == -1.0:
                np.testing.assert_array_equal(ours[:, 0], np.flatnonzero(mutual))
    assert mutual_nn_ratio_numpy(desc[:0], desc, 0.8)[0].shape == (0, 2)


def test_nn_min_similarity_keeps_mutual_matches_above_it() -> None:
    """XFeat's matcher: mutual nearest neighbours whose cosine similarity exceeds 0.82, no ratio test."""
    rng = np.random.default_rng(2)
    desc = rng.normal(size=(100, 64)).astype(np.float32)
    desc /= np.linalg.norm(desc, axis=1, keepdims=True)
    noise = rng.normal(size=(100, 64)).astype(np.float32)
    noise -= (noise * desc).sum(axis=1, keepdims=True) * desc  # orthogonal to each descriptor
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    similarity = np.where(np.arange(100) < 50, 0.95, 0.7).astype(np.float32)  # the first half: near twins
    other = similarity[:, None] * desc + np.sqrt(1 - similarity[:, None] ** 2) * noise
    perm = rng.permutation(100)
    everything = _nn(desc, other[perm], ratio=1.0)
    assert len(everything.indices) == 100  # random 64-D vectors: each one's nearest is its own copy
    matches = _nn(desc, other[perm], ratio=1.0, min_similarity=0.82)
    assert sorted(matches.indices[:, 0].tolist()) == list(range(50))
    np.testing.assert_array_equal(perm[matches.indices[:, 1]], matches.indices[:, 0])
    np.testing.assert_allclose(matches.scores, 0.95, atol=1e-5)
    with pytest.raises(ConfigError, match="min_similarity"):
        MatcherOptions(min_similarity=1.0)


def test_rootsift_descriptors_are_unit_hellinger() -> None:
    desc = np.array([[4, 0, 0, 0], [1, 1, 1, 1]], np.uint8)
    unit = unit_descriptors(desc)
    np.testing.assert_allclose(unit, [[1, 0, 0, 0], [0.5, 0.5, 0.5, 0.5]])


def test_rename_layers_of_released_lightglue_files() -> None:
    renamed = rename_layers({"self_attn.3.Wqkv.weight": 1, "cross_attn.10.ffn.0.bias": 2,
                             "transformers.1.self_attn.Wqkv.weight": 3, "log_assignment.0.matchability.weight": 4})
    assert renamed == {"transformers.3.self_attn.Wqkv.weight": 1, "transformers.10.cross_attn.ffn.0.bias": 2,
                       "transformers.1.self_attn.Wqkv.weight": 3, "log_assignment.0.matchability.weight": 4}


def test_auto_picks_lightglue_for_learned_and_nn_for_sift() -> None:
    assert resolve_matcher("auto", "disk") == "lightglue"
    assert resolve_matcher("auto", "aliked-n32") == "lightglue"
    assert resolve_matcher("auto", "sift") == "nn-ratio"
    assert resolve_matcher("auto", "xfeat") == "lightglue"
    with pytest.raises(ConfigError, match="no LightGlue weights exist for sift"):
        load_matcher("lightglue", "sift", MatcherOptions())
    with pytest.raises(ConfigError, match="lightglue, nn-ratio"):
        resolve_matcher("superglue", "disk")


@pytest.fixture(scope="module")
def plane() -> tuple[list[np.ndarray], list[np.ndarray]]:
    return plane_views(3, 320, 240, seed=7)


@pytest.mark.parametrize("extractor", ["aliked-n16", "disk", "sift"])
def test_matches_agree_with_the_true_homography(extractor: str, plane, no_network: list[str]) -> None:
    """Views of a plane: at least 90 % of the matches within 2 px of the true homography."""
    images, homographies = plane
    ex = load_extractor(extractor, ExtractorOptions(max_keypoints=384))
    feats = [extract(ex, [ExtractionImage(rgb, None, (320, 240))])[0] for rgb in images[:2]]
    matcher = load_matcher("auto", extractor, MatcherOptions())
    matches = matcher.match(matcher.prepare(feats[0]), matcher.prepare(feats[1]))
    p0 = feats[0].keypoints[matches.indices[:, 0]]
    p1 = feats[1].keypoints[matches.indices[:, 1]]
    errors = np.linalg.norm(apply_homography(homographies[1], p0) - p1, axis=1)
    assert len(matches.indices) > 100
    assert (errors < 2.0).mean() >= 0.9
    assert no_network == []


def test_xfeat_lighterglue_matches_agree_with_the_true_homography(plane, no_network: list[str]) -> None:
    """XFeat + LighterGlue on views of a plane: at least 95 % of the matches within 3 px of the truth.

    XFeat's sparse keypoints are whole pixels of its network image (no sub-pixel refinement), so
    the true matches spread wider than ALIKED's: about 90 % lie within 2 px, all within 5 px.
    """
    images, homographies = plane
    ex = load_extractor("xfeat", ExtractorOptions(max_keypoints=384))
    feats = [extract(ex, [ExtractionImage(rgb, None, (320, 240))])[0] for rgb in images]
    matcher = load_matcher("auto", "xfeat", MatcherOptions())
    for j in (1, 2):
        matches = matcher.match(matcher.prepare(feats[0]), matcher.prepare(feats[j]))
        p0 = feats[0].keypoints[matches.indices[:, 0]]
        p1 = feats[j].keypoints[matches.indices[:, 1]]
        errors = np.linalg.norm(apply_homography(homographies[j], p0) - p1, axis=1)
        assert len(matches.indices) > 150
        assert (errors < 3.0).mean() >= 0.95
        assert np.median(errors) < 1.2
    assert no_network == []


def test_lightglue_prunes_and_stops_early_without_changing_much(plane) -> None:
    """Adaptive depth and width give nearly the matches of the full network."""
    images, _ = plane
    ex = load_extractor("aliked-n16", ExtractorOptions(max_keypoints=384))
    f0, f1 = (extract(ex, [ExtractionImage(rgb, None, (320, 240))])[0] for rgb in (images[0], images[2]))
    fast = load_matcher("lightglue", "aliked-n16", MatcherOptions())
    full = load_matcher("lightglue", "aliked-n16", MatcherOptions(depth_confidence=-1, width_confidence=-1))
    a = {tuple(m) for m in fast.match(fast.prepare(f0), fast.prepare(f1)).indices}
    b = {tuple(m) for m in full.match(full.prepare(f0), full.prepare(f1)).indices}
    assert len(a & b) >= 0.85 * len(b)


def test_lightglue_with_no_keypoints_gives_no_matches() -> None:
    matcher = load_matcher("lightglue", "disk", MatcherOptions())
    empty = Features(np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros((0, 128), np.float16), (64, 48))
    some = Features(np.full((3, 2), 10, np.float32), np.ones(3, np.float32), np.ones((3, 128), np.float16), (64, 48))
    assert matcher.match(matcher.prepare(empty), matcher.prepare(some)).indices.shape == (0, 2)


def test_min_similarity_enters_the_matches_key_only_when_set() -> None:
    from photogrammetry.engine.stage import output_affecting_settings
    from photogrammetry.stages.matches import MatchesConfig

    assert "min_similarity" not in output_affecting_settings(MatchesConfig())  # caches made before it stay valid
    assert output_affecting_settings(MatchesConfig(min_similarity=0.82))["min_similarity"] == 0.82
