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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from photogrammetry.errors import ConfigError
from photogrammetry.io.mesh import face_normals
from photogrammetry.meshing.views import CameraView, sample_image
from photogrammetry.texturing.leveling import Levelling
from photogrammetry.texturing.visibility import MeshScene, ViewMaps, sees, view_maps

_CHUNK = 1 << 20
"""Texels projected into a view at once: bounds the temporaries; a view's chunks run in parallel."""


@dataclass(frozen=True, kw_only=True)
class BlendOptions:
    """Settings of the texel colour computation."""

    low_sigma: float = 0.0
    """Pixels of the Gaussian splitting the bands: detail finer than this comes from each face's
    selected photo only (sharper), coarser colour is blended over all photos; 0 blends everything
    (the most faithful colours in new views)."""
    angle_power: float = 1.0
    """Blending weights grow with cos(viewing angle) to this power. With 1 a photo weighs by the
    pixels it gives the surface (cos / distance^2, its projected area): the weighted mean is then the
    colour a new view is expected to see, averaging out noise and misregistration."""
    edge_margin: float = 6.0
    """Photo pixels over which weights ramp up from an occlusion edge or mask border."""
    min_cos: float = 0.1
    """Views seeing the surface more obliquely than this cosine give no colour."""
    selection_boost: float = 0.5
    """Each face's selected photo weighs ``1 + selection_boost`` times its usual weight in the blend,
    so that one coherent photo dominates each region (held-out PSNR, medium level, against 1.0 with
    angle_power 2: orbit +0.03 dB, turntable +0.02, facade 0.00, temple +0.08; 0, plain weighted
    blending, is within 0.03 dB of 0.5)."""
    mask_erosion: int = 0
    """Pixels by which the masks are eroded before they give colour: raise it for loose masks
    that take in some background. With tight masks 0 predicts new views best (held-out PSNR,
    medium level, 2 px erosion -> 0: orbit +0.21 dB, temple +0.19 dB, turntable +0.09 dB):
    the blending weights already ramp up over ``edge_margin`` from every mask border, so border
    pixels count only where no view sees the surface better."""

    def __post_init__(self) -> None:
        if not 0 <= self.mask_erosion <= 16:
            raise ConfigError(f"mask_erosion must be within 0..16, got {self.mask_erosion}")
        if min(self.low_sigma, self.angle_power, self.selection_boost, self.edge_margin) < 0:
            raise ConfigError("low_sigma, angle_power, selection_boost and edge_margin must not be negative")


@dataclass(frozen=True, kw_only=True, eq=False)
class BakeInput:
    """The surface points to colour and what is known about them."""

    vertices: np.ndarray
    """(V, 3) float64 mesh vertices."""
    faces: np.ndarray
    """(F, 3) int64 vertex indices of the faces."""
    face_ids: np.ndarray
    """(N,) int64 face of each texel."""
    barycentric: np.ndarray
    """(N, 3) float32 weights of the face's corners at each texel (outside [0, 1] for texels just
    past a face's border: on its plane, continued)."""
    labels: np.ndarray
    """(F,) int64 selected view of each face, -1 for none."""
    seen: np.ndarray
    """(F, V) bool: faces each view sees at least partly (texels of other faces are skipped)."""


@dataclass(frozen=True, kw_only=True, eq=False)
class _Frame:
    """One view prepared for projecting texels."""

    index: int
    view: CameraView
    maps: ViewMaps
    corners: np.ndarray
    """(F, 3, 3) float32 camera-frame corners of the faces (texels interpolate them: the map is affine)."""
    facing: np.ndarray
    """(F,) float32 ``n . (C - x)`` of each face: cos(viewing angle) times the distance to the
    camera, the same for every point of the face's plane."""


def _frame(index: int, view: CameraView, maps: ViewMaps, target: BakeInput, planes: np.ndarray) -> _Frame:
    """The view's camera-frame face corners and facing terms (``planes``: (F, 4) unit normals
    and ``n . x`` of the faces' planes)."""
    return _Frame(index=index, view=view, maps=maps,
                  corners=(target.vertices @ view.R.T + view.t).astype(np.float32)[target.faces],
                  facing=(planes[:, :3] @ view.center - planes[:, 3]).astype(np.float32))


