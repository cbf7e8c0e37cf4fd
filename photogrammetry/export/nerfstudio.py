"""A self-contained nerfstudio dataset beside the exported cameras: images, masks and depth maps.

``cameras/transforms.json`` names, per frame, paths relative to its own folder, all inside it, so
the folder stays valid wherever it is moved:

- ``file_path``: ``images/<name>``, the photo the intrinsics refer to (a hard link to the ingest
  artifact's image where the file system allows, else a copy);
- ``mask_path``: ``masks/<name>.png`` when images have object masks (0 = background, which
  nerfstudio leaves out; 255 = object), at the photo's size; nerfstudio wants it on every frame or
  none, so an image without a mask then gets one of the whole image;
- ``depth_file_path``: ``depths/<name>.png`` when the depth stage has a map of the image: a 16-bit
  PNG at the photo's size (every frame, zeros for an image without a map) whose value times
  ``depth_unit_scale_factor`` (top level, always ``0.001``, nerfstudio's default) is the depth
  along the camera's z axis in the units of the transforms (millimetres when they are metres;
  else thousandths of the export's unit); 0 = no depth, and depths over
  65.535 units are left out (0). The depth stage's maps belong to the undistorted pinhole cameras;
  each photo pixel takes the depth of the map pixel its ray falls in (nearest), which the
  undistortion leaves unchanged since both cameras share the pose.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from photogrammetry.io.jsonio import write_bytes_atomic

if TYPE_CHECKING:
    import pycolmap

DEPTH_UNIT_SCALE = 0.001
"""``depth_unit_scale_factor``: a depth PNG's value times this is the depth in the transforms' units.
nerfstudio's parser takes the factor from its own option ``--depth-unit-scale-factor``, whose default
is this value; the key in ``transforms.json`` records it for other readers."""


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


def _png(image: np.ndarray) -> bytes:
    import cv2

    ok, buffer = cv2.imencode(".png", image)
    if not ok:
        raise OSError("could not encode a PNG")
    return buffer.tobytes()


def depth_png(depth: np.ndarray) -> bytes:
    """A depth map in the transforms' units as 16-bit PNG bytes (see :data:`DEPTH_UNIT_SCALE`)."""
    values = np.round(np.nan_to_num(depth) / DEPTH_UNIT_SCALE)
    values[(values < 0) | (values > 65535)] = 0
    return _png(values.astype(np.uint16))


def add_frame_files(content: dict[str, Any], folder: Path, model: pycolmap.Reconstruction, *,
                    images: Callable[[str], Path], masks: Callable[[str], Path | None],
                    depths: Mapping[str, Callable[[], tuple[np.ndarray, np.ndarray]]],
                    depth_scale: float) -> dict[str, int]:
    """Put each frame's photo, mask and depth map under ``folder`` and name them in ``content``.

    nerfstudio wants ``mask_path`` and ``depth_file_path`` on every frame or on none: when only
    some images have a mask, the others get a mask of the whole image (every pixel used); when
    only some have a depth map, the others get one of zeros (no depth).

    Args:
        content: The ``transforms.json`` content (its frames carry ``colmap_im_id``); changed in place.
        folder: The folder of ``transforms.json``.
        model: The model the frames come from (its cameras).
        images: Image name -> the photo.
        masks: Image name -> its mask, or ``None``.
        depths: Image name -> loader of ``(depth map, K at the map's size)`` in the model's units, for
            the images that have one.
        depth_scale: Multiplies the depths into the transforms' units.

    Returns:
        How many frames have a mask and a depth map of their own.
    """
    frames = [(frame, model.image(frame["colmap_im_id"])) for frame in content["frames"]]
    mask_files = {image.name: masks(image.name) for _, image in frames}
    with_depth = {image.name for _, image in frames if image.name in depths}
    counts = {"masks": sum(path is not None for path in mask_files.values()), "depths": len(with_depth)}
    for frame, image in frames:
        link_or_copy(images(image.name), folder / "images" / image.name)
        frame["file_path"] = f"images/{image.name}"
        camera = model.cameras[image.camera_id]
        if counts["masks"]:
            frame["mask_path"] = f"masks/{image.name}.png"
            if mask_files[image.name] is not None:
                link_or_copy(mask_files[image.name], folder / frame["mask_path"])
            else:
                write_bytes_atomic(folder / frame["mask_path"], _png(np.full((camera.height, camera.width), 255,
                                                                             dtype=np.uint8)))
        if counts["depths"]:
            frame["depth_file_path"] = f"depths/{image.name}.png"
            maps = depths[image.name]() if image.name in with_depth else None
            resampled = np.zeros((camera.height, camera.width), np.float32) if maps is None else \
                depth_for_camera(maps[0], maps[1], camera) * depth_scale
            write_bytes_atomic(folder / frame["depth_file_path"], depth_png(resampled))
    if counts["depths"]:
        content["depth_unit_scale_factor"] = DEPTH_UNIT_SCALE
    return counts
