"""Masks from a static background: a fixed camera, an object turning on a platform.

The background (wall, table) stays still while the object and its platform turn, so:

1. every frame is shrunk to ``work_size`` and blurred; the per-pixel median over the frames
   is the background estimate;
2. a pixel is *unstable* when fewer than ``stable_fraction`` of the frames agree with that
   median (within ``tolerance``): the object covers it in most frames (as it does on a
   turntable), so the median there is no background and the pixel is object in every frame;
3. in each frame, pixels that differ from the median by more than ``threshold``, plus the
   unstable ones, are the object; morphology removes specks and closes gaps, components
   smaller than ``min_area`` of the largest are dropped and holes filled;
4. GrabCut (OpenCV) refines the boundary from colour models, seeded with the eroded mask as
   sure object, the band around it as uncertain and the rest as sure background.

The platform turns with the object, so it is part of the object's mask (it is rigid with the
object and gives structure from motion features).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from photogrammetry.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class BackgroundOptions:
    """Settings of the background method (turntables: a fixed camera in front of a static background)."""

    work_size: int = 640
    """Longest side, in pixels, the frames are shrunk to for the estimate."""
    tolerance: float = 20.0
    """Colour difference (0-255, largest over channels) within which a frame agrees with the median."""
    stable_fraction: float = 0.6
    """A pixel is background-like when at least this fraction of frames agree with the median; where
    fewer do, the object covers it in most frames and it counts as object in all."""
    max_frames: int = 48
    """Most frames (evenly spread) used for the background estimate."""
    threshold: float = 30.0
    """Colour difference to the median above which a pixel is object in a frame."""
    min_area: float = 0.05
    """Connected parts smaller than this fraction of the largest part are dropped."""
    grabcut_iterations: int = 3
    """GrabCut iterations refining each mask; 0 skips GrabCut."""

    def __post_init__(self) -> None:
        if self.work_size < 64 or self.max_frames < 3:
            raise ConfigError(f"work_size must be >= 64 and max_frames >= 3, got {self.work_size}, {self.max_frames}")
        if not 0.0 < self.stable_fraction <= 1.0 or not 0.0 <= self.min_area <= 1.0:
            raise ConfigError("stable_fraction must be within (0, 1] and min_area within [0, 1]")
        if self.tolerance <= 0 or self.threshold <= 0 or self.grabcut_iterations < 0:
            raise ConfigError("tolerance and threshold must be > 0, grabcut_iterations >= 0")


@dataclass(frozen=True)
class Background:
    """The static background estimated from a sequence."""

    median: np.ndarray
    """(h, w, 3) uint8 per-pixel median of the shrunk, blurred frames."""
    unstable: np.ndarray
    """(h, w) bool: pixels the object covers in most frames (no background estimate there)."""


def work_shape(width: int, height: int, work_size: int) -> tuple[int, int]:
    """``(w, h)`` of a ``width`` x ``height`` frame shrunk so its longest side is at most ``work_size``."""
    scale = min(1.0, work_size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def load_frame(path: Path, work_size: int) -> np.ndarray:
    """A photo shrunk to ``work_size`` and blurred (5 x 5 Gaussian): (h, w, 3) uint8."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read {path}")
    size = work_shape(image.shape[1], image.shape[0], work_size)
    if size != (image.shape[1], image.shape[0]):
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(image, (5, 5), 0)


def _difference(frame: np.ndarray, median: np.ndarray) -> np.ndarray:
    """(h, w) largest absolute channel difference between a frame and the median."""
    return np.abs(frame.astype(np.int16) - median.astype(np.int16)).max(axis=2)


def estimate_background(frames: np.ndarray, options: BackgroundOptions) -> Background:
    """The background of a fixed camera's frames.

    Args:
        frames: (N, h, w, 3) uint8 frames of one camera, N >= 3 (at most ``max_frames``,
            evenly spread, are used).
        options: Tolerances.
    """
    if frames.ndim != 4 or frames.shape[0] < 3:
        raise ValueError(f"the background needs (N >= 3, h, w, 3) frames, got {frames.shape}")
    sample = frames[::max(1, -(-len(frames) // options.max_frames))]
    median = np.median(sample, axis=0).astype(np.uint8)
    agree = np.zeros(frames.shape[1:3], np.float32)
    for frame in sample:
        agree += _difference(frame, median) < options.tolerance
    return Background(median=median, unstable=agree / len(sample) < options.stable_fraction)


def clean_mask(mask: np.ndarray, min_area: float) -> np.ndarray:
    """Open, close, drop small parts and fill holes of a (h, w) bool mask."""
    side = max(3, round(max(mask.shape) / 128)) | 1
    m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((side, side), np.uint8))
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((2 * side + 1, 2 * side + 1), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if count <= 1:
        return np.zeros(mask.shape, bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= min_area * areas.max()) + 1
    m = np.isin(labels, keep).astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(m)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled > 0


def grabcut(frame: np.ndarray, mask: np.ndarray, iterations: int) -> np.ndarray:
    """Refine a (h, w) bool mask of a (h, w, 3) uint8 frame with GrabCut; the input if it cannot run."""
    if iterations < 1 or not mask.any() or mask.all():
        return mask
    side = max(3, round(max(mask.shape) / 40)) | 1
    m = mask.astype(np.uint8)
    seeds = np.full(mask.shape, cv2.GC_BGD, np.uint8)
    seeds[cv2.dilate(m, np.ones((side, side), np.uint8)) > 0] = cv2.GC_PR_BGD
    seeds[mask] = cv2.GC_PR_FGD
    seeds[cv2.erode(m, np.ones((side, side), np.uint8)) > 0] = cv2.GC_FGD
    if not (seeds == cv2.GC_BGD).any() or not (seeds == cv2.GC_FGD).any():
        return mask
    cv2.grabCut(frame, seeds, None, np.zeros((1, 65)), np.zeros((1, 65)), iterations, cv2.GC_INIT_WITH_MASK)
    return (seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)


def frame_mask(frame: np.ndarray, background: Background, options: BackgroundOptions) -> np.ndarray:
    """(h, w) bool object mask of one (h, w, 3) uint8 frame (work size)."""
    raw = (_difference(frame, background.median) > options.threshold) | background.unstable
    mask = clean_mask(raw, options.min_area)
    return clean_mask(grabcut(frame, mask, options.grabcut_iterations), options.min_area)


def full_size(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """A work-size (h, w) bool mask resized to ``width`` x ``height`` (linear, then threshold)."""
    if mask.shape == (height, width):
        return mask
    return cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR) >= 0.5


def background_masks(paths: Sequence[Path], options: BackgroundOptions) -> list[np.ndarray]:
    """Object masks of one fixed camera's photos, all of one size.

    Args:
        paths: The photos, at least 3, in any order.
        options: Settings.

    Returns:
        One (H, W) bool mask per photo, at the photos' full size.
    """
    frames = np.stack([load_frame(p, options.work_size) for p in paths])
    background = estimate_background(frames, options)
    height, width = cv2.imread(str(paths[0]), cv2.IMREAD_UNCHANGED).shape[:2]
    return [full_size(frame_mask(f, background, options), width, height) for f in frames]
