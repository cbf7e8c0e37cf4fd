"""A self-contained nerfstudio dataset beside the exported cameras: images, masks and depth maps.

``cameras/transforms.json`` names, per frame, paths relative to its own folder, all inside it, so
the folder stays valid wherever it is moved:

- ``file_path``: ``images/<name>``, the photo the intrinsics refer to (a hard link to the ingest
  artifact's image where the file system allows, else a copy);
- ``mask_path``: ``masks/<name>.png`` when the image has an object mask (0 = background, which
  nerfstudio leaves out; 255 = object), at the photo's size;
- ``depth_file_path``: ``depths/<name>.png`` when the depth stage has a map of the image: a 16-bit
  PNG at the photo's size whose value times ``depth_unit_scale_factor`` (top level, always
  ``0.001``) is the depth along the camera's z axis in the units of the transforms (millimetres
  when they are metres; else thousandths of the export's unit); 0 = no depth, and depths over
  65.535 units are left out (0). The depth stage's maps belong to the undistorted pinhole cameras;
  each photo pixel takes the depth of the map pixel its ray falls in (nearest), which the
  undistortion leaves unchanged since both cameras share the pose.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from photogrammetry.io.jsonio import write_bytes_atomic

if TYPE_CHECKING:
    import pycolmap

DEPTH_UNIT_SCALE = 0.001
"""``depth_unit_scale_factor``: a depth PNG's value times this is the depth in the transforms' units."""


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link ``source`` at ``target`` (folders made), or copy it where links are not possible."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def depth_for_camera(depth: np.ndarray, K: np.ndarray, camera: pycolmap.Camera) -> np.ndarray:
    """The pinhole depth map ``depth`` (H_m, W_m) with intrinsics ``K`` (3, 3) resampled (nearest)
    to every pixel of ``camera`` (which may be distorted), 0 where its ray leaves the map."""
    cols, rows = np.meshgrid(np.arange(camera.width) + 0.5, np.arange(camera.height) + 0.5)
    rays = camera.cam_from_img(np.stack([cols.ravel(), rows.ravel()], axis=1))
    u = np.floor(K[0, 0] * rays[:, 0] + K[0, 1] * rays[:, 1] + K[0, 2]).astype(np.int64)
    v = np.floor(K[1, 1] * rays[:, 1] + K[1, 2]).astype(np.int64)
    inside = (u >= 0) & (u < depth.shape[1]) & (v >= 0) & (v < depth.shape[0])
    out = np.zeros(len(u), dtype=np.float32)
    out[inside] = depth[v[inside], u[inside]]
    return out.reshape(camera.height, camera.width)


def depth_png(depth: np.ndarray) -> bytes:
    """A depth map in the transforms' units as 16-bit PNG bytes (see :data:`DEPTH_UNIT_SCALE`)."""
    import cv2

    values = np.round(np.nan_to_num(depth) / DEPTH_UNIT_SCALE)
    values[(values < 0) | (values > 65535)] = 0
    ok, buffer = cv2.imencode(".png", values.astype(np.uint16))
    if not ok:
        raise OSError("could not encode a depth PNG")
    return buffer.tobytes()


def add_frame_files(content: dict[str, Any], folder: Path, model: pycolmap.Reconstruction, *,
                    images: Callable[[str], Path], masks: Callable[[str], Path | None],
                    depths: Callable[[str], tuple[np.ndarray, np.ndarray] | None],
                    depth_scale: float) -> dict[str, int]:
    """Put each frame's photo, mask and depth map under ``folder`` and name them in ``content``.

    Args:
        content: The ``transforms.json`` content (its frames carry ``colmap_im_id``); changed in place.
        folder: The folder of ``transforms.json``.
        model: The model the frames come from (its cameras).
        images: Image name -> the photo.
        masks: Image name -> its mask, or ``None``.
        depths: Image name -> ``(depth map, K at the map's size)`` in the model's units, or ``None``.
        depth_scale: Multiplies the depths into the transforms' units.

    Returns:
        How many frames got a mask and a depth map.
    """
    counts = {"masks": 0, "depths": 0}
    for frame in content["frames"]:
        image = model.image(frame["colmap_im_id"])
        link_or_copy(images(image.name), folder / "images" / image.name)
        frame["file_path"] = f"images/{image.name}"
        mask = masks(image.name)
        if mask is not None:
            link_or_copy(mask, folder / "masks" / f"{image.name}.png")
            frame["mask_path"] = f"masks/{image.name}.png"
            counts["masks"] += 1
        maps = depths(image.name)
        if maps is not None:
            depth, K = maps
            resampled = depth_for_camera(depth, K, model.cameras[image.camera_id]) * depth_scale
            write_bytes_atomic(folder / "depths" / f"{image.name}.png", depth_png(resampled))
            frame["depth_file_path"] = f"depths/{image.name}.png"
            counts["depths"] += 1
    if counts["depths"]:
        content["depth_unit_scale_factor"] = DEPTH_UNIT_SCALE
    return counts
