"""Kept depths grown through the raw map: along smooth surfaces, not across depth jumps nor into noise."""

from __future__ import annotations

import numpy as np
import pytest

from photogrammetry.errors import ConfigError
from photogrammetry.mvs.filter_options import FilterOptions
from photogrammetry.mvs.growth import grow, grow_surfaces, near_jumps


def slanted(height: int = 40, width: int = 60) -> np.ndarray:
    """A plane seen at a slant: inverse depth linear in the column, 0.1 % of depth per pixel."""
    columns = np.arange(width, dtype=np.float64)[None, :].repeat(height, 0)
    return (1.0 / (0.5 * (1 - 0.001 * columns))).astype(np.float32)


def test_growth_fills_a_smooth_surface_within_its_reach():
    depth = slanted()
    seeds = np.zeros(depth.shape, bool)
    seeds[15:25, 0:5] = True
    grown = grow(seeds, depth, np.ones_like(seeds), step=0.003, reach=16)
    assert not grown[seeds].any()
    assert grown[15:25, 5:21].all()  # within 16 steps along the rows
    assert grown[:, :5].sum() > 0.9 * (~seeds[:, :5]).sum()  # and around the seeds' rows
    assert not grown[:, 21:].any()  # no further than 16 steps from a seed
    assert grow(seeds, depth, np.ones_like(seeds), step=0.003, reach=0).sum() == 0


def test_growth_stops_at_a_depth_jump_and_outside_the_candidates():
    depth = slanted()
    depth[:, 30:] *= 1.2  # a nearer object's outline at column 30: a 20 % jump
    seeds = np.zeros(depth.shape, bool)
    seeds[:, 20:25] = True
    candidate = np.ones_like(seeds)
    candidate[:, 10] = False  # a column the loose check fails
    grown = grow(seeds, depth, candidate, step=0.003, reach=16)
    assert grown[:, 25:30].all() and grown[:, 11:20].all()
    assert not grown[:, 30:].any()  # the jump stops it
    assert not grown[:, :11].any()  # the failing column stops it


def test_growth_does_not_enter_noise():
    rng = np.random.default_rng(0)
    depth = slanted()
    depth[:, 30:] *= rng.uniform(0.9, 1.1, (40, 30)).astype(np.float32)  # wrong depths: noise of +-10 %
    depth[:, 30:] = np.maximum(depth[:, 30:], depth[:, 29:30] * 1.02)  # no smooth step into it
    seeds = np.zeros(depth.shape, bool)
    seeds[:, :25] = True
    grown = grow(seeds, depth, np.ones_like(seeds), step=0.003, reach=16)
    assert grown[:, 25:30].all()
    assert grown[:, 30:].mean() < 0.02  # noise does not step smoothly: a pair of neighbours at most


def test_small_kept_segments_are_dropped_and_large_ones_grown():
    depth = slanted()
    kept = np.zeros_like(depth)
    kept[5:35, 0:20] = depth[5:35, 0:20]  # 600 px: a surface
    kept[10:13, 40:43] = depth[10:13, 40:43] * 1.3  # 9 px apart at another depth: a speckle the checks let through
    strict = np.ones(depth.shape, bool)
    options = FilterOptions(grow_reach=8, grow_step=0.003, grow_area=0.01, speckle_area=0.001)  # 24 px
    out = grow_surfaces(kept, depth, strict, np.ones_like(strict), options)
    assert (out[10:13, 40:43] == 0).all()
    assert (out[5:35, 20:28] > 0).all() and np.allclose(out[5:35, 20:28], depth[5:35, 20:28])
    assert not (out[:, 29:] > 0).any()
    kept_flat = grow_surfaces(kept, depth, strict, np.zeros_like(strict), options)  # not droppable: kept as is
    assert (kept_flat[10:13, 40:43] > 0).all()


def test_nothing_grows_beside_a_depth_jump_of_the_raw_map():
    depth = slanted()
    depth[:, 30:] *= 1.2  # the sweep's foreground edge: the background beyond column 30
    near = near_jumps(depth, 4)
    assert near[:, 26:34].all() and not near[:, :25].any() and not near[:, 35:].any()
    assert not near_jumps(depth, 0).any()
    kept = np.zeros_like(depth)
    kept[:, :10] = depth[:, :10]
    strict = np.ones(depth.shape, bool)
    out = grow_surfaces(kept, depth, strict, strict, FilterOptions(grow_reach=32, grow_margin=4))
    assert (out[:, 10:25] > 0).all() and not (out[:, 26:] > 0).any()


def test_bad_growth_settings_are_refused():
    for bad in ({"grow_reach": -1}, {"grow_step": -0.1}, {"grow_area": 1.0}, {"grow_views": -1}, {"grow_margin": -1}):
        with pytest.raises(ConfigError, match="grow_"):
            FilterOptions(**bad)


def test_the_filter_grows_a_confirmed_plane_but_not_in_a_masked_view(ring_views):
    from photogrammetry.mvs.filtering import filter_depth

    from .conftest import plane_depth

    depths = {v.name: plane_depth(v, [0, 0, 1], -0.5) for v in ring_views}
    ref = ring_views[0]
    sources = [(ring_views[1], depths[ring_views[1].name]), (ring_views[7], np.zeros_like(depths[ref.name]))]
    confidence = np.full(depths[ref.name].shape, 0.5, np.float32)
    confidence[:, :32] = 0.9  # one agreeing source keeps the left half only (confident_views)
    counts = FilterOptions(min_score=0.0, high_confidence=0.8, grow_reach=0)
    alone = filter_depth(ref, depths[ref.name], confidence, None, sources, counts).depth > 0
    grown = filter_depth(ref, depths[ref.name], confidence, None, sources, FilterOptions(
        min_score=0.0, high_confidence=0.8, grow_reach=8, grow_area=0.0)).depth > 0
    assert alone[:, :32].any() and not alone[:, 32:].any()
    assert grown[:, 32:40].sum() > 50 and not grown[:, 40:].any()  # 8 steps from the kept half, no further
    mask = np.ones_like(alone)
    masked = filter_depth(ref, depths[ref.name], confidence, mask, sources, FilterOptions(
        min_score=0.0, high_confidence=0.8, grow_reach=8, grow_area=0.0)).depth > 0
    assert not masked[:, 32:].any()
