"""Point fusion, TSDF fusion and the PLY writer on exact depth maps of a plane."""

from __future__ import annotations

import numpy as np
import open3d as o3d

from photogrammetry.io.fusion import write_point_ply
from photogrammetry.mvs.fusion import PointCloud, ViewMaps, fuse_points, merge_voxels
from photogrammetry.mvs.geometry import normals_from_depth
from photogrammetry.mvs.tsdf import TSDFOptions, integrate

from .conftest import plane_depth


def maps(views) -> list[ViewMaps]:
    out = []
    for v in views:
        depth = plane_depth(v, [0, 0, 1], -0.5)
        rgb = np.full((v.height, v.width, 3), (200, 100, 50), np.uint8)
        out.append(ViewMaps(depth=depth, normals=normals_from_depth(depth, v.K), rgb=rgb, K=v.K, R=v.R, t=v.t))
    return out


def test_points_lie_on_the_plane_with_its_normal_and_colour(ring_views):
    cloud, voxel = fuse_points(maps(ring_views[:3]))
    assert voxel > 0 and len(cloud) > 500
    assert np.abs(cloud.points[:, 2] + 0.5).max() < 1e-3
    assert np.abs(cloud.normals[:, 2] - 1.0).max() < 1e-3  # facing the cameras above
    assert (cloud.colors == (200, 100, 50)).all()


def test_merging_averages_points_in_a_voxel():
    cloud = PointCloud(np.array([[0.1, 0.1, 0.1], [0.3, 0.3, 0.3], [1.5, 0.0, 0.0]]),
                       np.array([[0, 0, 1], [0, 0, 1], [1, 0, 0]], np.float32),
                       np.array([[0, 0, 0], [100, 100, 100], [9, 9, 9]], np.uint8))
    merged = merge_voxels(cloud, 1.0)
    order = np.argsort(merged.points[:, 0])
    assert np.allclose(merged.points[order], [[0.2, 0.2, 0.2], [1.5, 0.0, 0.0]])
    assert merged.colors[order].tolist() == [[50, 50, 50], [9, 9, 9]]


def test_tsdf_surface_is_the_plane(ring_views):
    result = integrate(maps(ring_views[:4]), TSDFOptions(min_views=1.0), voxel_size=0.05)
    assert len(result.cloud) > 100 and len(result.triangles) > 100
    for points in (result.cloud.points, result.vertices):  # the frontier of what was seen is rougher
        error = np.abs(points[:, 2] + 0.5)
        assert np.median(error) < 0.01 and np.percentile(error, 95) < 0.05


def test_ply_round_trip(tmp_path):
    points = np.random.default_rng(0).normal(size=(50, 3))
    normals = np.tile(np.float32([0, 0, 1]), (50, 1))
    colors = np.random.default_rng(1).integers(0, 256, (50, 3)).astype(np.uint8)
    write_point_ply(tmp_path / "p.ply", points, normals, colors)
    cloud = o3d.io.read_point_cloud(str(tmp_path / "p.ply"))
    assert np.allclose(np.asarray(cloud.points), points, atol=1e-5)
    assert np.allclose(np.asarray(cloud.normals), normals)
    assert np.allclose(np.asarray(cloud.colors) * 255, colors, atol=0.5)


def test_merged_points_record_the_views_they_came_from():
    cloud = PointCloud(np.array([[0.1, 0.1, 0.1], [0.3, 0.3, 0.3], [1.5, 0.0, 0.0], [0.2, 0.2, 0.2]]),
                       np.tile(np.float32([0, 0, 1]), (4, 1)), np.zeros((4, 3), np.uint8))
    merged = merge_voxels(cloud, 1.0, np.array([2, 0, 1, 2]))
    counts, views = merged.seen_by
    order = np.argsort(merged.points[:, 0])  # the cell at the origin, then the one at x = 1.5
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    assert [views[starts[i]:starts[i] + counts[i]].tolist() for i in order] == [[0, 2], [1]]
    unmerged = merge_voxels(cloud, 0.0, np.array([2, 0, 1, 2]))
    assert unmerged.seen_by[0].tolist() == [1, 1, 1, 1] and unmerged.seen_by[1].tolist() == [2, 0, 1, 2]