def _samples(frame: _Frame, target: BakeInput, texels: np.ndarray,
             options: BlendOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The texels among ``texels`` (M,) that the view sees and takes colour from, their faces
    (K,), pixel coordinates (K, 2) and low-band weights (K,).

    A texel counts when it lies in the photo, in the usable region, passes the depth test and
    faces the camera at a cosine above ``min_cos``. Its weight is cos^angle_power times the
    pixels per unit area, (f / distance)^2, times the ramp away from occlusion edges and mask
    borders: with ``angle_power`` 1, the point's projected area in the photo.
    """
    view, maps = frame.view, frame.maps
    faces = target.face_ids[texels]
    cam = np.einsum("nk,nkd->nd", target.barycentric[texels], frame.corners[faces])
    z = cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        col = (np.float32(view.K[0, 0]) * cam[:, 0] + np.float32(view.K[0, 1]) * cam[:, 1]) / z \
            + np.float32(view.K[0, 2])
        row = np.float32(view.K[1, 1]) * cam[:, 1] / z + np.float32(view.K[1, 2])
    pix = np.stack([col, row], axis=1)
    ok = np.flatnonzero(sees(view, maps, pix, z))
    seen = cam[ok]
    distance2 = np.einsum("nd,nd->n", seen, seen)
    cos = frame.facing[faces[ok]] / np.sqrt(distance2)
    front = cos > options.min_cos
    ok, cos, distance2 = ok[front], cos[front], distance2[front]
    where = pix[ok]
    ramp = maps.edge_distance[where[:, 1].astype(np.int64), where[:, 0].astype(np.int64)]
    ramp = np.minimum(ramp * np.float32(1.0 / max(options.edge_margin, 1e-6)), np.float32(1.0))
    weight = cos ** np.float32(options.angle_power) * (np.float32(view.K[0, 0] ** 2) / distance2) * ramp
    keep = weight > 0
    ok = ok[keep]
    return texels[ok], faces[ok], where[keep], weight[keep]


class _Sums:
    """Running low-band sums and weights of every texel, and the high band's best sample."""

    def __init__(self, count: int, high_band: bool) -> None:
        """Zero sums for ``count`` texels (the high band only when it is used)."""
        self.low_sum = np.zeros((count, 3), np.float32)
        self.low_weight = np.zeros(count, np.float32)
        self.high = np.zeros((count, 3), np.float32) if high_band else None
        self.high_score = np.full(count, -1.0, np.float32) if high_band else None

    def add(self, index: int, labels: np.ndarray, images: tuple[np.ndarray, np.ndarray], idx: np.ndarray,
            where: np.ndarray, weight: np.ndarray, boost: float) -> None:
        """Add view ``index``'s samples of texels ``idx`` (unique; ``labels``: their faces' selected
        views; ``images``: the levelled photo and its low-passed copy)."""
        low = sample_image(images[1], where)
        selected = labels == index
        weight = weight * (1.0 + boost * selected)
        self.low_sum[idx] += weight[:, None] * low
        self.low_weight[idx] += weight
        if self.high is None or self.high_score is None:
            return  # one band only: no detail to take from the selected view
        score = weight + np.float32(1e30) * selected  # the selected view first
        better = score > self.high_score[idx]
        chosen = idx[better]
        self.high[chosen] = sample_image(images[0], where[better]) - low[better]
        self.high_score[chosen] = score[better]


def _accumulate(target: BakeInput, views: Sequence[CameraView], levelling: Levelling, scene: MeshScene,
                options: BlendOptions, workers: int) -> _Sums:
    """One pass over the views; each view's texels in chunks, on ``workers`` threads."""
    sums = _Sums(len(target.face_ids), options.low_sigma > 0)
    normals, _ = face_normals(target.vertices, target.faces)
    planes = np.column_stack([normals, np.einsum("fd,fd->f", normals, target.vertices[target.faces[:, 0]])])
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for index, view in enumerate(views):
            image = levelling.correct(index, view, view.read_image())
            blurred = cv2.GaussianBlur(image, (0, 0), options.low_sigma) if options.low_sigma > 0 else image
            maps = view_maps(scene, view, view.read_mask(), erode_px=options.mask_erosion)
            frame = _frame(index, view, maps, target, planes)
            candidates = np.flatnonzero(target.seen[:, index][target.face_ids])

            def run(chunk: np.ndarray, frame: _Frame = frame, images: tuple = (image, blurred)) -> None:
                """Project one chunk of texels and add its samples (a view's chunks never share texels)."""
                idx, faces, where, weight = _samples(frame, target, chunk, options)
                sums.add(frame.index, target.labels[faces], images, idx, where, weight, options.selection_boost)

            list(pool.map(run, [candidates[i:i + _CHUNK] for i in range(0, len(candidates), _CHUNK)]))
    return sums


def bake(target: BakeInput, views: Sequence[CameraView], levelling: Levelling, scene: MeshScene,
         options: BlendOptions, *, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Colours of the texels from the photos.

    Args:
        target: The mesh, the texels on it and its faces' selected views.
        views: The views, in the order of ``labels``; their photos and masks are read one at a time.
        levelling: The photos' exposure gains and vignetting.
        scene: The mesh, for depth tests.
        options: Blending settings.
        workers: Threads projecting the texels.

    Returns:
        (N, 3) float32 colours and (N,) float32 total weight (0 where no view sees the texel).
    """
    sums = _accumulate(target, views, levelling, scene, options, workers)
    colors = sums.low_sum / np.maximum(sums.low_weight, 1e-30)[:, None]
    if sums.high is not None:
        colors += sums.high
    return np.clip(colors, 0.0, 1.0), sums.low_weight
