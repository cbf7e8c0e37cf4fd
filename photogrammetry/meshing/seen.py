"""Faces no photo sees: found by ray casting the mesh into every view, and removed on open scenes.

Screened Poisson closes the surface: behind a facade, around a statue's back that no photo shows,
across the sky above a wall. Density and distance trimming (:mod:`.poisson`) leave whatever
lies within a few point spacings of the cloud, such as the back of a thin slab of points, or a sheet
bridging two nearby parts. No photo shows those faces, so their colour is guessed. On an open scene
(a facade, a room, a landmark) such faces are removed, as other photogrammetry tools do. With masks the
object stays closed: its unseen base is part of the object.

A face is seen by a view when its centre lies in the view's image, in front of the camera, its
front side faces the camera, and no other part of the mesh hides it (its depth is at most the
mesh's rendered depth there, taken as the largest over the 3 x 3 pixels around it, plus
a relative tolerance).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import cv2
import numpy as np

from photogrammetry.errors import ConfigError
from photogrammetry.io.mesh import MeshData, face_normals
from photogrammetry.meshing.poisson import remove_vertices
from photogrammetry.meshing.raycast import MeshScene
from photogrammetry.meshing.views import CameraView


@dataclass(frozen=True, kw_only=True)
class SeenOptions:
    """Which faces that no photo sees are removed (see :func:`seen_faces`)."""

    unseen: Literal["auto", "remove", "keep"] = "auto"
    """Faces no photo sees: ``remove`` them, ``keep`` them (their colour is interpolated), or
    ``auto``: remove them on open scenes (crop mode ``box`` or ``none``) and keep them with masks,
    whose objects stay closed. Measured on the landmark set (``cpu``): the textured mesh's faces
    seen by no photo went from 19 % to 6 %."""
    margin: int = 0
    """Rings of neighbouring faces kept around the seen ones. 0: measured on the landmark set, one
    ring kept most of the unseen folds of its noisy layers (16 % of the textured faces unseen
    instead of 6 %, since each fold's hidden side touches its seen side); the cleanup's hole filling
    closes the small holes that removing single faces leaves."""
    depth_tolerance: float = 0.005
    """A face passes the depth test when its depth is at most the mesh's rendered depth (largest of
    the 3 x 3 pixels around it) times ``1 + depth_tolerance``: the texture stage's tolerance. On the
    landmark set 0.01 left 9 % of the textured faces unseen instead of 6 %."""
    min_piece: float = 0.01
    """The cleanup after the removal drops the pieces smaller than this fraction of the largest one's
    area, in place of ``cleanup.min_component``, which is applied before it (floaters go while the
    surface is whole). Measured on the facade render: a seen wall cut off by the removal of the unseen
    faces around it was dropped at 0.05 (0.9 % of the true surface two photos see), kept at 0.01."""
    max_image_size: int = 1600
    """Views are ray cast at most this many pixels on their longer side (faster on large photos;
    faces smaller than a pixel there are kept by :attr:`margin`)."""

    def __post_init__(self) -> None:
        if self.unseen not in ("auto", "remove", "keep"):
            raise ConfigError(f"mesh.seen.unseen must be auto, remove or keep, got {self.unseen!r}")
        if min(self.margin, self.depth_tolerance, self.min_piece) < 0 or self.max_image_size < 16:
            raise ConfigError("mesh.seen: margin, depth_tolerance and min_piece must not be negative, "
                              "max_image_size >= 16")

    def removes(self, crop_mode: str) -> bool:
        """Whether unseen faces are removed for a mesh cropped in ``crop_mode``."""
        return self.unseen == "remove" or (self.unseen == "auto" and crop_mode != "masks")


def scaled_view(view: CameraView, max_size: int) -> CameraView:
    """``view`` with its image (and calibration) shrunk so that its longer side is at most ``max_size``."""
    scale = max_size / max(view.width, view.height)
    if scale >= 1.0:
        return view
    width, height = max(1, round(view.width * scale)), max(1, round(view.height * scale))
    factors = np.array([width / view.width, height / view.height, 1.0])
    return replace(view, K=view.K * factors[:, None], width=width, height=height)


def seen_faces(mesh: MeshData, views: Sequence[CameraView], options: SeenOptions) -> np.ndarray:
    """(F,) bool: faces that at least one view sees (see the module docstring), before any margin.

    Args:
        mesh: The surface; faces wind counter-clockwise seen from outside.
        views: Undistorted, posed views.
        options: Depth tolerance and ray-casting resolution.
    """
    scene = MeshScene(mesh.vertices, mesh.faces)
    centres = mesh.vertices[mesh.faces].mean(axis=1)
    normals = face_normals(mesh.vertices, mesh.faces)[0]
    seen = np.zeros(len(mesh.faces), dtype=bool)
    kernel = np.ones((3, 3), np.uint8)
    for full in views:
        view = scaled_view(full, options.max_image_size)
        depth = scene.render(view)[0]
        farthest = cv2.dilate(np.where(np.isfinite(depth), depth, 0).astype(np.float32), kernel)
        todo = np.flatnonzero(~seen)
        pix, z = view.project(centres[todo])
        col, row = np.floor(pix[:, 0]), np.floor(pix[:, 1])
        inside = (z > 0) & (col >= 0) & (row >= 0) & (col < view.width) & (row < view.height)
        idx = np.flatnonzero(inside)
        r, c = row[idx].astype(np.int64), col[idx].astype(np.int64)
        facing = np.einsum("ij,ij->i", normals[todo[idx]], view.center - centres[todo[idx]]) > 0
        unhidden = z[idx] <= farthest[r, c] * (1.0 + options.depth_tolerance)
        seen[todo[idx[facing & unhidden]]] = True
    return seen


def grow(faces: np.ndarray, chosen: np.ndarray, rings: int) -> np.ndarray:
    """(F,) bool: ``chosen`` faces and those within ``rings`` rings of shared vertices of them."""
    chosen = chosen.copy()
    count = int(faces.max()) + 1 if len(faces) else 0
    for _ in range(rings):
        marked = np.zeros(count, dtype=bool)
        marked[faces[chosen]] = True
        chosen |= marked[faces].any(axis=1)
    return chosen


def remove_unseen(mesh: MeshData, views: Sequence[CameraView], options: SeenOptions) -> tuple[MeshData, float]:
    """The mesh without the faces no view sees (beyond :attr:`SeenOptions.margin` rings), and the
    fraction of faces removed."""
    if len(mesh.faces) == 0 or not views:
        return mesh, 0.0
    keep = grow(mesh.faces, seen_faces(mesh, views, options), options.margin)
    if keep.all():
        return mesh, 0.0
    used = np.zeros(len(mesh.vertices), dtype=bool)
    used[mesh.faces[keep]] = True
    trimmed = remove_vertices(replace(mesh, faces=mesh.faces[keep]), ~used)
    return trimmed, float(1.0 - keep.mean())
