"""The turntable's platform, cut out of the object masks once the cameras are known.

The platform turns with the object, so the sequence alone cannot tell them apart (see
:mod:`photogrammetry.masking.background`). The reconstruction can:

1. the cameras orbit the turntable's axis in the object frame: the axis is the normal of the
   plane through the camera centres (smallest singular vector), through the centre of the
   circle they lie on;
2. the platform's top is the lowest dense layer of sparse points across that axis (the mode
   of their heights below the median), its radius the 98th percentile of their distances to
   the axis (:func:`photogrammetry.scale.geometry.estimate_platform`);
3. in each view, a masked pixel whose ray meets that plane inside the disc shows either the
   platform or the object standing in front of it: it is platform where the neighbouring
   views, warped through the plane, agree with it (photo-consistency); a pixel whose ray meets
   the plane just outside the disc on the camera's side shows the platform's rim or below it.

Only for single-pass captures (a flipped object has another platform plane in the object frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from photogrammetry.io.masks import read_mask, write_mask
from photogrammetry.scale.geometry import PlatformGeometry, estimate_platform


@dataclass(frozen=True)
class View:
    """An undistorted (pinhole) view."""

    K: np.ndarray
    """(3, 3) intrinsics."""
    cam_from_world: np.ndarray
    """(3, 4) pose."""
    grey: np.ndarray
    """(H, W) float32 blurred grey image."""

    @property
    def centre(self) -> np.ndarray:
        """(3,) camera centre in the world."""
        return -self.cam_from_world[:, :3].T @ self.cam_from_world[:, 3]


def _rays(view: View) -> np.ndarray:
    """(H, W, 3) world directions of the view's pixel centres."""
    h, w = view.grey.shape
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    pixels = np.stack([cols, rows, np.ones_like(cols)], axis=-1)
    return pixels @ np.linalg.inv(view.K).T @ view.cam_from_world[:, :3]


def plane_hits(view: View, platform: PlatformGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each pixel's ray meets the platform's plane.

    Returns:
        ``(points, radial, near)``: (H, W, 3) points (NaN where the ray runs away from the
        plane), (H, W) their distance to the axis, (H, W) bool: on the camera's side of the axis.
    """
    rays = _rays(view)
    origin = view.centre
    denominator = rays @ platform.axis
    with np.errstate(divide="ignore", invalid="ignore"):
        s = ((platform.centre - origin) @ platform.axis) / denominator
    s = np.where(s > 0, s, np.nan)
    points = origin + s[..., None] * rays
    offsets = points - platform.centre
    radial = np.linalg.norm(offsets, axis=-1)
    near = offsets @ (origin - platform.centre) > 0
    return points, radial, near


def _warped(view: View, points: np.ndarray) -> np.ndarray:
    """(H, W) grey values of ``view`` at the (H, W, 3) world points (NaN outside it)."""
    cam = points @ view.cam_from_world[:, :3].T + view.cam_from_world[:, 3]
    pix = cam @ view.K.T
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = pix[..., 0] / pix[..., 2] - 0.5, pix[..., 1] / pix[..., 2] - 0.5
    x = np.where(np.isfinite(x) & (cam[..., 2] > 0), x, -1e6).astype(np.float32)
    y = np.where(np.isfinite(y) & (cam[..., 2] > 0), y, -1e6).astype(np.float32)
    return cv2.remap(view.grey, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)


def platform_pixels(view: View, neighbours: Sequence[View], platform: PlatformGeometry, *,
                    tolerance: float = 10.0, rim: float = 1.0) -> np.ndarray:
    """(H, W) bool: pixels of ``view`` that show the platform (top or rim), not the object.

    Args:
        view: The view.
        neighbours: Nearby views (two or more) that see the platform too.
        platform: The platform.
        tolerance: Grey difference (0-255) within which a warped neighbour agrees.
        rim: Pixels whose ray meets the plane, on the camera's side, within ``1 + rim`` times
            the radius but outside the disc, are the platform's rim or what lies below it.
    """
    points, radial, near = plane_hits(view, platform)
    inside = radial <= platform.radius * 1.02
    agree = np.zeros(view.grey.shape, np.int32)
    for other in neighbours:
        agree += np.abs(_warped(other, points) - view.grey) < tolerance  # NaN compares False
    top = inside & (agree >= max(2, (len(neighbours) + 1) // 2))
    top = cv2.morphologyEx(top.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    below = near & (radial > platform.radius * 1.02) & (radial < platform.radius * (1 + rim))
    return top | below


def _load_view(model: Any, image: Any, image_dir: Path) -> View:
    grey = cv2.imread(str(image_dir / image.name), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise OSError(f"cannot read {image_dir / image.name}")
    return View(K=model.cameras[image.camera_id].calibration_matrix(), cam_from_world=image.cam_from_world().matrix(),
                grey=cv2.GaussianBlur(grey.astype(np.float32), (5, 5), 0))


@dataclass(frozen=True, kw_only=True)
class PlatformOptions:
    """How :func:`cut_platform` tells the platform's pixels apart."""

    tolerance: float = 10.0
    """Grey difference (0-255) within which neighbouring views, warped through the platform's
    plane, agree with a pixel (it is then platform)."""
    neighbours: int = 4
    """Nearest cameras whose warped images vote on each pixel."""

    def __post_init__(self) -> None:
        if self.tolerance <= 0 or self.neighbours < 1:
            raise ValueError(f"tolerance must be > 0 and neighbours >= 1, got {self.tolerance}, {self.neighbours}")


def cut_platform(model: Any, image_dir: Path, mask_dir: Path, options: PlatformOptions | None = None) -> float:
    """Remove the platform from the masks of an undistorted dense workspace, in place.

    Args:
        model: The undistorted (pinhole) ``pycolmap.Reconstruction``.
        image_dir: Its undistorted images.
        mask_dir: Its masks (``<image name>.png``, 255 = object); images without one are skipped.
        options: Tolerance and voting neighbours (default: :class:`PlatformOptions`).

    Returns:
        The mean fraction of masked pixels removed.
    """
    from photogrammetry.masking.background import clean_mask

    options = options or PlatformOptions()
    images = sorted((im for im in model.images.values() if im.has_pose), key=lambda im: im.name)
    centres = np.array([im.projection_center() for im in images])
    platform = estimate_platform(centres, np.array([p.xyz for p in model.points3D.values()]))
    views = {im.name: _load_view(model, im, image_dir) for im in images}
    removed = []
    for i, image in enumerate(images):
        if not (mask_dir / f"{image.name}.png").is_file():
            continue
        nearest = np.argsort(np.linalg.norm(centres - centres[i], axis=1))[1:options.neighbours + 1]
        mask = read_mask(mask_dir / f"{image.name}.png")
        cut = platform_pixels(views[image.name], [views[images[j].name] for j in nearest], platform,
                              tolerance=options.tolerance)
        kept = clean_mask(mask & ~cut, 0.05)
        removed.append(1.0 - kept.sum() / max(1, mask.sum()))
        write_mask(mask_dir.parent, image.name, kept)
    return float(np.mean(removed)) if removed else 0.0
