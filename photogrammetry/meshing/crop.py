"""Cropping to the object: a box around the SfM points, or carving with the photos' masks
(points outside their visual hull go; a surface's vertices there are pulled back onto it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from photogrammetry.errors import ConfigError, InputError
from photogrammetry.io.mesh import MeshData, vertex_normals
from photogrammetry.meshing.poisson import remove_vertices
from photogrammetry.meshing.views import CameraView


@dataclass(frozen=True, kw_only=True)
class CropOptions:
    """How the cloud and the surface are cropped to the object (see :func:`crop_filter`)."""

    mode: Literal["auto", "masks", "box", "none"] = "auto"
    """``masks``: carve with the photos' masks; ``box``: a box around the SfM points;
    ``auto``: masks when the photos have them, else the box; ``none``: no cropping."""
    box_margin: float = 0.1
    """Growth of the SfM-point box on every side, relative to its diagonal."""
    mask_margin: int = 2
    """Masks carve what lies more than this many pixels outside them (calibration and mask-edge
    tolerance)."""
    mask_tolerance: float = 0.0
    """Fraction of the masked photos that may show a kept point on the background; 0 keeps the
    masks' visual hull. Raise it (0.1-0.2) when some masks miss parts of the object."""
    mask_pull: float = 8.0
    """Surface vertices outside the masks' hull are moved inwards along their normals onto it, by
    up to this many point spacings; those farther out (or 0) are removed with their faces."""
    trim_with_masks: bool = False
    """When the masks carve the surface, also trim it by density and distance; off, the masks
    alone bound it and parts no photo sees (the base) stay closed, as in Object Capture."""

    def __post_init__(self) -> None:
        if min(self.box_margin, self.mask_margin, self.mask_tolerance, self.mask_pull) < 0:
            raise ConfigError("box_margin, mask_margin, mask_tolerance and mask_pull must not be negative")
        if self.mask_tolerance > 1:
            raise ConfigError(f"mask_tolerance is a fraction of the photos (0..1), got {self.mask_tolerance}")


Keep = Callable[[np.ndarray], np.ndarray]
"""(N, 3) points -> (N,) bool: inside the crop region."""


def crop_filter(options: CropOptions, views: Sequence[CameraView],
                sparse_points: np.ndarray | None) -> tuple[Keep, str, np.ndarray | None]:
    """The crop region's test, the mode used (``masks``, ``box`` or ``none``) and its box (or ``None``)."""
    has_masks = any(v.mask_path is not None for v in views)
    mode = options.mode
    if mode == "masks" and not has_masks:
        raise InputError("mesh.crop.mode = masks, but the photos have no masks; use auto or box")
    if mode == "auto":
        mode = "masks" if has_masks else "box"
    if mode == "box" and sparse_points is not None and len(sparse_points) >= 10:
        box = robust_box(sparse_points, margin=options.box_margin)
        return (lambda points: inside_box(points, box)), mode, box
    if mode == "masks":
        return (lambda points: carve(points, views, margin_px=options.mask_margin,
                                     tolerance=options.mask_tolerance)), mode, None
    return (lambda points: np.ones(len(points), dtype=bool)), "none", None


def robust_box(points: np.ndarray, *, percentile: float = 1.0, margin: float = 0.1) -> np.ndarray:
    """(2, 3) box holding the central points (N, 3), grown by ``margin`` times its diagonal.

    Args:
        points: Sparse points, e.g. the SfM model's.
        percentile: Per axis, points below this percentile or above ``100 - percentile`` are
            ignored (stray matches).
        margin: Growth on every side, relative to the box's diagonal.
    """
    low, high = np.percentile(points, [percentile, 100.0 - percentile], axis=0)
    grow = margin * float(np.linalg.norm(high - low))
    return np.stack([low - grow, high + grow])


