"""Point fusion: filtered depth maps into one coloured cloud with normals, merged per voxel.

Every kept depth pixel becomes a world point with the colour of its image and the normal of
its normal map (rotated to the world frame). The filtering already demanded that other views
agree with each depth; here the points of all views that fall into one voxel are averaged
(positions, colours, normals), so a surface seen by many views becomes one layer of points.
The default voxel is the median footprint of a pixel at the median depth. Each merged point
records the views its points came from (COLMAP's ``fused.ply.vis``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from photogrammetry.mvs.geometry import backproject


@dataclass(frozen=True)
class PointCloud:
    """Points with normals and colours, world frame."""

    points: np.ndarray
    """(N, 3) float64 positions."""
    normals: np.ndarray
    """(N, 3) float32 unit normals."""
    colors: np.ndarray
    """(N, 3) uint8 RGB."""
    seen_by: tuple[np.ndarray, np.ndarray] | None = None
    """Which views each point came from: ``(counts (N,), views (sum of counts,))``, the positions
    of the views in the fused sequence, each point's ascending, points in order; ``None`` if unknown."""

    def __len__(self) -> int:
        return len(self.points)


@dataclass(frozen=True)
class ViewMaps:
    """What fusion needs of one view."""

    depth: np.ndarray
    """(H, W) filtered depth, 0 = none."""
    normals: np.ndarray
    """(H, W, 3) camera-frame normals."""
    rgb: np.ndarray
    """(H, W, 3) uint8 colours at the maps' size."""
    K: np.ndarray
    """(3, 3) intrinsics at the maps' size."""
    R: np.ndarray
    """(3, 3) ``cam_from_world`` rotation."""
    t: np.ndarray
    """(3,) ``cam_from_world`` translation."""


def view_points(view: ViewMaps) -> PointCloud:
    """The world points of one view's kept depths."""
    keep = view.depth > 0
    cam = backproject(view.depth, view.K)[keep]
    world = (cam - view.t) @ view.R  # R^T (x - t), row-wise
    normals = view.normals[keep].astype(np.float64) @ view.R
    return PointCloud(world, normals.astype(np.float32), view.rgb[keep])


def pixel_footprint(view: ViewMaps) -> float:
    """Size of one pixel at the view's median kept depth (0 when it has none)."""
    kept = view.depth[view.depth > 0]
    return float(np.median(kept) / view.K[0, 0]) if len(kept) else 0.0


def merged_views(inverse: np.ndarray, view_of: np.ndarray, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, views)`` of :attr:`PointCloud.seen_by` for points merged into ``cells`` cells
    (``inverse``: each input point's cell) that came from views ``view_of`` (each input point's view)."""
    span = int(view_of.max()) + 1 if len(view_of) else 1
    pairs = np.unique(inverse.astype(np.int64) * span + view_of)
    return np.bincount(pairs // span, minlength=cells), (pairs % span).astype(np.int64)


def merge_voxels(cloud: PointCloud, voxel: float, view_of: np.ndarray | None = None) -> PointCloud:
    """Average the points, colours and normals that share a voxel of size ``voxel``; with ``view_of``
    ((N,) each point's view) the merged points record the views they came from."""
    if voxel <= 0 or len(cloud) == 0:
        seen = None if view_of is None else (np.ones(len(cloud), dtype=np.int64), view_of.astype(np.int64))
        return PointCloud(cloud.points, cloud.normals, cloud.colors, seen)
    cells = np.floor(cloud.points / voxel).astype(np.int64)
    _, inverse, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)

    def mean(values: np.ndarray) -> np.ndarray:
        out = np.zeros((len(counts), values.shape[1]))
        np.add.at(out, inverse, values)
        return out / counts[:, None]

    normals = mean(cloud.normals.astype(np.float64))
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    colors = np.clip(np.round(mean(cloud.colors.astype(np.float64))), 0, 255).astype(np.uint8)
    seen = None if view_of is None else merged_views(inverse, view_of, len(counts))
    return PointCloud(mean(cloud.points), normals.astype(np.float32), colors, seen)


def fuse_points(views: Iterable[ViewMaps], voxel: float = 0.0, voxel_factor: float = 1.0) -> tuple[PointCloud, float]:
    """Fuse views into one cloud.

    Args:
        views: The views' maps (consumed once).
        voxel: Merge voxel size in world units; 0 derives it from the views.
        voxel_factor: Multiplies the derived voxel size (pixel footprint at median depth).

    Returns:
        The merged cloud (with :attr:`PointCloud.seen_by`: positions in ``views``) and the voxel size used.
    """
    clouds, footprints = [], []
    for view in views:
        clouds.append(view_points(view))
        footprints.append(pixel_footprint(view))
    if not clouds:
        return PointCloud(np.zeros((0, 3)), np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8)), voxel
    merged = PointCloud(*(np.concatenate(parts) for parts in zip(*((c.points, c.normals, c.colors) for c in clouds))))
    view_of = np.concatenate([np.full(len(c), i, dtype=np.int64) for i, c in enumerate(clouds)])
    positive = [f for f in footprints if f > 0]
    size = voxel or (voxel_factor * float(np.median(positive)) if positive else 0.0)
    return merge_voxels(merged, size, view_of), size

