"""Descriptors as matchers and retrieval compare them: unit vectors, RootSIFT for SIFT."""

from __future__ import annotations

import numpy as np


def unit_descriptors(descriptors: np.ndarray) -> np.ndarray:
    """Descriptors ``(N, D)`` as float32 unit vectors.

    uint8 descriptors are taken for SIFT and become RootSIFT (L1-normalised, square root),
    whose dot products are Hellinger kernels; float descriptors are L2-normalised.
    """
    x = np.asarray(descriptors, np.float32)
    if descriptors.dtype == np.uint8:
        x = np.sqrt(x / np.maximum(x.sum(axis=1, keepdims=True), 1e-12))
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
