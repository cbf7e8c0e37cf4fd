"""Extraction sizes, keypoint rescaling, masks, bounded prefetching and the scratch files."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from photogrammetry.errors import InputError
from photogrammetry.features.images import extraction_size, inside_mask, load_for_extraction, rescale_keypoints
from photogrammetry.features.prefetch import prefetch
from photogrammetry.io.features import (Features, Matches, feature_set, load_features_scratch, load_matches_scratch,
                                        save_features_scratch, save_matches_scratch, write_features)


@pytest.mark.parametrize("size, resize_max, expected", [
    ((640, 480), 0, (640, 480)), ((640, 480), 1000, (640, 480)), ((640, 480), 320, (320, 240)),
    ((480, 640), 320, (240, 320)), ((1001, 333), 500, (500, 166)),
])
def test_extraction_size(size, resize_max, expected) -> None:
    assert extraction_size(*size, resize_max) == expected


@pytest.mark.parametrize("size, resize_min, expected", [
    ((640, 480), 1280, (1280, 960)), ((480, 640), 1280, (960, 1280)), ((2000, 1000), 1280, (1600, 800)),
    ((1400, 700), 1280, (1400, 700)), ((640, 480), 0, (640, 480)),
])
def test_small_images_are_upsampled_to_resize_min(size, resize_min, expected) -> None:
    assert extraction_size(*size, 1600, resize_min) == expected


@pytest.mark.parametrize("size, resize_max, resize_min, expected", [
    ((320, 240), 640, 1024, (640, 480)), ((800, 600), 640, 1024, (640, 480)), ((320, 240), 0, 1024, (1024, 768)),
])
def test_upsampling_stops_at_resize_max(size, resize_max, resize_min, expected) -> None:
    assert extraction_size(*size, resize_max, resize_min) == expected


def test_rescale_is_exact_in_colmap_convention() -> None:
    corners = np.array([[0, 0], [320, 240], [160.5, 0.25]], np.float32)
    np.testing.assert_allclose(rescale_keypoints(corners, (320, 240), (640, 480)), [[0, 0], [640, 480], [321, 0.5]])


def test_inside_mask_uses_the_pixel_under_the_keypoint() -> None:
    mask = np.zeros((4, 4), bool)
    mask[1, 2] = True
    points = np.array([[2.0, 1.0], [2.99, 1.99], [1.99, 1.5], [2.5, 2.0]], np.float32)
    np.testing.assert_array_equal(inside_mask(points, mask), [True, True, False, False])


def test_load_for_extraction_resizes_image_and_mask(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.full((200, 300, 3), 90, np.uint8))
    mask = np.zeros((200, 300), np.uint8)
    mask[:, 150:] = 255
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    image = load_for_extraction(tmp_path / "a.png", tmp_path / "m.png", 150)
    assert image.size == (150, 100) and image.original_size == (300, 200)
    assert image.mask.shape == (100, 150) and image.mask[:, 80:].all() and not image.mask[:, :70].any()
    cv2.imwrite(str(tmp_path / "small.png"), mask[:100])
    with pytest.raises(InputError, match="300x100, its image 300x200"):
        load_for_extraction(tmp_path / "a.png", tmp_path / "small.png", 0)
    with pytest.raises(InputError, match="cannot read image"):
        load_for_extraction(tmp_path / "nope.png", None, 0)


def test_prefetch_keeps_order_and_bounds_what_waits() -> None:
    running, peak, lock = [0], [0], threading.Lock()

    def work(x: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.002)
        with lock:
            running[0] -= 1
        return x * x

    started: list[int] = []

    def items():
        for i in range(30):
            started.append(i)
            yield i

    out = []
    for value in prefetch(work, items(), workers=3, ahead=4):
        out.append(value)
        assert len(started) <= len(out) + 4
    assert out == [i * i for i in range(30)] and peak[0] <= 3


def test_prefetch_raises_at_the_failing_item() -> None:
    def work(x: int) -> int:
        if x == 3:
            raise ValueError("bad item")
        return x

    seen = []
    with pytest.raises(ValueError, match="bad item"):
        for value in prefetch(work, range(10), workers=2, ahead=2):
            seen.append(value)
    assert seen == [0, 1, 2]


def test_scratch_round_trips_and_feature_set(tmp_path: Path) -> None:
    feats = Features(np.array([[1.5, 2.5]], np.float32), np.ones(1, np.float32), np.ones((1, 4), np.uint8), (9, 7))
    save_features_scratch(tmp_path / ".f" / "a.npz", feats)
    back = load_features_scratch(tmp_path / ".f" / "a.npz")
    np.testing.assert_array_equal(back.descriptors, feats.descriptors)
    assert back.image_size == (9, 7) and back.descriptors.dtype == np.uint8
    matches = Matches(np.array([[0, 0]], np.int32), np.array([0.5], np.float32))
    save_matches_scratch(tmp_path / ".m" / "p.npz", matches)
    np.testing.assert_array_equal(load_matches_scratch(tmp_path / ".m" / "p.npz").indices, matches.indices)
    assert [p.name for p in (tmp_path / ".m").iterdir()] == ["p.npz"]  # no temporary left behind
    write_features(tmp_path / "features.h5", [("a", feats), ("b", feats)], "sift")
    assert feature_set(tmp_path / "features.h5").extractor == "sift"
