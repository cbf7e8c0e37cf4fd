"""The sample scenes' ground truth moved into an arbitrary frame, as SfM would return it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pycolmap
from scipy.spatial.transform import Rotation

from photogrammetry.io.mesh import read_mesh
from photogrammetry.synthetic import load_depth

SAMPLES = Path(__file__).resolve().parents[2] / "sample_scenes"
GT_UP = np.array([0.0, 0.0, 1.0])
"""The sample scenes' world is Z up."""


@dataclass(frozen=True, eq=False)
class MovedScene:
    """A sample scene in an arbitrary frame: ``x_moved = s R x_gt + t``."""

    gt: pycolmap.Reconstruction
    """The GT cameras (GT frame)."""
    names: list[str]
    """Image names, sorted."""
    cam_from_world: np.ndarray
    """(N, 3, 4) poses in the moved frame, name order."""
    points: np.ndarray
    """(M, 3) points back-projected from the GT depth maps (what fusion gives), moved."""
    vertices: np.ndarray
    """(V, 3) the object's mesh (the scene's for the facade), moved."""
    faces: np.ndarray
    """(F, 3) its triangles."""
    moved_from_gt: np.ndarray
    """(4, 4) the similarity."""


def random_similarity(seed: int, *, metric: bool = False) -> np.ndarray:
    """A random rotation, translation and (unless ``metric``) scale within 0.3..3."""
    rng = np.random.default_rng(seed)
    matrix = np.eye(4)
    scale = 1.0 if metric else rng.uniform(0.3, 3.0)
    matrix[:3, :3] = scale * Rotation.random(random_state=seed).as_matrix()
    matrix[:3, 3] = rng.normal(0.0, 2.0, 3)
    return matrix


def _depth_points(scene: Path, gt: pycolmap.Reconstruction, stride: int = 8) -> np.ndarray:
    depth_scale = json.loads((scene / "gt" / "scene.json").read_text())["depth_scale"]
    out = []
    for image in gt.images.values():
        depth = load_depth(scene / "gt" / "depth" / f"{Path(image.name).stem}.png", depth_scale)[::stride, ::stride]
        rows, cols = np.nonzero(depth > 0)
        pixels = np.stack([(cols * stride + 0.5), (rows * stride + 0.5)], axis=1)
        rays = gt.cameras[image.camera_id].cam_from_img(pixels)
        cam = np.column_stack([rays, np.ones(len(rays))]) * depth[rows, cols][:, None]
        pose = image.cam_from_world().matrix()
        out.append((cam - pose[:, 3]) @ pose[:, :3])
    return np.concatenate(out)


def moved_scene(name: str, seed: int = 1, *, metric: bool = False) -> MovedScene:
    """The scene ``name`` moved by :func:`random_similarity`."""
    scene = SAMPLES / name
    gt = pycolmap.Reconstruction(scene / "gt" / "sparse")
    mesh = read_mesh(scene / "gt" / ("scene_mesh.ply" if name == "facade" else "object_mesh.ply"))
    moved_from_gt = random_similarity(seed, metric=metric)
    scale = np.cbrt(np.linalg.det(moved_from_gt[:3, :3]))
    rotation, t = moved_from_gt[:3, :3] / scale, moved_from_gt[:3, 3]
    images = sorted(gt.images.values(), key=lambda image: image.name)
    poses = []
    for image in images:
        pose = image.cam_from_world().matrix()  # x_cam = R x_gt + t0; x_gt = (x_moved - t) R^T / s
        R = pose[:, :3] @ rotation.T
        poses.append(np.column_stack([R, scale * pose[:, 3] - R @ t]))

    def move(points: np.ndarray) -> np.ndarray:
        return points @ moved_from_gt[:3, :3].T + t

    return MovedScene(gt=gt, names=[i.name for i in images], cam_from_world=np.array(poses),
                      points=move(_depth_points(scene, gt)), vertices=move(mesh.vertices), faces=mesh.faces,
                      moved_from_gt=moved_from_gt)
