"""Epipolar geometry of calibrated views: how far matches are from agreeing with known cameras.

Used to measure match precision against ground truth (tests, benchmarks). Pixel coordinates
are in COLMAP's convention, as keypoints and ground-truth intrinsics are; poses are
``cam_from_world`` (``x_cam = R @ X + t``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from photogrammetry.io.features import FeatureFile, MatchFile


def skew(v: np.ndarray) -> np.ndarray:
    """``(3, 3)`` cross-product matrix of ``v`` ``(3,)``."""
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def fundamental_matrix(K0: np.ndarray, R0: np.ndarray, t0: np.ndarray,
                       K1: np.ndarray, R1: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """``(3, 3)`` F with ``x1^T F x0 = 0`` for homogeneous pixels ``x0`` of view 0 and ``x1`` of view 1."""
    R = R1 @ R0.T
    t = t1 - R @ t0
    essential = skew(t) @ R
    return np.linalg.inv(K1).T @ essential @ np.linalg.inv(K0)


def epipolar_errors(F: np.ndarray, points0: np.ndarray, points1: np.ndarray) -> np.ndarray:
    """Symmetric epipolar distance of each correspondence, in pixels.

    Args:
        F: ``(3, 3)`` fundamental matrix from view 0 to view 1.
        points0: ``(M, 2)`` pixels in view 0.
        points1: ``(M, 2)`` pixels in view 1.

    Returns:
        ``(M,)`` the larger of the two point-to-epipolar-line distances.
    """
    x0 = np.hstack([points0, np.ones((len(points0), 1))]).astype(np.float64)
    x1 = np.hstack([points1, np.ones((len(points1), 1))]).astype(np.float64)
    lines1 = x0 @ F.T  # epipolar lines in view 1
    lines0 = x1 @ F  # epipolar lines in view 0
    algebraic = np.abs((x1 * lines1).sum(axis=1))
    d1 = algebraic / np.maximum(np.linalg.norm(lines1[:, :2], axis=1), 1e-12)
    d0 = algebraic / np.maximum(np.linalg.norm(lines0[:, :2], axis=1), 1e-12)
    return np.maximum(d0, d1)


@dataclass(frozen=True)
class CalibratedView:
    """A view with known intrinsics and pose, at the size of the image its keypoints refer to."""

    K: np.ndarray
    """``(3, 3)`` intrinsics, COLMAP pixel convention."""
    R: np.ndarray
    """``(3, 3)`` ``cam_from_world`` rotation."""
    t: np.ndarray
    """``(3,)`` ``cam_from_world`` translation."""


def match_errors(features: Path, matches: Path, views: Mapping[str, CalibratedView], *,
                 valid: Mapping[str, np.ndarray] | None = None) -> dict[tuple[str, str], np.ndarray]:
    """Symmetric epipolar distance in pixels of the stored matches of the pairs whose views are known.

    Args:
        features: A ``features.h5``.
        matches: A ``matches.h5`` of those features.
        views: Calibrated views by image name.
        valid: Optional ``(H, W)`` bool map per image name: only matches whose two keypoints lie on
            true pixels count (e.g. where ground-truth depth exists, leaving out surfaces that do not
            move with the cameras, such as the static background of a turntable).

    Returns:
        Per pair ``(name0, name1)``, the ``(M,)`` errors of its (counted) matches.
    """
    out = {}
    with FeatureFile(features) as ff, MatchFile(matches) as mf:
        for name0, name1 in mf.pairs():
            if name0 not in views or name1 not in views:
                continue
            m = mf.read(name0, name1)
            kp0 = ff.read(name0, descriptors=False).keypoints[m.indices[:, 0]]
            kp1 = ff.read(name1, descriptors=False).keypoints[m.indices[:, 1]]
            if valid is not None:
                keep = _on(valid[name0], kp0) & _on(valid[name1], kp1)
                kp0, kp1 = kp0[keep], kp1[keep]
            v0, v1 = views[name0], views[name1]
            out[(name0, name1)] = epipolar_errors(fundamental_matrix(v0.K, v0.R, v0.t, v1.K, v1.R, v1.t), kp0, kp1)
    return out


def _on(mask: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Which COLMAP-convention keypoints ``(N, 2)`` fall on true pixels of ``mask`` ``(H, W)``."""
    height, width = mask.shape
    cols = np.clip(np.floor(keypoints[:, 0]).astype(np.int64), 0, width - 1)
    rows = np.clip(np.floor(keypoints[:, 1]).astype(np.int64), 0, height - 1)
    return mask[rows, cols]
