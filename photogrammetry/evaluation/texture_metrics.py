"""Texture quality: a textured mesh rendered into GT views, compared with the photos.

Comparison region: the GT object mask when the view has one, else the pixels the mesh
covers. Pixels of the region that the mesh misses render black and count as errors.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from photogrammetry.errors import InputError
from photogrammetry.evaluation.ground_truth import GroundTruth, GTView, read_mask_png, read_photo
from photogrammetry.evaluation.raycast import MeshRaycaster
from photogrammetry.evaluation.texture_render import TexturedMesh, render_colors

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TextureEvalConfig:
    """Settings of the texture evaluation."""

    max_size: int | None = 1024
    """Longest image side the views are rendered and compared at; ``None`` for full size."""
    ssim_sigma: float = 1.5
    """Standard deviation of SSIM's Gaussian window, pixels (window 11 x 11 at 1.5)."""


@dataclass(frozen=True, kw_only=True)
class TextureViewMetrics:
    """Texture quality in one view."""

    psnr: float
    """PSNR in dB over the region (``inf`` for identical images)."""
    ssim: float
    """Mean SSIM over the region."""
    coverage: float
    """Fraction of the region that the mesh covers."""
    num_pixels: int
    """Pixels in the region (at the compared resolution)."""


@dataclass(frozen=True, kw_only=True)
class TextureMetrics:
    """Texture quality averaged over the evaluated views."""

    psnr: float
    """Mean PSNR over views, dB."""
    ssim: float
    """Mean SSIM over views."""
    coverage: float
    """Mean coverage over views."""
    num_views: int
    """Views evaluated."""
    per_view: dict[str, TextureViewMetrics] = field(default_factory=dict)
    """Metrics of each view."""


def psnr(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    """PSNR of two (H, W, C) images in [0, 1] over the (H, W) bool region."""
    mse = float(np.mean((a[region] - b[region]) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(1.0 / mse))


def ssim(a: np.ndarray, b: np.ndarray, region: np.ndarray, *, sigma: float = 1.5) -> float:
    """Mean SSIM (Wang et al. 2004, Gaussian window) of two images over a region.

    Pixels outside the region are zeroed in both images first, so that the background of
    the photo does not enter the windows along the region's border.

    Args:
        a: (H, W, C) image in [0, 1].
        b: (H, W, C) image in [0, 1].
        region: (H, W) bool pixels to average over.
        sigma: Gaussian window standard deviation in pixels (window 11 x 11 at 1.5).
    """
    c1, c2 = 0.01**2, 0.03**2
    size = 2 * int(np.ceil(3.5 * sigma)) + 1

    def blur(x: np.ndarray) -> np.ndarray:
        """Gaussian-weighted local mean."""
        return cv2.GaussianBlur(x, (size, size), sigma, borderType=cv2.BORDER_REFLECT)

    keep = region[..., None].astype(np.float32)
    a, b = (np.asarray(x, np.float32) * keep for x in (a, b))
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.reshape(*region.shape, -1)[region].mean())


def _view_inputs(view: GTView, max_size: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The photo (H, W, 3), the mask (H, W) or None, resized so the longest side <= max_size."""
    photo = read_photo(view.image_path)
    mask = read_mask_png(view.mask_path) if view.mask_path is not None else None
    height, width = photo.shape[:2]
    factor = 1.0 if max_size is None else min(1.0, max_size / max(width, height))
    if factor < 1.0:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        photo = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
        if mask is not None:
            mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return photo, mask


def render_in_view(mesh: TexturedMesh, view: GTView, *, max_size: int | None,
                   raycaster: MeshRaycaster) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Render ``mesh`` (in the GT frame) into ``view`` at the photo's compared size.

    Returns:
        The photo (H, W, 3), the rendering (H, W, 3), the (H, W) bool pixels the mesh covers
        and the compared region (the view's mask when it has one, else the covered pixels).
    """
    photo, mask = _view_inputs(view, max_size)
    camera = view.camera.scaled_to(photo.shape[1], photo.shape[0])
    if mask is not None and mask.shape != photo.shape[:2]:
        raise InputError(f"{view.mask_path}: mask size {mask.shape} differs from the photo's {photo.shape[:2]}")
    rendered, hit = render_colors(mesh, camera, view.pose, raycaster=raycaster)
    return photo, rendered, hit, hit if mask is None else mask


def texture_view_metrics(
    mesh: TexturedMesh, view: GTView, *, config: TextureEvalConfig, raycaster: MeshRaycaster
) -> TextureViewMetrics:
    """Render ``mesh`` (in the GT frame) into ``view`` and compare with its photo."""
    photo, rendered, hit, region = render_in_view(mesh, view, max_size=config.max_size, raycaster=raycaster)
    num = int(region.sum())
    if num == 0:
        return TextureViewMetrics(psnr=float("nan"), ssim=float("nan"), coverage=0.0, num_pixels=0)
    return TextureViewMetrics(
        psnr=psnr(rendered, photo, region),
        ssim=ssim(rendered, photo, region, sigma=config.ssim_sigma),
        coverage=float((hit & region).sum() / num),
        num_pixels=num,
    )


def evaluate_texture(
    mesh: TexturedMesh,
    gt: GroundTruth,
    names: Sequence[str],
    *,
    config: TextureEvalConfig | None = None,
) -> TextureMetrics | None:
    """Evaluate a textured mesh in the given GT views (e.g. held-out ones).

    Args:
        mesh: the textured mesh, already in the GT frame (see :meth:`TexturedMesh.transformed`).
        gt: the ground truth; the views need their photos (``GTView.image_path``).
        names: views to render.
        config: settings (default: :class:`TextureEvalConfig`).

    Returns:
        Mean metrics over views with a photo and a non-empty region, or ``None`` if none.
    """
    config = config or TextureEvalConfig()
    raycaster = mesh.raycaster()
    per_view = {}
    for name in names:
        view = gt.views[name]
        if view.image_path is None:
            logger.warning("no photo for GT view %r; texture not evaluated there", name)
            continue
        metrics = texture_view_metrics(mesh, view, config=config, raycaster=raycaster)
        if metrics.num_pixels:
            per_view[name] = metrics
    if not per_view:
        return None
    values = list(per_view.values())
    return TextureMetrics(
        psnr=float(np.mean([m.psnr for m in values])),
        ssim=float(np.mean([m.ssim for m in values])),
        coverage=float(np.mean([m.coverage for m in values])),
        num_views=len(values),
        per_view=per_view,
    )
