"""Forward-backward consistency: exact depths survive, disagreeing ones do not."""

from __future__ import annotations

import numpy as np

from photogrammetry.mvs.filter_options import FilterOptions
from photogrammetry.mvs.filtering import filter_depth

from .conftest import look_at, plane_depth

COUNTS = FilterOptions(min_score=0.0, grow_reach=0)
"""The rule that counts agreeing sources (``min_score`` 0, nothing grown from what it keeps)."""


def ground(views):
    return {v.name: plane_depth(v, [0, 0, 1], -0.5) for v in views}


def test_exact_depths_are_kept_where_two_sources_see_them(ring_views):
    depths = ground(ring_views)
    ref, sources = ring_views[0], [ring_views[1], ring_views[7]]
    middling = np.full_like(depths[ref.name], 0.5)  # needs two sources
    out = filter_depth(ref, depths[ref.name], middling, None, [(s, depths[s.name]) for s in sources], COUNTS)
    visible = depths[ref.name] > 0
    assert (out.depth > 0).sum() > 0.5 * visible.sum()
    kept = out.depth > 0
    assert np.allclose(out.depth[kept], depths[ref.name][kept], rtol=2e-3)
    assert out.agreeing[kept].min() >= 2


def test_wrong_depths_confidence_and_masks_are_dropped(ring_views):
    depths = ground(ring_views)
    ref, sources = ring_views[0], [(v, depths[v.name]) for v in (ring_views[1], ring_views[7])]
    wrong = depths[ref.name] * 1.05
    middling = np.full_like(wrong, 0.5)  # needs two sources
    assert not (filter_depth(ref, wrong, middling, None, sources, COUNTS).depth > 0).any()
    low = np.full_like(wrong, 0.2)
    assert not (filter_depth(ref, depths[ref.name], low, None, sources, COUNTS).depth > 0).any()
    mask = np.zeros(wrong.shape, bool)
    mask[:, :20] = True
    out = filter_depth(ref, depths[ref.name], np.ones_like(wrong), mask, sources, COUNTS)
    assert (out.depth[:, 20:] == 0).all() and (out.depth[:, :20] > 0).any()


def test_one_agreeing_source_is_not_enough(ring_views):
    depths = ground(ring_views)
    ref = ring_views[0]
    broken = np.zeros_like(depths[ring_views[7].name])
    sources = [(ring_views[1], depths[ring_views[1].name]), (ring_views[7], broken)]
    middling = np.full_like(broken, 0.5)  # above min_confidence, not above high_confidence
    out = filter_depth(ref, depths[ref.name], middling, None, sources, COUNTS)
    assert not (out.depth > 0).any()
    loose = filter_depth(ref, depths[ref.name], middling, None, sources,
                         FilterOptions(min_score=0.0, min_consistent_views=1))
    assert (loose.depth > 0).any()


def test_confident_pixels_need_fewer_sources(ring_views):
    depths = ground(ring_views)
    ref = ring_views[0]
    broken = np.zeros_like(depths[ring_views[7].name])
    sources = [(ring_views[1], depths[ring_views[1].name]), (ring_views[7], broken)]
    confidence = np.full_like(broken, 0.5)
    confidence[:, :32] = 0.9  # left half sharp peaks, right half middling
    options = FilterOptions(min_score=0.0, min_confidence=0.0, confident_views=1, high_confidence=0.8, grow_reach=0)
    out = filter_depth(ref, depths[ref.name], confidence, None, sources, options)
    assert (out.depth[:, :32] > 0).any()
    assert not (out.depth[:, 32:] > 0).any()
    off = filter_depth(ref, depths[ref.name], confidence, None, sources,
                       FilterOptions(min_score=0.0, high_confidence=1.0))
    assert not (off.depth > 0).any()


def test_confident_views_never_ask_for_more_than_the_views_needed(ring_views):
    """``min_consistent_views=0`` (no consistency check) stays valid with the default ``confident_views``
    and keeps every pixel above ``min_confidence``; a negative count is refused."""
    import pytest

    from photogrammetry.errors import ConfigError

    depths = ground(ring_views)
    ref = ring_views[0]
    confidence = np.full_like(depths[ref.name], 0.9)
    out = filter_depth(ref, depths[ref.name], confidence, None, [],
                       FilterOptions(min_score=0.0, min_consistent_views=0))
    assert ((out.depth > 0) == (depths[ref.name] > 0)).all() and (out.depth > 0).any()
    with pytest.raises(ConfigError, match="confident_views"):
        FilterOptions(confident_views=-1)


