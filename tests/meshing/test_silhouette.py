"""Silhouette fit: Poisson rounds a cube's edges inside its outline; the masks put them back."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from photogrammetry.io.mesh import MeshData
from photogrammetry.meshing.cloud import OrientedCloud
from photogrammetry.meshing.silhouette import (
    SilhouetteOptions,
    contour_vertices,
    edge_faces,
    rendered_silhouette,
    signed_outline_distance,
)
from photogrammetry.meshing.views import CameraView
from photogrammetry.stages.mesh import MeshConfig, build_mesh
from tests.texturing.scene import FOCAL, HEIGHT, WIDTH, ring, sphere

HALF = 0.6
"""Half the cube's side; a pixel is about 0.027 wide at the cameras' distance."""


def scene_of(vertices: np.ndarray, faces: np.ndarray):
    """An open3d raycasting scene of a mesh."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(vertices.astype(np.float32)), o3d.core.Tensor(faces.astype(np.uint32)))
    return scene


def true_cube():
    """The raycasting scene of the cube the cloud samples."""
    import open3d as o3d

    box = o3d.geometry.TriangleMesh.create_box(2 * HALF, 2 * HALF, 2 * HALF).translate((-HALF, -HALF, -HALF))
    return scene_of(np.asarray(box.vertices), np.asarray(box.triangles))


def cube_cloud(count: int = 20_000, *, noise: float = 0.0, seed: int = 0) -> OrientedCloud:
    """Points on the cube's faces with outward normals, noisy along them."""
    rng = np.random.default_rng(seed)
    axis, sign = rng.integers(0, 3, count), rng.choice([-1.0, 1.0], count)
    points = rng.uniform(-HALF, HALF, (count, 3))
    points[np.arange(count), axis] = sign * HALF
    normals = np.zeros((count, 3))
    normals[np.arange(count), axis] = sign
    return OrientedCloud(points=points + rng.normal(0, noise, (count, 1)) * normals, normals=normals)


def masked_views(poses: list[tuple[np.ndarray, np.ndarray]], folder: Path) -> list[CameraView]:
    """Views with the true cube's silhouettes as masks."""
    K = np.array([[FOCAL, 0, WIDTH / 2], [0, FOCAL, HEIGHT / 2], [0, 0, 1]])
    cube, views = true_cube(), []
    for i, (R, t) in enumerate(poses):
        view = CameraView(name=f"v{i}.png", K=K, R=R, t=t, width=WIDTH, height=HEIGHT)
        path = folder / f"{view.name}.png"
        cv2.imwrite(str(path), rendered_silhouette(cube, view).astype(np.uint8) * 255)
        views.append(CameraView(name=view.name, K=K, R=R, t=t, width=WIDTH, height=HEIGHT, mask_path=path))
    return views


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[CameraView], list[CameraView]]:
    """Training views (two rings) and new views between them, all with the true masks."""
    train = masked_views(ring(12, height=2.0) + ring(6, height=-1.0, offset=0.2), tmp_path_factory.mktemp("train"))
    return train, masked_views(ring(5, height=1.0, offset=0.37), tmp_path_factory.mktemp("new"))


def outline_scores(mesh: MeshData, views: list[CameraView]) -> tuple[float, float]:
    """Worst fraction of a mask that the mesh covers, and mean fraction it adds outside the masks."""
    scene, covered, extra = scene_of(mesh.vertices, mesh.faces), [], []
    for view in views:
        mask, hit = view.read_mask(), rendered_silhouette(scene, view)
        covered.append((hit & mask).sum() / mask.sum())
        extra.append((hit & ~mask).sum() / mask.sum())
    return float(min(covered)), float(np.mean(extra))


@pytest.mark.parametrize("noise", [0.0, 0.005])
def test_new_views_see_the_whole_outline(capture, noise: float) -> None:
    train, new = capture
    cloud = cube_cloud(noise=noise)
    rounded = build_mesh(MeshConfig(silhouette=SilhouetteOptions(band=0.0)), cloud, train, None).raw
    fitted = build_mesh(MeshConfig(), cloud, train, None).raw
    before, _ = outline_scores(rounded, new)
    after, extra = outline_scores(fitted, new)
    assert before < 0.992  # the rounded edges leave a line of background along the outline
    assert after > 0.998 and extra < 0.04  # within a fraction of a pixel of the outline
    error = np.abs(true_cube().compute_signed_distance(fitted.vertices.astype(np.float32)).numpy())
    assert np.percentile(error, 50) < 0.005 and error.max() < 0.05  # the surface stays where it was


def test_signed_outline_distance_is_half_a_pixel_at_the_border() -> None:
    mask = np.zeros((9, 9), bool)
    mask[2:7, 2:7] = True
    distance = signed_outline_distance(mask)
    assert distance[4, 2] == pytest.approx(0.5) and distance[4, 1] == pytest.approx(-0.5)
    assert distance[4, 4] == pytest.approx(2.5) and distance[4, 0] == pytest.approx(-1.5)


def test_contour_of_a_sphere_is_its_rim_seen_from_the_camera() -> None:
    mesh = sphere(subdivisions=6)
    (R, t), = ring(1)
    view = CameraView(name="v", K=np.eye(3), R=R, t=t, width=10, height=10)
    rim = contour_vertices(mesh.vertices, mesh.faces, edge_faces(mesh.faces), view)
    assert len(rim) > 20
    to_camera = view.center - mesh.vertices[rim]
    cos = np.einsum("nd,nd->n", mesh.vertices[rim], to_camera) / np.linalg.norm(to_camera, axis=1)
    assert np.abs(cos).max() < 0.2  # normals (= positions on the unit sphere) across the rays
