"""Which parts of the GT surface the cameras saw: the surface a reconstruction can be complete on.

Completeness against the whole GT mesh counts the back of a wall or the underside of an
object as missed, although no photo shows them; benchmarks leave such surface out (DTU's
observability masks, ETH3D's and Tanks and Temples' scans of what was photographed). Here a
GT surface sample counts as observed by a view when it projects inside the image, in front of
the camera, and the segment from the camera centre to it crosses no GT triangle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import open3d as o3d

from photogrammetry.evaluation.cameras import CameraPose, PinholeCamera
from photogrammetry.evaluation.ground_truth import GroundTruth


@dataclass(frozen=True, kw_only=True, eq=False)
class Observers:
    """The views that photographed a scene and the surfaces that can hide things from them."""

    views: Sequence[tuple[PinholeCamera, CameraPose]]
    """Intrinsics and ``cam_from_world`` pose of every view."""
    occluders: tuple[np.ndarray, np.ndarray]
    """GT mesh that occludes: vertices (V, 3) and faces (F, 3)."""
    offset: float
    """World distance short of a point at which its sight line stops (the point's own surface
    must not hide it)."""

    @classmethod
    def from_ground_truth(cls, gt: GroundTruth, occluders: tuple[np.ndarray, np.ndarray], *,
                          exclude: Sequence[str] = ()) -> Observers:
        """The GT views but ``exclude`` (e.g. held-out views), hidden by ``occluders`` (the GT
        mesh that renders depth, already read)."""
        excluded = set(exclude)
        views = [(v.camera, v.pose) for name, v in sorted(gt.views.items()) if name not in excluded]
        return cls(views=views, occluders=occluders, offset=1e-4 * gt.extent)


def observation_counts(points: np.ndarray, observers: Observers) -> np.ndarray:
    """How many views observe each point.

    Args:
        points: (N, 3) world points, e.g. samples on the GT surface.
        observers: the views and occluders.

    Returns:
        (N,) int count of views in whose image each point lies, unoccluded.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    scene = o3d.t.geometry.RaycastingScene()
    vertices, faces = observers.occluders
    scene.add_triangles(o3d.core.Tensor(np.ascontiguousarray(vertices, dtype=np.float32)),
                        o3d.core.Tensor(np.ascontiguousarray(faces, dtype=np.uint32)))
    counts = np.zeros(len(points), dtype=np.int64)
    for camera, pose in observers.views:
        in_frame = _in_frame(points, camera, pose)
        index = np.flatnonzero(in_frame)
        if len(index) == 0:
            continue
        center = pose.center
        direction = points[index] - center
        length = np.linalg.norm(direction, axis=1)
        # A ray with the full segment as its direction: t runs 0..1 from the centre to the point.
        rays = np.concatenate([np.broadcast_to(center, direction.shape), direction], axis=1)
        tfar = np.maximum(1.0 - observers.offset / np.maximum(length, 1e-12), 0.0)
        hidden = _occluded(scene, rays, tfar)
        counts[index[~hidden]] += 1
    return counts


def _in_frame(points: np.ndarray, camera: PinholeCamera, pose: CameraPose) -> np.ndarray:
    """(N,) whether points (N, 3) project inside the image, in front of the camera."""
    local = points @ pose.R.T + pose.t
    z = local[:, 2]
    front = z > 1e-9
    pixels = local[:, :2] / np.where(front, z, 1.0)[:, None] @ camera.K[:2, :2].T + camera.K[:2, 2]
    inside = (pixels[:, 0] >= 0) & (pixels[:, 0] < camera.width) & (pixels[:, 1] >= 0) & (pixels[:, 1] < camera.height)
    return front & inside


def _occluded(scene: o3d.t.geometry.RaycastingScene, rays: np.ndarray, tfar: np.ndarray) -> np.ndarray:
    """(N,) whether each ray hits a triangle at a parameter below its own ``tfar``."""
    hits = scene.cast_rays(o3d.core.Tensor(np.ascontiguousarray(rays, dtype=np.float32)))
    return hits["t_hit"].numpy() < tfar
