"""Background masks: a static textured background, an object that changes from frame to frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from photogrammetry.masking.background import (BackgroundOptions, background_masks, clean_mask, estimate_background,
                                               full_size, work_shape)


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    small = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def turntable_frames(n: int = 12, size: tuple[int, int] = (160, 120), seed: int = 0) -> tuple[list, list]:
    """``n`` frames of a fixed camera: static texture, a textured greenish blob in the middle whose
    texture and outline change with the frame (an object turning). Returns frames and true masks."""
    rng = np.random.default_rng(seed)
    w, h = size
    background = _texture(rng, h, w) // 2 * [1, 0, 1] + [0, 0, 60]  # no green
    frames, masks = [], []
    for k in range(n):
        mask = np.zeros((h, w), np.uint8)
        angle = 2 * np.pi * k / n
        cv2.ellipse(mask, (w // 2, h // 2), (int(25 + 4 * np.cos(angle)), 40), 0, 0, 360, 1, -1)
        cv2.circle(mask, (int(w / 2 + 30 * np.sin(angle)), h // 2 - 20), 10, 1, -1)
        frame = np.where(mask[..., None] > 0, _texture(rng, h, w) // 2 * [1, 2, 0] + [20, 0, 20], background)
        frames.append(frame.astype(np.uint8))
        masks.append(mask > 0)
    return frames, masks


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_background_masks_find_the_moving_object(tmp_path: Path) -> None:
    frames, truth = turntable_frames()
    paths = []
    for k, frame in enumerate(frames):
        paths.append(tmp_path / f"f{k:02d}.png")
        cv2.imwrite(str(paths[-1]), frame)
    masks = background_masks(paths, BackgroundOptions(work_size=160))
    ious = [_iou(m, t) for m, t in zip(masks, truth)]
    assert min(ious) > 0.8, ious
    assert masks[0].shape == truth[0].shape


def test_pixels_always_covered_count_as_object() -> None:
    frames, truth = turntable_frames()
    background = estimate_background(np.stack(frames), BackgroundOptions())
    always = np.logical_and.reduce(truth)
    assert background.unstable[always].mean() > 0.9
    assert background.unstable[~np.logical_or.reduce(truth)].mean() < 0.01


def test_estimate_needs_three_frames() -> None:
    with pytest.raises(ValueError, match="N >= 3"):
        estimate_background(np.zeros((2, 8, 8, 3), np.uint8), BackgroundOptions())


def test_clean_mask_drops_specks_and_fills_holes() -> None:
    mask = np.zeros((100, 100), bool)
    mask[20:80, 20:80] = True
    mask[45:55, 45:55] = False  # a hole
    mask[5, 5] = True  # a speck
    cleaned = clean_mask(mask, 0.05)
    assert cleaned[50, 50] and not cleaned[5, 5] and cleaned[20:80, 20:80].all()


def test_sizes() -> None:
    assert work_shape(1600, 1200, 640) == (640, 480)
    assert work_shape(320, 240, 640) == (320, 240)
    small = np.zeros((48, 64), bool)
    small[10:20, 10:30] = True
    assert full_size(small, 128, 96)[20:40, 20:60].all()
