"""Synthetic ground truth built on the fly: a coloured sphere on a floor, seen by a camera ring."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import open3d as o3d
import pycolmap

from photogrammetry.evaluation.cameras import CameraPose, PinholeCamera
from photogrammetry.evaluation.ground_truth import GroundTruth, GTView, bbox_diagonal
from photogrammetry.evaluation.raycast import MeshRaycaster
from photogrammetry.evaluation.similarity import Sim3
from photogrammetry.evaluation.texture_render import MeshPart, TexturedMesh, render_colors

WIDTH, HEIGHT = 120, 90
NUM_VIEWS = 10


def look_at(center: np.ndarray, target: np.ndarray, up: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> CameraPose:
    """``cam_from_world`` pose of a camera at ``center`` looking at ``target`` (+y down in the image)."""
    forward = (target - center) / np.linalg.norm(target - center)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return CameraPose.from_center(R=np.stack([right, down, forward]), center=center)


def ring_poses(count: int, *, radius: float = 4.0, height: float = 1.5) -> list[CameraPose]:
    """Poses on a horizontal ring around the origin, all looking at it."""
    angles = np.linspace(0, 2 * np.pi, count, endpoint=False)
    centers = np.stack([radius * np.cos(angles), radius * np.sin(angles), np.full(count, height)], axis=1)
    return [look_at(c, np.zeros(3)) for c in centers]


def sphere_mesh() -> tuple[np.ndarray, np.ndarray]:
    """The unit sphere of the scene, the object: vertices (V, 3), faces (F, 3)."""
    sphere = o3d.geometry.TriangleMesh.create_sphere(radius=1.0, resolution=24)
    return np.asarray(sphere.vertices), np.asarray(sphere.triangles)


def scene_mesh() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A unit sphere on a 4 x 4 floor: vertices (V, 3), faces (F, 3), vertex colours (V, 3)."""
    floor = o3d.geometry.TriangleMesh.create_box(4.0, 4.0, 0.1).translate((-2.0, -2.0, -1.1))
    v_s, f_s = sphere_mesh()
    v_f, f_f = np.asarray(floor.vertices), np.asarray(floor.triangles)
    vertices = np.concatenate([v_s, v_f])
    faces = np.concatenate([f_s, f_f + len(v_s)])
    colors = np.concatenate(
        [0.5 + 0.5 * np.sin(3.0 * v_s[:, [0, 1, 2]] + [0.0, 1.0, 2.0]), np.full((len(v_f), 3), 0.3)]
    )
    return vertices, faces, colors.astype(np.float32)


def random_sim3(seed: int = 3) -> Sim3:
    """An arbitrary similarity, used to move GT into an 'estimate' frame."""
    rng = np.random.default_rng(seed)
    axis_angle = rng.normal(size=3)
    R, _ = cv2.Rodrigues(axis_angle)
    return Sim3(scale=0.37, R=R, t=rng.normal(size=3) * 5)


@dataclass(frozen=True, kw_only=True, eq=False)
class Synthetic:
    """Synthetic ground truth and the raw scene it was made from."""

    gt: GroundTruth
    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray
    folder: Path


def write_scene(folder: Path) -> Synthetic:
    """Write mesh and rendered photos to ``folder`` and describe them as ground truth."""
    vertices, faces, colors = scene_mesh()
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices), o3d.utility.Vector3iVector(faces))
    mesh.vertex_colors = o3d.utility.Vector3dVector(colors.astype(np.float64))
    o3d.io.write_triangle_mesh(str(folder / "scene_mesh.ply"), mesh)
    textured = TexturedMesh(parts=(MeshPart(vertices=vertices, faces=faces, vertex_colors=colors),))
    raycaster = textured.raycaster()
    K = np.array([[90.0, 0, WIDTH / 2 + 1.3], [0, 92.0, HEIGHT / 2 - 0.7], [0, 0, 1]])
    camera = PinholeCamera(K=K, width=WIDTH, height=HEIGHT)
    (folder / "images").mkdir()
    views = {}
    for index, pose in enumerate(ring_poses(NUM_VIEWS)):
        name = f"view_{index:02d}.png"
        image, _ = render_colors(textured, camera, pose, raycaster=raycaster)
        cv2.imwrite(str(folder / "images" / name), np.round(image[..., ::-1] * 255).astype(np.uint8))
        views[name] = GTView(name=name, camera=camera, pose=pose, image_path=folder / "images" / name)
    gt = GroundTruth(
        views=views,
        extent=bbox_diagonal(vertices),
        source=folder,
        kind="synthetic",
        scene_mesh_path=folder / "scene_mesh.ply",
    )
    return Synthetic(gt=gt, vertices=vertices, faces=faces, colors=colors, folder=folder)


def write_colmap_model(views: dict[str, GTView], folder: Path, *, binary: bool = False) -> pycolmap.Reconstruction:
    """Write views as a COLMAP model (one PINHOLE camera per view) to ``folder``."""
    model = pycolmap.Reconstruction()
    for index, (name, view) in enumerate(sorted(views.items()), start=1):
        K = view.camera.K
        model.add_camera_with_trivial_rig(
            pycolmap.Camera(
                model="PINHOLE",
                width=view.camera.width,
                height=view.camera.height,
                params=[K[0, 0], K[1, 1], K[0, 2], K[1, 2]],
                camera_id=index,
            )
        )
        image = pycolmap.Image(name=name, camera_id=index, image_id=index)
        model.add_image_with_trivial_frame(image, pycolmap.Rigid3d(pycolmap.Rotation3d(view.pose.R), view.pose.t))
    folder.mkdir(parents=True)
    if binary:
        model.write_binary(str(folder))
    else:
        model.write_text(str(folder))
    return model


def write_sample_scene(synthetic: Synthetic, folder: Path, *, depth_scale: float = 1e-3) -> Path:
    """Write the synthetic scene in the sample-scene GT layout; returns the scene folder."""
    gt_dir = folder / "gt"
    write_colmap_model(dict(synthetic.gt.views), gt_dir / "sparse")
    for extra in ("rigs.txt", "frames.txt"):  # the layout has cameras, images, points3D only
        (gt_dir / "sparse" / extra).unlink(missing_ok=True)
    shutil.copytree(synthetic.folder / "images", folder / "images")
    shutil.copy(synthetic.folder / "scene_mesh.ply", gt_dir / "scene_mesh.ply")
    raycaster = MeshRaycaster([(synthetic.vertices, synthetic.faces)])
    for sub in ("depth", "normals", "masks"):
        (gt_dir / sub).mkdir()
    for name, view in synthetic.gt.views.items():
        hits = raycaster.cast(view.camera, view.pose)
        depth = np.where(hits.hit, hits.depth, 0.0)
        png = Path(name).with_suffix(".png")
        cv2.imwrite(str(gt_dir / "depth" / png), np.round(depth / depth_scale).astype(np.uint16))
        cv2.imwrite(str(gt_dir / "masks" / png), np.where(hits.part_ids == 0, 255, 0).astype(np.uint8))
        cv2.imwrite(str(gt_dir / "normals" / png), np.full((*depth.shape, 3), 128, np.uint8))
    meta = {  # a subset of the keys that photogrammetry.synthetic writes
        "depth_scale": depth_scale,
        "scene_extent": synthetic.gt.extent,
        "kind": "turntable",
        "object_bbox_min": [-1, -1, -1],
        "object_bbox_max": [1, 1, 1],
        "image_size": [WIDTH, HEIGHT],
    }
    (gt_dir / "scene.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder
