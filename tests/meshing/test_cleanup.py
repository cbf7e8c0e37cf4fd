"""Cleanup: components, floaters, hole filling, boundary loops, repair."""

from __future__ import annotations

import numpy as np

from photogrammetry.io.mesh import MeshData
from photogrammetry.meshing.cleanup import (
    boundary_loops,
    clean,
    face_components,
    fill_small_holes,
    keep_large_components,
    repair,
    to_open3d,
)
from photogrammetry.meshing.poisson import remove_vertices
from tests.texturing.scene import sphere


def with_floater() -> MeshData:
    big, small = sphere(subdivisions=3), sphere(radius=0.05, subdivisions=1, center=(3, 0, 0))
    return MeshData(vertices=np.concatenate([big.vertices, small.vertices]),
                    faces=np.concatenate([big.faces, small.faces + len(big.vertices)]))


def test_small_components_go() -> None:
    mesh = keep_large_components(with_floater(), min_fraction=0.05)
    assert np.linalg.norm(mesh.vertices, axis=1).max() < 1.01
    assert len(keep_large_components(with_floater(), min_fraction=0.0).faces) == len(with_floater().faces)
    assert len(keep_large_components(with_floater(), min_fraction=0.0, max_components=1).faces) < len(
        with_floater().faces)


def test_boundary_loops_follow_the_winding() -> None:
    mesh = remove_vertices(sphere(subdivisions=3), np.arange(len(sphere(subdivisions=3).vertices)) == 100)
    loops = boundary_loops(mesh.faces)
    assert len(loops) == 1 and len(loops[0]) >= 4
    directed = {tuple(e) for f in mesh.faces for e in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0]))}
    loop = loops[0]
    assert all((a, b) in directed for a, b in zip(loop, np.roll(loop, -1), strict=True))


def test_small_holes_are_closed_and_large_ones_kept() -> None:
    full = sphere(subdivisions=3)
    holed = remove_vertices(full, np.arange(len(full.vertices)) == 100)
    filled = fill_small_holes(holed, max_radius=0.5)
    assert boundary_loops(filled.faces) == []
    corners = filled.vertices[filled.faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    assert np.all(np.einsum("nd,nd->n", normals, corners.mean(axis=1)) > 0)  # new faces wind outwards
    cap = remove_vertices(full, full.vertices[:, 2] > 0.5)
    assert len(boundary_loops(fill_small_holes(cap, max_radius=0.5).faces)) == 1  # radius 0.87: stays open


def test_repair_merges_duplicates_and_drops_degenerate_faces() -> None:
    mesh = sphere(subdivisions=2)
    doubled = MeshData(vertices=np.concatenate([mesh.vertices, mesh.vertices[:1]]),
                       faces=np.concatenate([mesh.faces, [[0, 0, 1], [len(mesh.vertices), 1, 2]]]))
    fixed = repair(doubled)
    assert len(fixed.vertices) == len(mesh.vertices)
    assert len(fixed.faces) <= len(mesh.faces) + 1
    assert fixed.normals is not None


def test_clean_keeps_the_main_surface() -> None:
    mesh = clean(with_floater(), min_component_fraction=0.05, max_components=0, hole_radius=0.1)
    assert np.linalg.norm(mesh.vertices, axis=1).max() < 1.01 and len(mesh.faces) > 500


def test_pieces_are_open3ds() -> None:
    rng = np.random.default_rng(0)
    mesh = with_floater()
    pieces = [mesh] + [sphere(radius=0.1, subdivisions=1, center=tuple(rng.uniform(-5, 5, 3))) for _ in range(4)]
    offsets = np.cumsum([0] + [len(p.vertices) for p in pieces[:-1]])
    many = MeshData(vertices=np.concatenate([p.vertices for p in pieces]),
                    faces=np.concatenate([p.faces + o for p, o in zip(pieces, offsets, strict=True)])[
                        rng.permutation(sum(len(p.faces) for p in pieces))])
    labels, areas = face_components(many)
    theirs, _, their_areas = to_open3d(many).cluster_connected_triangles()
    pairs = np.unique(np.stack([labels, np.asarray(theirs)], axis=1), axis=0)
    assert len(areas) == len(their_areas) == len(pairs) == 6  # the same partition
    np.testing.assert_allclose(areas[pairs[:, 0]], np.asarray(their_areas)[pairs[:, 1]], rtol=1e-12)


def test_repair_removes_a_non_manifold_edge() -> None:
    mesh = sphere(subdivisions=2)
    a, b = mesh.faces[0, 0], mesh.faces[0, 1]  # a third face on an edge two faces share
    fin = MeshData(vertices=np.concatenate([mesh.vertices, [[0.0, 0.0, 3.0]]]),
                   faces=np.concatenate([mesh.faces, [[a, b, len(mesh.vertices)]]]))
    assert len(repair(fin).faces) == len(mesh.faces)
    assert len(repair(mesh).faces) == len(mesh.faces)


def test_repair_drops_faces_of_no_area_as_open3d_does() -> None:
    mesh = sphere(subdivisions=2)
    n = len(mesh.vertices)  # a face on three points of a line: no area
    flat = MeshData(vertices=np.concatenate([mesh.vertices, [[0.0, 0.0, 9.0], [1.0, 0.0, 9.0], [2.0, 0.0, 9.0]]]),
                    faces=np.concatenate([mesh.faces, [[n, n + 1, n + 2]]]))
    theirs = to_open3d(flat)
    for step in ("remove_duplicated_vertices", "remove_degenerate_triangles", "remove_duplicated_triangles",
                 "remove_non_manifold_edges", "remove_unreferenced_vertices"):
        getattr(theirs, step)()
    ours = repair(flat)
    assert len(ours.faces) == len(mesh.faces) and len(ours.vertices) == n
    np.testing.assert_array_equal(ours.faces, np.asarray(theirs.triangles))
