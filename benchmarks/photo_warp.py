"""One photo resampled into another through a depth and two cameras, scored by ZNCC: the photometric checks of a
real set's yardstick (:func:`benchmarks.mvs_real.photo_scale`, :mod:`benchmarks.photo_focal`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

EDGE = 30.0
"""Sobel gradient magnitude (grey levels 0-255) above which a pixel is textured enough to score."""


def grey(path: Path) -> np.ndarray:
    """(H, W) float32 grey levels of a photo."""
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2GRAY).astype(np.float32)


def textured(grey_image: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose Sobel gradient exceeds :data:`EDGE`."""
    return np.hypot(cv2.Sobel(grey_image, cv2.CV_32F, 1, 0), cv2.Sobel(grey_image, cv2.CV_32F, 0, 1)) > EDGE


def zncc(a: np.ndarray, b: np.ndarray, valid: np.ndarray, radius: int = 3) -> np.ndarray:
    """(H, W) zero-mean normalised cross-correlation of ``a`` and ``b`` in windows over ``valid`` pixels."""
    size, weight = (2 * radius + 1,) * 2, valid.astype(np.float32)
    box = lambda x: cv2.boxFilter(x * weight, -1, size, normalize=False)  # noqa: E731
    n = box(np.ones_like(a)) + 1e-6
    ma, mb = box(a) / n, box(b) / n
    cov, va, vb = box(a * b) / n - ma * mb, box(a * a) / n - ma**2, box(b * b) / n - mb**2
    return cov / np.sqrt(np.maximum(va * vb, 1e-6))


def warped_zncc(grey_a: np.ndarray, grey_b: np.ndarray, pixels: np.ndarray, uv: np.ndarray, where: np.ndarray,
                min_pixels: int) -> float:
    """Median 7x7 ZNCC of photo ``a`` (H, W) and photo ``b`` resampled at ``uv`` ((N, 2) pixel coordinates in
    ``b``, pixel centres at +0.5) for ``a``'s flat pixel indices ``pixels`` (N,), over the ``where`` pixels
    (H, W bool) that land inside ``b``; NaN where fewer than ``min_pixels`` do."""
    maps = [np.full(grey_a.shape, -10, np.float32) for _ in range(2)]
    for k in range(2):
        maps[k].flat[pixels] = uv[:, k] - 0.5
    warped = cv2.remap(grey_b, maps[0], maps[1], cv2.INTER_LINEAR, borderValue=-1)
    seen = warped >= 0
    scores = zncc(grey_a, warped, seen)[seen & where]
    return float(np.median(scores)) if len(scores) >= min_pixels else float("nan")
