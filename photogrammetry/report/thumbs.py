"""Thumbnails: photos scaled down, and depth and confidence maps in colour."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def fit(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` scaled so that its longest side is at most ``size`` pixels (area filter)."""
    height, width = image.shape[:2]
    factor = size / max(height, width)
    if factor >= 1.0:
        return image
    return cv2.resize(image, (max(1, round(width * factor)), max(1, round(height * factor))),
                      interpolation=cv2.INTER_AREA)


def photo(path: Path, size: int) -> np.ndarray | None:
    """An (h, w, 3) uint8 RGB thumbnail of a photo, or ``None`` when it cannot be read."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if bgr is None else fit(bgr, size)[..., ::-1].copy()


def coloured(values: np.ndarray, valid: np.ndarray, low: float, high: float, colormap: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB of ``values`` mapped from [low, high] through an OpenCV colormap; black where
    not ``valid``."""
    span = max(high - low, 1e-12)
    scaled = np.clip((np.nan_to_num(values.astype(np.float64)) - low) / span, 0.0, 1.0)
    rgb = cv2.applyColorMap((scaled * 255).astype(np.uint8), colormap)[..., ::-1].copy()
    rgb[~valid] = 0
    return rgb


def depth_image(depth: np.ndarray, size: int) -> tuple[np.ndarray, tuple[float, float]]:
    """A depth map in colour (turbo, near = blue; black = no depth) and the range of depths shown
    (2nd to 98th percentile of the valid depths)."""
    valid = depth > 0
    low, high = (np.percentile(depth[valid], [2, 98]) if valid.any() else (0.0, 1.0))
    rgb = coloured(depth, valid, float(low), float(high), cv2.COLORMAP_TURBO)
    return fit(rgb, size), (float(low), float(high))


def confidence_image(confidence: np.ndarray, size: int) -> np.ndarray:
    """A confidence map in [0, 1] in colour (viridis: dark = 0, yellow = 1)."""
    rgb = coloured(confidence, np.ones(confidence.shape, dtype=bool), 0.0, 1.0, cv2.COLORMAP_VIRIDIS)
    return fit(rgb, size)
