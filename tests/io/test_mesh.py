"""OBJ + MTL + texture and textured PLY: written, read back by us, trimesh and open3d."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from photogrammetry.errors import InputError
from photogrammetry.io.mesh import TexturedMeshData, write_textured_ply
from photogrammetry.io.obj import read_obj, write_obj


def test_obj_round_trip(quad: TexturedMeshData, tmp_path: Path) -> None:
    path = write_obj(tmp_path, quad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.mtl", "model.obj", "model.png"]
    back = read_obj(path)
    np.testing.assert_allclose(back.vertices, quad.vertices, atol=1e-7)
    np.testing.assert_allclose(back.uv, quad.uv, atol=1e-6)
    np.testing.assert_array_equal(back.faces, quad.faces)
    np.testing.assert_array_equal(back.texture, quad.texture)
    np.testing.assert_allclose(back.normals, quad.normals, atol=1e-6)


def test_obj_with_jpeg_texture(quad: TexturedMeshData, tmp_path: Path) -> None:
    write_obj(tmp_path, quad, name="m", image_format="jpeg")
    assert "map_Kd m.jpg" in (tmp_path / "m.mtl").read_text()
    assert np.abs(read_obj(tmp_path / "m.obj").texture.astype(int) - quad.texture).mean() < 8


def test_obj_loads_in_trimesh_with_texture(quad: TexturedMeshData, tmp_path: Path) -> None:
    import trimesh

    mesh = trimesh.load(str(write_obj(tmp_path, quad)), force="mesh", process=False)
    assert len(mesh.faces) == 2
    assert mesh.visual.material.image.size == (64, 64)


def test_obj_reader_splits_shared_positions(tmp_path: Path, quad: TexturedMeshData) -> None:
    """One position used with two UVs becomes two vertices; quads are split in two triangles."""
    write_obj(tmp_path, quad)
    (tmp_path / "q.obj").write_text("mtllib model.mtl\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n"
                                    "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nvt 0.5 0.5\nf 1/1 2/2 3/3 4/4\nf 1/5 2/2 3/3\n")
    mesh = read_obj(tmp_path / "q.obj")
    assert len(mesh.faces) == 3 and len(mesh.vertices) == 5


def test_obj_without_uvs_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "x.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(InputError, match="texture coordinates"):
        read_obj(tmp_path / "x.obj")


def test_textured_ply_has_colours_and_uvs(quad: TexturedMeshData, tmp_path: Path) -> None:
    import open3d as o3d

    path = tmp_path / "model.ply"
    write_textured_ply(path, quad, texture_file="model.png")
    header = path.read_bytes()[:400].decode("ascii", errors="replace")
    assert "comment TextureFile model.png" in header and "property float s" in header
    mesh = o3d.io.read_triangle_mesh(str(path))
    assert len(mesh.triangles) == 2
    colors = np.asarray(mesh.vertex_colors)
    np.testing.assert_allclose(colors[0], [0, 0, 1], atol=0.01)  # uv (0, 0): bottom-left quadrant
    np.testing.assert_allclose(colors[2], [0, 1, 0], atol=0.01)  # uv (1, 1): top-right quadrant
