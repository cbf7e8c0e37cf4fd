"""Ray casting of triangle meshes into pinhole views (open3d ``RaycastingScene``).

Renders ground-truth depth at any resolution and gives the triangle hits that the texture
renderer interpolates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import open3d as o3d

from photogrammetry.evaluation.cameras import CameraPose, PinholeCamera
from photogrammetry.evaluation.ground_truth import GroundTruth, GroundTruthFormatError, read_depth_png

_MISS = np.uint32(o3d.t.geometry.RaycastingScene.INVALID_ID)


def read_mesh(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a triangle mesh (PLY, OBJ, ...) with open3d.

    Returns:
        Vertices (V, 3) float64 and faces (F, 3) int64.

    Raises:
        GroundTruthFormatError: when the file is missing or holds no triangles.
    """
    if not Path(path).is_file():
        raise GroundTruthFormatError(f"{path}: mesh file not found")
    mesh = o3d.io.read_triangle_mesh(str(path))
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.triangles, dtype=np.int64)
    if len(faces) == 0:
        raise GroundTruthFormatError(f"{path}: no triangles could be read")
    return vertices, faces


@dataclass(frozen=True, kw_only=True, eq=False)
class RayHits:
    """First hits of the rays through every pixel of a view."""

    depth: np.ndarray
    """(H, W) float32 depth along the camera z axis; ``inf`` where nothing is hit."""
    part_ids: np.ndarray
    """(H, W) int64 index of the mesh part hit (order of addition); -1 where nothing is hit."""
    face_ids: np.ndarray
    """(H, W) int64 triangle index within its part; -1 where nothing is hit."""
    barycentric: np.ndarray
    """(H, W, 2) ``(u, v)``: the hit is ``(1-u-v) * v0 + u * v1 + v * v2``."""

    @property
    def hit(self) -> np.ndarray:
        """(H, W) bool, true where a triangle was hit."""
        return self.part_ids >= 0


class MeshRaycaster:
    """A set of triangle meshes prepared once (BVH) and cast into any number of views."""

    def __init__(self, parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
        """Build the acceleration structure.

        Args:
            parts: meshes as (vertices (V, 3), faces (F, 3)) pairs; hits report which part.
        """
        self._scene = o3d.t.geometry.RaycastingScene()
        for vertices, faces in parts:
            self._scene.add_triangles(
                o3d.core.Tensor(np.ascontiguousarray(vertices, dtype=np.float32)),
                o3d.core.Tensor(np.ascontiguousarray(faces, dtype=np.uint32)),
            )

    def cast(self, camera: PinholeCamera, pose: CameraPose) -> RayHits:
        """Cast one ray through the centre of every pixel of ``camera`` placed at ``pose``."""
        rays = o3d.t.geometry.RaycastingScene.create_rays_pinhole(
            o3d.core.Tensor(camera.K), o3d.core.Tensor(pose.matrix), camera.width, camera.height
        )
        out = {key: value.numpy() for key, value in self._scene.cast_rays(rays).items()}
        missed = out["geometry_ids"] == _MISS
        # Ray directions are R^T K^-1 (x, y, 1): their camera z is 1, so t_hit is z depth.
        return RayHits(
            depth=out["t_hit"].astype(np.float32),
            part_ids=np.where(missed, -1, out["geometry_ids"].astype(np.int64)),
            face_ids=np.where(missed, -1, out["primitive_ids"].astype(np.int64)),
            barycentric=out["primitive_uvs"],
        )

    def depth(self, camera: PinholeCamera, pose: CameraPose) -> np.ndarray:
        """(H, W) float32 z depth of the first hit; 0 where nothing is hit."""
        depth = self.cast(camera, pose).depth
        return np.where(np.isfinite(depth), depth, 0.0).astype(np.float32)


def gt_raycaster(gt: GroundTruth) -> MeshRaycaster | None:
    """A raycaster over the GT mesh that renders depth, or ``None`` when there is no mesh."""
    if gt.mesh_path is None:
        return None
    return MeshRaycaster([read_mesh(gt.mesh_path)])


def _resample_nearest(depth: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resampling of ``depth`` (H, W) to (height, width), pixel centres aligned."""
    rows = np.floor((np.arange(height) + 0.5) * depth.shape[0] / height).astype(np.int64)
    cols = np.floor((np.arange(width) + 0.5) * depth.shape[1] / width).astype(np.int64)
    return depth[np.minimum(rows, depth.shape[0] - 1)][:, np.minimum(cols, depth.shape[1] - 1)]


def gt_depth_map(
    gt: GroundTruth,
    name: str,
    *,
    width: int | None = None,
    height: int | None = None,
    raycaster: MeshRaycaster | None = None,
) -> np.ndarray | None:
    """Ground-truth depth of one view, at the view's size or at ``width`` x ``height``.

    Reads the view's depth PNG when there is one (nearest-neighbour resampling, which keeps
    depth edges sharp); otherwise ray casts the GT mesh with the view's camera rescaled.

    Args:
        gt: the ground truth.
        name: image name of the view.
        width: output width in pixels (default: the view's).
        height: output height in pixels (default: the view's).
        raycaster: a prepared raycaster over the GT mesh (built from ``gt`` when needed).

    Returns:
        (height, width) float32 z depth in GT units, 0 where unknown; ``None`` when the
        view has neither a depth PNG nor a GT mesh to render.
    """
    view = gt.views[name]
    width = view.camera.width if width is None else width
    height = view.camera.height if height is None else height
    if view.depth_path is not None and view.depth_path.is_file():
        if gt.depth_scale is None:
            raise GroundTruthFormatError(f"{gt.source}: depth maps given without a depth_scale")
        depth = read_depth_png(view.depth_path, gt.depth_scale)
        if depth.shape == (height, width):
            return depth
        return _resample_nearest(depth, width, height)
    raycaster = raycaster or gt_raycaster(gt)
    if raycaster is None:
        return None
    return raycaster.depth(view.camera.scaled_to(width, height), view.pose)
