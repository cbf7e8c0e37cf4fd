"""Faces no photo sees: removed on open scenes, kept on masked objects."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from photogrammetry.errors import ConfigError
from photogrammetry.io.mesh import MeshData
from photogrammetry.meshing import SurfaceOptions
from photogrammetry.meshing.cloud import OrientedCloud
from photogrammetry.meshing.crop import CropOptions
from photogrammetry.io.mesh import face_normals
from photogrammetry.meshing.seen import SeenOptions, grow, remove_unseen, scaled_view, seen_faces
from photogrammetry.meshing.views import CameraView
from photogrammetry.stages.mesh import MeshConfig, build_mesh
from tests.texturing.scene import sphere

from .conftest import ring_views, sphere_cloud, sphere_masked


def box_on_ground(count: int = 20_000, seed: int = 0) -> OrientedCloud:
    """Points on the top and the four sides of a 1 x 1 x 0.6 box held 0.6 above a 3 x 3 ground, with
    outward normals, and none on its base: what photos taken from above give."""
    rng = np.random.default_rng(seed)
    uv = rng.uniform(-0.5, 0.5, (count, 2))
    face = rng.integers(0, 5, count)  # 0: top; 1-4: the sides
    axis, sign = np.array([2, 0, 0, 1, 1])[face], np.array([1.0, 1.0, -1.0, 1.0, -1.0])[face]
    points = np.zeros((count, 3))
    along = np.where(axis == 1, 0, 1)  # the sides' horizontal coordinate
    points[np.arange(count), along] = uv[:, 0]
    points[:, 2] = 0.3 + 0.6 * uv[:, 1]
    points[face == 0, :2] = uv[face == 0]
    points[np.arange(count), axis] = np.where(axis == 2, 0.6, 0.5 * sign)
    normals = np.zeros((count, 3))
    normals[np.arange(count), axis] = sign
    ground = np.column_stack([rng.uniform(-1.5, 1.5, (count, 2)), np.full(count, -0.6)])
    return OrientedCloud(points=np.concatenate([points, ground]),
                         normals=np.concatenate([normals, np.tile([0.0, 0.0, 1.0], (count, 1))]))


def facing(mesh: MeshData, direction: tuple[float, float, float], *, above: float = -np.inf) -> float:
    """Area of the faces whose normals lie within 45 degrees of ``direction`` (and centres above ``above``)."""
    normals, area = face_normals(mesh.vertices, mesh.faces)
    cosine = normals @ np.asarray(direction)
    high = mesh.vertices[mesh.faces].mean(axis=1)[:, 2] > above
    return float(area[(cosine > np.sqrt(0.5)) & high].sum())


UNTRIMMED = SurfaceOptions(density_quantile=0.0, max_distance=0.0)
"""Poisson without trimming: the surface it closes where no point lies is all left to visibility."""


def test_the_base_poisson_invents_under_a_box_seen_from_above_is_removed() -> None:
    box = box_on_ground()  # photographed from above: Poisson closes its base
    views = ring_views(8, height=3.0)
    config = MeshConfig(surface=UNTRIMMED, crop=CropOptions(mode="none"))
    closed = build_mesh(replace(config, seen=SeenOptions(unseen="keep")), box, views, None).raw
    opened = build_mesh(replace(config, seen=SeenOptions(margin=0)), box, views, None).raw
    up, down, side = (0.0, 0.0, 1.0), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0)
    assert facing(closed, down, above=-0.3) > 0.8  # the base: about 1 x 1
    assert facing(opened, down, above=-0.3) < 0.05 * facing(closed, down, above=-0.3)  # gone, but for its rim
    assert facing(opened, up) > 0.98 * facing(closed, up) and facing(opened, side) > 0.98 * facing(closed, side)
    # the margin keeps a ring of the base's (large) faces around the seen rim
    ringed = build_mesh(replace(config, seen=SeenOptions(margin=1)), box, views, None).raw
    assert facing(opened, down, above=-0.3) < facing(ringed, down, above=-0.3) < 0.2 * facing(closed, down, above=-0.3)


def test_masked_objects_stay_closed(tmp_path: Path) -> None:
    ball = sphere_cloud()
    views = sphere_masked(ring_views(8, height=3.0), tmp_path)  # its base is seen by no photo
    closed = build_mesh(MeshConfig(), ball, views, None).raw
    assert closed.vertices[:, 2].min() < -0.95 and facing(closed, (0.0, 0.0, -1.0)) > 1.0
    opened = build_mesh(MeshConfig(seen=SeenOptions(unseen="remove")), ball, views, None).raw
    assert opened.vertices[:, 2].min() > -0.8


def test_a_sphere_seen_from_above_keeps_its_upper_part_only() -> None:
    ball = sphere(subdivisions=5)
    views = ring_views(8, height=3.0)
    seen = seen_faces(ball, views, SeenOptions())
    heights = ball.vertices[ball.faces].mean(axis=1)[:, 2]
    assert seen[heights > 0.2].mean() > 0.99
    assert not seen[heights < -0.7].any()
    opened, removed = remove_unseen(ball, views, SeenOptions(margin=0))
    assert 0.05 < removed < 0.5 and len(opened.faces) == round((1 - removed) * len(ball.faces))
    assert opened.vertices[:, 2].min() > -0.75


def test_hidden_faces_fail_the_depth_test() -> None:
    # a small sphere right behind a big one, on the line of sight of the only camera
    big, small = sphere(radius=1.0, subdivisions=4), sphere(radius=0.3, subdivisions=4)
    both = MeshData(vertices=np.concatenate([big.vertices, small.vertices + [-2.0, 0, 0]]),
                    faces=np.concatenate([big.faces, small.faces + len(big.vertices)]))
    view = ring_views(1, height=0.0)[0]  # at (4, 0, 0) looking at the origin
    seen = seen_faces(both, [view], SeenOptions())
    assert seen[: len(big.faces)].any() and not seen[len(big.faces):].any()


def test_the_margin_grows_over_shared_vertices() -> None:
    faces = np.array([[0, 1, 2], [1, 3, 2], [3, 4, 2], [4, 5, 2], [5, 6, 7]])
    chosen = np.array([True, False, False, False, False])
    np.testing.assert_array_equal(grow(faces, chosen, 0), chosen)
    np.testing.assert_array_equal(grow(faces, chosen, 1), [True, True, True, True, False])
    np.testing.assert_array_equal(grow(faces, chosen, 2), [True, True, True, True, True])


def test_large_views_are_ray_cast_smaller() -> None:
    view = ring_views(1)[0]
    big = CameraView(name="big", K=view.K * [[10], [10], [1]], R=view.R, t=view.t, width=1600, height=1200)
    small = scaled_view(big, 400)
    assert (small.width, small.height) == (400, 300)
    point = np.array([[0.1, 0.2, 0.3]])
    np.testing.assert_allclose(small.project(point)[0], big.project(point)[0] / 4, rtol=1e-9)
    assert scaled_view(view, 400) is view


def test_auto_removes_on_open_scenes_only() -> None:
    assert SeenOptions().removes("box") and SeenOptions().removes("none")
    assert not SeenOptions().removes("masks")
    assert SeenOptions(unseen="remove").removes("masks") and not SeenOptions(unseen="keep").removes("box")
    with pytest.raises(ConfigError, match="mesh.seen.unseen"):
        SeenOptions(unseen="drop")
