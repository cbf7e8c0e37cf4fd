"""Ground-truth COLMAP model of a rendered scene: camera, poses and surface points with tracks.

The sample points are back-projected from random pixels of the exact depth maps,
then observed in every view where they pass a depth test (the nearest pixel's depth
agrees within 0.5 %) and face the camera, so the tracks are free of occluded views.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pycolmap

from photogrammetry.synthetic.geometry import rotate
from photogrammetry.synthetic.scenes import Scene

DEPTH_TOLERANCE = 0.005
"""Relative depth agreement for a point to count as seen in a view."""


@dataclass(frozen=True, eq=False)
class SurfacePoints:
    """Ground-truth surface points and where they are seen."""

    xyz: np.ndarray
    """World coordinates, shape ``(P, 3)``."""
    colours: np.ndarray
    """RGB colour in the view they were sampled from, shape ``(P, 3)``, ``uint8``."""
    seen: np.ndarray
    """Whether point p is seen in view v, shape ``(P, V)``, ``bool``."""
    uv: np.ndarray
    """Projection of point p in view v (COLMAP pixel convention), shape ``(P, V, 2)``."""


def _back_project(scene: Scene, view_index: int, pixels: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """World points of ``(N, 2)`` integer pixels ``(col, row)`` with depths ``(N,)``; returns ``(N, 3)``."""
    cam = scene.camera
    x = (pixels[:, 0] + 0.5 - cam.cx) / cam.focal * depth
    y = (pixels[:, 1] + 0.5 - cam.cy) / cam.focal * depth
    return scene.views[view_index].cam_from_world.inverse().apply(np.stack([x, y, depth], axis=-1))


def sample_surface_points(
    scene: Scene, depths: list[np.ndarray], normals: list[np.ndarray], images: list[np.ndarray], num_points: int
) -> SurfacePoints:
    """Sample surface points seen in at least two views.

    Args:
        scene: The rendered scene.
        depths: Exact depth per view, each shape ``(H, W)``, 0 where no surface.
        normals: Camera-frame normals per view, each shape ``(H, W, 3)``.
        images: Rendered images, each shape ``(H, W, 3)``, ``uint8``.
        num_points: Number of pixels to sample (points seen only once are dropped).

    Returns:
        The points with their visibility and projections.
    """
    rng = np.random.default_rng([scene.spec.seed, 707])
    views = rng.integers(len(scene.views), size=num_points)
    xyz, normal, colours = np.zeros((num_points, 3)), np.zeros((num_points, 3)), np.zeros((num_points, 3), np.uint8)
    for v in range(len(scene.views)):
        chosen = np.flatnonzero(views == v)
        valid = np.flatnonzero(depths[v] > 0.0)
        if len(chosen) == 0 or len(valid) == 0:
            continue
        flat = valid[rng.integers(len(valid), size=len(chosen))]
        row, col = np.divmod(flat, depths[v].shape[1])
        xyz[chosen] = _back_project(scene, v, np.stack([col, row], axis=-1), depths[v][row, col])
        normal[chosen] = rotate(normals[v][row, col], scene.views[v].cam_from_world.rotation.T)
        colours[chosen] = images[v][row, col]
    seen, uv = _visibility(scene, depths, xyz, normal)
    keep = seen.sum(axis=1) >= 2
    return SurfacePoints(xyz=xyz[keep], colours=colours[keep], seen=seen[keep], uv=uv[keep])


def _visibility(
    scene: Scene, depths: list[np.ndarray], xyz: np.ndarray, normal: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Depth- and facing-tested visibility ``(P, V)`` and projections ``(P, V, 2)`` of world points."""
    cam = scene.camera
    seen = np.zeros((len(xyz), len(scene.views)), dtype=bool)
    uv = np.zeros((len(xyz), len(scene.views), 2))
    for v, view in enumerate(scene.views):
        local = view.cam_from_world.apply(xyz)
        z = local[:, 2]
        front = z > 0.0
        uv[front, v] = cam.project(local[front])
        col, row = np.floor(uv[:, v, 0]).astype(np.int64), np.floor(uv[:, v, 1]).astype(np.int64)
        inside = front & (col >= 0) & (col < cam.width) & (row >= 0) & (row < cam.height)
        surface = np.zeros(len(xyz))
        surface[inside] = depths[v][row[inside], col[inside]]
        facing = np.sum(normal * (view.cam_from_world.center - xyz), axis=1) > 0.0
        seen[:, v] = inside & facing & (surface > 0.0) & (np.abs(surface - z) <= DEPTH_TOLERANCE * z)
    return seen, uv


def write_colmap_model(path: Path, scene: Scene, points: SurfacePoints) -> None:
    """Write the ground truth as a COLMAP text model (one PINHOLE camera, image id = view index + 1).

    Args:
        path: Output folder (created).
        scene: The rendered scene.
        points: Surface points with tracks.
    """
    cam = scene.camera
    rec = pycolmap.Reconstruction()
    rec.add_camera_with_trivial_rig(
        pycolmap.Camera(
            camera_id=1,
            model="PINHOLE",
            width=cam.width,
            height=cam.height,
            params=[cam.focal, cam.focal, cam.cx, cam.cy],
        )
    )
    point2d_index = np.cumsum(points.seen, axis=0) - 1
    for v, view in enumerate(scene.views):
        observed = points.uv[points.seen[:, v], v]
        image = pycolmap.Image(
            name=f"{view.name}.jpg",
            points2D=pycolmap.Point2DList([pycolmap.Point2D(xy) for xy in observed]),
            camera_id=1,
            image_id=v + 1,
        )
        pose = view.cam_from_world
        rec.add_image_with_trivial_frame(image, pycolmap.Rigid3d(np.hstack([pose.rotation, pose.translation[:, None]])))
    for p in range(len(points.xyz)):
        views = np.flatnonzero(points.seen[p])
        track = pycolmap.Track([pycolmap.TrackElement(int(v) + 1, int(point2d_index[p, v])) for v in views])
        rec.add_point3D(points.xyz[p], track, points.colours[p])
    path.mkdir(parents=True, exist_ok=True)
    rec.write_text(path)
