"""The fused cloud as a voxel grid: occupancy and mean colour per voxel, open3d's ``VoxelGrid`` PLY.

A voxel is occupied when at least one fused point falls into it; its colour is the mean colour
of those points. The grid is written by ``open3d.io.write_voxel_grid`` (binary PLY: the grid's
``origin``, ``rotation`` and ``voxel_size`` as one-row elements, then one vertex per voxel with its
integer ``grid_index`` and colour), which ``open3d.io.read_voxel_grid`` reads back; voxel ``(i, j, k)``
spans ``origin + voxel_size * [i, j, k]`` to ``origin + voxel_size * [i+1, j+1, k+1]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def voxel_grid(points: np.ndarray, colors: np.ndarray, voxel_size: float):
    """open3d ``VoxelGrid`` of ``points`` (N, 3) with ``colors`` (N, 3) uint8 at ``voxel_size``."""
    import open3d as o3d

    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64)))
    cloud.colors = o3d.utility.Vector3dVector(np.asarray(colors, dtype=np.float64) / 255.0)
    return o3d.geometry.VoxelGrid.create_from_point_cloud(cloud, float(voxel_size))


def write_voxels(path: Path, points: np.ndarray, colors: np.ndarray, voxel_size: float) -> int:
    """Write the voxel grid of the cloud to ``path`` (PLY); returns the number of occupied voxels."""
    import open3d as o3d

    if voxel_size <= 0:
        raise ValueError(f"voxel size must be positive, got {voxel_size}")
    grid = voxel_grid(points, colors, voxel_size)
    partial = path.with_name(f".{path.name}.partial.ply")
    if not o3d.io.write_voxel_grid(str(partial), grid):
        raise OSError(f"open3d could not write the voxel grid {path}")
    partial.replace(path)
    return len(grid.get_voxels())
