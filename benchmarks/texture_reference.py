"""What a static texture reaches on a sample scene when everything it is made from is exact.

A texture gives each surface point one colour; a photo shows the point under its own view's
shading and vignetting (on the turntable the light turns with the camera in the object's frame,
so the shading of a point changes from photo to photo). For the held-out pixels the colour of
least squared error is the mean of what they show, which a texture can only estimate from the
training photos: the mean, over the training photos that see the point, of its value there,
weighted by the pixels each photo gives it (cos / distance^2), as our blend does.

This module renders that mean into each held-out view from the exact scene (exact geometry,
visibility and albedo; noise-free photos through the scene's own lens blur, vignetting and tone
curve) and scores it against the photo. The lens blur mixes no background into the object's
outline (a texture holds none). It leaves out everything a real pipeline adds (mesh errors,
resampling, noise in the training photos): no texture estimated from the training photos does
much better, and the gap between a texture and this reference is what better texturing could
still win. (A texture could only beat it by guessing the held-out photos' own shading.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from photogrammetry.evaluation import GroundTruth
from photogrammetry.evaluation.texture_metrics import render_in_view
from photogrammetry.evaluation.texture_render import load_textured_mesh
from photogrammetry.synthetic.geometry import rotate
from photogrammetry.synthetic.render import Renderer, lens_blur_image
from photogrammetry.synthetic.samples import SAMPLE_SCENES
from photogrammetry.synthetic.scenes import Scene, build_scene


class _Scene:
    """A sample scene with its rays traced once per view."""

    def __init__(self, scene: Scene) -> None:
        """Trace the pixel-centre rays of every view."""
        self.scene, self.renderer = scene, Renderer(scene)
        self.spec, self.camera = scene.spec.shading, scene.camera
        self.dirs = self.camera.pixel_rays(1).reshape(-1, 3)
        self.hits = [self.renderer.trace(self.dirs, view) for view in scene.views]
        self.vignetting = self.renderer.vignetting()

    def shading(self, normals_cam: np.ndarray, index: int) -> np.ndarray:
        """Lambertian shading (M,) of camera-frame normals (M, 3) facing view ``index``."""
        light = rotate(self.scene.light, self.scene.views[index].cam_from_lab.rotation)
        return self.spec.ambient + self.spec.diffuse * np.maximum(normals_cam @ light, 0.0)

    def blur_inside(self, image: np.ndarray, inside: np.ndarray) -> np.ndarray:
        """The renderer's lens blur of an (H, W, C) image over the ``inside`` (H, W) pixels only."""
        weight = lens_blur_image(inside[..., None].astype(np.float64), self.spec.lens_blur)
        return lens_blur_image(image * inside[..., None], self.spec.lens_blur) / np.maximum(weight, 1e-9)


def _seen_from(s: _Scene, points: np.ndarray, normals: np.ndarray, valid: np.ndarray,
               index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where view ``index`` sees world points (M, 3): (M,) bool, pixel (M,), shading (M,), weight (M,)."""
    cam, view = s.camera, s.scene.views[index]
    local = view.cam_from_world.apply(points)
    z = np.where(valid, local[:, 2], -1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        col = np.floor(local[:, 0] / z * cam.focal + cam.cx)
        row = np.floor(local[:, 1] / z * cam.focal + cam.cy)
    seen = (z > 0) & (col >= 0) & (row >= 0) & (col < cam.width) & (row < cam.height)
    pixel = np.where(seen, row * cam.width + col, 0).astype(np.int64)
    seen &= np.abs(s.hits[index].depth[pixel] - z) < 0.003 * np.abs(z)
    normals_cam = rotate(normals, view.cam_from_world.rotation)
    to_camera = -local
    distance = np.linalg.norm(to_camera, axis=1)
    cos = np.einsum("nd,nd->n", normals_cam, to_camera) / np.maximum(distance, 1e-12)
    shading = s.shading(normals_cam * np.sign(cos)[:, None], index)
    return seen, pixel, shading, np.abs(cos) / np.maximum(distance, 1e-12) ** 2


def _best_static(s: _Scene, index: int, train: list[int], region: np.ndarray) -> np.ndarray:
    """(H, W, 3) weighted mean, over the training views, of what they show of view ``index``'s pixels."""
    cam, view, hits = s.camera, s.scene.views[index], s.hits[index]
    valid = np.isfinite(hits.depth) & (hits.part >= 0)
    local = s.dirs * np.where(valid, hits.depth, 0.0)[:, None]
    points = rotate(local - view.cam_from_world.translation, view.cam_from_world.rotation.T)
    normals = rotate(hits.normal, view.cam_from_world.rotation.T)
    facing = np.sign(-np.einsum("nd,nd->n", hits.normal, s.dirs))
    albedo = s.renderer.colour(view, hits).reshape(-1, 3) / s.shading(hits.normal * facing[:, None], index)[:, None]
    total, weights = np.zeros((len(points), 3)), np.zeros(len(points))
    for other in train:
        seen, pixel, shading, weight = _seen_from(s, points, normals, valid, other)
        shown = s.blur_inside((albedo * shading[:, None]).reshape(cam.height, cam.width, 3), region & seen.reshape(
            cam.height, cam.width)).reshape(-1, 3) * s.vignetting.reshape(-1)[pixel][:, None]
        total += np.where(seen, weight, 0.0)[:, None] * s.renderer.tone(shown)
        weights += np.where(seen, weight, 0.0)
    exact = s.blur_inside(s.renderer.colour(view, hits), region) * s.vignetting[..., None]
    exact = s.renderer.tone(exact).reshape(-1, 3)
    best = np.where(weights[:, None] > 0, total / np.maximum(weights, 1e-30)[:, None], exact)  # unseen: exact
    return best.reshape(cam.height, cam.width, 3)


def static_reference(name: str, gt: GroundTruth, holdout: list[str], textured: Path) -> float | None:
    """Mean PSNR over the held-out views of the exact-data static texture of sample scene ``name``.

    The compared region is the benchmark's: the GT object mask when the scene has one, else the
    pixels that the ``textured`` mesh (a GLB) covers. None for sets that are not sample scenes.
    """
    if name not in SAMPLE_SCENES:
        return None
    s = _Scene(build_scene(SAMPLE_SCENES[name].spec))
    mesh = load_textured_mesh(textured)
    raycaster = mesh.raycaster()
    index = {view.name: i for i, view in enumerate(s.scene.views)}  # GT image view_000.jpg is view view_000
    held = [index[Path(n).stem] for n in holdout]
    train = [i for i in range(len(s.scene.views)) if i not in held]
    values = []
    for name_, held_index in zip(holdout, held, strict=True):
        photo, _, _, region = render_in_view(mesh, gt.views[name_], max_size=None, raycaster=raycaster)
        if photo.shape[:2] != (s.camera.height, s.camera.width):
            raise SystemExit(f"{gt.views[name_].image_path}: not the size the scene renders; "
                             "regenerate the sample scene")
        best = _best_static(s, held_index, train, region)
        values.append(10.0 * np.log10(1.0 / float(((best - photo) ** 2).mean(axis=2)[region].mean())))
    return round(float(np.mean(values)), 3)
