"""CPU ray-cast rendering of synthetic scenes with open3d's ``RaycastingScene``.

open3d (Embree) only decides which triangle a ray hits; the hit distance, the
barycentric coordinates and the interpolated normal are then recomputed in float64
from the triangle, so depth is exact for the stored mesh and does not depend on the
CPU's float32 code path. Shading is Lambertian under one directional light plus
ambient light; the colour image (optionally supersampled) then goes through a small
lens blur, vignetting, a tone curve and signal-dependent Gaussian sensor noise from a
generator seeded by the scene seed and the view index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d

from photogrammetry.synthetic.geometry import Pose, rotate
from photogrammetry.synthetic.layouts import PartFrame
from photogrammetry.synthetic.mesh import Mesh
from photogrammetry.synthetic.rigs import View
from photogrammetry.synthetic.scenes import Scene
from photogrammetry.synthetic.texture import albedo

_CHUNK = 1 << 18
"""Rays traced at once when supersampling (bounds memory)."""


@dataclass(frozen=True, eq=False)
class ViewRender:
    """The rendered image and ground-truth buffers of one view."""

    image: np.ndarray
    """RGB image, shape ``(H, W, 3)``, ``uint8``."""
    depth: np.ndarray
    """Depth along the camera z axis, shape ``(H, W)``, ``float64``; 0 where no world-frame surface."""
    normals: np.ndarray
    """Camera-frame unit normals facing the camera, shape ``(H, W, 3)``, ``float64``; 0 where depth is 0."""
    mask: np.ndarray
    """Object mask, shape ``(H, W)``, ``bool``."""


@dataclass(frozen=True, eq=False)
class _Hits:
    """Nearest hits of a batch of rays."""

    depth: np.ndarray
    """Ray parameter of the hit (= camera-frame z for rays with unit z), shape ``(M,)``; inf on a miss."""
    part: np.ndarray
    """Index of the hit part, shape ``(M,)``; -1 on a miss."""
    local: np.ndarray
    """Hit point in the hit part's frame, shape ``(M, 3)``."""
    normal: np.ndarray
    """Interpolated unit normal in the camera frame, facing the camera, shape ``(M, 3)``."""


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot product of two ``(M, 3)`` arrays, shape ``(M,)`` (explicit sum: no fused multiply-add)."""
    return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]


@dataclass(frozen=True, eq=False)
class _Triangles:
    """Per-triangle data of one mesh for exact intersection (all shape ``(F, 3)``)."""

    a: np.ndarray
    """First vertex."""
    e1: np.ndarray
    """Second minus first vertex."""
    e2: np.ndarray
    """Third minus first vertex."""
    normals: tuple[np.ndarray, np.ndarray, np.ndarray]
    """Vertex normals at the three corners."""

    @staticmethod
    def of(mesh: Mesh) -> _Triangles:
        """Gather the triangle table of a mesh."""
        a, b, c = (mesh.vertices[mesh.triangles[:, i]] for i in range(3))
        return _Triangles(a, b - a, c - a, tuple(mesh.normals[mesh.triangles[:, i]] for i in range(3)))

    def intersect(
        self, prim: np.ndarray, origin: np.ndarray, dirs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact float64 (Moller-Trumbore) intersection of rays with the triangles they are known to hit.

        Args:
            prim: Hit triangle index per ray, shape ``(M,)``.
            origin: Common ray origin, shape ``(3,)``.
            dirs: Ray directions, shape ``(M, 3)``.

        Returns:
            ``(t, point, normal)``: ray parameters ``(M,)`` (inf for rays parallel to the
            triangle), hit points ``(M, 3)``, interpolated unit normals facing the ray
            origin ``(M, 3)``.
        """
        e1, e2, s = self.e1[prim], self.e2[prim], origin - self.a[prim]
        p = np.cross(dirs, e2)
        det = _dot(e1, p)
        inv = np.divide(1.0, det, out=np.zeros_like(det), where=det != 0.0)
        q = np.cross(s, e1)
        u, v = _dot(s, p) * inv, _dot(dirs, q) * inv
        t = np.where(det != 0.0, _dot(e2, q) * inv, np.inf)
        n0, n1, n2 = (n[prim] for n in self.normals)
        normal = (1.0 - u - v)[:, None] * n0 + u[:, None] * n1 + v[:, None] * n2
        normal *= np.where(det < 0.0, -1.0, 1.0)[:, None]
        length = np.sqrt(_dot(normal, normal))
        normal /= np.where(length > 0.0, length, 1.0)[:, None]
        return t, origin + np.where(det != 0.0, t, 0.0)[:, None] * dirs, normal


def lens_blur_image(image: np.ndarray, weight: float) -> np.ndarray:
    """Separable ``[w, 1 - 2w, w]`` blur of an ``(H, W, C)`` image with replicated borders."""
    for axis in (0, 1):
        padded = np.concatenate([image.take([0], axis), image, image.take([-1], axis)], axis=axis)
        n = image.shape[axis]
        before, centre, after = (padded.take(np.arange(k, k + n), axis) for k in range(3))
        image = weight * before + (1.0 - 2.0 * weight) * centre + weight * after
    return image


