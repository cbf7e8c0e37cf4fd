"""Screened Poisson surface reconstruction (open3d, Kazhdan's code) with density trimming."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from photogrammetry.errors import InputError
from photogrammetry.io.mesh import MeshData
from photogrammetry.meshing.base import SurfaceOptions
from photogrammetry.meshing.cloud import OrientedCloud
from photogrammetry.meshing.views import CameraView


def auto_depth(points: np.ndarray, spacing: float) -> int:
    """Octree depth whose finest cells are about two point spacings wide, within 5..11."""
    extent = float(np.max(points.max(axis=0) - points.min(axis=0))) * 1.1  # open3d's default scale
    if spacing <= 0 or extent <= 0:
        return 8
    return int(np.clip(math.ceil(math.log2(extent / (2.0 * spacing))), 5, 11))


def far_vertices(vertices: np.ndarray, points: np.ndarray, max_distance: float, *,
                 neighbours: int = 8) -> np.ndarray:
    """(V,) bool: vertices (V, 3) farther from the cloud (N, 3) than ``max_distance`` local spacings.

    The local spacing at a vertex is the distance from its nearest point to that point's
    ``neighbours``-th nearest neighbour: it grows where the cloud is sparse (far walls) and
    with the thickness of a noisy layer of points, so that the trim removes the surfaces
    Poisson invents away from the points but not the surface through a noisy layer (a
    global spacing cuts that one to shreds).
    """
    from scipy.spatial import cKDTree

    if max_distance <= 0:
        return np.zeros(len(vertices), dtype=bool)
    tree = cKDTree(points)
    distance, nearest = tree.query(vertices, k=1, workers=-1)
    anchors, inverse = np.unique(nearest, return_inverse=True)
    k = min(neighbours, len(points) - 1) + 1
    local = tree.query(points[anchors], k=k, workers=-1)[0][:, -1]
    return distance > max_distance * local[inverse.reshape(-1)]


def remove_vertices(mesh: MeshData, drop: np.ndarray) -> MeshData:
    """The mesh without the vertices flagged in ``drop`` (V,) and the faces touching them."""
    keep_faces = ~drop[mesh.faces].any(axis=1)
    faces = mesh.faces[keep_faces]
    used = np.zeros(len(mesh.vertices), dtype=bool)
    used[faces] = True
    remap = np.cumsum(used) - 1
    return MeshData(vertices=mesh.vertices[used], faces=remap[faces],
                    normals=None if mesh.normals is None else mesh.normals[used],
                    colors=None if mesh.colors is None else mesh.colors[used])


def poisson(cloud: OrientedCloud, views: Sequence[CameraView], options: SurfaceOptions, *, spacing: float,
            workers: int = 1) -> MeshData:
    """Screened Poisson surface of an oriented cloud, trimmed where the points are sparse.

    Trimming drops vertices whose Poisson density (how deep the octree went there) is in the
    lowest ``density_quantile``, and vertices farther than ``max_distance`` local spacings
    from the points (:func:`far_vertices`): the surfaces Poisson invents to close the shape where nothing was seen.

    Args:
        cloud: Oriented points, cropped to the region to mesh.
        views: Unused (Poisson needs only the points).
        options: Depth, screening and trimming settings.
        spacing: Typical distance between neighbouring points (world units), for the automatic depth.
        workers: Threads, when ``options.poisson_threads`` is 0 (1 thread gives the same bytes every run).
    """
    import open3d as o3d

    if len(cloud) < 100:
        raise InputError(f"only {len(cloud)} points to mesh; at least 100 are needed")
    depth = options.poisson_depth or auto_depth(cloud.points, spacing)
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        legacy, densities = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(
            cloud.to_open3d(), depth=depth, point_weight=options.point_weight,
            n_threads=options.poisson_threads or max(1, workers))
    if len(legacy.triangles) == 0:
        raise InputError("Poisson reconstruction produced no surface; check the point cloud's normals")
    mesh = MeshData(vertices=np.asarray(legacy.vertices), faces=np.asarray(legacy.triangles),
                    colors=np.asarray(legacy.vertex_colors) if legacy.has_vertex_colors() else None)
    densities = np.asarray(densities)
    low, high = cloud.points.min(axis=0), cloud.points.max(axis=0)
    margin = 0.1 * (high - low)
    outside = ~np.all((mesh.vertices >= low - margin) & (mesh.vertices <= high + margin), axis=1)
    drop = outside | ~np.all(np.isfinite(mesh.vertices), axis=1)
    if options.density_quantile > 0:
        drop |= densities < np.quantile(densities, options.density_quantile)
    drop = drop | far_vertices(mesh.vertices, cloud.points, options.max_distance)
    return remove_vertices(mesh, drop)
