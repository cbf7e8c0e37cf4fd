"""Photometric levelling: one gain per photo and channel, and each camera's vignetting.

Surface points seen by several photos should have one colour. With ``c[p, v]`` the colour of
point ``p`` in photo ``v`` at a distance ``r`` from the principal point, the gains ``g`` and
fall-off coefficients ``b`` (:mod:`.vignetting`) minimise, per channel and in the log domain,

    sum_{p, v} (log c[p, v] + log g[v] - log V_b(r) - log a[p])^2
      + prior * sum_v (log g[v])^2 + ridge * |b|^2

over the point colours ``a`` too (the prior keeps the mean exposure). The fall-off is shared by
the channels and by the views of one camera. The problem is linear: the point colours are
eliminated (Schur complement, as in bundle adjustment) and the small system left is solved
directly. Robust to outliers (occlusions the mesh misses, highlights) by reweighting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import scipy.sparse as sp

from photogrammetry.meshing.views import CameraView, sample_image
from photogrammetry.texturing.vignetting import DEGREE, Vignetting, camera_groups, radius2, radius_basis
from photogrammetry.texturing.visibility import MeshScene, view_maps, visible

_MIN_VALUE = 4.0 / 255.0
"""Darker samples (noise, clipped shadows) are ignored."""
_HUBER = 0.05
"""Residual (log colour, about 5 %) beyond which observations are down-weighted."""


@dataclass(frozen=True, kw_only=True, eq=False)
class Observations:
    """Low-passed colours of surface points in the photos that see them."""

    point_ids: np.ndarray
    """(M,) point of each observation."""
    view_ids: np.ndarray
    """(M,) view of each observation."""
    pixels: np.ndarray
    """(M, 2) where the point lies in the photo."""
    colors: np.ndarray
    """(M, 3) float64 RGB in [0, 1]."""


@dataclass(frozen=True, kw_only=True, eq=False)
class Levelling:
    """Per-photo corrections that give shared surface points one colour."""

    gains: np.ndarray
    """(V, 3) colour gains (exposure and white balance)."""
    vignetting: Vignetting | None
    """Each camera's fall-off, removed from its photos; None: not estimated."""

    def correct(self, index: int, view: CameraView, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) float32 photo ``index`` levelled, in [0, 1] units (``image``: uint8 RGB)."""
        out = image.astype(np.float32) * (self.gains[index] / 255.0).astype(np.float32)
        if self.vignetting is not None:
            out *= self.vignetting.flat_field(index, view)[:, :, None]
        return out


def observe(points: np.ndarray, views: Sequence[CameraView], scene: MeshScene,
            *, sigma: float = 2.0, erode_px: int = 0) -> Observations:
    """Low-passed colours of surface points (P, 3) in every view that sees them (masks eroded by
    ``erode_px`` pixels), away from occlusion edges and mask borders."""
    point_ids, view_ids, pixels, colors = [], [], [], []
    for index, view in enumerate(views):
        maps = view_maps(scene, view, view.read_mask(), erode_px=erode_px)
        pix, _, seen = visible(view, maps, points)
        idx = np.flatnonzero(seen)
        row, col = pix[idx, 1].astype(np.int64), pix[idx, 0].astype(np.int64)
        idx = idx[maps.edge_distance[row, col] >= 3.0 * sigma]  # the low-pass would mix in what lies beyond
        image = cv2.GaussianBlur(view.read_image().astype(np.float32) / 255.0, (0, 0), sigma)
        point_ids.append(idx)
        view_ids.append(np.full(len(idx), index))
        pixels.append(pix[idx])
        colors.append(sample_image(image, pix[idx]).astype(np.float64))
    return Observations(point_ids=np.concatenate(point_ids), view_ids=np.concatenate(view_ids),
                        pixels=np.concatenate(pixels).reshape(-1, 2), colors=np.concatenate(colors).reshape(-1, 3))


def _radii2(obs: Observations, views: Sequence[CameraView]) -> np.ndarray:
    """(M,) squared radius (:func:`.vignetting.radius2`) of every observation."""
    r2 = np.zeros(len(obs.view_ids))
    for index, view in enumerate(views):
        rows = obs.view_ids == index
        r2[rows] = radius2(view, obs.pixels[rows])
    return r2


def _system(obs: Observations, num_views: int, groups: np.ndarray | None, basis: np.ndarray,
            num_points: int) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """Rows of the channels' usable observations: point incidence (R, 3P), the other unknowns
    (R, 3V [+ C * DEGREE]) (log gains, then fall-off) and log colours (R,)."""
    num_cols = 3 * num_views + (0 if groups is None else (groups.max() + 1) * DEGREE)
    point_blocks, other_blocks, values = [], [], []
    for channel in range(3):
        keep = np.flatnonzero(obs.colors[:, channel] > _MIN_VALUE)
        if len(keep) < 10 * num_views:
            continue  # too dark to level: gain 1
        n, v = len(keep), obs.view_ids[keep]
        row = np.arange(n)
        point_blocks.append(sp.csr_matrix((np.ones(n), (row, channel * num_points + obs.point_ids[keep])),
                                          shape=(n, 3 * num_points)))
        cols, data = [channel * num_views + v], [-np.ones(n)]
        if groups is not None:
            first = 3 * num_views + groups[v] * DEGREE
            cols += [first + k for k in range(DEGREE)]
            data += [basis[keep, k] for k in range(DEGREE)]
        other_blocks.append(sp.csr_matrix((np.concatenate(data), (np.tile(row, len(cols)), np.concatenate(cols))),
                                          shape=(n, num_cols)))
        values.append(np.log(obs.colors[keep, channel]))
    if not values:
        return sp.csr_matrix((0, 3 * num_points)), sp.csr_matrix((0, num_cols)), np.zeros(0)
    return sp.vstack(point_blocks).tocsr(), sp.vstack(other_blocks).tocsr(), np.concatenate(values)


def _solve(points: sp.csr_matrix, other: sp.csr_matrix, values: np.ndarray, weights: np.ndarray,
           damping: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares ``values ~ points @ a + other @ x`` with ``damping * x^2`` added:
    returns ``x`` and the residuals. The point colours ``a`` are eliminated first."""
    w_points = points.multiply(weights[:, None]).tocsr()
    point_weight = np.maximum(np.asarray(w_points.sum(axis=0)).ravel(), 1e-12)  # diagonal block
    cross = (w_points.T @ other).tocsr()  # (3P, K)
    inverse = sp.diags(1.0 / point_weight)
    schur = (other.T @ other.multiply(weights[:, None])).toarray() - (cross.T @ inverse @ cross).toarray()
    point_rhs = w_points.T @ values
    rhs = other.T @ (weights * values) - cross.T @ (point_rhs / point_weight)
    x = np.linalg.solve(schur + np.diag(damping), rhs)
    colour = (point_rhs - cross @ x) / point_weight
    return x, values - points @ colour - other @ x


