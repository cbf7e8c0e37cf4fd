"""What every extractor takes and gives (kept apart from the registry so wrappers can import it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from photogrammetry.errors import ConfigError
from photogrammetry.features.images import ExtractionImage
from photogrammetry.features.weights import check_checkpoint
from photogrammetry.io.features import Features


@dataclass(frozen=True, kw_only=True)
class ExtractorOptions:
    """How an extractor is built (the device is given to :func:`~photogrammetry.features.load_extractor`)."""

    max_keypoints: int = 2048
    """Most keypoints kept per image (the strongest)."""
    detection_threshold: float = 0.0
    """Score a keypoint must exceed, in the extractor's own units (ALIKED: score in (0, 1);
    DISK: heatmap logit; XFeat: heatmap probability; SIFT: OpenCV contrast threshold). 0 keeps the
    ``max_keypoints`` strongest (DISK: logits above 0, XFeat: above 0.05, SIFT: contrast threshold 0.01)."""
    fp16: bool = True
    """Half precision (autocast) for learned extractors on CUDA; the CPU always uses float32.
    Part of the key: it changes keypoints slightly."""
    weights: str = field(default="", metadata={"cache": False, "path": "any", "check": check_checkpoint})
    """Weight file or folder of the learned extractor; empty: found as described in
    :mod:`photogrammetry.features.weights`. Which file is used enters the key by name and size."""

    def __post_init__(self) -> None:
        if self.max_keypoints < 1:
            raise ConfigError(f"max_keypoints must be >= 1, got {self.max_keypoints}")


class Extractor(Protocol):
    """A loaded extractor."""

    def extract(self, images: Sequence[ExtractionImage]) -> list[Features]:
        """Features of a batch of images of one size, in those images' pixels (COLMAP convention)."""
