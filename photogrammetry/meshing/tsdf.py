"""TSDF fusion and marching cubes (open3d ``VoxelBlockGrid``) of the cloud splatted into the views.

Each view gets a depth map of the oriented cloud (a z-buffer of the points, rendered at the
resolution where neighbouring points land on neighbouring pixels); the depth maps are fused
into a truncated signed distance volume whose zero level is extracted by marching cubes.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from photogrammetry.errors import InputError
from photogrammetry.io.mesh import MeshData
from photogrammetry.meshing.base import SurfaceOptions
from photogrammetry.meshing.cloud import OrientedCloud
from photogrammetry.meshing.poisson import far_vertices, remove_vertices
from photogrammetry.meshing.views import CameraView


def splat_depth(points: np.ndarray, view: CameraView, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Depth map of points seen by ``view``, at a resolution where the points cover the surface.

    Args:
        points: (N, 3) world points.
        view: The camera.
        spacing: Typical distance between neighbouring points.

    Returns:
        (h, w) float32 z depth (0 where empty) and the (3, 3) intrinsics at that resolution.
    """
    pix, z = view.project(points)
    front = z > 0
    if not front.any():
        return np.zeros((1, 1), np.float32), view.K.copy()
    pixels_per_spacing = spacing * view.K[0, 0] / float(np.median(z[front]))
    scale = float(np.clip(0.7 / max(pixels_per_spacing, 1e-12), 0.05, 1.0))
    width, height = max(1, round(view.width * scale)), max(1, round(view.height * scale))
    K = np.diag([width / view.width, height / view.height, 1.0]) @ view.K
    col, row = np.floor(pix[:, 0] * width / view.width), np.floor(pix[:, 1] * height / view.height)
    ok = front & (col >= 0) & (row >= 0) & (col < width) & (row < height)
    flat = row[ok].astype(np.int64) * width + col[ok].astype(np.int64)
    depth = np.full(width * height, np.inf, np.float32)
    np.minimum.at(depth, flat, z[ok].astype(np.float32))
    # Each pixel takes the nearest depth around it: a gap in the front surface must not show
    # the back of the object (which would carve the front away as free space).
    depth = cv2.erode(depth.reshape(height, width), np.ones((3, 3), np.uint8))
    return np.where(np.isfinite(depth), depth, 0.0).astype(np.float32), K


def tsdf(cloud: OrientedCloud, views: Sequence[CameraView], options: SurfaceOptions, *, spacing: float,
         workers: int = 1) -> MeshData:
    """Marching-cubes surface of the TSDF fused from the cloud's depth maps in ``views``.

    Args:
        cloud: Points (normals unused), cropped to the region to mesh.
        views: Cameras to render depth maps from (the photos' cameras).
        options: Voxel size, truncation and trimming settings.
        spacing: Typical distance between neighbouring points (world units).
        workers: Unused (open3d's TSDF integration threads itself).
    """
    import open3d as o3d
    import open3d.core as o3c

    if not views:
        raise InputError("TSDF meshing needs the cameras of the photos")
    voxel = options.voxel_size or 1.5 * spacing
    grid = o3d.t.geometry.VoxelBlockGrid(attr_names=("tsdf", "weight"), attr_dtypes=(o3c.float32, o3c.float32),
                                         attr_channels=((1,), (1,)), voxel_size=voxel, block_resolution=8,
                                         block_count=max(1000, len(cloud) // 8))
    depth_max = float(max(np.linalg.norm(cloud.points - v.center, axis=1).max() for v in views)) * 1.01
    for view in views:
        depth, K = splat_depth(cloud.points, view, spacing)
        image = o3d.t.geometry.Image(o3c.Tensor(depth))
        intrinsic, extrinsic = o3c.Tensor(K, o3c.float64), o3c.Tensor(_extrinsic(view), o3c.float64)
        blocks = grid.compute_unique_block_coordinates(image, intrinsic, extrinsic, 1.0, depth_max,
                                                       options.truncation)
        grid.integrate(blocks, image, intrinsic, extrinsic, 1.0, depth_max, options.truncation)
    legacy = grid.extract_triangle_mesh(weight_threshold=1.0).to_legacy()
    if len(legacy.triangles) == 0:
        raise InputError("TSDF fusion produced no surface; check the cameras and the point cloud")
    mesh = MeshData(vertices=np.asarray(legacy.vertices), faces=np.asarray(legacy.triangles))
    return remove_vertices(mesh, far_vertices(mesh.vertices, cloud.points, options.max_distance))


def _extrinsic(view: CameraView) -> np.ndarray:
    """(4, 4) ``cam_from_world`` matrix of a view."""
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = view.R, view.t
    return out
