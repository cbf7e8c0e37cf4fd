"""UV atlases (direction charts or open3d's UVAtlas) and their rasterisation into texels.

The atlas cuts the mesh into charts, flattens each and packs them into one square texture;
vertices on chart cuts are duplicated. Rasterising finds, for every texel centre inside a
chart, the triangle and barycentric coordinates under it (by ray casting the flattened mesh),
which gives every texel a 3D position to colour. The ring of texels around each chart, which
bilinear lookups at its border also read, gets positions on the surface continued past the border.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from photogrammetry.errors import InputError
from photogrammetry.io.mesh import MeshData
from photogrammetry.texturing.charts import flatten, pack, segment
from photogrammetry.texturing.selection import face_adjacency

AtlasMethod = Literal["charts", "open3d"]
"""UV atlas generators: ``charts`` (:mod:`.charts`, seconds for a million faces) or ``open3d``
(UVAtlas isocharts: less stretch, but minutes per 100k faces and manifold meshes only)."""


@dataclass(frozen=True, kw_only=True, eq=False)
class UVAtlas:
    """A mesh cut into charts with one UV per (split) vertex."""

    vertices: np.ndarray
    """(V', 3) float64 positions; vertices on chart cuts appear once per chart."""
    faces: np.ndarray
    """(F, 3) int64 indices into ``vertices``, same order as the input faces."""
    uv: np.ndarray
    """(V', 2) float32 texture coordinates in [0, 1], OpenGL convention (v = 0 at the bottom)."""
    source_vertex: np.ndarray
    """(V',) int64 index of each vertex in the input mesh."""


@dataclass(frozen=True, kw_only=True, eq=False)
class Texels:
    """The texel centres covered by the atlas' triangles."""

    size: int
    """Side of the square texture in pixels."""
    rows: np.ndarray
    """(N,) int64 texture row (0 = top)."""
    cols: np.ndarray
    """(N,) int64 texture column."""
    face_ids: np.ndarray
    """(N,) int64 triangle under each texel."""
    barycentric: np.ndarray
    """(N, 3) float32 weights of the triangle's corners."""

    def __add__(self, other: Texels) -> Texels:
        """The texels of both (same texture size)."""
        return Texels(size=self.size, rows=np.concatenate([self.rows, other.rows]),
                      cols=np.concatenate([self.cols, other.cols]),
                      face_ids=np.concatenate([self.face_ids, other.face_ids]),
                      barycentric=np.concatenate([self.barycentric, other.barycentric]))

    def positions(self, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
        """(N, 3) float64 surface points of the texels on a mesh with the atlas' faces."""
        corners = vertices[faces[self.face_ids]]
        return np.einsum("nk,nkd->nd", self.barycentric.astype(np.float64), corners)


def chart_atlas(mesh: MeshData, *, size: int, padding: int = 2, cells: int = 4) -> UVAtlas:
    """The direction-chart atlas of ``mesh`` (:mod:`.charts`) for a ``size`` x ``size`` texture."""
    charts, directions = segment(mesh, face_adjacency(mesh.faces), cells=cells)
    source, faces, chart_of, coords = flatten(mesh.vertices, mesh.faces, charts, directions)
    uv = pack(coords, chart_of, size=size, padding=padding)
    return UVAtlas(vertices=mesh.vertices[source], faces=faces, uv=uv, source_vertex=source)


def _open3d(mesh: MeshData, size: int, padding: int, workers: int) -> UVAtlas:
    """Isochart atlas by open3d's UVAtlas (the mesh should be manifold)."""
    import open3d as o3d

    tmesh = o3d.t.geometry.TriangleMesh()
    tmesh.vertex.positions = o3d.core.Tensor(mesh.vertices.astype(np.float32))
    tmesh.triangle.indices = o3d.core.Tensor(mesh.faces.astype(np.int64))
    tmesh.compute_uvatlas(size=size, gutter=float(padding), max_stretch=1 / 6, nthreads=workers)
    corner_uv = tmesh.triangle.texture_uvs.numpy().reshape(-1, 2)  # (3F, 2), v = 0 at the bottom
    corner_vertex = mesh.faces.reshape(-1)
    keys = np.concatenate([corner_vertex[:, None].astype(np.float64), corner_uv.astype(np.float64)], axis=1)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    source = unique[:, 0].astype(np.int64)
    return UVAtlas(vertices=mesh.vertices[source], faces=inverse.reshape(-1, 3).astype(np.int64),
                   uv=unique[:, 1:].astype(np.float32), source_vertex=source)


def compute_atlas(mesh: MeshData, *, size: int, method: AtlasMethod = "charts", padding: int = 2,
                  workers: int = 1) -> UVAtlas:
    """UV atlas of ``mesh`` for a ``size`` x ``size`` texture with ``padding`` texels between charts."""
    if len(mesh.faces) == 0:
        raise InputError("cannot build a UV atlas for a mesh without triangles")
    if method == "charts":
        return chart_atlas(mesh, size=size, padding=padding)
    return _open3d(mesh, size, padding, workers)


def rasterize(atlas: UVAtlas, size: int, *, rows_per_batch: int = 512) -> Texels:
    """The texel centres inside the atlas' triangles, found by ray casting the flat UV mesh."""
    import open3d as o3d

    flat = np.concatenate([atlas.uv * size, np.zeros((len(atlas.uv), 1), np.float32)], axis=1)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(flat.astype(np.float32)), o3d.core.Tensor(atlas.faces.astype(np.uint32)))
    invalid = np.uint32(o3d.t.geometry.RaycastingScene.INVALID_ID)
    parts: list[tuple[np.ndarray, ...]] = []
    for first in range(0, size, rows_per_batch):
        count = min(size, first + rows_per_batch) - first
        rays = np.zeros((count, size, 6), np.float32)
        rays[..., 0] = np.arange(size, dtype=np.float32) + 0.5
        rays[..., 1] = (size - np.arange(first, first + count, dtype=np.float32) - 0.5)[:, None]
        rays[..., 2], rays[..., 5] = 1.0, -1.0
        hits = scene.cast_rays(o3d.core.Tensor(rays.reshape(-1, 6)))
        ids = hits["primitive_ids"].numpy().reshape(-1)
        found = np.flatnonzero(ids != invalid)
        uv = hits["primitive_uvs"].numpy().reshape(-1, 2)[found]
        parts.append((first + found // size, found % size, ids[found].astype(np.int64),
                      np.stack([1.0 - uv[:, 0] - uv[:, 1], uv[:, 0], uv[:, 1]], axis=1)))
    rows, cols, face_ids, barycentric = (np.concatenate(p) for p in zip(*parts, strict=True))
    return Texels(size=size, rows=rows, cols=cols, face_ids=face_ids,
                  barycentric=barycentric.astype(np.float32, copy=False))


_NEIGHBOURS = ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))


