"""SIFT through OpenCV: the fast CPU option, matched by mutual nearest neighbours.

Keypoints are OpenCV's (pixel centres at integer coordinates) moved to COLMAP's convention
(``+ 0.5``), with the precise pyramid upscaling that avoids OpenCV's quarter-pixel shift.
Descriptors are stored as OpenCV computes them, uint8 ``(N, 128)``; the matcher turns them
into RootSIFT. Scores are the detector responses.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from photogrammetry.features.base import ExtractorOptions
from photogrammetry.features.images import ExtractionImage
from photogrammetry.io.features import Features

DEFAULT_CONTRAST_THRESHOLD = 0.01
"""OpenCV contrast threshold when ``detection_threshold`` is 0: low, so that the budget of
``max_keypoints`` is filled with the strongest responses rather than cut by the threshold."""


class SiftExtractor:
    """OpenCV SIFT; runs on the CPU whatever the device."""

    def __init__(self, options: ExtractorOptions) -> None:
        self.options = options

    def _detector(self) -> cv2.SIFT:
        threshold = self.options.detection_threshold or DEFAULT_CONTRAST_THRESHOLD
        return cv2.SIFT_create(nfeatures=self.options.max_keypoints, contrastThreshold=threshold,
                               enable_precise_upscale=True)

    def extract_one(self, image: ExtractionImage) -> Features:
        """Features of one image, in its pixels (COLMAP convention)."""
        grey = cv2.cvtColor(image.rgb, cv2.COLOR_RGB2GRAY)
        mask = None if image.mask is None else image.mask.astype(np.uint8) * 255
        keypoints, descriptors = self._detector().detectAndCompute(grey, mask)
        count = len(keypoints)
        if count > self.options.max_keypoints:  # OpenCV keeps ties at the cut
            order = np.argsort([-k.response for k in keypoints], kind="stable")[: self.options.max_keypoints]
            keypoints, descriptors = [keypoints[i] for i in order], descriptors[order]
        xy = np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2) + np.float32(0.5)
        scores = np.array([k.response for k in keypoints], np.float32)
        desc = np.zeros((0, 128), np.uint8) if descriptors is None else np.clip(np.rint(descriptors), 0, 255)
        return Features(xy, scores, desc.astype(np.uint8), image.size)

    def extract(self, images: Sequence[ExtractionImage]) -> list[Features]:
        """Features of each image (see the module docstring)."""
        return [self.extract_one(image) for image in images]


def build_sift(name: str, options: ExtractorOptions, device: str) -> SiftExtractor:
    """Registry entry point for ``sift`` (OpenCV: the CPU whatever ``device``)."""
    return SiftExtractor(options)
