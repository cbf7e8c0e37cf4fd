"""UV atlases: charts cover the mesh once, inside [0, 1], and rasterise to the right surface points."""

from __future__ import annotations

import numpy as np
import pytest

from photogrammetry.errors import InputError
from photogrammetry.io.mesh import MeshData
from photogrammetry.texturing.atlas import chart_atlas, compute_atlas, rasterize, ring_texels
from photogrammetry.texturing.charts import pack

from .scene import sphere


@pytest.fixture(scope="module")
def mesh() -> MeshData:
    return sphere(subdivisions=6)


def uv_areas(uv: np.ndarray, faces: np.ndarray) -> np.ndarray:
    corners = uv[faces]
    e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    return 0.5 * (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])


def test_charts_keep_orientation_and_stay_in_the_texture(mesh: MeshData) -> None:
    atlas = chart_atlas(mesh, size=512, padding=2)
    assert np.all((atlas.uv >= 0) & (atlas.uv <= 1))
    assert np.all(uv_areas(atlas.uv, atlas.faces) > 0)  # counter-clockwise in UV, as on the surface
    np.testing.assert_allclose(atlas.vertices, mesh.vertices[atlas.source_vertex])
    np.testing.assert_array_equal(atlas.source_vertex[atlas.faces], mesh.faces)  # same triangles, same order


def test_rasterised_texels_lie_on_their_faces_without_overlaps(mesh: MeshData) -> None:
    size = 512
    atlas = chart_atlas(mesh, size=size, padding=2)
    texels = rasterize(atlas, size)
    covered = len(texels.rows) / size**2
    assert 0.3 < covered < 0.9  # a useful share of the texture, with room for padding
    # no two charts overlap: the texel count matches the total UV area
    assert len(texels.rows) == pytest.approx(uv_areas(atlas.uv, atlas.faces).sum() * size**2, rel=0.05)
    points = texels.positions(atlas.vertices, atlas.faces)
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0, atol=0.01)
    uv = np.einsum("nk,nkd->nd", texels.barycentric, atlas.uv[atlas.faces[texels.face_ids]])
    np.testing.assert_allclose(uv[:, 0] * size, texels.cols + 0.5, atol=1e-3)
    np.testing.assert_allclose((1 - uv[:, 1]) * size, texels.rows + 0.5, atol=1e-3)


def test_ring_texels_continue_the_surface_past_the_charts(mesh: MeshData) -> None:
    size = 512
    atlas = chart_atlas(mesh, size=size, padding=2)
    inside = rasterize(atlas, size)
    ring = ring_texels(atlas, inside)
    covered = np.zeros((size, size), bool)
    covered[inside.rows, inside.cols] = True
    assert len(ring.rows) > 0.1 * len(inside.rows) and not covered[ring.rows, ring.cols].any()
    assert len(np.unique(ring.rows * size + ring.cols)) == len(ring.rows)
    near = np.zeros_like(covered)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            near |= np.roll(np.roll(covered, dr, axis=0), dc, axis=1)
    assert near[ring.rows, ring.cols].all()  # each touches a chart
    # on the planes of their triangles, about a texel past the border: still close to the sphere
    points = ring.positions(atlas.vertices, atlas.faces)
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0, atol=0.02)
    assert np.abs(ring.barycentric.sum(axis=1) - 1).max() < 1e-5 and ring.barycentric.min() < -0.01


def test_packing_leaves_the_padding_free() -> None:
    coords = np.array([[0, 0], [1, 0], [0, 1], [0, 0], [2, 0], [0, 0.5]], float)
    uv = pack(coords, np.array([0, 0, 0, 1, 1, 1]), size=64, padding=3)
    texel = uv * 64
    assert texel.min() >= 3 - 1e-6 and texel.max() <= 61 + 1e-6
    first, second = texel[:3], texel[3:]
    gap = max(second[:, 0].min() - first[:, 0].max(), first[:, 0].min() - second[:, 0].max(),
              np.abs(second[:, 1].min() - first[:, 1].max()))
    assert gap >= 6 - 1e-6


def test_open3d_atlas_on_a_manifold_mesh() -> None:
    small = sphere(subdivisions=2)
    atlas = compute_atlas(small, size=256, method="open3d")
    assert np.all((atlas.uv >= 0) & (atlas.uv <= 1))
    np.testing.assert_array_equal(atlas.source_vertex[atlas.faces], small.faces)


def test_empty_mesh_is_an_error() -> None:
    with pytest.raises(InputError, match="without triangles"):
        compute_atlas(MeshData(vertices=np.zeros((3, 3)), faces=np.zeros((0, 3))), size=64)
