"""Why an image gave no keypoints: too small, all masked, textureless, or too little detail.

The features stage asks this of the images its extractor found nothing in, so that a run that
cannot go on names the cause and what to try instead of failing later in structure from motion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from photogrammetry.features.images import read_rgb
from photogrammetry.io.masks import read_mask

MIN_SIDE = 32
"""Images with a side shorter than this (pixels) are called too small: no extractor's
window fits."""
FLAT_STD = 2.0
"""Images (inside their mask) whose grey levels have a standard deviation below this are called
textureless."""


@dataclass(frozen=True)
class NoKeypoints:
    """The cause found for one image without keypoints."""

    cause: str
    """``too small``, ``all masked``, ``textureless`` or ``too little detail``."""
    detail: str
    """The measurement behind it, e.g. ``1 x 1 pixels`` or ``grey levels vary by 0.0``."""


ADVICE = {
    "too small": f"use photos of at least a few hundred pixels a side (no extractor works below {MIN_SIDE})",
    "all masked": "check the masks: each must keep the object in white (255); see the masks stage, "
                  "masks.folder or the photos' alpha channel",
    "textureless": "photograph surfaces with visible texture, or add some (a patterned backdrop, markers, "
                   "a matte spray on shiny or plain objects)",
    "too little detail": "try another extractor (--set features.extractor=sift), a larger "
                         "features.resize_max, or sharper, better lit photos",
}
"""What to try for each cause."""


def why_no_keypoints(image: Path, mask: Path | None) -> NoKeypoints:
    """The likely cause that the extractor found no keypoint in ``image`` (inside ``mask``)."""
    rgb = read_rgb(image)
    height, width = rgb.shape[:2]
    if min(width, height) < MIN_SIDE:
        return NoKeypoints("too small", f"{width} x {height} pixels")
    keep = read_mask(mask) if mask is not None else None
    if keep is not None and keep.shape == (height, width) and not keep.any():
        return NoKeypoints("all masked", "its mask keeps no pixel")
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    spread = float(grey[keep].std() if keep is not None and keep.shape == grey.shape else grey.std())
    if spread < FLAT_STD:
        return NoKeypoints("textureless", f"grey levels vary by {spread:.1f}")
    return NoKeypoints("too little detail", f"grey levels vary by {spread:.1f}")


def describe(causes: dict[str, NoKeypoints], *, limit: int = 5) -> str:
    """``textureless: a.jpg (grey levels vary by 0.0), b.jpg (...); too small: ...`` then, per cause,
    what to try; at most ``limit`` names per cause."""
    by_cause: dict[str, list[str]] = {}
    for name, found in causes.items():
        by_cause.setdefault(found.cause, []).append(f"{name} ({found.detail})")
    parts = []
    for cause, names in by_cause.items():
        more = f" and {len(names) - limit} more" if len(names) > limit else ""
        parts.append(f"{cause}: {', '.join(names[:limit])}{more}; {ADVICE[cause]}")
    return ". ".join(parts)
