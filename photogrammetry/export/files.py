"""The model and the cameras moved into the export's frame."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photogrammetry.export.nerfstudio import add_frame_files
from photogrammetry.io.jsonio import write_json
from photogrammetry.io.mesh import TexturedMeshData
from photogrammetry.sfm.export import transforms_json, write_colmap

if TYPE_CHECKING:
    import pycolmap


def moved_mesh(mesh: TexturedMeshData, matrix: np.ndarray) -> TexturedMeshData:
    """``mesh`` under the (4, 4) similarity ``matrix`` (normals rotated, still unit length)."""
    linear = matrix[:3, :3]
    rotation = linear / np.cbrt(np.linalg.det(linear))
    normals = None if mesh.normals is None else mesh.normals @ rotation.T
    return TexturedMeshData(vertices=mesh.vertices @ linear.T + matrix[:3, 3], faces=mesh.faces, uv=mesh.uv,
                            texture=mesh.texture, normals=normals, normal_map=mesh.normal_map)


def moved_model(model: pycolmap.Reconstruction, matrix: np.ndarray) -> pycolmap.Reconstruction:
    """``model`` (cameras and points) moved in place by the (4, 4) similarity ``matrix``; returns it."""
    import pycolmap

    scale = float(np.cbrt(np.linalg.det(matrix[:3, :3])))
    rotation = pycolmap.Rotation3d(matrix[:3, :3] / scale)
    model.transform(pycolmap.Sim3d(scale, rotation, matrix[:3, 3].copy()))
    return model


def write_cameras(model: pycolmap.Reconstruction, matrix: np.ndarray, folder: Path,
                  image_file: Callable[[str], Path], *, masks: Callable[[str], Path | None] = lambda name: None,
                  depths: Mapping[str, Callable[[], tuple[np.ndarray, np.ndarray]]] | None = None) -> dict[str, int]:
    """The cameras of ``model`` moved by ``matrix`` into ``folder``: ``colmap/`` and ``transforms.json``
    with the photos, masks and depth maps it names (:mod:`photogrammetry.export.nerfstudio`).

    Args:
        model: The reconstruction (moved in place).
        matrix: (4, 4) similarity from its frame to the export's.
        folder: Where to write.
        image_file: Image name -> absolute path of the photo the intrinsics refer to.
        masks: Image name -> its object mask, or ``None``.
        depths: Image name -> loader of ``(depth map, K at its size)`` in the model's units before the
            move, for the images that have one.

    Returns:
        How many frames got a mask and a depth map.
    """
    moved_model(model, matrix)
    write_colmap(model, folder / "colmap")
    content = transforms_json(model, lambda name: name)
    content["applied_transform"] = np.asarray(matrix)[:3].tolist()
    counts = add_frame_files(content, folder, model, images=image_file, masks=masks, depths=depths or {},
                             depth_scale=float(np.cbrt(np.linalg.det(np.asarray(matrix)[:3, :3]))))
    write_json(folder / "transforms.json", content)
    return counts
