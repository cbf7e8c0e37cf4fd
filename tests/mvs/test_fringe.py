"""The fringe: an object's depth carried onto the flat background beside it (foreground fattening) is dropped,
the object keeps its own, and small flat patches without depth seed nothing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from photogrammetry.engine.stage import output_affecting_settings
from photogrammetry.errors import ConfigError
from photogrammetry.mvs.filter_options import FilterOptions
from photogrammetry.mvs.texture import fringe, keep_textured
from photogrammetry.stages.depth import DepthConfig

SHAPE = (60, 80)
TOP = 30
"""Rows above this are a uniform sky (touching the border, half the map); the object is below."""
FAT = 6
"""Pixels the sweep carried the object's depth onto the sky above it (and beside its tower)."""
TOWER = slice(36, 44)
"""Columns of a narrow tower that rises from the object into the sky, to row ``TOWER_TOP``."""
TOWER_TOP = 12


def scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(H, W) uint8 grey photo: a textured object (the lower half and a tower) before a uniform sky; the
    kept depth (4.0) on the object and fattened ``FAT`` px onto the sky; the object's pixels; the fringe."""
    rng = np.random.default_rng(seed)
    grey = np.full(SHAPE, 200, np.uint8)
    obj = np.zeros(SHAPE, bool)
    obj[TOP:] = True
    obj[TOWER_TOP:TOP, TOWER] = True
    grey[obj] = rng.integers(40, 180, obj.sum())
    fattened = np.zeros(SHAPE, bool)
    fattened[TOP - FAT:TOP] = True
    fattened[TOWER_TOP - FAT:TOP, TOWER.start - FAT:TOWER.stop + FAT] = True
    fattened &= ~obj
    depth = np.where(obj | fattened, 4.0, 0.0).astype(np.float32)
    return grey, depth, obj, fattened


def test_the_depth_carried_onto_the_sky_beside_an_object_is_dropped_and_the_object_keeps_its_own():
    grey, depth, obj, fattened = scene()
    kept = np.where(keep_textured(depth, grey, 0.01, 2, 0.1), depth, 0.0)
    left = fattened & (kept > 0)
    assert left.sum() > 0.25 * fattened.sum()  # the enclosure keeps part of it: textured 5x5, or enclosed by it
    dropped = fringe(kept, grey, 0.01, 8, 0.1)
    assert not dropped[obj].any()
    beside = cv2.dilate(obj.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0  # their 3x3 reaches the object
    assert (left & ~beside).sum() > 20 and dropped[left & ~beside].all()
    assert not dropped[left & beside].any()  # not flat: one pixel of the fringe stays
    whole = fringe(depth, grey, 0.01, 8, 0.1)  # the whole fattened band (6 px) before the enclosure, too
    assert whole[fattened & ~beside].all() and not whole[obj].any()
    short = fringe(depth, grey, 0.01, 2, 0.1)  # the walk stops after ``reach`` pixels
    assert 0 < short[fattened].sum() < 0.6 * whole[fattened].sum()


def test_no_walk_from_a_small_flat_patch_without_depth_nor_from_a_wall_enclosed_in_the_object():
    grey, depth, obj, fattened = scene()
    depth[:TOP] = 0.0  # no sky depth at all: a small flat patch at the border instead
    patch = (slice(TOP, TOP + 6), slice(0, 20))  # flat, at the border, 2.5 % of the map, half of it kept
    grey[patch] = 120
    depth[TOP:TOP + 3, 0:20] = 0.0
    wall = (slice(42, 52), slice(30, 50))  # a flat wall inside the object, kept
    grey[wall] = 150
    assert not fringe(depth, grey, 0.01, 8, 0.1).any()
    assert fringe(depth, grey, 0.01, 8, 0.0)[TOP + 3:TOP + 6, 0:20].any()  # with no area, the patch seeds


def test_options_are_checked_and_enter_the_depth_key_when_changed():
    with pytest.raises(ConfigError, match="fringe_reach"):
        FilterOptions(fringe_reach=-1)
    with pytest.raises(ConfigError, match="fringe_area"):
        FilterOptions(fringe_area=1.5)
    keys = output_affecting_settings(DepthConfig(filtering=FilterOptions(fringe_reach=4, fringe_area=0.2)))
    assert {"filtering.fringe_reach", "filtering.fringe_area"} <= set(keys)
