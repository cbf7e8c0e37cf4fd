"""The calibrated views MVS works on, read from an undistorted COLMAP-style folder.

An undistorted folder holds ``images/<name>`` and a ``sparse/`` COLMAP model with pinhole
cameras (``PINHOLE`` or ``SIMPLE_PINHOLE``), optionally ``masks/<name>.png`` (255 = object).
The undistort stage writes one; a sample scene (``images/`` + ``gt/sparse/``) is one too.
Conventions are those of :mod:`photogrammetry.io`: ``cam_from_world`` poses, pixel centres at
``+0.5``; intrinsics of a resized image are ``diag(sx, sy, 1) @ K``, exact in that convention.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from photogrammetry.errors import InputError

_PINHOLE_MODELS = ("PINHOLE", "SIMPLE_PINHOLE")


@dataclass(frozen=True, kw_only=True, eq=False)
class MVSView:
    """One calibrated, undistorted image."""

    name: str
    """Image name as in the sparse model (relative path with extension)."""
    image_path: Path
    """The undistorted image file."""
    mask_path: Path | None
    """Object mask (255 = object) at the image's size, when there is one."""
    K: np.ndarray
    """(3, 3) intrinsics at ``width`` x ``height``."""
    R: np.ndarray
    """(3, 3) rotation of ``cam_from_world``."""
    t: np.ndarray
    """(3,) translation of ``cam_from_world``: ``x_cam = R @ X + t``."""
    width: int
    """Image width in pixels."""
    height: int
    """Image height in pixels."""

    @property
    def center(self) -> np.ndarray:
        """(3,) camera centre in world coordinates."""
        return -self.R.T @ self.t

    @property
    def axis(self) -> np.ndarray:
        """(3,) viewing direction (camera +z) in world coordinates."""
        return self.R[2]

    def resized(self, width: int, height: int) -> MVSView:
        """The same view with its intrinsics for an image resampled to ``width`` x ``height``."""
        scale = np.diag([width / self.width, height / self.height, 1.0])
        return replace(self, K=scale @ self.K, width=width, height=height)


@dataclass(frozen=True, kw_only=True, eq=False)
class MVSScene:
    """Views with poses and the sparse points that select sources and depth ranges."""

    views: dict[str, MVSView]
    """Views by name."""
    points: np.ndarray
    """(P, 3) sparse 3D points in world coordinates."""
    observations: dict[str, np.ndarray]
    """Per view name, the indices into ``points`` of the points it observes."""

    @property
    def names(self) -> list[str]:
        """View names, sorted."""
        return sorted(self.views)


def fit_size(width: int, height: int, max_size: int) -> tuple[int, int]:
    """``(width, height)`` scaled down so the longest side is at most ``max_size`` (0: unchanged)."""
    longest = max(width, height)
    if max_size <= 0 or longest <= max_size:
        return width, height
    scale = max_size / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def _read_model(sparse_dir: Path):
    import pycolmap

    try:
        return pycolmap.Reconstruction(str(sparse_dir))
    except (ValueError, RuntimeError) as err:
        raise InputError(f"{sparse_dir}: cannot read the COLMAP model ({err})") from err


def _view(image, camera, images_dir: Path, masks_dir: Path | None) -> MVSView:
    """An :class:`MVSView` of a registered pycolmap image."""
    if camera.model.name not in _PINHOLE_MODELS:
        raise InputError(f"image {image.name}: camera model {camera.model.name} is not undistorted; "
                         "MVS needs PINHOLE cameras (run the undistort stage)")
    pose = image.cam_from_world()
    return MVSView(name=image.name, image_path=images_dir / image.name, mask_path=_mask(masks_dir, image.name),
                   K=np.asarray(camera.calibration_matrix(), np.float64), R=pose.rotation.matrix(),
                   t=np.asarray(pose.translation, np.float64), width=camera.width, height=camera.height)


def _mask(masks_dir: Path | None, name: str) -> Path | None:
    """``<name>.png`` (the ingest convention) or ``<stem>.png`` (sample scenes) in ``masks_dir``."""
    if masks_dir is None:
        return None
    candidates = (masks_dir / f"{name}.png", (masks_dir / name).with_suffix(".png"))
    return next((c for c in candidates if c.is_file()), None)


def load_scene(images_dir: Path, sparse_dir: Path, masks_dir: Path | None = None) -> MVSScene:
    """Read the registered views and sparse points of an undistorted model.

    Args:
        images_dir: Folder of the undistorted images, named as in the model.
        sparse_dir: COLMAP model (text or binary) with pinhole cameras.
        masks_dir: Folder of masks (255 = object) named ``<image name>.png`` or ``<image stem>.png``;
            views without one have none.

    Raises:
        InputError: When the model cannot be read, has a distorted camera or fewer than 2 views.
    """
    model = _read_model(sparse_dir)
    registered = {i: im for i, im in model.images.items() if im.has_pose}
    views = {im.name: _view(im, model.cameras[im.camera_id], Path(images_dir), masks_dir)
             for im in registered.values()}
    if len(views) < 2:
        raise InputError(f"{sparse_dir}: {len(views)} registered image(s); MVS needs at least 2")
    ids = sorted(model.points3D)
    points = np.array([model.points3D[i].xyz for i in ids], np.float64).reshape(-1, 3)
    seen: dict[str, list[int]] = {name: [] for name in views}
    for row, point_id in enumerate(ids):
        for element in model.points3D[point_id].track.elements:
            if element.image_id in registered:
                seen[registered[element.image_id].name].append(row)
    observations = {name: np.unique(np.asarray(rows, np.int64)) for name, rows in seen.items()}
    return MVSScene(views=views, points=points, observations=observations)
