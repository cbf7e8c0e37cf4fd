"""Speckles out, implied depths in: small segments of kept depths are dropped, and a raw depth that the kept
surface around it implies closes the gap, but not a wrong one, not one beyond the surface's edge."""

from __future__ import annotations

import numpy as np
import pytest

from photogrammetry.errors import ConfigError
from photogrammetry.mvs.filter_options import FilterOptions
from photogrammetry.mvs.filtering import filter_depth
from photogrammetry.mvs.implied import implied, speckles

from .conftest import plane_depth


def slanted(ring_views) -> np.ndarray:
    """(48, 64) depth of a wall seen obliquely by the first ring view: depth changes along rows and columns
    (3.4 to 4.9, at most 0.6 % between neighbours)."""
    depth = plane_depth(ring_views[0], [1.0, 0.3, 0.2], 0.1)
    assert (depth > 0).all() and depth.max() > 1.3 * depth.min()
    return depth


def test_small_segments_are_dropped_and_the_surface_stays(ring_views):
    depth = slanted(ring_views)
    depth[10:13, 10:13] *= 1.1  # a 3x3 patch of wrong depths inside the surface
    depth[30, 40] *= 0.9  # a lone wrong depth
    depth[40:, 50:] = 0.0
    depth[44:46, 56:58] = 9.0  # a 2x2 island in a hole
    dropped = speckles(depth, 9, 0.02)
    expected = np.zeros(depth.shape, bool)
    expected[10:13, 10:13] = expected[30, 40] = True
    expected[44:46, 56:58] = True
    assert (dropped == expected).all()
    smaller = speckles(depth, 8, 0.02)  # the 3x3 patch is larger than 8 pixels: it stays
    assert not smaller[10:13, 10:13].any() and smaller[30, 40] and smaller[44:46, 56:58].all()
    assert not speckles(depth, 0, 0.02).any()
    assert not speckles(np.zeros_like(depth), 9, 0.02).any()


def test_a_gap_in_a_surface_takes_the_raw_depth_its_neighbours_imply(ring_views):
    truth = slanted(ring_views)
    rng = np.random.default_rng(0)
    raw = truth * (1 + rng.uniform(-0.005, 0.005, truth.shape)).astype(np.float32)
    kept = truth.copy()
    kept[:, 20:28] = 0.0  # dropped by the checks: a stripe 8 px wide
    kept[:, 50:] = 0.0  # beyond the surface's edge: no kept depth on the far side
    raw[5:10, 22:26] = truth[5:10, 22:26] * 1.08  # wrong raw depths inside the stripe
    confirmed = np.ones(truth.shape, bool)
    added = implied(kept, raw, confirmed, 16, 0.02)
    stripe = np.zeros(truth.shape, bool)
    stripe[:, 20:28] = True
    stripe[5:10, 22:26] = False
    assert (added == stripe).all()
    assert not implied(kept, raw, confirmed, 4, 0.02).any()  # the stripe's middle is 4 px from either side
    unconfirmed = confirmed.copy()
    unconfirmed[:, 20:24] = False
    assert (implied(kept, raw, unconfirmed, 16, 0.02) == stripe & unconfirmed).all()


def test_the_filter_keeps_low_confidence_depths_inside_a_confirmed_surface(ring_views):
    depths = {v.name: plane_depth(v, [0, 0, 1], -0.5) for v in ring_views}
    ref, sources = ring_views[0], [(v, depths[v.name]) for v in (ring_views[1], ring_views[7])]
    visible = depths[ref.name] > 0
    confidence = np.full(visible.shape, 0.5, np.float32)
    confidence[:, 30:36] = 0.1  # below min_confidence: the checks drop these
    on = filter_depth(ref, depths[ref.name], confidence, None, sources, FilterOptions()).depth > 0
    off = filter_depth(ref, depths[ref.name], confidence, None, sources,
                       FilterOptions(implied_reach=0, grow_reach=0)).depth > 0
    assert not off[:, 30:36].any()
    inside = visible[:, 30:36] & off[:, 29:30] & off[:, 36:37]  # kept on both sides
    assert inside.sum() > 20 and on[:, 30:36][inside].all()
    grey = np.random.default_rng(1).integers(60, 200, visible.shape).astype(np.uint8)
    grey[:, 30:37] = 128  # flat (5x5 windows within it): the photo shows nothing that could confirm a depth
    photo = filter_depth(ref, depths[ref.name], confidence, None, sources, FilterOptions(), grey=grey).depth > 0
    assert not photo[:, 32:35].any() and on[:, 32:35][inside[:, 2:5]].all()
    wrong = depths[ref.name].copy()
    wrong[:, 30:36] *= 1.05  # a wrong raw depth the sources do not confirm stays out
    assert not (filter_depth(ref, wrong, confidence, None, sources, FilterOptions()).depth[:, 30:36] > 0).any()


def test_bad_settings_are_refused():
    for bad in ({"speckle_area": 1.0}, {"speckle_area": -0.1}, {"speckle_step": 0.0}, {"implied_reach": -1},
                {"implied_tolerance": -0.01}, {"implied_views": -1}):
        with pytest.raises(ConfigError):
            FilterOptions(**bad)
