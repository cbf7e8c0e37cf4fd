"""Meshers: Poisson and TSDF recover a sphere; trimming removes what the points do not support."""

from __future__ import annotations

import numpy as np
import pytest

from photogrammetry.errors import ConfigError, InputError
from photogrammetry.meshing import MESHERS, SurfaceOptions, median_spacing, mesher_spec
from photogrammetry.meshing.cloud import OrientedCloud
from photogrammetry.meshing.poisson import auto_depth, poisson

from .conftest import ring_views, sphere_cloud


def radii(vertices: np.ndarray) -> np.ndarray:
    return np.linalg.norm(vertices, axis=1)


@pytest.mark.parametrize("name", sorted(MESHERS))
def test_meshers_recover_a_sphere(name: str, cloud: OrientedCloud) -> None:
    views = ring_views(12, height=2.0) + ring_views(6, height=-2.0)
    mesh = mesher_spec(name).build(cloud, views, SurfaceOptions(), spacing=median_spacing(cloud.points))
    assert len(mesh.faces) > 1000
    error = np.abs(radii(mesh.vertices) - 1.0)
    tolerance = {"poisson": 0.05, "tsdf": 0.1}[name]  # TSDF of splatted sparse points is coarser
    assert np.percentile(error, 99) < tolerance and error.max() < 0.15
    corners = mesh.vertices[mesh.faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    outward = np.mean(np.einsum("nd,nd->n", normals, corners.mean(axis=1)) > 0)
    assert outward > {"poisson": 0.99, "tsdf": 0.95}[name]  # outward winding (TSDF: some inner debris)


def test_unknown_mesher_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="poisson, tsdf"):
        mesher_spec("marching")


def test_poisson_trims_the_invented_cap_of_a_half_sphere() -> None:
    half = sphere_cloud(upper_only=True)
    spacing = median_spacing(half.points)
    mesh = poisson(half, [], SurfaceOptions(density_quantile=0.0, max_distance=0.6), spacing=spacing)
    assert np.mean(mesh.vertices[:, 2] < -0.03) < 0.001  # Poisson closes the shape below; trimming removes it
    untrimmed = poisson(half, [], SurfaceOptions(density_quantile=0.0, max_distance=0.0), spacing=spacing)
    assert np.mean(untrimmed.vertices[:, 2] < -0.03) > 0.01


def test_density_trimming_removes_the_sparsest_vertices(cloud: OrientedCloud) -> None:
    spacing = median_spacing(cloud.points)
    full = poisson(cloud, [], SurfaceOptions(density_quantile=0.0, max_distance=0.0), spacing=spacing)
    trimmed = poisson(cloud, [], SurfaceOptions(density_quantile=0.2, max_distance=0.0), spacing=spacing)
    assert 0.6 * len(full.vertices) < len(trimmed.vertices) < 0.9 * len(full.vertices)


def test_zero_normals_do_not_make_surfaces_far_away(cloud: OrientedCloud) -> None:
    normals = cloud.normals.copy()
    normals[::10] = 0.0
    broken = OrientedCloud(points=cloud.points, normals=normals)
    mesh = poisson(broken, [], SurfaceOptions(), spacing=median_spacing(cloud.points))
    assert np.all(np.isfinite(mesh.vertices)) and radii(mesh.vertices).max() < 1.2


def test_auto_depth_follows_the_spacing() -> None:
    points = np.random.default_rng(0).random((1000, 3))
    assert auto_depth(points, 0.01) > auto_depth(points, 0.05)
    assert 5 <= auto_depth(points, 1e-9) <= 11


def test_too_few_points_is_an_error() -> None:
    with pytest.raises(InputError, match="at least 100"):
        poisson(sphere_cloud(50), [], SurfaceOptions(), spacing=0.1)


def test_tsdf_needs_cameras(cloud: OrientedCloud) -> None:
    with pytest.raises(InputError, match="cameras"):
        mesher_spec("tsdf").build(cloud, [], SurfaceOptions(), spacing=0.02)


def test_distance_trim_keeps_sparse_parts_of_an_unevenly_dense_cloud() -> None:
    # An MVS cloud is dense where many photos overlap and sparse elsewhere: its median spacing
    # is that of the dense part, and a trim by global spacings cut the rest to shreds.
    sparse, dense = sphere_cloud(count=3000, noise=0.005, seed=1), sphere_cloud(count=40000, noise=0.005, seed=2)
    cap = dense.points[:, 2] > 0.5
    cloud = OrientedCloud(points=np.concatenate([sparse.points, dense.points[cap]]),
                          normals=np.concatenate([sparse.normals, dense.normals[cap]]))
    spacing = median_spacing(cloud.points)
    untrimmed = poisson(cloud, [], SurfaceOptions(density_quantile=0.0, max_distance=0.0), spacing=spacing)
    trimmed = poisson(cloud, [], SurfaceOptions(density_quantile=0.0), spacing=spacing)
    assert len(trimmed.faces) > 0.98 * len(untrimmed.faces)
    assert np.abs(radii(trimmed.vertices) - 1.0).max() < 0.05
