"""Masks and visual hull of a real set shot against a plain dark background (the temple), for the
mesh benchmark: such a set has no GT mesh, and its hull is the mesh its textures are compared on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from photogrammetry.io.mesh import MeshData
from photogrammetry.meshing import CameraView
from photogrammetry.meshing.views import sample_image


def silhouettes(views: list[CameraView], out: Path, threshold: int = 45) -> list[CameraView]:
    """Masks of a bright object on a dark background, written to ``out``; the views with them."""
    out.mkdir(parents=True, exist_ok=True)
    masked = []
    for view in views:
        grey = view.read_image().max(axis=2)
        mask = cv2.morphologyEx((grey > threshold).astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
        largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])) if count > 1 else 0
        path = out / f"{Path(view.name).stem}.png"
        cv2.imwrite(str(path), np.where(labels == largest, 255, 0).astype(np.uint8))
        masked.append(CameraView(name=view.name, K=view.K, R=view.R, t=view.t, width=view.width,
                                 height=view.height, image_path=view.image_path, mask_path=path))
    return masked


def visual_hull(views: list[CameraView], box: np.ndarray, voxels: int = 192) -> MeshData:
    """Isosurface of the silhouettes' intersection inside ``box`` (2, 3)."""
    import open3d as o3d

    size = float(np.max(box[1] - box[0])) / voxels
    axes = [np.arange(lo, hi + size, size) for lo, hi in zip(box[0], box[1], strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    inside = np.ones(len(grid), np.float32)
    for view in views:
        mask = cv2.GaussianBlur(view.read_mask().astype(np.float32), (0, 0), 1.0)
        pix, z = view.project(grid)
        value = sample_image(mask, np.nan_to_num(pix, nan=-1.0, posinf=-1.0, neginf=-1.0))[:, 0]
        inside = np.minimum(inside, np.where(z > 0, value, 0))
    volume = inside.reshape(len(axes[0]), len(axes[1]), len(axes[2])).transpose(2, 1, 0) - 0.5
    mesh = o3d.t.geometry.TriangleMesh.create_isosurfaces(o3d.core.Tensor(np.ascontiguousarray(volume)))
    vertices = mesh.vertex.positions.numpy().astype(np.float64) * size + box[0]
    return MeshData(vertices=vertices, faces=mesh.triangle.indices.numpy())