def ring_texels(atlas: UVAtlas, texels: Texels) -> Texels:
    """The texels just outside the charts, with the surface continued across the charts' borders.

    Bilinear lookups near a chart's border also read the ring of texels around it, whose centres
    no triangle covers. Each such texel (an 8-neighbour of a covered one, side neighbours first)
    takes the triangle of a covered neighbour and the barycentric coordinates of its centre in
    that triangle's plane, extrapolated beyond the triangle: the point lies on the surface
    continued about a texel past the border, and the photos give it the colour a lookup there
    should blend in.
    """
    size = texels.size
    owner_map = np.full((size, size), -1, np.int32)  # texel counts stay below 2^31 up to 32k x 32k
    owner_map[texels.rows, texels.cols] = np.arange(len(texels.rows), dtype=np.int32)
    covered = (owner_map >= 0).astype(np.uint8)
    row, col = np.nonzero(cv2.dilate(covered, np.ones((3, 3), np.uint8)) > covered)
    owner = np.full(len(row), -1, np.int64)
    for dr, dc in _NEIGHBOURS:  # side neighbours first
        r, c = row + dr, col + dc
        free = np.flatnonzero((owner < 0) & (r >= 0) & (r < size) & (c >= 0) & (c < size))
        owner[free] = owner_map[r[free], c[free]]
    face = texels.face_ids[owner]
    corners = atlas.uv[atlas.faces[face]].astype(np.float64) * size  # (M, 3, 2), v up
    point = np.stack([col + 0.5, size - row - 0.5], axis=1)
    edges = np.stack([corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]], axis=2)  # (M, 2, 2)
    det = edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 0, 1] * edges[:, 1, 0]
    usable = np.abs(det) > 1e-9
    local = np.zeros((len(row), 2))
    local[usable] = np.linalg.solve(edges[usable], (point - corners[:, 0])[usable, :, None])[:, :, 0]
    barycentric = np.stack([1.0 - local.sum(axis=1), local[:, 0], local[:, 1]], axis=1)
    barycentric[~usable] = texels.barycentric[owner[~usable]]  # degenerate in UV: the neighbour's point
    return Texels(size=size, rows=row, cols=col, face_ids=face, barycentric=barycentric.astype(np.float32))
