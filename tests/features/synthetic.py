"""Deterministic textured images and views of a plane under known homographies.

Homographies returned here map COLMAP-convention pixels (centre of the top-left pixel at
``(0.5, 0.5)``) of one image to the other, so they check keypoint conventions exactly.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def textured_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB: multi-scale smooth noise with random shapes (many corners and blobs)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.float32)
    for cell, weight in ((4, 0.25), (12, 0.35), (40, 0.4)):
        small = rng.random((max(2, height // cell), max(2, width // cell), 3)).astype(np.float32)
        image += weight * cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    image = np.clip(image * 255, 0, 255).astype(np.uint8)
    for _ in range(width * height // 2500):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(3, 14))
        if rng.random() < 0.5:
            cv2.circle(image, (x, y), size, color, -1)
        else:
            cv2.rectangle(image, (x, y), (x + size, y + int(rng.integers(3, 14))), color, -1)
    return image


def to_colmap(h_cv: np.ndarray) -> np.ndarray:
    """A homography between OpenCV pixel coordinates (centres at integers) in COLMAP's convention."""
    shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    return shift @ h_cv @ np.linalg.inv(shift)


def random_homography(width: int, height: int, rng: np.random.Generator, strength: float = 0.08) -> np.ndarray:
    """A mild homography in OpenCV pixel coordinates: corners moved by up to ``strength`` of the size."""
    src = np.float32([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]])
    jitter = rng.uniform(-strength, strength, (4, 2)) * np.array([width, height])
    return cv2.getPerspectiveTransform(src, (src + jitter).astype(np.float32))


def warp(image: np.ndarray, h_cv: np.ndarray) -> np.ndarray:
    """``image`` warped by the OpenCV homography ``h_cv`` (same size, black outside)."""
    height, width = image.shape[:2]
    return cv2.warpPerspective(image, h_cv, (width, height), flags=cv2.INTER_LINEAR)


def apply_homography(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(N, 2)`` points mapped by the homography ``h``."""
    x = np.hstack([points, np.ones((len(points), 1))]) @ h.T
    return x[:, :2] / x[:, 2:]


def plane_views(count: int, width: int = 320, height: int = 240, seed: int = 0) -> tuple[list[np.ndarray], list]:
    """Views of one textured plane: image ``i`` is the base image warped by ``H_i`` (COLMAP convention).

    Returns:
        The RGB images and, per image, the homography from image 0's pixels to its pixels.
    """
    rng = np.random.default_rng(seed)
    base = textured_image(width, height, seed)
    images, homographies = [base], [np.eye(3)]
    for _ in range(count - 1):
        h_cv = random_homography(width, height, rng)
        images.append(warp(base, h_cv))
        homographies.append(to_colmap(h_cv))
    return images, homographies


def write_images(folder: Path, images: list[np.ndarray], suffix: str = ".png") -> list[str]:
    """Write RGB images as ``view_000.png`` ...; returns their names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, rgb in enumerate(images):
        name = f"view_{i:03d}{suffix}"
        cv2.imwrite(str(folder / name), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        names.append(name)
    return names
