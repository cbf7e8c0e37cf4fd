"""The ground truth of a scene: calibrated views, optional meshes and per-view maps.

Loaders for the supported formats live in :mod:`photogrammetry.evaluation.loaders`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from photogrammetry.errors import InputError
from photogrammetry.evaluation.cameras import CameraPose, PinholeCamera


class GroundTruthFormatError(InputError):
    """A ground-truth file or folder is missing, malformed or of an unknown format."""


@dataclass(frozen=True, kw_only=True, eq=False)
class GTView:
    """One calibrated ground-truth image."""

    name: str
    """Image name, as the reconstruction names it (relative path with extension)."""
    camera: PinholeCamera
    """Intrinsics at the size of the image the reconstruction sees."""
    pose: CameraPose
    """``cam_from_world`` pose."""
    image_path: Path | None = None
    """The photo, when the images folder is known."""
    depth_path: Path | None = None
    """uint16 PNG, depth along the camera z axis = value * ``GroundTruth.depth_scale``."""
    normal_path: Path | None = None
    """RGB PNG of camera-frame normals, ``n = rgb / 255 * 2 - 1``."""
    mask_path: Path | None = None
    """Grey PNG, 255 on the object."""


@dataclass(frozen=True, kw_only=True, eq=False)
class GroundTruth:
    """Ground truth of one scene, in its own world frame and units."""

    views: Mapping[str, GTView]
    """Calibrated views by image name."""
    extent: float
    """Scene size: diagonal of its bounding box, in world units; relative errors use it."""
    source: Path
    """File or folder it was loaded from."""
    kind: str = "unknown"
    """Format or scene kind, e.g. ``"middlebury"``, ``"strecha"``, ``"object"``."""
    scene_mesh_path: Path | None = None
    """Mesh of the whole visible scene (renders GT depth)."""
    object_mesh_path: Path | None = None
    """Mesh of the object alone, for object scenes."""
    depth_scale: float | None = None
    """Metres (world units) per unit of the depth PNGs."""
    object_bbox: np.ndarray | None = None
    """(2, 3) min and max corners of the object's bounding box, when known."""

    def __post_init__(self) -> None:
        if not self.views:
            raise GroundTruthFormatError(f"{self.source}: ground truth has no views")
        if not np.isfinite(self.extent) or self.extent <= 0:
            raise GroundTruthFormatError(f"{self.source}: scene extent must be > 0, got {self.extent}")

    @property
    def names(self) -> list[str]:
        """Image names, sorted."""
        return sorted(self.views)

    @property
    def mesh_path(self) -> Path | None:
        """The mesh that renders depth: the scene mesh, else the object mesh."""
        return self.scene_mesh_path or self.object_mesh_path

    def centers(self, names: list[str] | None = None) -> np.ndarray:
        """(N, 3) camera centres of ``names`` (default: all, sorted)."""
        names = self.names if names is None else names
        return np.stack([self.views[n].pose.center for n in names])


def bbox_diagonal(points: np.ndarray) -> float:
    """Diagonal length of the axis-aligned bounding box of points ``(N, 3)``."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    return float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))


def _read_png(path: Path, flags: int) -> np.ndarray:
    """Read an image with OpenCV or raise an error naming the file."""
    image = cv2.imread(str(path), flags)
    if image is None:
        raise GroundTruthFormatError(f"{path}: cannot read image")
    return image


def read_depth_png(path: Path, depth_scale: float) -> np.ndarray:
    """Read a uint16 depth PNG.

    Returns:
        (H, W) float32 depth along the camera z axis; 0 where the PNG holds 0 (no depth).
    """
    raw = _read_png(path, cv2.IMREAD_UNCHANGED)
    if raw.ndim != 2 or raw.dtype != np.uint16:
        raise GroundTruthFormatError(f"{path}: expected a 1-channel uint16 PNG, got {raw.dtype} {raw.shape}")
    return raw.astype(np.float32) * np.float32(depth_scale)


def read_normal_png(path: Path) -> np.ndarray:
    """Read a normal-map PNG.

    Returns:
        (H, W, 3) float32 camera-frame normals, ``rgb / 255 * 2 - 1``.
    """
    bgr = _read_png(path, cv2.IMREAD_COLOR)
    return bgr[..., ::-1].astype(np.float32) / 255.0 * 2.0 - 1.0


def read_mask_png(path: Path) -> np.ndarray:
    """Read a mask PNG. Returns (H, W) bool, true where the PNG is above 127."""
    return _read_png(path, cv2.IMREAD_GRAYSCALE) > 127


def read_photo(path: Path) -> np.ndarray:
    """Read a photo. Returns (H, W, 3) float32 RGB in [0, 1]."""
    bgr = _read_png(path, cv2.IMREAD_COLOR)
    return bgr[..., ::-1].astype(np.float32) / 255.0
