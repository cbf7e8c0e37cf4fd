"""Ray casting a triangle mesh into calibrated views: depth and face ids per pixel (open3d)."""

from __future__ import annotations

import numpy as np

from photogrammetry.meshing.views import CameraView


class MeshScene:
    """A triangle mesh prepared once for ray casting into any number of views."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray) -> None:
        """Build the BVH of a mesh given as vertices (V, 3) and faces (F, 3)."""
        import open3d as o3d

        self._o3d = o3d
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(o3d.core.Tensor(np.ascontiguousarray(vertices, dtype=np.float32)),
                                  o3d.core.Tensor(np.ascontiguousarray(faces, dtype=np.uint32)))

    def render(self, view: CameraView) -> tuple[np.ndarray, np.ndarray]:
        """Depth (H, W) float32 along the camera z axis (``inf`` on misses) and face ids (H, W) int64
        (-1 on misses) seen through the centre of every pixel of ``view``."""
        o3d = self._o3d
        extrinsic = np.eye(4)
        extrinsic[:3, :3], extrinsic[:3, 3] = view.R, view.t
        rays = o3d.t.geometry.RaycastingScene.create_rays_pinhole(
            o3d.core.Tensor(view.K), o3d.core.Tensor(extrinsic), view.width, view.height)
        hits = self._scene.cast_rays(rays)
        ids = hits["primitive_ids"].numpy().astype(np.int64)
        missed = ids == np.int64(o3d.t.geometry.RaycastingScene.INVALID_ID)
        # The rays' directions have camera z = 1, so the hit distance is the z depth.
        return hits["t_hit"].numpy().astype(np.float32), np.where(missed, -1, ids)
