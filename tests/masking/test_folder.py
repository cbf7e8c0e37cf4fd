"""User masks from a folder."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from photogrammetry.errors import InputError
from photogrammetry.masking.folder import candidates, find_mask, folder_fingerprint, read_user_mask


def test_candidates_cover_the_usual_names() -> None:
    assert candidates("ring1/img_001.jpg") == ["ring1/img_001.jpg.png", "ring1/img_001.png", "ring1/img_001_mask.png",
                                               "img_001.jpg.png", "img_001.png", "img_001_mask.png"]


def test_find_and_read(tmp_path: Path) -> None:
    mask = np.zeros((10, 20), np.uint8)
    mask[:, 10:] = 255
    cv2.imwrite(str(tmp_path / "img_001_mask.png"), mask)
    found = find_mask(tmp_path, "ring1/img_001.jpg")
    assert found == tmp_path / "img_001_mask.png"
    assert find_mask(tmp_path, "img_002.jpg") is None
    read = read_user_mask(found, 40, 20)
    assert read.shape == (20, 40) and read[:, 20:].all() and not read[:, :20].any()


def test_fingerprint_follows_content(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 4), np.uint8))
    before = folder_fingerprint(tmp_path)
    cv2.imwrite(str(tmp_path / "a.png"), np.full((4, 4), 255, np.uint8))
    assert folder_fingerprint(tmp_path) != before
    with pytest.raises(InputError, match="does not exist"):
        folder_fingerprint(tmp_path / "missing")