class Renderer:
    """Renders the views of one :class:`~photogrammetry.synthetic.scenes.Scene`."""

    def __init__(self, scene: Scene) -> None:
        """Build one ray-casting acceleration structure per rigid frame.

        Args:
            scene: The scene to render.
        """
        self.scene = scene
        self._triangles = [_Triangles.of(part.mesh) for part in scene.parts]
        self._frames: dict[PartFrame, tuple[o3d.t.geometry.RaycastingScene, list[int]]] = {}
        for frame in PartFrame:
            indices = [i for i, part in enumerate(scene.parts) if part.frame is frame]
            if indices:
                caster = o3d.t.geometry.RaycastingScene()
                for i in indices:
                    mesh = scene.parts[i].mesh
                    caster.add_triangles(mesh.vertices.astype(np.float32), mesh.triangles.astype(np.uint32))
                self._frames[frame] = (caster, indices)

    def trace(self, dirs_cam: np.ndarray, view: View) -> _Hits:
        """Nearest hit over all frames for camera-frame rays ``(M, 3)`` from the camera centre."""
        best = _Hits(
            np.full(len(dirs_cam), np.inf), np.full(len(dirs_cam), -1), np.zeros_like(dirs_cam), np.zeros_like(dirs_cam)
        )
        for frame, (caster, indices) in self._frames.items():
            pose: Pose = view.cam_from_world if frame is PartFrame.WORLD else view.cam_from_lab
            origin, dirs = pose.center, rotate(dirs_cam, pose.rotation.T)
            rays = np.concatenate([np.broadcast_to(origin, dirs.shape), dirs], axis=1).astype(np.float32)
            result = caster.cast_rays(o3d.core.Tensor(rays))
            geometry, primitive = result["geometry_ids"].numpy(), result["primitive_ids"].numpy()
            for geometry_id, part_index in enumerate(indices):
                sel = np.flatnonzero(geometry == geometry_id)
                t, point, normal = self._triangles[part_index].intersect(
                    primitive[sel].astype(np.int64), origin, dirs[sel]
                )
                closer = t < best.depth[sel]
                sel, closer_t = sel[closer], t[closer]
                best.depth[sel], best.part[sel] = closer_t, part_index
                best.local[sel], best.normal[sel] = point[closer], rotate(normal[closer], pose.rotation)
        return best

    def _shade(self, hits: _Hits, view: View) -> np.ndarray:
        """Lambertian colour of each ray, sky colour on misses, shape ``(M, 3)``."""
        spec = self.scene.spec.shading
        colour = np.tile(np.asarray(spec.sky, dtype=np.float64), (len(hits.part), 1))
        light = rotate(self.scene.light, view.cam_from_lab.rotation)
        shade = spec.ambient + spec.diffuse * np.maximum(
            _dot(hits.normal, np.broadcast_to(light, hits.normal.shape)), 0.0
        )
        for index, part in enumerate(self.scene.parts):
            sel = np.flatnonzero(hits.part == index)
            colour[sel] = albedo(hits.local[sel], part.texture) * shade[sel, None]
        return colour

    def colour(self, view: View, centre_hits: _Hits) -> np.ndarray:
        """Supersampled linear colour, shape ``(H, W, 3)``, before vignetting and noise."""
        cam, s = self.scene.camera, self.scene.spec.shading.supersample
        if s == 1:
            return self._shade(centre_hits, view).reshape(cam.height, cam.width, 3)
        dirs = cam.pixel_rays(s).reshape(-1, 3)
        colour = np.concatenate(
            [self._shade(self.trace(dirs[i : i + _CHUNK], view), view) for i in range(0, len(dirs), _CHUNK)]
        )
        return colour.reshape(cam.height, s, cam.width, s, 3).mean(axis=(1, 3))

    def vignetting(self) -> np.ndarray:
        """``(H, W)`` brightness fall-off of the lens, 1 at the principal point."""
        cam = self.scene.camera
        u, v = np.arange(cam.width) + 0.5 - cam.cx, np.arange(cam.height) + 0.5 - cam.cy
        r2 = (u[None, :] ** 2 + v[:, None] ** 2) / (cam.cx**2 + cam.cy**2)
        return 1.0 - self.scene.spec.shading.vignetting * r2

    def tone(self, signal: np.ndarray) -> np.ndarray:
        """The sensor's tone curve of a linear signal (a soft shoulder towards 1)."""
        shoulder = self.scene.spec.shading.tone_shoulder
        return signal * (1.0 + shoulder) / (signal + shoulder)

    def _sensor(self, colour: np.ndarray, index: int) -> np.ndarray:
        """Lens blur, vignetting, tone curve, sensor noise and 8-bit quantisation of a ``(H, W, 3)`` image."""
        spec = self.scene.spec.shading
        colour = lens_blur_image(colour, spec.lens_blur)
        signal = self.tone(colour * self.vignetting()[:, :, None])
        rng = np.random.default_rng([self.scene.spec.seed, 404, index])
        sigma = np.sqrt(spec.read_noise**2 + spec.shot_noise**2 * np.maximum(signal, 0.0))
        noisy = signal + rng.standard_normal(signal.shape) * sigma
        return np.floor(np.clip(noisy, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    def render(self, index: int) -> ViewRender:
        """Render view ``index``: the noisy colour image and the exact ground-truth buffers.

        Args:
            index: Index into ``scene.views``.

        Returns:
            Image, depth, normals and object mask of the view.
        """
        view, cam = self.scene.views[index], self.scene.camera
        hits = self.trace(cam.pixel_rays(1).reshape(-1, 3), view)
        # Per-part flags with a trailing False, so that part index -1 (a miss) reads False.
        world = np.array([p.frame is PartFrame.WORLD for p in self.scene.parts] + [False])
        objects = np.array([p.is_object for p in self.scene.parts] + [False])
        covered = world[hits.part]
        shape = (cam.height, cam.width)
        return ViewRender(
            image=self._sensor(self.colour(view, hits), index),
            depth=np.where(covered, hits.depth, 0.0).reshape(shape),
            normals=np.where(covered[:, None], hits.normal, 0.0).reshape(*shape, 3),
            mask=objects[hits.part].reshape(shape),
        )
