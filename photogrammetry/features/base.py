"""What every extractor takes and gives (kept apart from the registry so wrappers can import it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from photogrammetry.features.images import ExtractionImage
from photogrammetry.io.features import Features


@dataclass(frozen=True, kw_only=True)
class ExtractorOptions:
    """How an extractor is built; the stage's config maps onto these."""

    max_keypoints: int = 2048
    """Most keypoints kept per image (the strongest)."""
    detection_threshold: float = 0.0
    """Score a keypoint must exceed, in the detector's own units; 0: keep the strongest
    ``max_keypoints`` (DISK: logits above 0, its reference threshold)."""
    device: str = "cpu"
    """Torch device, ``cpu`` or ``cuda``."""
    fp16: bool = False
    """Half precision (autocast) on CUDA; ignored on the CPU."""
    weights: str | None = None
    """Explicit weight file or folder (see :mod:`photogrammetry.features.weights`)."""


class Extractor(Protocol):
    """A loaded extractor."""

    def extract(self, images: Sequence[ExtractionImage]) -> list[Features]:
        """Features of a batch of images of one size, in those images' pixels (COLMAP convention)."""
