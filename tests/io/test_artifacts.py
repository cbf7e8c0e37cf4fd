"""The small artifact formats of :mod:`photogrammetry.io`: masks, scale, undistort, pairs round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from photogrammetry.errors import InputError
from photogrammetry.io.features import load_pairs, save_pairs
from photogrammetry.io.masks import load_mask_set, read_mask, save_mask_set, write_mask
from photogrammetry.io.scale import ScaleInfo, load_scale, save_scale
from photogrammetry.io.undistort import load_undistort, save_undistort


def test_masks_round_trip(tmp_path):
    mask = np.zeros((5, 7), bool)
    mask[1:3, 2:6] = True
    rel = write_mask(tmp_path, "sub/a.jpg", mask)
    save_mask_set(tmp_path, "background", {"sub/a.jpg": rel, "b.jpg": None})
    loaded = load_mask_set(tmp_path)
    assert loaded.count == 1 and loaded.mask_path("b.jpg") is None
    assert np.array_equal(read_mask(loaded.mask_path("sub/a.jpg")), mask)
    with pytest.raises(InputError, match="--force masks"):
        read_mask(tmp_path / "missing.png")


def test_scale_states_its_units(tmp_path):
    save_scale(tmp_path, ScaleInfo(method="radius", units="metres", scale=0.02, relative_uncertainty=0.01,
                                   samples=12))
    loaded = load_scale(tmp_path)
    assert loaded.units == "metres" and loaded.info.scale == 0.02 and loaded.model == tmp_path / "model"


def test_undistort_round_trips_its_units_and_reads_older_artifacts_as_sfm(tmp_path):
    save_undistort(tmp_path, ("a.jpg", "b.jpg"), units="metres")
    loaded = load_undistort(tmp_path)
    assert loaded.images == ("a.jpg", "b.jpg") and loaded.units == "metres" and loaded.masks_dir is None
    (tmp_path / "masks").mkdir()
    assert load_undistort(tmp_path).masks_dir == tmp_path / "masks"
    (tmp_path / "undistort.json").write_text(json.dumps({"images": ["a.jpg"]}))
    assert load_undistort(tmp_path).units == "sfm"


def test_pairs_round_trip(tmp_path):
    save_pairs(tmp_path, [("a.jpg", "sub/b.jpg"), ("b", "c")])
    assert load_pairs(tmp_path).pairs == (("a.jpg", "sub/b.jpg"), ("b", "c"))
