"""A fast UV atlas for scanned meshes: direction charts, orthographic flattening, shelf packing.

1. Each face takes one of 26 directions (the cube's faces, edges and corners), the one closest
   to its normal, smoothed over neighbours so that noise does not make confetti charts
   (the labelling of :func:`~photogrammetry.texturing.selection.select_views`).
2. Charts are the connected pieces of faces with one direction inside one cell of a coarse
   grid (the grid bounds a chart's size, so that a chart is a height field over its plane).
3. A chart is flattened by orthographic projection along its direction (stretch at most
   1 / cos(35 deg) = 1.22), turned to its smallest bounding box, and the boxes are packed in
   shelves at the largest scale that fits the texture, with padding texels around each.

Unlike isochart atlases (open3d's UVAtlas, xatlas), this takes seconds on a million faces
and accepts non-manifold meshes.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

from photogrammetry.io.mesh import MeshData, face_normals
from photogrammetry.texturing.selection import select_views

_DIRECTIONS = np.array([d for d in itertools.product((-1, 0, 1), repeat=3) if any(d)], dtype=np.float64)
_DIRECTIONS /= np.linalg.norm(_DIRECTIONS, axis=1, keepdims=True)

if TYPE_CHECKING:
    from scipy import sparse


def smooth_normals(mesh: MeshData, adjacency: sparse.csr_matrix, iterations: int) -> np.ndarray:
    """Face normals (F, 3) averaged over growing neighbourhoods (area-weighted), unit length."""
    from scipy import sparse

    normals, areas = face_normals(mesh.vertices, mesh.faces)
    weighted = normals * areas[:, None]
    spread = adjacency + sparse.identity(adjacency.shape[0], dtype=np.float32, format="csr")
    for _ in range(iterations):
        weighted = spread @ weighted
    return weighted / np.maximum(np.linalg.norm(weighted, axis=1, keepdims=True), 1e-30)


def segment(mesh: MeshData, adjacency: sparse.csr_matrix, *, cells: int = 4,
            smoothing: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Chart index (F,) int64 of every face (from 0) and the unit direction (C, 3) of each chart.

    Directions follow the face normals smoothed over ``smoothing`` rings of neighbours, so
    that the bumps of a scanned surface do not cut it into confetti.
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    cosines = smooth_normals(mesh, adjacency, smoothing) @ _DIRECTIONS.T
    fit = np.where(cosines > 0, cosines + 1e-6, 0.0).astype(np.float32)
    direction = select_views(fit, adjacency, smoothness=1.0, iterations=20)
    direction = np.where(direction < 0, np.argmax(cosines, axis=1), direction)  # degenerate faces
    centroids = mesh.vertices[mesh.faces].mean(axis=1)
    low, span = centroids.min(axis=0), np.ptp(centroids, axis=0).max()
    cell = np.minimum((centroids - low) / max(span, 1e-12) * cells, cells - 1).astype(np.int64)
    key = ((direction * cells + cell[:, 0]) * cells + cell[:, 1]) * cells + cell[:, 2]
    rows, cols = adjacency.nonzero()
    same = key[rows] == key[cols]
    graph = sparse.csr_matrix((np.ones(same.sum()), (rows[same], cols[same])), shape=adjacency.shape)
    charts = connected_components(graph, directed=False)[1].astype(np.int64)
    chart_direction = np.zeros(charts.max() + 1, dtype=np.int64)
    chart_direction[charts] = direction
    return charts, _DIRECTIONS[chart_direction]


def _plane_axes(direction: np.ndarray) -> np.ndarray:
    """(2, 3) orthonormal axes of the plane normal to ``direction``, right-handed with it."""
    helper = np.array([1.0, 0.0, 0.0]) if abs(direction[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(helper, direction)
    u /= np.linalg.norm(u)
    return np.stack([u, np.cross(direction, u)])


def _landscape(flat: np.ndarray) -> np.ndarray:
    """2D points (M, 2) turned to their principal axes, wider than tall, minimum corner at 0."""
    centred = flat - flat.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False) if len(flat) > 1 else (None, None, np.eye(2))
    if np.linalg.det(axes) < 0:  # a rotation, never a mirror
        axes[1] *= -1
    turned = centred @ axes.T
    return turned - turned.min(axis=0)


def flatten(vertices: np.ndarray, faces: np.ndarray, charts: np.ndarray,
            directions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split vertices per chart and project each chart along its direction.

    Returns:
        Source vertex per split vertex (V',) int64, faces into the split vertices (F, 3)
        int64, chart of each split vertex (V',) int64, and (V', 2) float64 chart
        coordinates in world units (principal axes, minimum corner at 0).
    """
    keys = np.stack([np.repeat(charts, 3), faces.reshape(-1)], axis=1)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)  # sorted by chart
    chart_of, source = unique[:, 0], unique[:, 1]
    coords = np.empty((len(unique), 2))
    starts = np.searchsorted(chart_of, np.arange(len(directions) + 1))
    for chart, (begin, end) in enumerate(zip(starts[:-1], starts[1:], strict=True)):
        coords[begin:end] = _landscape(vertices[source[begin:end]] @ _plane_axes(directions[chart]).T)
    return source, inverse.reshape(-1, 3).astype(np.int64), chart_of, coords


def _shelves(sizes: np.ndarray, width: int) -> tuple[np.ndarray, int]:
    """Shelf packing of boxes (C, 2) (width, height in texels, tallest first) into ``width``.

    Returns:
        (C, 2) int64 top-left corner of each box and the total height used.
    """
    corners = np.zeros((len(sizes), 2), dtype=np.int64)
    x = y = shelf = 0
    for i, (w, h) in enumerate(sizes.tolist()):
        if x + w > width:
            x, y, shelf = 0, y + shelf, 0
        corners[i] = (x, y)
        x, shelf = x + w, max(shelf, h)
    return corners, y + shelf


def pack(coords: np.ndarray, chart_of: np.ndarray, *, size: int, padding: int) -> np.ndarray:
    """UVs (V', 2) float32 in [0, 1] (OpenGL convention) of charts packed at the largest common scale.

    Args:
        coords: (V', 2) chart coordinates in world units (minimum corner of each chart at 0).
        chart_of: (V',) chart of each vertex.
        size: Side of the square texture in texels.
        padding: Free texels kept on each side of every chart.
    """
    num = chart_of.max() + 1
    extent = np.zeros((num, 2))
    np.maximum.at(extent, chart_of, coords)
    order = np.argsort(-extent[:, 1], kind="stable")
    low, high = 0.0, (size - 2 * padding - 1) / max(extent.max(), 1e-12)
    for _ in range(24):  # bisection on texels per world unit
        scale = 0.5 * (low + high)
        boxes = np.ceil(extent[order] * scale).astype(np.int64) + 2 * padding + 1
        fits = boxes[:, 0].max() <= size and _shelves(boxes, size)[1] <= size
        low, high = (scale, high) if fits else (low, scale)
    boxes = np.ceil(extent[order] * low).astype(np.int64) + 2 * padding + 1
    corners = np.empty((num, 2), dtype=np.int64)
    corners[order] = _shelves(boxes, size)[0]
    # Texture rows grow downwards: flip y within the chart so that UVs keep the surface's orientation.
    flipped = np.stack([coords[:, 0], extent[chart_of, 1] - coords[:, 1]], axis=1)
    texel = corners[chart_of] + padding + 0.5 + flipped * low
    return np.stack([texel[:, 0] / size, 1.0 - texel[:, 1] / size], axis=1).astype(np.float32)
