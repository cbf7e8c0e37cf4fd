"""COLMAP's binary arrays and ``fused.ply.vis``, read back by pycolmap and by COLMAP's documented layout."""

from __future__ import annotations

import numpy as np
import pycolmap

from photogrammetry.io import colmap_dense


def test_depth_and_normal_arrays_read_back_by_pycolmap(tmp_path):
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.5, 3.0, (7, 11)).astype(np.float32)
    depth[2, 3] = 0
    normals = rng.normal(size=(7, 11, 3)).astype(np.float32)
    normals /= np.linalg.norm(normals, axis=2, keepdims=True)
    colmap_dense.write_maps(tmp_path, "sub/a.jpg", depth, normals)
    read = pycolmap.DepthMap()
    read.read(colmap_dense.depth_map_path(tmp_path, "sub/a.jpg"))
    assert (read.width, read.height) == (11, 7)
    assert np.array_equal(read.to_array(), depth)
    read_normals = pycolmap.NormalMap()
    read_normals.read(colmap_dense.normal_map_path(tmp_path, "sub/a.jpg"))
    assert (read_normals.width, read_normals.height) == (11, 7)
    # COLMAP's own accessor (Mat::Get, used by to_bitmap and stereo_fusion) sees channel k as the normal's
    # k-th component (to_bitmap maps -1..1 to 255..0); pycolmap 4.2.1's to_array views the planes as interleaved
    colours = read_normals.to_bitmap().to_array().astype(float)
    for k in range(3):
        assert np.corrcoef(colours[..., k].ravel(), normals[..., k].ravel())[0, 1] < -0.85
    assert np.array_equal(colmap_dense.read_array(colmap_dense.normal_map_path(tmp_path, "sub/a.jpg")), normals)


def test_arrays_follow_the_documented_column_major_layout(tmp_path):
    depth = np.arange(6, dtype=np.float32).reshape(2, 3)  # row y, column x
    colmap_dense.write_array(tmp_path / "d.bin", depth)
    data = (tmp_path / "d.bin").read_bytes()
    assert data.startswith(b"3&2&1&")
    # read_write_dense.py: values reshaped to (width, height, channels) in Fortran order, then transposed
    values = np.frombuffer(data[len(b"3&2&1&"):], dtype="<f4")
    assert np.array_equal(values.reshape((3, 2, 1), order="F").transpose(1, 0, 2)[:, :, 0], depth)


def test_visibility_round_trip(tmp_path):
    counts = np.array([2, 0, 3])
    indices = np.array([4, 1, 0, 2, 7])
    colmap_dense.write_visibility(tmp_path / "fused.ply.vis", counts, indices)
    views = colmap_dense.read_visibility(tmp_path / "fused.ply.vis")
    assert [v.tolist() for v in views] == [[4, 1], [], [0, 2, 7]]
    assert (tmp_path / "fused.ply.vis").stat().st_size == 8 + 4 * (3 + 5)
