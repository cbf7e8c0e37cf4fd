"""Oriented point clouds: the input of the meshers (the ``fusion`` stage's PLY)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from photogrammetry.errors import InputError
from photogrammetry.meshing.views import CameraView


@dataclass(frozen=True, kw_only=True, eq=False)
class OrientedCloud:
    """Points with outward normals and, optionally, colours."""

    points: np.ndarray
    """(N, 3) float64 positions."""
    normals: np.ndarray
    """(N, 3) float64 unit normals pointing out of the surface (towards the cameras)."""
    colors: np.ndarray | None = None
    """(N, 3) float64 RGB in [0, 1]."""

    def __post_init__(self) -> None:
        points = np.asarray(self.points, dtype=np.float64).reshape(-1, 3)
        object.__setattr__(self, "points", points)
        for name in ("normals", "colors"):
            value = getattr(self, name)
            if value is None:
                continue
            value = np.asarray(value, dtype=np.float64)
            if value.shape != points.shape:
                raise ValueError(f"{name} must have shape {points.shape}, got {value.shape}")
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return len(self.points)

    def subset(self, keep: np.ndarray) -> OrientedCloud:
        """The points selected by a boolean mask or index array."""
        return OrientedCloud(points=self.points[keep], normals=self.normals[keep],
                             colors=None if self.colors is None else self.colors[keep])

    def to_open3d(self):
        """The cloud as a legacy ``open3d.geometry.PointCloud``."""
        import open3d as o3d

        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(self.points))
        pcd.normals = o3d.utility.Vector3dVector(self.normals)
        if self.colors is not None:
            pcd.colors = o3d.utility.Vector3dVector(self.colors)
        return pcd


def median_spacing(points: np.ndarray, *, samples: int = 20_000, seed: int = 0) -> float:
    """Median distance from a point to its nearest neighbour, on a random subset of (N, 3) points."""
    from scipy.spatial import cKDTree

    if len(points) < 2:
        raise InputError("a point cloud needs at least 2 points")
    rng = np.random.default_rng(seed)
    query = points[rng.choice(len(points), size=min(samples, len(points)), replace=False)]
    distances = cKDTree(points).query(query, k=2, workers=-1)[0][:, 1]
    positive = distances[distances > 0]
    return float(np.median(positive)) if len(positive) else 0.0


def orient_towards_views(points: np.ndarray, normals: np.ndarray, views: Sequence[CameraView]) -> np.ndarray:
    """Normals (N, 3) flipped to face the nearest camera centre (all views when there are few)."""
    from scipy.spatial import cKDTree

    centers = np.stack([v.center for v in views])
    nearest = cKDTree(centers).query(points, k=1, workers=-1)[1]
    facing = np.einsum("nd,nd->n", normals, centers[nearest] - points)
    return np.where(facing[:, None] < 0, -normals, normals)


def estimate_normals(points: np.ndarray, views: Sequence[CameraView], *, neighbours: int = 20) -> np.ndarray:
    """PCA normals (N, 3) of a point cloud from its nearest neighbours, oriented towards the cameras."""
    import open3d as o3d

    if not views:
        raise InputError("the point cloud has no normals and no cameras to orient estimated ones")
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    pcd.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(knn=neighbours))
    return orient_towards_views(points, np.asarray(pcd.normals), views)


def usable_normals(points: np.ndarray, normals: np.ndarray | None, views: Sequence[CameraView]) -> np.ndarray:
    """Unit normals (N, 3): the given ones where they are valid, estimated ones where they are
    missing, zero or not finite (such normals make Poisson invent surfaces far away)."""
    if normals is None:
        return estimate_normals(points, views)
    lengths = np.linalg.norm(normals, axis=1)
    valid = np.isfinite(lengths) & (lengths > 0.5)
    normals = np.divide(normals, lengths[:, None], out=np.zeros_like(normals), where=valid[:, None])
    if not valid.all():
        normals[~valid] = estimate_normals(points, views)[~valid]
    return normals


def read_cloud(path: Path, views: Sequence[CameraView] = ()) -> OrientedCloud:
    """Read a PLY point cloud; normals are estimated (and oriented by ``views``) where absent.

    Raises:
        InputError: when the file is missing or empty, or has no normals and no views are given.
    """
    import open3d as o3d

    if not Path(path).is_file():
        raise InputError(f"{path}: point cloud not found")
    pcd = o3d.io.read_point_cloud(str(path))
    points = np.asarray(pcd.points, dtype=np.float64)
    finite = np.all(np.isfinite(points), axis=1)
    if not finite.any():
        raise InputError(f"{path}: no points could be read")
    normals = np.asarray(pcd.normals, dtype=np.float64)[finite] if pcd.has_normals() else None
    normals = usable_normals(points[finite], normals, views)
    colors = np.asarray(pcd.colors, dtype=np.float64)[finite] if pcd.has_colors() else None
    return OrientedCloud(points=points[finite], normals=normals, colors=colors)
