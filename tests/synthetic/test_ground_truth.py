"""The written ground truth agrees with itself: depth, meshes, cameras, masks, normals, points, EXIF."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import open3d as o3d
import pycolmap
import pytest
from PIL import ExifTags, Image

from photogrammetry.synthetic import (
    SceneLayout,
    focal_px_from_exif,
    load_depth,
    load_mask,
    load_normals,
    read_scene_meta,
)

from .conftest import SMALL_SPECS


def _read_mesh(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices ``(V, 3)`` and triangles ``(F, 3)`` of a PLY, read with open3d (an independent reader)."""
    mesh = o3d.io.read_triangle_mesh(str(path))
    return np.asarray(mesh.vertices), np.asarray(mesh.triangles)


def _caster(path: Path) -> o3d.t.geometry.RaycastingScene:
    """A ray-casting scene holding the mesh at ``path``."""
    vertices, triangles = _read_mesh(path)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(vertices.astype(np.float32), triangles.astype(np.uint32))
    return scene


def _views(scene_dir: Path) -> list[tuple[str, pycolmap.Image, pycolmap.Camera]]:
    """(view name, image, camera) of every image of the GT COLMAP model, by image id."""
    model = pycolmap.Reconstruction(str(SceneLayout(scene_dir).sparse))
    return [(Path(im.name).stem, im, model.cameras[im.camera_id]) for _, im in sorted(model.images.items())]


def _pixel_dirs(camera: pycolmap.Camera, offset: float) -> np.ndarray:
    """Camera-frame directions with unit z through pixel positions ``(col + offset, row + offset)``, ``(H, W, 3)``."""
    fx, fy, cx, cy = camera.params
    u, v = np.meshgrid(np.arange(camera.width) + offset, np.arange(camera.height) + offset)
    return np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u, dtype=float)], axis=-1)


def _to_world(image: pycolmap.Image, points_cam: np.ndarray) -> np.ndarray:
    """Camera-frame points ``(N, 3)`` to world coordinates."""
    pose = image.cam_from_world()
    rotation = pose.rotation.matrix()
    return (points_cam - pose.translation) @ rotation


def _rays(image: pycolmap.Image, dirs_cam: np.ndarray) -> np.ndarray:
    """World rays ``(N, 6)`` (origin, direction) from the camera centre along camera-frame directions."""
    dirs = dirs_cam @ image.cam_from_world().rotation.matrix()
    origin = np.broadcast_to(image.projection_center(), dirs.shape)
    return np.concatenate([origin, dirs], axis=1).astype(np.float32)


def test_depth_back_projects_onto_the_scene_mesh(small_scene: Path) -> None:
    """Depth at pixel centres (col + 0.5, row + 0.5) lifts to points on the mesh; a half-pixel shift does not."""
    meta, layout = read_scene_meta(small_scene), SceneLayout(small_scene)
    caster = _caster(layout.scene_mesh)
    for name, image, camera in _views(small_scene):
        depth = load_depth(layout.depth(name), meta.depth_scale)
        valid = depth > 0
        assert valid.mean() > 0.1, f"{name}: too little ground-truth depth"
        errors = {}
        for offset in (0.5, 0.0):
            points = _pixel_dirs(camera, offset)[valid] * depth[valid][:, None]
            distance = caster.compute_distance(_to_world(image, points).astype(np.float32)).numpy()
            errors[offset] = distance.max()
        assert errors[0.5] <= 0.6 * meta.depth_scale + 1e-6, f"{name}: back-projected depth off the mesh"
        assert errors[0.0] > 10 * meta.depth_scale, f"{name}: the test cannot tell pixel conventions apart"


def test_depth_equals_a_ray_cast_of_the_mesh(small_scene: Path) -> None:
    """Every pixel's depth is where the GT camera's pixel-centre ray first meets the GT mesh (0 on a miss)."""
    meta, layout = read_scene_meta(small_scene), SceneLayout(small_scene)
    caster = _caster(layout.scene_mesh)
    for name, image, camera in _views(small_scene):
        depth = load_depth(layout.depth(name), meta.depth_scale).ravel()
        t_hit = caster.cast_rays(o3d.core.Tensor(_rays(image, _pixel_dirs(camera, 0.5).reshape(-1, 3))))["t_hit"]
        expected = np.where(np.isfinite(t_hit.numpy()), t_hit.numpy(), 0.0)
        wrong = np.abs(depth - expected) > 0.5 * meta.depth_scale + 1e-5 * expected
        assert np.count_nonzero(wrong) <= 2, f"{name}: depth differs from a ray cast of the mesh"


