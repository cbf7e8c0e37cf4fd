"""Calibrated photos as meshing and texturing see them: pinhole cameras, images and masks.

Read from an undistorted COLMAP folder (``PINHOLE`` / ``SIMPLE_PINHOLE`` model, images and
optional masks named ``<image name>.png``), which is what the ``undistort`` stage writes and
what a sample scene's ``gt/`` holds. Pixel convention as in :mod:`photogrammetry.io`: the
centre of the top-left pixel is ``(0.5, 0.5)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from photogrammetry.errors import InputError

_PINHOLE = ("PINHOLE", "SIMPLE_PINHOLE")


@dataclass(frozen=True, kw_only=True, eq=False)
class CameraView:
    """One undistorted, posed photo."""

    name: str
    """Image name (relative path inside the images folder)."""
    K: np.ndarray
    """(3, 3) calibration matrix, COLMAP pixel convention."""
    R: np.ndarray
    """(3, 3) ``cam_from_world`` rotation."""
    t: np.ndarray
    """(3,) ``cam_from_world`` translation: ``x_cam = R @ X + t``."""
    width: int
    """Image width in pixels."""
    height: int
    """Image height in pixels."""
    image_path: Path | None = None
    """The undistorted photo."""
    mask_path: Path | None = None
    """Grey PNG, 255 on the object, if the photo has a mask."""

    @property
    def center(self) -> np.ndarray:
        """(3,) camera centre in world coordinates."""
        return -self.R.T @ self.t

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (N, 2) and camera-frame depths (N,) of world points (N, 3)."""
        cam = points @ self.R.T + self.t
        z = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            pix = (cam @ self.K[:2].T) / z[:, None]
        return pix, z

    def read_image(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB photo."""
        bgr = cv2.imread(str(self.image_path), cv2.IMREAD_COLOR) if self.image_path else None
        if bgr is None:
            raise InputError(f"cannot read the photo of view {self.name} ({self.image_path})")
        if bgr.shape[:2] != (self.height, self.width):
            raise InputError(f"{self.image_path}: size {bgr.shape[1]}x{bgr.shape[0]} differs from its camera's "
                             f"{self.width}x{self.height}; undistort the photos first")
        return np.ascontiguousarray(bgr[..., ::-1])

    def read_mask(self) -> np.ndarray | None:
        """(H, W) bool mask (true on the object), or ``None`` when the view has none."""
        if self.mask_path is None:
            return None
        mask = cv2.imread(str(self.mask_path), cv2.IMREAD_GRAYSCALE)
        if mask is None or mask.shape != (self.height, self.width):
            raise InputError(f"{self.mask_path}: unreadable or not of its photo's size {self.width}x{self.height}")
        return mask > 127


def sample_image(image: np.ndarray, pix: np.ndarray) -> np.ndarray:
    """Bilinear samples (N, C) float32 of an (H, W, C) or (H, W) float32 image at COLMAP pixel
    coordinates (N, 2), borders replicated."""
    count = len(pix)
    if count == 0:
        return np.zeros((0, image.shape[2] if image.ndim == 3 else 1), np.float32)
    width = 4096  # remap's maps must stay below 32767 columns
    rows = -(-count // width)
    maps = np.zeros((rows * width, 2), np.float32)
    maps[:count] = pix - 0.5  # OpenCV samples pixel centres at integers
    out = cv2.remap(image, maps[:, 0].reshape(rows, width), maps[:, 1].reshape(rows, width),
                    interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(rows * width, -1)[:count]


def _mask_file(masks_dir: Path, name: str) -> Path | None:
    """The mask of image ``name``: ``<name>.png`` (ingest's naming) or ``<stem>.png``, if present."""
    for candidate in (masks_dir / f"{name}.png", (masks_dir / name).with_suffix(".png")):
        if candidate.is_file():
            return candidate
    return None


def load_colmap_views(model_dir: Path, images_dir: Path | None = None, masks_dir: Path | None = None,
                      *, exclude: Sequence[str] = ()) -> list[CameraView]:
    """The registered images of an undistorted COLMAP model, sorted by name.

    Args:
        model_dir: Folder of a COLMAP model (text or binary) with pinhole cameras.
        images_dir: Folder of the photos; ``None`` leaves ``image_path`` unset.
        masks_dir: Folder of masks ``<image name>.png`` or ``<image stem>.png``; views without
            a file get no mask.
        exclude: Image names to leave out (e.g. views held out for evaluation).

    Raises:
        InputError: when the model cannot be read or has a camera with distortion.
    """
    import pycolmap

    try:
        model = pycolmap.Reconstruction(str(model_dir))
    except (ValueError, RuntimeError) as err:
        raise InputError(f"{model_dir}: cannot read COLMAP model ({err})") from err
    views = []
    for image in model.images.values():
        if not image.has_pose or image.name in exclude:
            continue
        camera = model.cameras[image.camera_id]
        if camera.model.name not in _PINHOLE:
            raise InputError(f"{model_dir}: camera model {camera.model.name} has distortion; undistort first")
        pose = image.cam_from_world()
        mask = _mask_file(Path(masks_dir), image.name) if masks_dir is not None else None
        views.append(CameraView(
            name=image.name, K=camera.calibration_matrix(), R=pose.rotation.matrix(),
            t=np.asarray(pose.translation), width=camera.width, height=camera.height,
            image_path=Path(images_dir) / image.name if images_dir is not None else None,
            mask_path=mask))
    return sorted(views, key=lambda v: v.name)


def colmap_points(model_dir: Path) -> np.ndarray:
    """(N, 3) float64 positions of the 3D points of a COLMAP model."""
    import pycolmap

    model = pycolmap.Reconstruction(str(model_dir))
    points = [p.xyz for p in model.points3D.values()]
    return np.asarray(points, dtype=np.float64).reshape(-1, 3)