def test_a_short_baseline_tolerates_the_depth_difference_it_cannot_measure(ring_views):
    ref, wide = ring_views[0], ring_views[1]
    near = look_at([4.0, 0.05, 1.0], [0, 0, 0], ref.K, (ref.width, ref.height), "near.png")  # 5 cm beside ref
    depths = ground([ref, wide, near])
    confidence = np.full_like(depths[ref.name], 0.5)
    for source, agrees in ((near, True), (wide, False)):
        off = [(source, depths[source.name] * 1.02)]  # the source's depth 2 % off
        strict = filter_depth(ref, depths[ref.name], confidence, None, off,
                              FilterOptions(min_score=0.0, min_consistent_views=1, disparity_px=0.0))
        loose = filter_depth(ref, depths[ref.name], confidence, None, off,
                             FilterOptions(min_score=0.0, min_consistent_views=1, disparity_px=1.0, loose_views=0))
        assert not (strict.depth > 0).any()
        assert ((loose.depth > 0).mean() > 0.5) == agrees


def test_loosely_agreeing_sources_must_be_more(ring_views):
    ref = ring_views[0]
    near = [look_at([4.0, s, 1.0], [0, 0, 0], ref.K, (ref.width, ref.height), f"n{s}.png") for s in (0.05, -0.05)]
    depths = ground([ref, *near])
    confidence = np.full_like(depths[ref.name], 0.5)
    options = FilterOptions(min_score=0.0, min_consistent_views=1, disparity_px=1.0, loose_views=2)
    for count in (1, 2):
        off = [(source, depths[source.name] * 1.02) for source in near[:count]]
        kept = filter_depth(ref, depths[ref.name], confidence, None, off, options).depth > 0
        assert (kept.mean() > 0.5) == (count == 2)
    exact = [(near[0], depths[near[0].name])]  # one source within max_relative_depth is enough
    assert (filter_depth(ref, depths[ref.name], confidence, None, exact, options).depth > 0).mean() > 0.5


def test_the_score_keeps_what_short_baselines_confirm_within_the_depth_they_can_measure(ring_views):
    """Two sources 5 cm beside the reference, their depths 1.5 % off: the counts (1 %) drop every pixel;
    the score (support times confidence, at least ``min_score``) keeps them with a sharp peak (0.9) and
    not with a middling one (0.5)."""
    ref = ring_views[0]
    near = [look_at([4.0, s, 1.0], [0, 0, 0], ref.K, (ref.width, ref.height), f"n{s}.png") for s in (0.05, -0.05)]
    depths = ground([ref, *near])
    visible = depths[ref.name] > 0

    def kept(confidence, views, options=FilterOptions()):
        conf = np.full_like(depths[ref.name], confidence)
        off = [(v, depths[v.name] * 1.015) for v in views]
        return (filter_depth(ref, depths[ref.name], conf, None, off, options).depth > 0).sum() / visible.sum()

    assert kept(0.9, near, COUNTS) == 0
    assert kept(0.9, near) > 0.5 and kept(0.5, near) == 0


def test_the_score_needs_confirming_sources(ring_views):
    """Right depths that two sources confirm are kept at full confidence, right ones that no source
    sees are not, nor depths 5 % off with a middling peak."""
    depths = ground(ring_views)
    ref, sources = ring_views[0], [(v, depths[v.name]) for v in (ring_views[1], ring_views[7])]
    sharp = np.ones_like(depths[ref.name])
    visible = depths[ref.name] > 0
    assert (filter_depth(ref, depths[ref.name], sharp, None, sources, FilterOptions()).depth > 0).sum() > \
        0.5 * visible.sum()
    assert not (filter_depth(ref, depths[ref.name] * 1.05, sharp / 2, None, sources, FilterOptions()).depth > 0).any()
    assert not (filter_depth(ref, depths[ref.name], sharp, None, [], FilterOptions()).depth > 0).any()


def test_a_negative_score_is_refused():
    import pytest

    from photogrammetry.errors import ConfigError

    with pytest.raises(ConfigError, match="min_score"):
        FilterOptions(min_score=-1.0)