def test_masks_are_where_the_object_is_seen(small_scenes: dict[str, Path]) -> None:
    """Mask = pixels whose centre ray hits the object mesh first (object scenes)."""
    for kind in ("turntable", "orbit"):
        meta, layout = read_scene_meta(small_scenes[kind]), SceneLayout(small_scenes[kind])
        caster = _caster(layout.object_mesh)
        for name, image, camera in _views(small_scenes[kind]):
            dirs = _pixel_dirs(camera, 0.5).reshape(-1, 3)
            z_object = caster.cast_rays(o3d.core.Tensor(_rays(image, dirs)))["t_hit"].numpy()
            depth = load_depth(layout.depth(name), meta.depth_scale).ravel()
            expected = np.abs(z_object - depth) <= meta.depth_scale
            mask = load_mask(layout.mask(name)).ravel()
            assert mask.any(), f"{kind}/{name}: empty mask"
            assert np.count_nonzero(mask != expected) <= 2, f"{kind}/{name}: mask disagrees with the object mesh"


def test_normal_maps_match_the_mesh(small_scene: Path) -> None:
    """Normal-map normals are the mesh's interpolated vertex normals, turned to face the camera."""
    meta, layout = read_scene_meta(small_scene), SceneLayout(small_scene)
    mesh = o3d.io.read_triangle_mesh(str(layout.scene_mesh))
    vertex_normals, triangles = np.asarray(mesh.vertex_normals), np.asarray(mesh.triangles)
    caster = _caster(layout.scene_mesh)
    for name, image, camera in _views(small_scene):
        depth = load_depth(layout.depth(name), meta.depth_scale)
        normals = load_normals(layout.normals(name))
        valid = depth > 0
        assert np.array_equal(valid, np.any(normals != 0, axis=-1)), f"{name}: normals and depth cover different pixels"
        dirs = _pixel_dirs(camera, 0.5)[valid]
        hit = caster.cast_rays(o3d.core.Tensor(_rays(image, dirs)))
        u, v = hit["primitive_uvs"].numpy().T
        corners = vertex_normals[triangles[hit["primitive_ids"].numpy().astype(np.int64)]]
        world = (1 - u - v)[:, None] * corners[:, 0] + u[:, None] * corners[:, 1] + v[:, None] * corners[:, 2]
        cam = world @ image.cam_from_world().rotation.matrix().T
        facing = np.sum(hit["primitive_normals"].numpy() @ image.cam_from_world().rotation.matrix().T * dirs, axis=1)
        cam *= -np.sign(facing)[:, None] / np.linalg.norm(cam, axis=1, keepdims=True)
        angle = np.degrees(np.arccos(np.clip(np.sum(cam * normals[valid], axis=1), -1, 1)))
        assert np.percentile(angle, 99) < 1.0, f"{name}: normals differ from the mesh's"


def test_turntable_cameras_orbit_the_object_in_equal_steps(small_scenes: dict[str, Path]) -> None:
    """GT cameras (object frame) look at the object and step by -360/N degrees around +z, ring by ring."""
    scene_dir = small_scenes["turntable"]
    meta, rig = read_scene_meta(scene_dir), SMALL_SPECS["turntable"].rig
    assert meta.world_frame == "object"
    centre = (np.array(meta.object_bbox_min) + np.array(meta.object_bbox_max)) / 2
    views = _views(scene_dir)
    assert len(views) == rig.views_per_ring * len(rig.ring_elevations_deg)
    for ring, elevation in enumerate(rig.ring_elevations_deg):
        ring_views = views[ring * rig.views_per_ring : (ring + 1) * rig.views_per_ring]
        offsets = np.array([im.projection_center() - centre for _, im, _ in ring_views])
        axes = np.array([im.cam_from_world().rotation.matrix()[2] for _, im, _ in ring_views])
        assert np.allclose(offsets / np.linalg.norm(offsets, axis=1, keepdims=True), -axes, atol=1e-6)
        assert np.allclose(np.linalg.norm(offsets, axis=1), rig.distance, atol=1e-6)
        assert np.allclose(np.degrees(np.arcsin(offsets[:, 2] / rig.distance)), elevation, atol=1e-6)
        azimuth = np.degrees(np.arctan2(offsets[:, 1], offsets[:, 0]))
        step = (np.diff(azimuth) + 180.0) % 360.0 - 180.0
        assert np.allclose(step, -360.0 / rig.views_per_ring, atol=1e-6)


