"""Texel colours from the photos: two-band blending of the selected view with its neighbours.

Every texel is a surface point. For each view that sees it (depth test, mask, away from
silhouettes, facing the camera) the photo is sampled twice: sharp, and low-passed with a
Gaussian. The texel's colour is

    weighted mean of the low-passed samples of all views   (low band: seam-free, exposure-levelled)
  + sharp - low-passed sample of the face's selected view   (high band: detail from one photo)

(two-band blending, Burt and Adelson 1983; Allene et al. 2008 for texture atlases). Weights
favour views that see the point frontally, from close, and far from occlusion edges, and the
face's selected view counts a little more, so that one photo leads each region. With no low-pass
(``low_sigma = 0``, the default) every band is blended: on held-out photos this predicts the
colours best, as no single photo's noise, shading or misregistration is copied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from photogrammetry.meshing.views import CameraView, sample_image
from photogrammetry.texturing.leveling import Levelling
from photogrammetry.texturing.visibility import MeshScene, view_maps, visible


@dataclass(frozen=True, kw_only=True)
class BlendOptions:
    """Settings of the texel colour computation."""

    low_sigma: float = 0.0
    """Standard deviation in photo pixels of the Gaussian separating the two bands; 0 blends
    every band (the most faithful colours in new views), larger values take the detail from
    the selected view only (sharper, a little less faithful)."""
    angle_power: float = 1.0
    """Low-band weights grow with cos(viewing angle) to this power. With 1 a view weighs by
    the pixels it gives the point (cos / distance^2, its projected area): the weighted mean is
    then the colour a new view is expected to see, averaging out noise and misregistration."""
    edge_margin: float = 6.0
    """Photo pixels over which weights ramp up from an occlusion edge or mask border."""
    min_cos: float = 0.1
    """Views seeing the surface more obliquely than this cosine give no colour."""
    selection_boost: float = 0.5
    """The face's selected view weighs ``1 + selection_boost`` times its usual weight in the
    blend, so that one coherent photo dominates each region (0: plain weighted blending;
    larger values copy more of one photo's noise and misregistration into new views)."""
    mask_erosion: int = 0
    """Pixels by which the photos' masks are eroded before they give colour (for loose masks;
    the weights already ramp up over ``edge_margin`` from every mask border)."""


@dataclass(frozen=True, kw_only=True, eq=False)
class BakeInput:
    """The surface points to colour and what is known about them."""

    points: np.ndarray
    """(N, 3) float64 texel positions on the mesh."""
    normals: np.ndarray
    """(N, 3) float64 unit normals of the texels' faces."""
    labels: np.ndarray
    """(N,) int64 selected view of each texel's face, -1 for none."""
    face_ids: np.ndarray
    """(N,) int64 face of each texel."""
    seen: np.ndarray
    """(F, V) bool: faces each view sees at least partly (texels of other faces are skipped)."""


def _weights(view: CameraView, points: np.ndarray, normals: np.ndarray, pix: np.ndarray,
             edge_distance: np.ndarray, options: BlendOptions) -> np.ndarray:
    """(M,) low-band weights of the view at the points it sees."""
    to_camera = view.center - points
    distance = np.linalg.norm(to_camera, axis=1)
    cos = np.einsum("nd,nd->n", normals, to_camera) / np.maximum(distance, 1e-30)
    resolution = (view.K[0, 0] / np.maximum(distance, 1e-30)) ** 2  # pixels per unit area, frontal
    col = np.clip(pix[:, 0].astype(np.int64), 0, view.width - 1)
    row = np.clip(pix[:, 1].astype(np.int64), 0, view.height - 1)
    ramp = np.clip(edge_distance[row, col] / max(options.edge_margin, 1e-6), 0.0, 1.0)
    weight = np.clip(cos, 0.0, None) ** options.angle_power * resolution * ramp
    return np.where(cos > options.min_cos, weight, 0.0)


def _accumulate(target: BakeInput, views: Sequence[CameraView], levelling: Levelling, scene: MeshScene,
                options: BlendOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pass over the views: low-band weighted sums (N, 3), weights (N,) and the high band (N, 3)."""
    count = len(target.points)
    low_sum = np.zeros((count, 3), np.float32)
    low_weight = np.zeros(count, np.float32)
    high = np.zeros((count, 3), np.float32)
    high_score = np.full(count, -1.0, np.float32)
    for index, view in enumerate(views):
        image = levelling.correct(index, view, view.read_image())
        maps = view_maps(scene, view, view.read_mask(), erode_px=options.mask_erosion)
        candidates = np.flatnonzero(target.seen[target.face_ids, index])
        pix, _, seen = visible(view, maps, target.points[candidates])
        idx, pix = candidates[seen], pix[seen]
        weight = _weights(view, target.points[idx], target.normals[idx], pix, maps.edge_distance, options)
        idx, weight, where = idx[weight > 0], weight[weight > 0], pix[weight > 0]
        blurred = cv2.GaussianBlur(image, (0, 0), options.low_sigma) if options.low_sigma > 0 else image
        low = sample_image(blurred, where)
        weight = weight * (1.0 + options.selection_boost * (target.labels[idx] == index))
        low_sum[idx] += weight[:, None] * low
        low_weight[idx] += weight
        if options.low_sigma <= 0:
            continue  # one band only: no detail to take from the selected view
        score = weight + np.float32(1e30) * (target.labels[idx] == index)  # the selected view first
        better = score > high_score[idx]
        chosen = idx[better]
        high[chosen] = sample_image(image, where[better]) - low[better]
        high_score[chosen] = score[better]
    return low_sum, low_weight, high


def bake(target: BakeInput, views: Sequence[CameraView], levelling: Levelling, scene: MeshScene,
         options: BlendOptions) -> tuple[np.ndarray, np.ndarray]:
    """Colours of the texels from the photos.

    Args:
        target: Texel positions, normals and selected views.
        views: The views, in the order of ``labels``; their photos and masks are read one at a time.
        levelling: The photos' exposure gains and vignetting.
        scene: The mesh, for depth tests.
        options: Blending settings.

    Returns:
        (N, 3) float32 colours and (N,) float32 total weight (0 where no view sees the texel).
    """
    low_sum, low_weight, high = _accumulate(target, views, levelling, scene, options)
    colors = low_sum / np.maximum(low_weight, 1e-30)[:, None] + high
    return np.clip(colors, 0.0, 1.0), low_weight
