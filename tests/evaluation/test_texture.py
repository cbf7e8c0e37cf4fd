"""Texture rendering and metrics: a textured quad against an analytically rendered photo."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh
from PIL import Image

from photogrammetry.evaluation.cameras import PinholeCamera
from photogrammetry.evaluation.ground_truth import GroundTruth, GTView
from photogrammetry.evaluation.texture_metrics import evaluate_texture, psnr, ssim
from photogrammetry.evaluation.texture_render import MeshPart, TexturedMesh, load_textured_mesh, render_colors

from .synthetic import look_at

CAMERA = PinholeCamera(K=np.array([[100.0, 0, 80.3], [0, 100, 59.6], [0, 0, 1]]), width=160, height=120)
POSE = look_at(np.array([0.3, -0.4, 3.0]), np.zeros(3), up=(0.0, 1.0, 0.0))
QUAD_VERTICES = np.array([[-1.0, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]])
QUAD_FACES = np.array([[0, 1, 2], [0, 2, 3]])
QUAD_UV = (QUAD_VERTICES[:, :2] + 1) / 2


def pattern(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """A smooth colour function of the texture coordinates, asymmetric in u and v: (..., 3)."""
    return np.stack([0.5 + 0.4 * np.sin(5 * u + 1), 0.2 + 0.7 * v**2, 0.5 + 0.3 * np.cos(4 * u * v)], axis=-1)


def texture_image(size: int = 512) -> np.ndarray:
    """``pattern`` sampled at texel centres; row 0 is v = 1. (size, size, 3) uint8."""
    centres = (np.arange(size) + 0.5) / size
    u, v = np.meshgrid(centres, 1 - centres)
    return np.round(pattern(u, v) * 255).astype(np.uint8)


def analytic_photo() -> np.ndarray:
    """The quad's pattern at every pixel centre, by ray-plane intersection; 0 off the quad."""
    x, y = np.meshgrid(np.arange(CAMERA.width) + 0.5, np.arange(CAMERA.height) + 0.5)
    rays = np.stack([x, y, np.ones_like(x)], axis=-1) @ np.linalg.inv(CAMERA.K).T @ POSE.R
    hit = POSE.center - rays * (POSE.center[2] / rays[..., 2:3])
    inside = np.all(np.abs(hit[..., :2]) <= 1, axis=-1)
    return np.where(inside[..., None], pattern((hit[..., 0] + 1) / 2, (hit[..., 1] + 1) / 2), 0.0)


def _ground_truth(folder: Path) -> GroundTruth:
    photo = np.round(analytic_photo() * 255).astype(np.uint8)
    cv2.imwrite(str(folder / "photo.png"), photo[..., ::-1])
    view = GTView(name="photo.png", camera=CAMERA, pose=POSE, image_path=folder / "photo.png")
    return GroundTruth(views={view.name: view}, extent=2.0, source=folder)


def _export(texture: np.ndarray, path: Path, factor: tuple[float, ...] | None = None) -> Path:
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(texture), baseColorFactor=factor)
    visual = trimesh.visual.TextureVisuals(uv=QUAD_UV, material=material)
    trimesh.Trimesh(QUAD_VERTICES, QUAD_FACES, visual=visual, process=False).export(path)
    return path


@pytest.mark.parametrize("suffix", [".glb", ".obj"])
def test_textured_quad_reproduces_the_photo(tmp_path: Path, suffix: str) -> None:
    gt = _ground_truth(tmp_path)
    mesh = load_textured_mesh(_export(texture_image(), tmp_path / f"quad{suffix}"))
    metrics = evaluate_texture(mesh, gt, gt.names)
    assert metrics.psnr > 40.0
    assert metrics.ssim > 0.99
    assert metrics.coverage == 1.0


def test_wrong_texture_scores_low(tmp_path: Path) -> None:
    gt = _ground_truth(tmp_path)
    flipped = load_textured_mesh(_export(texture_image()[::-1].copy(), tmp_path / "flipped.glb"))
    metrics = evaluate_texture(flipped, gt, gt.names)
    assert metrics.psnr < 25.0
    assert metrics.ssim < 0.9


def test_base_color_factor_multiplies_the_texture(tmp_path: Path) -> None:
    mesh = load_textured_mesh(_export(texture_image(), tmp_path / "dark.glb", factor=(0.5, 0.5, 0.5, 1.0)))
    full = load_textured_mesh(_export(texture_image(), tmp_path / "full.glb"))
    dark_image, hit = render_colors(mesh, CAMERA, POSE)
    full_image, _ = render_colors(full, CAMERA, POSE)
    np.testing.assert_allclose(dark_image[hit], full_image[hit] * 0.5, atol=1e-2)


def test_vertex_colors_are_interpolated() -> None:
    colors = np.array([[1.0, 0, 0], [1, 0, 0], [0, 0, 1], [0, 0, 1]], dtype=np.float32)
    mesh = TexturedMesh(parts=(MeshPart(vertices=QUAD_VERTICES, faces=QUAD_FACES, vertex_colors=colors),))
    image, hit = render_colors(mesh, CAMERA, POSE)
    assert hit.sum() > 1000
    np.testing.assert_allclose(image[hit].sum(axis=1), 1.0, atol=1e-5)  # red-blue blend
    assert image[hit][:, 0].min() < 0.1 and image[hit][:, 0].max() > 0.9


def test_mask_defines_the_region(tmp_path: Path) -> None:
    gt = _ground_truth(tmp_path)
    cv2.imwrite(str(tmp_path / "mask.png"), np.full((120, 160), 255, np.uint8))
    view = gt.views["photo.png"]
    masked = GroundTruth(
        views={
            view.name: GTView(
                name=view.name, camera=CAMERA, pose=POSE, image_path=view.image_path, mask_path=tmp_path / "mask.png"
            )
        },
        extent=2.0,
        source=tmp_path,
    )
    mesh = load_textured_mesh(_export(texture_image(), tmp_path / "quad.glb"))
    metrics = evaluate_texture(mesh, masked, masked.names)
    assert 0.1 < metrics.coverage < 0.5  # the quad covers part of the frame


def test_psnr_and_ssim_reference_values() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((40, 50, 3)).astype(np.float32)
    region = np.ones((40, 50), dtype=bool)
    assert psnr(np.full((4, 4, 3), 0.5), np.full((4, 4, 3), 0.6), np.ones((4, 4), bool)) == pytest.approx(20.0)
    assert psnr(image, image, region) == np.inf
    assert ssim(image, image, region) == pytest.approx(1.0)
    noisy = np.clip(image + rng.normal(scale=0.1, size=image.shape), 0, 1).astype(np.float32)
    assert 0.3 < ssim(image, noisy, region) < 0.95
