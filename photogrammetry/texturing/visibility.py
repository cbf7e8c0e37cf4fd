"""What each photo sees of the mesh: depth maps by ray casting, per-face quality per view.

A face's quality in a view is its visible projected area in pixels (which grows with the
resolution at which the photo saw it and falls with the viewing angle): the usable pixels
that see it first for faces of many pixels, else the projected area times the fraction of its
sample points that pass the depth test against the mesh and lie inside the view's mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from photogrammetry.meshing.raycast import MeshScene
from photogrammetry.meshing.views import CameraView

DEPTH_TOLERANCE = 0.005
"""A point passes the depth test when its depth is within this fraction of the rendered depth."""
_SAMPLE_WEIGHTS = np.array([[1, 1, 1], [4, 1, 1], [1, 4, 1], [1, 1, 4]], dtype=np.float64)
_SAMPLE_WEIGHTS /= _SAMPLE_WEIGHTS.sum(axis=1, keepdims=True)


@dataclass(frozen=True, kw_only=True, eq=False)
class ViewMaps:
    """A view's depth map and the region of its photo that may give colour."""

    depth: np.ndarray
    """(H, W) float32 z depth of the mesh, ``inf`` where it is missed."""
    usable: np.ndarray
    """(H, W) bool: inside the (eroded) mask and away from the mesh's silhouette edges."""
    edge_distance: np.ndarray
    """(H, W) float32 distance in pixels to the nearest depth discontinuity or unusable pixel."""
    face_ids: np.ndarray
    """(H, W) int64 face seen through each pixel's centre, -1 on misses."""


def depth_edges(depth: np.ndarray, focal: float, *, max_slope: float = 8.0) -> np.ndarray:
    """(H, W) bool pixels next to a miss or to a depth discontinuity.

    A discontinuity is a depth change within a 3 x 3 window larger than a surface sloping at
    ``max_slope`` (depth change per unit of lateral distance; 8 is about 83 degrees) would
    make over two pixels, so that oblique surfaces are not mistaken for occlusion edges.
    """
    finite = np.isfinite(depth)
    kernel = np.ones((3, 3), np.uint8)
    highest = cv2.dilate(np.where(finite, depth, 0).astype(np.float32), kernel)
    lowest = cv2.erode(np.where(finite, depth, np.inf).astype(np.float32), kernel)
    near_miss = cv2.erode(finite.astype(np.uint8), kernel) == 0
    with np.errstate(over="ignore", invalid="ignore"):
        jump = highest - lowest > 2.0 * max_slope * lowest / focal
    return near_miss | jump


def view_maps(scene: MeshScene, view: CameraView, mask: np.ndarray | None, *, erode_px: int = 0) -> ViewMaps:
    """Depth map and usable region of one view (mask eroded by ``erode_px`` pixels, for loose masks)."""
    depth, face_ids = scene.render(view)
    usable = np.isfinite(depth) & ~depth_edges(depth, float(view.K[0, 0]))
    if mask is not None:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode_px + 1, 2 * erode_px + 1))
        usable &= cv2.erode(mask.astype(np.uint8), kernel) > 0
    distance = cv2.distanceTransform(usable.astype(np.uint8), cv2.DIST_L2, 3)
    return ViewMaps(depth=depth, usable=usable, edge_distance=distance, face_ids=face_ids)


def visible(view: CameraView, maps: ViewMaps, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which world points (N, 3) the view sees: pixel coordinates (N, 2), depths (N,), and (N,)
    bool true where the point is in the image, in the usable region and passes the depth test."""
    pix, z = view.project(points)
    return pix, z, sees(view, maps, pix, z)


def sees(view: CameraView, maps: ViewMaps, pix: np.ndarray, z: np.ndarray) -> np.ndarray:
    """(N,) bool: points at pixel coordinates (N, 2) and camera depths (N,) lie in the image, in
    the usable region, and pass the depth test against the mesh's depth map."""
    col, row = np.floor(pix[:, 0]), np.floor(pix[:, 1])
    inside = (z > 0) & (col >= 0) & (row >= 0) & (col < view.width) & (row < view.height)
    ok = np.zeros(len(z), dtype=bool)
    idx = np.flatnonzero(inside)
    r, c = row[idx].astype(np.int64), col[idx].astype(np.int64)
    ok[idx] = maps.usable[r, c] & (np.abs(maps.depth[r, c] - z[idx]) <= DEPTH_TOLERANCE * z[idx])
    return ok


def face_quality(view: CameraView, maps: ViewMaps, vertices: np.ndarray, faces: np.ndarray,
                 *, min_pixels: float = 16.0) -> np.ndarray:
    """(F,) float32 quality of every face in one view: visible projected area in pixels.

    Faces projecting to at least ``min_pixels`` pixels count the usable pixels (mask, away
    from silhouettes) whose ray hits them first: the exact visible area, however large the
    face and however much of it lies outside the photo. Smaller faces take the projected
    triangle's area scaled by the fraction of four sample points per face that the view sees
    (depth test, mask and silhouette margin). Faces turned away from the camera score zero
    (faces must wind counter-clockwise seen from outside).
    """
    corners = vertices[faces]  # (F, 3, 3)
    pix, z = view.project(corners.reshape(-1, 3))
    pix = pix.reshape(-1, 3, 2)
    edge1, edge2 = pix[:, 1] - pix[:, 0], pix[:, 2] - pix[:, 0]
    signed_area = 0.5 * (edge1[:, 0] * edge2[:, 1] - edge1[:, 1] * edge2[:, 0])
    # Outward faces (counter-clockwise seen from outside) turn clockwise in an image whose y points down.
    front = (signed_area < 0) & np.all(z.reshape(-1, 3) > 0, axis=1)
    area = -np.nan_to_num(signed_area)
    samples = np.einsum("sk,fkd->fsd", _SAMPLE_WEIGHTS, corners).reshape(-1, 3)
    seen = visible(view, maps, samples)[2].reshape(-1, len(_SAMPLE_WEIGHTS)).mean(axis=1)
    hits = maps.face_ids[maps.usable]
    pixels = np.bincount(hits[hits >= 0], minlength=len(faces))[: len(faces)]
    quality = np.where(area >= min_pixels, pixels, area * seen)
    return np.where(front, quality, 0.0).astype(np.float32)
