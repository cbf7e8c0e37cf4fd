"""Input clouds (normals repaired or estimated) and views read from COLMAP folders."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from photogrammetry.errors import InputError
from photogrammetry.io.mesh import MeshData, write_ply
from photogrammetry.meshing.cloud import median_spacing, read_cloud
from photogrammetry.meshing.views import colmap_points, load_colmap_views

from .conftest import ring_views, sphere_cloud


def write_cloud(path: Path, points: np.ndarray, normals: np.ndarray | None) -> None:
    write_ply(path, MeshData(vertices=points, faces=np.zeros((0, 3)), normals=normals))


def test_missing_normals_are_estimated_facing_the_cameras(tmp_path: Path) -> None:
    cloud = sphere_cloud(3000)
    write_cloud(tmp_path / "c.ply", cloud.points, None)
    read = read_cloud(tmp_path / "c.ply", ring_views(8, height=0.5))
    facing = np.einsum("nd,nd->n", read.normals, cloud.normals)
    assert np.mean(facing > 0.9) > 0.9


def test_zero_normals_are_replaced(tmp_path: Path) -> None:
    cloud = sphere_cloud(3000)
    normals = cloud.normals.copy()
    normals[:100] = 0
    write_cloud(tmp_path / "c.ply", cloud.points, normals)
    read = read_cloud(tmp_path / "c.ply", ring_views(8, height=0.5))
    np.testing.assert_allclose(np.linalg.norm(read.normals, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(read.normals[100:], cloud.normals[100:], atol=1e-5)


def test_without_normals_or_cameras_is_an_error(tmp_path: Path) -> None:
    write_cloud(tmp_path / "c.ply", sphere_cloud(500).points, None)
    with pytest.raises(InputError, match="no normals"):
        read_cloud(tmp_path / "c.ply")
    with pytest.raises(InputError, match="not found"):
        read_cloud(tmp_path / "missing.ply")


def test_median_spacing_of_a_grid() -> None:
    grid = np.stack(np.meshgrid(np.arange(20), np.arange(20), [0], indexing="ij"), -1).reshape(-1, 3) * 0.5
    assert median_spacing(grid.astype(float)) == pytest.approx(0.5)


def write_colmap(folder: Path) -> None:
    """Two PINHOLE views of one camera and one 3D point, in COLMAP's text format."""
    folder.mkdir(parents=True)
    (folder / "cameras.txt").write_text("1 PINHOLE 160 120 150 150 80 60\n")
    (folder / "images.txt").write_text("1 1 0 0 0 0 0 4 1 a.jpg\n80 60 1\n2 1 0 0 0 1 0 4 1 sub/b.jpg\n80 60 1\n")
    (folder / "points3D.txt").write_text("1 0 0 0 200 200 200 0.1 1 0 2 0\n")


def test_views_from_a_colmap_folder(tmp_path: Path) -> None:
    write_colmap(tmp_path / "sparse")
    (tmp_path / "masks" / "sub").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "masks" / "a.jpg.png"), np.full((120, 160), 255, np.uint8))  # ingest naming
    cv2.imwrite(str(tmp_path / "masks" / "sub" / "b.png"), np.zeros((120, 160), np.uint8))  # sample-scene naming
    views = load_colmap_views(tmp_path / "sparse", tmp_path / "images", tmp_path / "masks")
    assert [v.name for v in views] == ["a.jpg", "sub/b.jpg"]
    assert views[0].read_mask().all() and not views[1].read_mask().any()
    pix, z = views[0].project(np.zeros((1, 3)))
    np.testing.assert_allclose(pix, [[80, 60]]) and np.testing.assert_allclose(z, [4])
    assert [v.name for v in load_colmap_views(tmp_path / "sparse", exclude=["a.jpg"])] == ["sub/b.jpg"]
    np.testing.assert_allclose(colmap_points(tmp_path / "sparse"), [[0, 0, 0]])
    with pytest.raises(InputError, match="cannot read the photo"):
        views[0].read_image()