def test_gt_points_reproject_onto_their_observations(small_scene: Path) -> None:
    """points3D lie on the mesh and project exactly onto their track's 2D points."""
    model = pycolmap.Reconstruction(str(SceneLayout(small_scene).sparse))
    caster = _caster(SceneLayout(small_scene).scene_mesh)
    assert model.num_points3D() >= 20
    xyz = np.array([p.xyz for p in model.points3D.values()])
    vertices, triangles = _read_mesh(SceneLayout(small_scene).scene_mesh)
    closest = caster.compute_closest_points(xyz.astype(np.float32))
    a, b, c = (vertices[triangles[closest["primitive_ids"].numpy().astype(np.int64), i]] for i in range(3))
    plane = np.cross(b - a, c - a)
    off_plane = np.abs(np.sum(plane * (xyz - a), axis=1)) / np.linalg.norm(plane, axis=1)
    assert off_plane.max() < 1e-6 and np.linalg.norm(closest["points"].numpy() - xyz, axis=1).max() < 1e-3
    for point in model.points3D.values():
        assert point.track.length() >= 2
        for element in point.track.elements:
            image = model.images[element.image_id]
            observed = image.points2D[element.point2D_idx].xy
            assert np.allclose(image.project_point(point.xyz), observed, atol=1e-6)


def test_exif_focal_round_trip(small_scene: Path) -> None:
    """Focal length in pixels from EXIF (mm x resolution, or the 35 mm value) equals the GT focal within 1 %."""
    for name, _image, camera in _views(small_scene):
        path = SceneLayout(small_scene).image(name)
        assert focal_px_from_exif(path) == pytest.approx(camera.params[0], rel=1e-3)
        with Image.open(path) as img:
            exif = img.getexif()
            focal_35 = exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.FocalLengthIn35mmFilm]
            assert exif[ExifTags.Base.Make] == exif[ExifTags.Base.Model] == "photogrammetry-synthetic"
            assert img.size == (camera.width, camera.height)
        assert focal_35 * max(camera.width, camera.height) / 36.0 == pytest.approx(camera.params[0], rel=0.01)


def test_scene_meta_matches_the_files(small_scene: Path) -> None:
    """scene.json agrees with the files: view list, sizes, extent, depth range, object box."""
    meta, layout = read_scene_meta(small_scene), SceneLayout(small_scene)
    names = [name for name, _, _ in _views(small_scene)]
    assert list(meta.views) == names and meta.num_views == len(names)
    assert sorted(p.stem for p in layout.images.iterdir()) == names
    assert sorted(p.stem for p in layout.depth_dir.iterdir()) == names
    vertices, _ = _read_mesh(layout.scene_mesh)
    assert meta.scene_extent == pytest.approx(np.linalg.norm(vertices.max(0) - vertices.min(0)), rel=1e-6)
    assert meta.units == "metres" and meta.kind == SMALL_SPECS[meta.kind].kind
    assert meta.scene_extent * 1e-4 <= meta.depth_scale <= meta.scene_extent * 2.5e-4
    if meta.kind in ("facade", "room"):
        assert meta.object_bbox_min is None and not layout.object_mesh.exists()
    else:
        obj, _ = _read_mesh(layout.object_mesh)
        assert np.allclose(obj.min(0), meta.object_bbox_min) and np.allclose(obj.max(0), meta.object_bbox_max)
    assert math.isclose(
        meta.camera["fx"] * meta.camera["sensor_width_mm"] / meta.image_size[0], meta.camera["focal_length_mm"]
    )
