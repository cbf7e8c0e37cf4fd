"""Whether a capture's camera stood still: a turntable or a tripod in front of a static background.

A camera that moves shifts every textured pixel of the background between photos; a fixed
camera in front of a turning object leaves the background's texture where it was. So the share of
textured pixels whose grey level stays put between two photos separates the two: 0.80-0.84 on the
sample turntable, at most 0.23 on the orbit, the facade, the temple ring (plain black background),
the fountain, the landmark photos and the office walk (every pair of 8 photos spread over each set).
A plain backdrop (a light box) has no texture to tell, and reads as moving: its matches then do not
stand still either, which is what the ``turntable`` preset is for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from photogrammetry.masking.background import work_shape

STILL_SHARE = 0.5
"""Median share of still textured pixels over the pairs of photos from which the camera stood still."""
SAME_SHARE = 0.995
"""... and up to which something turned in front of it: copies of one photo are no turntable."""


@dataclass(frozen=True)
class StillCamera:
    """How still the background stands in a sample of a capture's photos."""

    share: float
    """Median over the pairs of sampled photos of the share of textured pixels that stay put."""
    photos: int
    """Photos or video frames read (pairs of different sizes are left out)."""

    @property
    def still(self) -> bool:
        """The camera stood still while something in front of it moved."""
        return STILL_SHARE <= self.share < SAME_SHARE


def load_grey(path: Path, work_size: int) -> np.ndarray | None:
    """A photo as grey levels, upright and shrunk to ``work_size`` (longest side); ``None`` where the
    file is no image this reads (ingest says what is wrong with it)."""
    try:
        with Image.open(path) as image:
            image.draft("L", (2 * work_size, 2 * work_size))  # JPEG: decode at a fraction of the size
            grey = ImageOps.exif_transpose(image).convert("L")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    grey.thumbnail((work_size, work_size), Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.float32)


def sobel(image: np.ndarray, axis: int) -> np.ndarray:
    """The Sobel derivative of a 2-D float32 image ``(H, W)`` along ``axis`` (0: down the rows), mirrored
    edges: OpenCV's, the same values as ``scipy.ndimage.sobel`` (tested), without importing
    ``scipy.ndimage``, which took 0.13-0.5 s of every ``auto`` run's preset choice."""
    return cv2.Sobel(image, cv2.CV_32F, axis, 1 - axis, ksize=3, borderType=cv2.BORDER_REFLECT)


def still_share(a: np.ndarray, b: np.ndarray, *, min_gradient: float = 8.0, max_difference: float = 6.0) -> float:
    """Share of the pixels textured in ``a`` or ``b`` (gradient of ``min_gradient`` grey levels per pixel)
    whose grey level differs by less than ``max_difference`` once ``b``'s exposure matches ``a``'s."""
    if a.shape != b.shape:
        return float("nan")
    b = b * (np.median(a) / max(float(np.median(b)), 1.0))  # an automatic exposure changes the gain only

    def textured(image: np.ndarray) -> np.ndarray:
        return np.hypot(sobel(image, 0), sobel(image, 1)) / 8.0 > min_gradient

    mask = textured(a) | textured(b)
    if mask.sum() < 0.01 * mask.size:  # nothing to tell by
        return 0.0
    return float((np.abs(a - b)[mask] < max_difference).mean())


def video_greys(path: Path, *, sample: int = 8, work_size: int = 160) -> list[np.ndarray]:
    """Up to ``sample`` frames spread evenly over the video ``path``, as grey levels shrunk to
    ``work_size``; none where OpenCV cannot read it (ingest says so)."""
    capture = cv2.VideoCapture(str(path))
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        greys = []
        for index in sorted({round(i) for i in np.linspace(0, max(count - 1, 0), min(sample, count))}):
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = capture.read()
            if ok and frame is not None:
                grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
                size = work_shape(grey.shape[1], grey.shape[0], work_size)
                greys.append(cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32))
        return greys
    finally:
        capture.release()


def still_camera(paths: Sequence[Path], *, sample: int = 8, work_size: int = 160,
                 video: Path | None = None) -> StillCamera | None:
    """How still the background stands over ``sample`` photos spread evenly over ``paths`` (in capture
    order), or where there are no photos, over frames of ``video``; ``None`` where fewer than 3 of them
    read as images of one size."""
    if len(paths) >= 3:
        picks = sorted({round(i) for i in np.linspace(0, len(paths) - 1, min(sample, len(paths)))})
        images = [image for image in (load_grey(paths[i], work_size) for i in picks) if image is not None]
    else:
        images = video_greys(video, sample=sample, work_size=work_size) if video is not None else []
    shares = [s for a, b in combinations(images, 2) if not np.isnan(s := still_share(a, b))]
    if len(images) < 3 or not shares:
        return None
    return StillCamera(share=float(np.median(shares)), photos=len(images))
