"""TSDF fusion of filtered depth maps with open3d's ``VoxelBlockGrid`` (on CUDA when open3d has it).

Each view's depth and colour are integrated into a sparse grid of truncated signed distances;
the zero crossing is extracted as a triangle mesh (vertex colours) and as a point cloud with
normals. open3d projects a voxel to pixel ``floor(u)``, so COLMAP-convention intrinsics are
used as they are. Only depths that survived filtering are integrated, which keeps the free
space carving honest. open3d is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from photogrammetry.mvs.fusion import PointCloud, ViewMaps


@dataclass(frozen=True, kw_only=True)
class TSDFOptions:
    """Settings of the TSDF volume (its voxel size and device are given to :func:`integrate`)."""

    truncation_voxels: float = 4.0
    """Truncation distance in voxels."""
    min_views: float = 2.0
    """Surface only where at least this many views integrated the voxel (open3d's weight threshold)."""
    block_count: int = field(default=40_000, metadata={"cache": False})
    """Initial number of 16^3 voxel blocks (the grid grows when needed; does not change results)."""


@dataclass(frozen=True)
class TSDFResult:
    """The extracted surface."""

    cloud: PointCloud
    """Surface points with normals and colours."""
    vertices: np.ndarray
    """(V, 3) mesh vertices."""
    triangles: np.ndarray
    """(F, 3) vertex indices."""
    vertex_colors: np.ndarray
    """(V, 3) uint8 colours."""
    device: str
    """Where the volume lived (``CPU:0`` or ``CUDA:0``)."""


def open3d_device(device: str) -> Any:
    """open3d's CUDA device when asked for and available, else its CPU."""
    import open3d as o3d

    if str(device).startswith("cuda") and o3d.core.cuda.is_available():
        return o3d.core.Device("CUDA:0")
    return o3d.core.Device("CPU:0")


def integrate(views: Iterable[ViewMaps], options: TSDFOptions, voxel_size: float, device: str = "cpu") -> TSDFResult:
    """Integrate views and extract their surface.

    Args:
        views: The views' filtered maps (consumed once).
        options: Volume settings.
        voxel_size: Voxel edge in world units.
        device: ``cpu`` or ``cuda`` (CUDA only when open3d was built with it).
    """
    import open3d as o3d
    import open3d.core as o3c

    device = open3d_device(device)
    grid = o3d.t.geometry.VoxelBlockGrid(
        attr_names=("tsdf", "weight", "color"), attr_dtypes=(o3c.float32, o3c.float32, o3c.float32),
        attr_channels=((1,), (1,), (3,)), voxel_size=voxel_size, block_resolution=16,
        block_count=options.block_count, device=device)
    for view in views:
        _integrate_view(grid, view, options, device)
    return _extract(grid, options, str(device))


def _integrate_view(grid: Any, view: ViewMaps, options: TSDFOptions, device: Any) -> None:
    import open3d as o3d
    import open3d.core as o3c

    if not (view.depth > 0).any():
        return
    depth = o3d.t.geometry.Image(o3c.Tensor(np.ascontiguousarray(view.depth, np.float32), device=device))
    color = o3d.t.geometry.Image(o3c.Tensor(np.ascontiguousarray(view.rgb, np.float32) / 255.0, device=device))
    intrinsic = o3c.Tensor(view.K, o3c.float64)
    extrinsic = np.eye(4)
    extrinsic[:3, :3], extrinsic[:3, 3] = view.R, view.t
    extrinsic = o3c.Tensor(extrinsic, o3c.float64)
    depth_max = float(view.depth.max()) * 1.01
    blocks = grid.compute_unique_block_coordinates(depth, intrinsic, extrinsic, depth_scale=1.0,
                                                   depth_max=depth_max,
                                                   trunc_voxel_multiplier=options.truncation_voxels)
    grid.integrate(blocks, depth, color, intrinsic, extrinsic, depth_scale=1.0, depth_max=depth_max,
                   trunc_voxel_multiplier=options.truncation_voxels)


def _extract(grid: Any, options: TSDFOptions, device: str) -> TSDFResult:
    cloud = grid.extract_point_cloud(weight_threshold=options.min_views)
    mesh = grid.extract_triangle_mesh(weight_threshold=options.min_views)
    if "positions" not in cloud.point or len(cloud.point.positions) == 0:
        empty = np.zeros((0, 3))
        return TSDFResult(PointCloud(empty, empty.astype(np.float32), empty.astype(np.uint8)), empty,
                          np.zeros((0, 3), np.int64), np.zeros((0, 3), np.uint8), device)
    points = cloud.point.positions.cpu().numpy().astype(np.float64)
    normals = cloud.point.normals.cpu().numpy() if "normals" in cloud.point else np.zeros_like(points)
    colors = _to_uint8(cloud.point.colors.cpu().numpy()) if "colors" in cloud.point else \
        np.zeros_like(points, np.uint8)
    vertices = mesh.vertex.positions.cpu().numpy().astype(np.float64) if "positions" in mesh.vertex else points[:0]
    triangles = mesh.triangle.indices.cpu().numpy().astype(np.int64) if "indices" in mesh.triangle else \
        np.zeros((0, 3), np.int64)
    vertex_colors = _to_uint8(mesh.vertex.colors.cpu().numpy()) if "colors" in mesh.vertex else \
        np.zeros_like(vertices, np.uint8)
    return TSDFResult(PointCloud(points, normals.astype(np.float32), colors), vertices, triangles, vertex_colors,
                      device)


def _to_uint8(colors: np.ndarray) -> np.ndarray:
    return np.clip(np.round(colors * 255.0), 0, 255).astype(np.uint8)
