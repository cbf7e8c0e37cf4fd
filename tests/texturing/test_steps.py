"""The texturing steps one by one: adjacency and labels, visibility, levelling, filling, padding."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from photogrammetry.io.mesh import MeshData
from photogrammetry.texturing.fill import diffuse, pad
from photogrammetry.texturing.leveling import level_photos
from photogrammetry.texturing.selection import face_adjacency, select_views
from photogrammetry.texturing.visibility import MeshScene, depth_edges, face_quality, view_maps

from .scene import Capture, look_at, render, ring, sphere

STRIP = np.array([[i, i + 1, i + 2] if i % 2 == 0 else [i + 1, i, i + 2] for i in range(8)])
"""Eight triangles in a row, each sharing an edge with the next."""


def test_adjacency_of_a_strip() -> None:
    adjacency = face_adjacency(STRIP).toarray()
    np.testing.assert_array_equal(adjacency, adjacency.T)
    assert adjacency.sum(axis=1).tolist() == [1, 2, 2, 2, 2, 2, 2, 1]


def test_selection_prefers_quality_and_removes_isolated_labels() -> None:
    quality = np.tile([[1.0, 0.9]], (8, 1))
    quality[4] = [0.9, 1.0]  # alone in preferring view 1, by a little
    quality[7] = [0.0, 0.0]  # seen by nobody
    adjacency = face_adjacency(STRIP)
    raw = select_views(quality, adjacency, smoothness=0.0)
    smooth = select_views(quality, adjacency, smoothness=0.5)
    assert raw[4] == 1 and smooth[4] == 0
    assert raw[7] == smooth[7] == -1
    quality[4] = [0.0, 1.0]  # the only view that sees it wins over the neighbours
    assert select_views(quality, adjacency, smoothness=0.5)[4] == 1


def test_face_quality_sees_front_faces_only(capture: Capture) -> None:
    scene = MeshScene(capture.mesh.vertices, capture.mesh.faces)
    view = capture.views[0]
    quality = face_quality(view, view_maps(scene, view, None), capture.mesh.vertices, capture.mesh.faces)
    centres = capture.mesh.vertices[capture.mesh.faces].mean(axis=1)
    towards = np.einsum("nd,d->n", centres, view.center) > 0.7 * np.linalg.norm(view.center)
    away = np.einsum("nd,d->n", centres, view.center) < 0
    assert np.all(quality[away] == 0) and np.mean(quality[towards] > 0) > 0.9


def test_faces_larger_than_the_photo_count_their_visible_pixels(tmp_path: Path) -> None:
    # Two triangles of a wall 40 units wide, 4 in front of the camera: every corner and every
    # sample point of both lies outside the photo, yet the wall fills it.
    wall = MeshData(vertices=np.array([[-20.0, 0.0, -20.0], [20.0, 0.0, -20.0], [20.0, 0.0, 20.0], [-20.0, 0.0, 20.0]]),
                    faces=np.array([[0, 1, 2], [0, 2, 3]]))  # facing -y
    view = render(wall, [look_at(np.array([0.3, -4.0, 0.2]))], tmp_path)[0]
    maps = view_maps(MeshScene(wall.vertices, wall.faces), view, None)
    quality = face_quality(view, maps, wall.vertices, wall.faces)
    assert np.all(quality > 0) and quality.sum() == maps.usable.sum() > 0.9 * view.width * view.height


def test_occluded_faces_have_no_quality(tmp_path: Path) -> None:
    back, front = sphere(subdivisions=3), sphere(radius=0.3, subdivisions=2, center=(2.0, 0, 0.4))
    both = MeshData(vertices=np.concatenate([back.vertices, front.vertices]),
                    faces=np.concatenate([back.faces, front.faces + len(back.vertices)]))
    view = render(both, [ring(1)[0]], tmp_path)[0]  # camera at (4, 0, 1.2): the small sphere hides part of the big one
    scene = MeshScene(both.vertices, both.faces)
    quality = face_quality(view, view_maps(scene, view, None), both.vertices, both.faces)[: len(back.faces)]
    centres = back.vertices[back.faces].mean(axis=1)
    to_front = np.array([2.0, 0, 0.4]) - view.center
    along = np.einsum("nd,d->n", centres - view.center, to_front / np.linalg.norm(to_front))
    behind = np.linalg.norm(centres - view.center - np.outer(along, to_front / np.linalg.norm(to_front)), axis=1)
    hidden = (behind < 0.15) & (centres[:, 0] > 0.5)
    assert hidden.any() and np.all(quality[hidden] == 0)


def test_depth_edges_mark_jumps_not_slopes() -> None:
    depth = np.full((20, 20), 5.0, np.float32)
    depth[:, 10:] = 5.0 + np.arange(10) * 0.05  # a slope: 0.05 per pixel at focal 100 -> slope 1
    depth[15:, :] = 2.0  # a step
    edges = depth_edges(depth, focal=100.0)
    assert not edges[5, 2:18].any() and edges[14, 5] and edges[15, 5]
    depth[0, 0] = np.inf
    assert depth_edges(depth, focal=100.0)[1, 1]


def test_gains_recover_an_exposure_change(tmp_path: Path) -> None:
    mesh = sphere(subdivisions=3)
    views = render(mesh, ring(6), tmp_path, gains=[1.0, 1.0, 1.0, 0.8, 0.8, 0.8])
    scene = MeshScene(mesh.vertices, mesh.faces)
    points = mesh.vertices[mesh.faces].mean(axis=1) * 1.0
    gains = level_photos(points, views, scene, vignetting=False).gains
    np.testing.assert_allclose(gains[3:] / gains[:3], 1 / 0.8, rtol=0.03)


def test_levelling_recovers_vignetting_and_exposure(tmp_path: Path) -> None:
    mesh = sphere(subdivisions=6)
    poses = ring(8, radius=2.6)  # close: the sphere fills the photos up to half the half diagonal
    scene = MeshScene(mesh.vertices, mesh.faces)
    points = mesh.vertices[mesh.faces].mean(axis=1)
    views = render(mesh, poses, tmp_path / "dark", gains=[1.0] * 4 + [0.8] * 4, vignetting=0.3)
    levelling = level_photos(points, views, scene)
    np.testing.assert_allclose(levelling.gains[4:] / levelling.gains[:4], 1 / 0.8, rtol=0.03)
    radii = np.linspace(0.0, 0.45, 7)  # the sphere's face centres lie within 0.49
    pix = np.stack([views[0].K[0, 2] + radii * np.hypot(views[0].width, views[0].height) / 2,
                    np.full(7, views[0].K[1, 2])], axis=1)
    falloff = np.exp(levelling.vignetting.log_falloff(0, views[0], pix))
    np.testing.assert_allclose(falloff, 1.0 - 0.3 * radii**2, atol=0.015)
    flat = level_photos(points, render(mesh, poses, tmp_path / "flat"), scene).vignetting
    np.testing.assert_allclose(np.exp(flat.log_falloff(0, views[0], pix)), 1.0, atol=0.015)
    field = levelling.vignetting.flat_field(0, views[0])
    centre = field[views[0].height // 2, views[0].width // 2]
    # corners brightened, by the fall-off at the largest radius observed (0.49): not extrapolated
    np.testing.assert_allclose(field[0, 0] / centre, 1.0 / (1.0 - 0.3 * 0.49**2), rtol=0.02)
    # the sphere keeps the brightness it has where the photos show it: 0.95 to 1 of the centre's
    assert 0.95 < centre < 0.99


def test_diffusion_interpolates_along_the_mesh() -> None:
    values = np.zeros((10, 1))
    defined = np.zeros(10, bool)
    values[0], values[9], defined[[0, 9]] = 0.0, 9.0, True
    np.testing.assert_allclose(diffuse(STRIP, values, defined)[:, 0], np.arange(10), atol=1.5)
    lonely = diffuse(STRIP, values, np.zeros(10, bool))
    np.testing.assert_array_equal(lonely, values)


def test_padding_fills_every_texel_from_the_charts() -> None:
    texture = np.zeros((32, 32, 3), np.float32)
    valid = np.zeros((32, 32), bool)
    texture[4:10, 4:10], valid[4:10, 4:10] = (1.0, 0.5, 0.25), True
    padded = pad(texture, valid, rings=2)
    np.testing.assert_allclose(padded[2:12, 2:12], np.broadcast_to((1.0, 0.5, 0.25), (10, 10, 3)), atol=1e-6)
    assert np.all(padded.max(axis=2) > 0)


def test_padding_in_bands_equals_padding_at_once() -> None:
    rng = np.random.default_rng(0)
    valid = np.kron(rng.random((12, 5)) < 0.4, np.ones((9, 9), bool))  # 108 x 45 texels of blocks
    texture = rng.random((*valid.shape, 3), dtype=np.float32)
    np.testing.assert_array_equal(pad(texture, valid, rings=3, band=7), pad(texture, valid, rings=3, band=1000))
