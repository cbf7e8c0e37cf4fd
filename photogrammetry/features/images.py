"""Images as extractors see them: read, resized for extraction, and keypoints mapped back.

Keypoints are in COLMAP's pixel convention everywhere outside an extractor: the centre of the
top-left pixel is ``(0.5, 0.5)`` and an image of width ``W`` spans ``[0, W]``. In that
convention a resize by ``(sx, sy)`` maps ``u`` to ``u * sx`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from photogrammetry.errors import InputError
from photogrammetry.io.masks import read_mask


@dataclass(frozen=True)
class ExtractionImage:
    """One image prepared for an extractor."""

    rgb: np.ndarray
    """``(H, W, 3)`` uint8 RGB at extraction size."""
    mask: np.ndarray | None
    """``(H, W)`` bool, true where keypoints may be, at extraction size; ``None``: everywhere."""
    original_size: tuple[int, int]
    """``(width, height)`` of the prepared image the keypoints must refer to."""

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` at extraction size."""
        return self.rgb.shape[1], self.rgb.shape[0]


def extraction_size(width: int, height: int, resize_max: int, resize_min: int = 0) -> tuple[int, int]:
    """``(width, height)`` with the longest side at most ``resize_max`` and at least ``resize_min``
    (0: no limit); where ``resize_min`` exceeds ``resize_max``, small images are upsampled to
    ``resize_max`` only (a preset's ``resize_min`` under a user's smaller ``resize_max``)."""
    longest = max(width, height)
    least = min(resize_min, resize_max) if resize_max > 0 else resize_min
    if resize_max > 0 and longest > resize_max:
        scale = resize_max / longest
    elif least > 0 and longest < least:
        scale = least / longest
    else:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def read_rgb(path: Path) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of an image file."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"cannot read image {path}; rerun the ingest stage (--force ingest)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def load_for_extraction(image: Path, mask: Path | None, resize_max: int, resize_min: int = 0) -> ExtractionImage:
    """Read an image (and its mask) and resize it so that its longest side lies in
    ``[resize_min, resize_max]`` (see :func:`extraction_size`)."""
    rgb = read_rgb(image)
    height, width = rgb.shape[:2]
    size = extraction_size(width, height, resize_max, resize_min)
    if size != (width, height):
        shrink = size[0] < width
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    keep = None
    if mask is not None:
        keep = read_mask(mask)
        if keep.shape != (height, width):
            raise InputError(f"mask {mask} is {keep.shape[1]}x{keep.shape[0]}, its image {width}x{height}")
        if size != (width, height):
            keep = cv2.resize(keep.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return ExtractionImage(rgb=rgb, mask=keep, original_size=(width, height))


def rescale_keypoints(keypoints: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]) -> np.ndarray:
    """Map COLMAP-convention keypoints ``(N, 2)`` from an image of ``from_size`` to ``to_size``."""
    scale = np.array([to_size[0] / from_size[0], to_size[1] / from_size[1]], np.float64)
    return (keypoints.astype(np.float64) * scale).astype(np.float32)


def inside_mask(keypoints: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(N,)`` bool: which COLMAP-convention keypoints ``(N, 2)`` fall on true pixels of ``mask``."""
    height, width = mask.shape
    cols = np.clip(np.floor(keypoints[:, 0]).astype(np.int64), 0, width - 1)
    rows = np.clip(np.floor(keypoints[:, 1]).astype(np.int64), 0, height - 1)
    return mask[rows, cols]