def inside_box(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(N,) bool: points (N, 3) inside the (2, 3) box."""
    return np.all((points >= box[0]) & (points <= box[1]), axis=1)


def mask_votes(points: np.ndarray, views: Sequence[CameraView], *, margin_px: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """How many masked views see each point inside the image, and how many put it on the background.

    Args:
        points: (N, 3) world points.
        views: Views; those without a mask are skipped.
        margin_px: Masks are grown by this many pixels (tolerance to calibration and mask-edge error).

    Returns:
        (N,) int counts of views with the point in the image, and (N,) int counts of those
        where it falls outside the (dilated) mask.
    """
    seen = np.zeros(len(points), dtype=np.int64)
    background = np.zeros(len(points), dtype=np.int64)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin_px + 1, 2 * margin_px + 1))
    for view in views:
        mask = view.read_mask()
        if mask is None:
            continue
        mask = cv2.dilate(mask.astype(np.uint8), kernel) > 0 if margin_px > 0 else mask
        pix, z = view.project(points)
        col, row = np.floor(pix[:, 0]), np.floor(pix[:, 1])
        inside = (z > 0) & (col >= 0) & (row >= 0) & (col < view.width) & (row < view.height)
        idx = np.flatnonzero(inside)
        seen[idx] += 1
        background[idx] += ~mask[row[idx].astype(np.int64), col[idx].astype(np.int64)]
    return seen, background


def carve(points: np.ndarray, views: Sequence[CameraView], *, margin_px: int = 2, tolerance: float = 0.0,
          min_views: int = 1) -> np.ndarray:
    """(N,) bool: points kept by the masks: inside the image of at least ``min_views`` masked
    views, and on the background (``margin_px`` or more outside the mask) in at most ``tolerance``
    of those. With no tolerance the points kept are those inside the masks' visual hull: a
    multi-view stereo cloud grows a few pixels past the object's outline (matching windows
    straddle it), and a point any photo shows on the background is not the object."""
    seen, background = mask_votes(points, views, margin_px=margin_px)
    return (seen >= min_views) & (background <= tolerance * seen)


def pull_inside(mesh: MeshData, inside: Callable[[np.ndarray], np.ndarray], *, step: float,
                steps: int, chunk_size: int = 262_144) -> MeshData:
    """The surface with its vertices outside a region moved inwards onto it, along their normals.

    A Poisson surface swells past the masks' visual hull where its cloud did (and between points
    it interpolates); removing those vertices would open holes wherever the swelling runs along
    the surface. Each vertex outside is moved against its (outward) normal to the first of
    ``step``, ``2 step`` ... ``steps step`` that lies inside; vertices that none does (webs
    across a gap that some photo sees through, surfaces facing inwards) are removed with their
    faces, as plain carving does.

    Args:
        mesh: Surface with outward-facing triangles.
        inside: (N, 3) points -> (N,) bool, e.g. :func:`carve` with the views bound.
        step: Distance between the tried positions, in scene units.
        steps: Number of positions tried (0: outside vertices are removed).
        chunk_size: Outside vertices whose positions are tested at once (memory bound).
    """
    keep = inside(mesh.vertices)
    outside = np.flatnonzero(~keep)
    if len(outside) == 0 or steps == 0:
        return remove_vertices(mesh, ~keep)
    normals = vertex_normals(mesh.vertices, mesh.faces)
    offsets = step * np.arange(1, steps + 1)
    vertices, drop = mesh.vertices.copy(), np.zeros(len(mesh.vertices), dtype=bool)
    for chunk in np.array_split(outside, -(-len(outside) // chunk_size)):
        tried = mesh.vertices[chunk, None, :] - offsets[None, :, None] * normals[chunk, None, :]
        fits = inside(tried.reshape(-1, 3)).reshape(len(chunk), steps)
        moved = fits.any(axis=1)
        vertices[chunk[moved]] = tried[moved, fits[moved].argmax(axis=1)]
        drop[chunk[~moved]] = True
    return remove_vertices(MeshData(vertices=vertices, faces=mesh.faces, colors=mesh.colors), drop)
