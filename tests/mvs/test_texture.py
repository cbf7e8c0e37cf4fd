"""Depths on flat pixels: a uniform sky loses its depths, textured geometry and enclosed flat walls keep theirs."""

from __future__ import annotations

import numpy as np
import pytest

from photogrammetry.engine.stage import output_affecting_settings
from photogrammetry.errors import ConfigError
from photogrammetry.mvs.filtering import FilterOptions, filter_depth
from photogrammetry.mvs.texture import local_contrast, keep_textured
from photogrammetry.stages.depth import DepthConfig

from .conftest import plane_depth

SKY_ROWS = 14
"""The reference photo's top rows: a uniform sky (touching the border, no texture above it)."""
WALL = (slice(26, 36), slice(20, 44))
"""A flat patch (a white wall) with texture on every side."""


def photo(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """(H, W) uint8 grey: noise texture below a uniform sky, with a flat wall patch in the texture."""
    rng = np.random.default_rng(seed)
    grey = rng.integers(40, 215, shape).astype(np.uint8)
    grey[:SKY_ROWS] = 200
    grey[WALL] = 180
    return grey


def scene(ring_views):
    """The reference, its two sources and every view's depth of one world plane: in the sky too, as a
    smoothing sweep carries the depth of the textured surface below into it, and the sources agree."""
    depths = {v.name: plane_depth(v, [1, 0, 0], -1.5) for v in ring_views}
    ref, sources = ring_views[0], [ring_views[1], ring_views[7]]
    return ref, depths[ref.name], [(s, depths[s.name]) for s in sources]


def test_the_sky_loses_its_depths_and_textured_geometry_and_an_enclosed_wall_keep_theirs(ring_views):
    ref, depth, sources = scene(ring_views)
    confident = np.full_like(depth, 0.9)
    grey = photo(depth.shape)
    before = filter_depth(ref, depth, confident, None, sources, FilterOptions()).depth > 0
    after = filter_depth(ref, depth, confident, None, sources, FilterOptions(), grey=grey).depth > 0
    sky = np.zeros(depth.shape, bool)
    sky[:SKY_ROWS - 3] = True  # the window's radius below the sky's edge still sees texture
    assert before[sky].mean() > 0.5  # the consistency check alone keeps the sky
    assert not after[sky].any()
    textured = before.copy()
    textured[:SKY_ROWS] = False
    assert after[textured].mean() == 1.0  # the wall and the textured plane around it all stay
    assert before[WALL].mean() > 0.5 and after[WALL].all()


def test_a_mask_or_a_zero_minimum_turns_the_check_off(ring_views):
    ref, depth, sources = scene(ring_views)
    confident = np.full_like(depth, 0.9)
    grey = photo(depth.shape)
    before = filter_depth(ref, depth, confident, None, sources, FilterOptions()).depth
    off = filter_depth(ref, depth, confident, None, sources, FilterOptions(min_contrast=0), grey=grey).depth
    assert np.array_equal(before, off)
    mask = np.ones(depth.shape, bool)
    masked = filter_depth(ref, depth, confident, mask, sources, FilterOptions(), grey=grey).depth
    assert np.array_equal(before, masked)


def test_a_flat_pixel_keeps_its_depth_only_where_the_enclosing_depths_imply_it():
    depth = np.full((20, 30), 4.0, np.float32)
    grey = np.random.default_rng(1).integers(0, 255, depth.shape).astype(np.uint8)
    grey[5:15, 10:20] = 128  # flat, textured on every side
    assert keep_textured(depth, grey, 0.01, 1, 0.1).all()
    bumped = depth.copy()
    bumped[8:12, 13:17] = 5.0  # 20 % off the plane the textured sides imply
    kept = keep_textured(bumped, grey, 0.01, 1, 0.1)
    assert not kept[8:12, 13:17].any() and kept[:5].all()
    sky = grey.copy()
    sky[:5] = 128  # a flat band along the top border, reaching down between two textured towers
    sky[:15, 10:20] = 128
    kept = keep_textured(depth, sky, 0.01, 1, 0.1)
    assert not kept[:4].any()  # neither its row nor its column holds texture on both sides
    assert kept[6:15, 12:18].all()  # between the towers: enclosed along the rows


def test_contrast_is_relative_to_the_local_brightness():
    flat = np.full((9, 9), 100, np.uint8)
    assert np.allclose(local_contrast(flat, 2), 0.0)
    pattern = 1 + 0.1 * np.random.default_rng(2).standard_normal((9, 9)).astype(np.float32)
    dark, bright = local_contrast(0.2 * pattern, 2), local_contrast(0.8 * pattern, 2)
    assert np.allclose(dark, bright, rtol=1e-4) and 0.05 < bright[4, 4] < 0.15
    assert np.allclose(local_contrast((200 * pattern).astype(np.uint8), 2), local_contrast(200 * pattern / 255, 2),
                       atol=0.01)


def test_options_are_checked_and_enter_the_depth_key_when_changed():
    with pytest.raises(ConfigError, match="min_contrast"):
        FilterOptions(min_contrast=-1)
    with pytest.raises(ConfigError, match="texture_radius"):
        FilterOptions(texture_radius=0)
    changed = DepthConfig(filtering=FilterOptions(min_contrast=0.02, texture_radius=3, enclosed_tolerance=0.2))
    keys = output_affecting_settings(changed)
    assert {"filtering.min_contrast", "filtering.texture_radius", "filtering.enclosed_tolerance"} <= set(keys)
