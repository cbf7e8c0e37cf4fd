"""Pinhole cameras and ``cam_from_world`` poses used by the evaluation.

Conventions (as in :mod:`photogrammetry.io`): pixel coordinates follow COLMAP, the centre of
the top-left pixel is ``(0.5, 0.5)``; poses map world to camera, ``x_cam = R @ X + t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def checked_array(value: object, shape: tuple[int, ...], name: str) -> np.ndarray:
    """Return ``value`` as a float64 array of ``shape`` or raise ``ValueError``."""
    array = np.asarray(value, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} has non-finite values")
    return array


@dataclass(frozen=True, kw_only=True, eq=False)
class CameraPose:
    """A rigid ``cam_from_world`` transform."""

    R: np.ndarray
    """(3, 3) rotation from world to camera axes."""
    t: np.ndarray
    """(3,) translation: ``x_cam = R @ X + t``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "R", checked_array(self.R, (3, 3), "R"))
        object.__setattr__(self, "t", checked_array(self.t, (3,), "t"))

    @property
    def center(self) -> np.ndarray:
        """(3,) camera centre in world coordinates, ``-R^T t``."""
        return -self.R.T @ self.t

    @property
    def matrix(self) -> np.ndarray:
        """(4, 4) homogeneous ``cam_from_world`` matrix."""
        out = np.eye(4)
        out[:3, :3] = self.R
        out[:3, 3] = self.t
        return out

    @classmethod
    def from_center(cls, *, R: np.ndarray, center: np.ndarray) -> CameraPose:
        """Build a pose from its rotation ``(3, 3)`` and its centre ``(3,)`` in world."""
        R = np.asarray(R, dtype=np.float64)
        return cls(R=R, t=-R @ np.asarray(center, dtype=np.float64))


@dataclass(frozen=True, kw_only=True, eq=False)
class PinholeCamera:
    """Intrinsics of an undistorted pinhole camera and the image size they apply to."""

    K: np.ndarray
    """(3, 3) calibration matrix, COLMAP pixel convention (top-left pixel centre at 0.5)."""
    width: int
    """Image width in pixels."""
    height: int
    """Image height in pixels."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "K", checked_array(self.K, (3, 3), "K"))
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")

    def scaled_to(self, width: int, height: int) -> PinholeCamera:
        """Return the camera for the same view resampled to ``width`` x ``height`` pixels.

        Rows 1-2 of ``K`` scale with the image; this is exact in the COLMAP convention,
        where the image spans ``[0, width] x [0, height]`` in continuous coordinates.
        """
        scale = np.diag([width / self.width, height / self.height, 1.0])
        return PinholeCamera(K=scale @ self.K, width=width, height=height)


def rotation_angle_deg(R: np.ndarray) -> np.ndarray:
    """Rotation angle of one or many rotation matrices, stable near 0 and 180 degrees.

    Args:
        R: (..., 3, 3) rotation matrices.

    Returns:
        (...) angles in degrees.
    """
    R = np.asarray(R, dtype=np.float64)
    cos = (np.trace(R, axis1=-2, axis2=-1) - 1.0) / 2.0
    skew = np.stack(
        [R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]],
        axis=-1,
    )
    sin = np.linalg.norm(skew, axis=-1) / 2.0
    return np.degrees(np.arctan2(sin, cos))


def vector_angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between vectors, row by row.

    Args:
        a: (..., 3) vectors.
        b: (..., 3) vectors.

    Returns:
        (...) angles in degrees; ``nan`` where either vector is zero.
    """
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    dot = np.sum(a * b, axis=-1)
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.where(norms > 0, np.degrees(np.arctan2(cross, dot)), np.nan)
