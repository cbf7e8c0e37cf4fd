"""Exports of a model: COLMAP binary and text, sparse points as PLY, nerfstudio's transforms.json.

``transforms.json`` follows nerfstudio's ``colmap_to_json`` with the original world frame
kept (``applied_transform`` is the identity): each frame's ``transform_matrix`` is the
``camera_to_world`` matrix with OpenGL camera axes (x right, y up, z backwards), i.e. COLMAP's
``world_from_cam`` with its y and z columns negated. Intrinsics are OpenCV-style (``fl_x``,
``fl_y``, ``cx``, ``cy``, ``k1``, ``k2``, ``p1``, ``p2``), at the top level when all frames share a
camera and in every frame always; ``ply_file_path`` names the sparse points in the same frame.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from photogrammetry.io.jsonio import write_json

if TYPE_CHECKING:
    import pycolmap

OPENGL_FROM_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])
"""Flips a camera's y and z axes: COLMAP/OpenCV camera frame -> OpenGL (nerfstudio) frame."""


def write_colmap(model: pycolmap.Reconstruction, binary_dir: Path, text_dir: Path | None = None) -> None:
    """Write ``model`` as a COLMAP binary model into ``binary_dir`` (and as text into ``text_dir``)."""
    binary_dir.mkdir(parents=True, exist_ok=True)
    model.write(binary_dir)
    if text_dir is not None:
        text_dir.mkdir(parents=True, exist_ok=True)
        model.write_text(text_dir)


def camera_intrinsics(camera: pycolmap.Camera) -> dict[str, Any]:
    """nerfstudio's intrinsics of a COLMAP perspective camera (OpenCV model, zero where absent)."""
    model, p = camera.model.name, [float(v) for v in camera.params]
    fx, fy = (p[0], p[1]) if model in ("PINHOLE", "OPENCV") else (p[0], p[0])
    cx, cy = (p[2], p[3]) if model in ("PINHOLE", "OPENCV") else (p[1], p[2])
    distortion = {"SIMPLE_RADIAL": p[3:4], "RADIAL": p[3:5], "OPENCV": p[4:8]}.get(model, [])
    k1, k2, p1, p2 = (list(distortion) + [0.0] * 4)[:4]
    return {"camera_model": "OPENCV", "w": camera.width, "h": camera.height, "fl_x": fx, "fl_y": fy,
            "cx": cx, "cy": cy, "k1": k1, "k2": k2, "p1": p1, "p2": p2}


def camera_to_world_opengl(image: pycolmap.Image) -> np.ndarray:
    """``(4, 4)`` nerfstudio ``transform_matrix`` of a registered image."""
    world_from_cam = np.eye(4)
    world_from_cam[:3, :] = image.cam_from_world().inverse().matrix()
    return world_from_cam @ OPENGL_FROM_OPENCV


def transforms_json(model: pycolmap.Reconstruction, file_path: Callable[[str], str],
                    ply_file: str | None = None, mask_path: Callable[[str], str | None] | None = None
                    ) -> dict[str, Any]:
    """nerfstudio's ``transforms.json`` content for ``model``.

    Args:
        model: The reconstruction.
        file_path: Image name -> path written in ``file_path`` (relative to the JSON file).
        ply_file: Path of the sparse points relative to the JSON file, if any.
        mask_path: Image name -> path of its object mask relative to the JSON file (``mask_path``:
            0 = background, which nerfstudio leaves out), or ``None`` for an image without one;
            named only when every registered image has one (nerfstudio wants all or none).
    """
    frames = []
    for image_id in sorted(model.reg_image_ids()):
        image = model.image(image_id)
        frames.append({"file_path": file_path(image.name), "colmap_im_id": int(image_id),
                       "transform_matrix": camera_to_world_opengl(image).tolist(),
                       **camera_intrinsics(model.cameras[image.camera_id])})
    masks = [mask_path(model.image(i).name) for i in sorted(model.reg_image_ids())] if mask_path else []
    if masks and all(mask is not None for mask in masks):
        for frame, mask in zip(frames, masks, strict=True):
            frame["mask_path"] = mask
    out: dict[str, Any] = {}
    used = {model.image(i).camera_id for i in model.reg_image_ids()}
    if len(used) == 1:
        out.update(camera_intrinsics(model.cameras[used.pop()]))
    out["applied_transform"] = np.eye(4)[:3].tolist()
    if ply_file is not None:
        out["ply_file_path"] = ply_file
    out["frames"] = frames
    return out


def export_model(model: pycolmap.Reconstruction, out: Path, image_file: Callable[[str], Path],
                 mask_file: Callable[[str], Path | None] = lambda name: None) -> None:
    """Write the chosen model's exports into ``out``.

    Files: ``model/`` (binary), ``model_text/``, ``points.ply`` and ``transforms.json``, whose
    ``file_path`` and ``mask_path`` (when every image has a mask) lead, relative to ``out``, into the
    ingest and masks artifacts of the same workspace (valid while the workspace moves as a whole; the export's ``cameras/``
    holds a self-contained copy).

    Args:
        model: The reconstruction.
        out: The artifact folder.
        image_file: Image name -> absolute path of the image (made relative to ``out``).
        mask_file: Image name -> absolute path of its mask, or ``None`` (made relative to ``out``).
    """
    write_colmap(model, out / "model", out / "model_text")
    model.export_PLY(out / "points.ply")

    def mask_path(name: str) -> str | None:
        mask = mask_file(name)
        return None if mask is None else os.path.relpath(mask, out)

    content = transforms_json(model, lambda name: os.path.relpath(image_file(name), out), "points.ply", mask_path)
    write_json(out / "transforms.json", content)
