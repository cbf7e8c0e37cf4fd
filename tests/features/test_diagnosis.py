"""Why an image gave no keypoints: each cause told apart on small made-up images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from photogrammetry.features.diagnosis import ADVICE, NoKeypoints, describe, why_no_keypoints
from tests.io.photo_factory import texture


def _write(path: Path, image: np.ndarray) -> Path:
    cv2.imwrite(str(path), image)
    return path


@pytest.mark.parametrize("image, mask, cause, detail", [
    (np.full((1, 1, 3), 90, np.uint8), None, "too small", "1 x 1 pixels"),
    (texture(20, 300), None, "too small", "20 x 300 pixels"),
    (texture(64, 48), np.zeros((48, 64), np.uint8), "all masked", "its mask keeps no pixel"),
    (np.full((48, 64, 3), 128, np.uint8), None, "textureless", "grey levels vary by 0.0"),
    (texture(64, 48), None, "too little detail", "grey levels vary by"),
])
def test_each_cause_is_told_apart(tmp_path: Path, image, mask, cause: str, detail: str) -> None:
    photo = _write(tmp_path / "photo.png", image)
    mask_file = _write(tmp_path / "mask.png", mask) if mask is not None else None
    found = why_no_keypoints(photo, mask_file)
    assert found.cause == cause and detail in found.detail


def test_textureless_is_measured_inside_the_mask(tmp_path: Path) -> None:
    image = np.full((48, 64, 3), 128, np.uint8)
    image[:, :8] = texture(8, 48)  # detail only where the mask drops it
    mask = np.zeros((48, 64), np.uint8)
    mask[:, 16:] = 255
    found = why_no_keypoints(_write(tmp_path / "p.png", image), _write(tmp_path / "m.png", mask))
    assert found.cause == "textureless"
    assert why_no_keypoints(tmp_path / "p.png", None).cause == "too little detail"


def test_describe_groups_images_by_cause_with_what_to_try() -> None:
    causes = {f"p{i}.png": NoKeypoints("textureless", "grey levels vary by 0.0") for i in range(7)}
    causes["tiny.png"] = NoKeypoints("too small", "1 x 1 pixels")
    text = describe(causes, limit=5)
    assert text.startswith("textureless: p0.png (grey levels vary by 0.0), ")
    assert "p4.png (grey levels vary by 0.0) and 2 more; " + ADVICE["textureless"] in text
    assert "p5.png" not in text
    assert "too small: tiny.png (1 x 1 pixels); " + ADVICE["too small"] in text
