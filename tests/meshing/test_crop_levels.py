"""Cropping (SfM box, mask carving) and detail levels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from photogrammetry.io.mesh import DETAIL_LEVELS, vertex_normals
from photogrammetry.meshing.crop import carve, inside_box, mask_votes, pull_inside, robust_box
from photogrammetry.meshing.levels import decimate, detail_levels
from photogrammetry.meshing.views import CameraView
from tests.texturing.scene import sphere

from .conftest import ring_views, sphere_masked


def test_robust_box_ignores_stray_points() -> None:
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.uniform(-1, 1, (1000, 3)), [[50, 50, 50], [-40, 0, 0]]])
    box = robust_box(points, margin=0.1)
    assert np.all(box[0] > -1.5) and np.all(box[1] < 1.5)
    assert inside_box(points, box)[:1000].mean() > 0.99 and not inside_box(points, box)[1000:].any()


def test_carving_removes_what_the_masks_exclude(tmp_path: Path) -> None:
    views = []
    for view in ring_views(6):
        pix, _ = view.project(np.zeros((1, 3)))
        mask = np.zeros((view.height, view.width), np.uint8)
        cv2.circle(mask, tuple(int(v) for v in pix[0]), 45, 255, -1)  # the unit sphere's disc is ~37 px
        path = tmp_path / f"{view.name}.png"
        cv2.imwrite(str(path), mask)
        views.append(CameraView(name=view.name, K=view.K, R=view.R, t=view.t, width=view.width,
                                height=view.height, mask_path=path))
    points = np.array([[0.0, 0, 0], [0.9, 0, 0], [0, 0, 1.5], [2.5, 0.3, 0]])
    np.testing.assert_array_equal(carve(points, views), [True, True, False, False])


def test_carving_keeps_the_visual_hull_within_the_margin(tmp_path: Path) -> None:
    # one photo's mask is a disc 5 px narrower than the others': points it shows 1 px outside stay
    # (margin), points it alone shows 4 px outside go, unless the tolerance lets one photo disagree
    views = ring_views(6)
    radius = 40
    points, expected = [], []
    for index, view in enumerate(views):
        pix, _ = view.project(np.zeros((1, 3)))
        mask = np.zeros((view.height, view.width), np.uint8)
        cv2.circle(mask, tuple(int(v) for v in pix[0]), radius - 5 * (index == 0), 255, -1)
        cv2.imwrite(str(tmp_path / f"{view.name}.png"), mask)
        views[index] = CameraView(name=view.name, K=view.K, R=view.R, t=view.t, width=view.width,
                                  height=view.height, mask_path=tmp_path / f"{view.name}.png")
    first = views[0]
    centre, _ = first.project(np.zeros((1, 3)))
    for offset, keep in ((radius - 5 - 3, True), (radius - 5 + 1, True), (radius - 5 + 4, False)):
        ray = np.linalg.solve(first.K, [centre[0, 0] + offset, centre[0, 1], 1.0])
        depth = np.linalg.norm(first.center)  # on the plane through the origin, facing the camera
        points.append(first.R.T @ (ray / ray[2] * depth - first.t))
        expected.append(keep)
    points = np.array(points)
    _, background = mask_votes(points, views, margin_px=2)
    assert background[-1] == 1  # only the narrow mask puts the last point on the background
    np.testing.assert_array_equal(carve(points, views, margin_px=2), expected)
    assert carve(points, views, margin_px=2, tolerance=0.2).all()


def test_swollen_surface_is_pulled_onto_the_masks_hull_without_holes(tmp_path: Path) -> None:
    views = sphere_masked(ring_views(6), tmp_path)
    pixel = 4.0 / views[0].K[0, 0]  # a pixel's size at the sphere

    def inside(points: np.ndarray) -> np.ndarray:
        return carve(points, views, margin_px=1)

    swollen = sphere(radius=1.0 + 4 * pixel, subdivisions=8)  # 4 px past the outline all round
    assert (~inside(swollen.vertices)).mean() > 0.5
    pulled = pull_inside(swollen, inside, step=0.25 * pixel, steps=24)
    assert len(pulled.faces) == len(swollen.faces)  # no vertex removed: no holes
    assert inside(pulled.vertices).all()
    moved = np.linalg.norm(pulled.vertices - swollen.vertices, axis=1) > 0
    np.testing.assert_array_equal(moved, ~inside(swollen.vertices))
    # each moved vertex stops at the first position inside: a step further out is outside again
    normals = vertex_normals(swollen.vertices, swollen.faces)[moved]
    assert not inside(pulled.vertices[moved] + 0.25 * pixel * normals).any()
    assert np.linalg.norm(pulled.vertices, axis=1).min() > 1.0 - 0.5 * pixel  # the object stays whole
    # too short a reach: the outside vertices go with their faces, as plain carving removes them
    short = pull_inside(swollen, inside, step=0.25 * pixel, steps=4)
    assert inside(short.vertices).all() and len(short.faces) < 0.6 * len(swollen.faces)


def test_decimation_hits_the_budget() -> None:
    mesh = sphere(subdivisions=6)
    small = decimate(mesh, 1000)
    assert 900 <= len(small.faces) <= 1000
    assert decimate(small, 5000) is small  # fewer triangles than asked: unchanged


def test_detail_levels_are_nested_budgets() -> None:
    mesh = sphere(subdivisions=6)  # ~3k faces: the big levels are the mesh itself
    levels = detail_levels(mesh, {"a": 500, "b": 2000, "c": 10**6})
    counts = {name: len(level.faces) for name, (level, _) in levels.items()}
    assert counts["a"] <= 500 < counts["b"] <= 2000 and counts["c"] == len(mesh.faces)
    assert list(DETAIL_LEVELS) == ["preview", "reduced", "medium", "full"]