def level_photos(points: np.ndarray, views: Sequence[CameraView], scene: MeshScene, *, prior: float = 0.1,
                 ridge: float = 1.0, max_gain: float = 2.0, erode_px: int = 0,
                 vignetting: bool = True) -> Levelling:
    """Gains that level the photos' exposure and white balance, and the cameras' vignetting.

    Args:
        points: (P, 3) surface points seen by several views (e.g. well-seen face centres).
        views: The views.
        scene: The mesh, for depth tests.
        prior: Weight pulling each log gain to 0, relative to one observation.
        ridge: Weight pulling each fall-off coefficient to 0.
        max_gain: Gains are clipped to ``[1 / max_gain, max_gain]``.
        erode_px: Pixels by which the views' masks are eroded.
        vignetting: Fit and remove each camera's radial fall-off too.
    """
    obs = observe(points, views, scene, erode_px=erode_px)
    groups = camera_groups(views) if vignetting else None
    r2 = _radii2(obs, views)
    point_rows, other, values = _system(obs, len(views), groups, radius_basis(r2), len(points))
    gains = np.ones((len(views), 3))
    if not len(values):
        return Levelling(gains=gains, vignetting=None)
    damping = np.concatenate([np.full(3 * len(views), prior), np.full(other.shape[1] - 3 * len(views), ridge)])
    weights = np.ones(len(values))
    for _ in range(3):
        x, residual = _solve(point_rows, other, values, weights, damping)
        weights = 1.0 / np.maximum(1.0, np.abs(residual) / _HUBER)  # Huber weights
    # value = log a - log g + log V: the gain columns hold -1, so x = log g
    gains = np.exp(np.clip(x[: 3 * len(views)].reshape(3, len(views)).T, -np.log(max_gain), np.log(max_gain)))
    if groups is None:
        return Levelling(gains=gains, vignetting=None)
    return Levelling(gains=gains, vignetting=_vignetting(groups, groups[obs.view_ids], r2,
                                                         x[3 * len(views):].reshape(-1, DEGREE)))


def _vignetting(groups: np.ndarray, camera: np.ndarray, r2: np.ndarray, coefficients: np.ndarray) -> Vignetting:
    """The fitted fall-off, with the radii observed (``camera``, ``r2``: per observation) bounding it
    and giving its reference: the mean fall-off where the surface was seen."""
    count = len(coefficients)
    falloff = np.exp(np.einsum("mk,mk->m", radius_basis(r2), coefficients[camera]))
    reference = np.bincount(camera, falloff, minlength=count) / np.maximum(np.bincount(camera, minlength=count), 1)
    max_radius2 = np.zeros(count)
    np.maximum.at(max_radius2, camera, r2)
    return Vignetting(groups=groups, coefficients=coefficients, reference=np.where(reference > 0, reference, 1.0),
                      max_radius2=max_radius2)
