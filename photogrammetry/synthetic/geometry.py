"""Small geometry types for the synthetic scenes: rigid poses, pinhole cameras, triangle meshes.

Conventions (the same as COLMAP's):
    * ``b_from_a`` maps points of frame ``a`` to frame ``b``: ``x_b = R @ x_a + t``.
    * Cameras look along +z, +x right, +y down; ``cam_from_world``.
    * Pixel coordinates have their origin at the top-left image corner, so the centre of
      pixel ``(col, row)`` is at ``(col + 0.5, row + 0.5)``.
    * World units are metres; the synthetic world is z-up.

Angles go through :mod:`math` (the C library), not numpy's SIMD transcendental
functions, and products with rotation matrices are spelled out elementwise instead of
going through BLAS (whose kernels, chosen per CPU, may round differently and whose
spinning threads slow down everything else), so poses are bit-identical across CPUs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PIXEL_PITCH_MM = 0.01
"""Virtual sensor pixel pitch: a 640 px wide image comes from a 6.4 mm wide sensor."""

FILM_WIDTH_MM = 36.0
"""Width of 35 mm film, used for the 35 mm equivalent focal length (long image side)."""


def cos_sin(angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosines and sines computed with the C library, elementwise.

    Args:
        angles: Angles in radians, shape ``(N,)``.

    Returns:
        ``(cos, sin)``, each shape ``(N,)``, ``float64``.
    """
    flat = np.asarray(angles, dtype=np.float64).ravel()
    return np.array([math.cos(a) for a in flat]), np.array([math.sin(a) for a in flat])


def rotate(points: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Apply a ``(3, 3)`` matrix to row vectors: ``points @ rotation.T`` without BLAS.

    Args:
        points: Row vectors, shape ``(..., 3)``.
        rotation: Matrix, shape ``(3, 3)``.

    Returns:
        Rotated vectors, shape ``(..., 3)``.
    """
    return points[..., 0:1] * rotation[:, 0] + points[..., 1:2] * rotation[:, 1] + points[..., 2:3] * rotation[:, 2]


def matmul3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Product ``a @ b`` of two ``(3, 3)`` matrices without BLAS, shape ``(3, 3)``."""
    return rotate(b.T, a).T


def rotation_z(angle: float) -> np.ndarray:
    """Rotation by ``angle`` radians about +z (counter-clockwise seen from above), shape ``(3, 3)``."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation by ``angle`` radians about ``axis`` (right-handed, Rodrigues), shape ``(3, 3)``."""
    k = np.asarray(axis, dtype=np.float64)
    k = k / math.sqrt(float(k[0] * k[0] + k[1] * k[1] + k[2] * k[2]))
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + math.sin(angle) * cross + (1.0 - math.cos(angle)) * matmul3(cross, cross)


def normalize(v: np.ndarray) -> np.ndarray:
    """Scale vectors along the last axis to unit length; shape ``(..., 3)`` is kept."""
    return v / np.sqrt(np.sum(v * v, axis=-1, keepdims=True))


@dataclass(frozen=True, eq=False)
class Pose:
    """Rigid transform ``x_b = rotation @ x_a + translation`` (named ``b_from_a`` by its users)."""

    rotation: np.ndarray
    """Rotation matrix, shape ``(3, 3)``."""
    translation: np.ndarray
    """Translation, shape ``(3,)``."""

    @staticmethod
    def identity() -> Pose:
        """The identity transform."""
        return Pose(np.eye(3), np.zeros(3))

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Map points ``(N, 3)`` from frame a to frame b; returns shape ``(N, 3)``."""
        return rotate(points, self.rotation) + self.translation

    def compose(self, other: Pose) -> Pose:
        """``a_from_c = a_from_b.compose(b_from_c)``."""
        return Pose(matmul3(self.rotation, other.rotation), self.apply(other.translation))

    def inverse(self) -> Pose:
        """``a_from_b`` for this ``b_from_a``."""
        return Pose(self.rotation.T.copy(), self.center)

    @property
    def center(self) -> np.ndarray:
        """Origin of frame b expressed in frame a (the camera centre of a ``cam_from_world``), shape ``(3,)``."""
        return -rotate(self.translation, self.rotation.T)


def look_at(eye: np.ndarray, target: np.ndarray, up: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> Pose:
    """``cam_from_world`` of a camera at ``eye`` looking at ``target`` with image-up towards ``up``.

    Args:
        eye: Camera centre in world coordinates, shape ``(3,)``.
        target: World point on the optical axis, shape ``(3,)``.
        up: World direction that appears upward in the image, shape ``(3,)``.

    Returns:
        The camera pose ``cam_from_world``.
    """
    forward = normalize(np.asarray(target, float) - eye)
    right = normalize(np.cross(forward, np.asarray(up, dtype=np.float64)))
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])
    return Pose(rotation, -rotate(np.asarray(eye, float), rotation))


@dataclass(frozen=True, kw_only=True)
class PinholeCamera:
    """Intrinsics of an undistorted pinhole camera (COLMAP ``PINHOLE``), in pixels."""

    width: int
    """Image width in pixels."""
    height: int
    """Image height in pixels."""
    focal: float
    """Focal length in pixels (square pixels: fx = fy)."""
    cx: float
    """Principal point x in pixels (pixel-centre convention: the image centre is ``width / 2``)."""
    cy: float
    """Principal point y in pixels."""

    @property
    def matrix(self) -> np.ndarray:
        """Calibration matrix ``K``, shape ``(3, 3)``."""
        return np.array([[self.focal, 0.0, self.cx], [0.0, self.focal, self.cy], [0.0, 0.0, 1.0]])

    @property
    def focal_mm(self) -> float:
        """Physical focal length on the virtual sensor (``PIXEL_PITCH_MM`` per pixel)."""
        return self.focal * PIXEL_PITCH_MM

    @property
    def focal_35mm(self) -> float:
        """35 mm equivalent focal length: the long image side maps to 36 mm."""
        return self.focal * FILM_WIDTH_MM / max(self.width, self.height)

    def pixel_rays(self, subsamples: int = 1) -> np.ndarray:
        """Camera-frame ray directions with unit z through a regular grid of sub-pixel positions.

        With ``subsamples = s`` each pixel is split into ``s x s`` cells sampled at their
        centres; ``s = 1`` gives the pixel centres ``(col + 0.5, row + 0.5)``.

        Args:
            subsamples: Samples per pixel along each axis.

        Returns:
            Directions ``(x, y, 1)``, shape ``(height * s, width * s, 3)``, ``float64``.
        """
        u = (np.arange(self.width * subsamples) + 0.5) / subsamples
        v = (np.arange(self.height * subsamples) + 0.5) / subsamples
        x = np.broadcast_to(((u - self.cx) / self.focal)[None, :], (len(v), len(u)))
        y = np.broadcast_to(((v - self.cy) / self.focal)[:, None], (len(v), len(u)))
        return np.stack([x, y, np.ones_like(x)], axis=-1)

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """Project camera-frame points ``(N, 3)`` to pixel coordinates ``(N, 2)``."""
        z = points_cam[:, 2:3]
        return points_cam[:, :2] / z * self.focal + np.array([self.cx, self.cy])
