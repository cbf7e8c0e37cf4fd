"""The COLMAP SIFT assist honours the object masks (no keypoint on the background)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pycolmap

from photogrammetry.io.masks import MaskSet
from photogrammetry.sfm.sift import _extract_and_match
from photogrammetry.stages.sfm import sift_masks

SAMPLE = Path(__file__).resolve().parents[2] / "sample_scenes" / "orbit" / "images"


def _keypoint_columns(database: Path) -> dict[str, np.ndarray]:
    with pycolmap.Database.open(database) as db:
        return {im.name: db.read_keypoints(im.image_id)[:, 0] for im in db.read_all_images()}


def test_sift_keypoints_stay_inside_the_masks(tmp_path):
    names = ["view_000.jpg", "view_001.jpg"]
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for name in names:
        shutil.copy(SAMPLE / name, images / name)
        mask = np.zeros((480, 640), np.uint8)
        mask[:, :320] = 255  # the left half is the "object"
        cv2.imwrite(str(masks / f"{name}.png"), mask)
    _extract_and_match(tmp_path / "plain.db", images, names, [(1, 2)], 2000, 1)
    _extract_and_match(tmp_path / "masked.db", images, names, [(1, 2)], 2000, 1, masks)
    plain, masked = _keypoint_columns(tmp_path / "plain.db"), _keypoint_columns(tmp_path / "masked.db")
    for name in names:
        assert (plain[name] > 330).sum() > 100  # the right half has texture to detect
        assert len(masked[name]) > 100 and masked[name].max() < 330  # a few px of blob support


def test_masks_reach_sift_only_when_every_image_has_one(tmp_path, caplog):
    log = logging.getLogger("test-sift-masks")
    assert sift_masks(None, log) is None
    assert sift_masks(MaskSet(tmp_path, "none", {"a.jpg": None}), log) is None
    full = MaskSet(tmp_path, "background", {"a.jpg": "masks/a.jpg.png", "b.jpg": "masks/b.jpg.png"})
    assert sift_masks(full, log) == tmp_path / "masks"
    with caplog.at_level(logging.WARNING, logger="test-sift-masks"):
        partial = MaskSet(tmp_path, "ingest", {"a.jpg": "masks/a.jpg.png", "b.jpg": None})
        assert sift_masks(partial, log) is None
    assert "1 of 2 images have masks" in caplog.text
