"""A tiny synthetic capture for mesh and texture tests: a patterned sphere seen by a camera ring.

The sphere's colour is a smooth function of the surface point, so the photos (ray cast,
lossless PNG) and any texture can be compared exactly. Optionally a second, small sphere
stands in front of the first to test occlusions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from photogrammetry.io.mesh import MeshData
from photogrammetry.meshing.views import CameraView
from photogrammetry.texturing.visibility import MeshScene

WIDTH, HEIGHT, FOCAL = 160, 120, 150.0


def sphere(radius: float = 1.0, subdivisions: int = 3, center: tuple[float, float, float] = (0, 0, 0)) -> MeshData:
    """A UV sphere (``10 * subdivisions**2``-ish faces) with outward, counter-clockwise faces."""
    import open3d as o3d

    legacy = o3d.geometry.TriangleMesh.create_sphere(radius=radius, resolution=5 * subdivisions)
    legacy.translate(center)
    legacy.compute_vertex_normals()
    return MeshData(vertices=np.asarray(legacy.vertices), faces=np.asarray(legacy.triangles),
                    normals=np.asarray(legacy.vertex_normals))


def pattern(points: np.ndarray) -> np.ndarray:
    """(N, 3) float RGB in [0.1, 0.9] of surface points (N, 3): smooth stripes and blobs."""
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    red = 0.5 + 0.4 * np.sin(4 * x + 1.0)
    green = 0.5 + 0.4 * np.sin(3 * y - 2 * z)
    blue = 0.5 + 0.4 * np.cos(5 * z + x)
    return np.stack([red, green, blue], axis=1)


def look_at(center: np.ndarray, target: tuple[float, float, float] = (0, 0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """``cam_from_world`` rotation and translation of a camera at ``center`` looking at ``target``."""
    forward = (np.asarray(target) - center) / np.linalg.norm(np.asarray(target) - center)
    right = np.cross(forward, (0.0, 0.0, 1.0))
    right /= np.linalg.norm(right)
    R = np.stack([right, np.cross(forward, right), forward])
    return R, -R @ center


def ring(count: int, *, radius: float = 4.0, height: float = 1.2,
         offset: float = 0.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Camera poses on a ring around the origin."""
    angles = np.linspace(0, 2 * np.pi, count, endpoint=False) + offset
    return [look_at(np.array([radius * np.cos(a), radius * np.sin(a), height])) for a in angles]


@dataclass(frozen=True)
class Capture:
    """The rendered capture."""

    mesh: MeshData
    """The geometry that was rendered (both spheres when occluded)."""
    views: list[CameraView]
    """All views, with image files."""


def render(mesh: MeshData, poses: list[tuple[np.ndarray, np.ndarray]], folder: Path, *,
           gains: list[float] | None = None, prefix: str = "view", noise: float = 0.0,
           background: tuple[float, float, float] = (0.05, 0.05, 0.05),
           mask_dilation: int | None = None, vignetting: float = 0.0) -> list[CameraView]:
    """Ray cast ``mesh`` coloured by :func:`pattern` into PNG photos; returns the views.

    ``noise`` adds Gaussian sensor noise of that standard deviation (seeded per view); with
    ``mask_dilation`` each view gets a mask of the mesh grown by that many pixels (a loose mask);
    ``vignetting`` darkens the photos by ``1 - vignetting * r^2`` (``r``: distance from the image
    centre over the half diagonal).
    """
    folder.mkdir(parents=True, exist_ok=True)
    K = np.array([[FOCAL, 0, WIDTH / 2], [0, FOCAL, HEIGHT / 2], [0, 0, 1]])
    scene = MeshScene(mesh.vertices, mesh.faces)
    views = []
    for index, (R, t) in enumerate(poses):
        name = f"{prefix}_{index:02d}.png"
        view = CameraView(name=name, K=K, R=R, t=t, width=WIDTH, height=HEIGHT, image_path=folder / name)
        depth, faces = scene.render(view)
        rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
        rays = np.stack([cols + 0.5, rows + 0.5, np.ones_like(rows)], axis=-1).reshape(-1, 3) @ np.linalg.inv(K).T
        hit = np.isfinite(depth).reshape(-1)
        points = (rays[hit] * depth.reshape(-1, 1)[hit] - t) @ R  # camera -> world
        rgb = np.tile(np.asarray(background, np.float64), (HEIGHT * WIDTH, 1))
        rgb[hit] = pattern(points) * (gains[index] if gains else 1.0)
        r2 = ((cols + 0.5 - WIDTH / 2) ** 2 + (rows + 0.5 - HEIGHT / 2) ** 2) / ((WIDTH**2 + HEIGHT**2) / 4)
        rgb *= (1.0 - vignetting * r2).reshape(-1, 1)
        rgb += np.random.default_rng(index).normal(0.0, noise, rgb.shape) if noise > 0 else 0.0
        image = np.clip(np.round(rgb.reshape(HEIGHT, WIDTH, 3) * 255), 0, 255).astype(np.uint8)
        cv2.imwrite(str(view.image_path), image[..., ::-1])
        if mask_dilation is not None:
            mask = cv2.dilate(hit.reshape(HEIGHT, WIDTH).astype(np.uint8) * 255, np.ones((3, 3), np.uint8),
                              iterations=mask_dilation)
            view = CameraView(name=name, K=K, R=R, t=t, width=WIDTH, height=HEIGHT, image_path=view.image_path,
                              mask_path=folder / f"{prefix}_{index:02d}_mask.png")
            cv2.imwrite(str(view.mask_path), mask)
        views.append(view)
    return views
