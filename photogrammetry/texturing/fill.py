"""Colour where the photos give none: unseen surface diffused over the mesh, gutters padded.

- Faces that no photo sees take colours diffused from the seen surface around them
  (harmonic interpolation of vertex colours over the mesh's edges, across chart cuts).
- Texels between charts are padded so that bilinear filtering and mipmaps at a chart's
  border never fetch black: a few rings of dilation, then push-pull for the rest.
"""

from __future__ import annotations

import cv2
import numpy as np

_NEUTRAL = 0.5
"""Grey for surface pieces that no photo sees at all."""



def vertex_colors(faces: np.ndarray, num_vertices: int, face_ids: np.ndarray, barycentric: np.ndarray,
                  colors: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex colours (V, 3) from the known texels around each vertex, and (V,) bool where defined.

    Args:
        faces: (F, 3) vertex indices (unsplit mesh, so that colours cross chart cuts).
        num_vertices: V.
        face_ids: (N,) face of each texel.
        barycentric: (N, 3) texel weights of the face's corners.
        colors: (N, 3) texel colours.
        known: (N,) bool texels whose colour came from the photos.
    """
    total, summed = np.zeros(num_vertices), np.zeros((num_vertices, 3))
    weights = barycentric * known[:, None]
    for corner in range(3):  # one corner at a time: no (3N,) temporaries on 8k textures
        vertex, weight = faces[:, corner][face_ids], weights[:, corner]
        total += np.bincount(vertex, weight, minlength=num_vertices)
        for channel in range(3):
            summed[:, channel] += np.bincount(vertex, weight * colors[:, channel], minlength=num_vertices)
    defined = total > 1e-6
    return np.where(defined[:, None], summed / np.maximum(total, 1e-12)[:, None], _NEUTRAL), defined


def diffuse(faces: np.ndarray, values: np.ndarray, defined: np.ndarray) -> np.ndarray:
    """Harmonic extension of vertex values (V, C) from the ``defined`` vertices (V,) over the mesh.

    Vertices whose connected piece has no defined vertex keep their value.
    """
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    unknown = np.flatnonzero(~defined)
    if len(unknown) == 0 or not defined.any():
        return values
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    size = len(values)
    adjacency = sparse.csr_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(size, size))
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64)
    laplacian = sparse.diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency
    known = np.flatnonzero(defined)
    system = laplacian[unknown][:, unknown].tocsc() + sparse.identity(len(unknown)) * 1e-9
    rhs = -laplacian[unknown][:, known] @ values[known]
    out = values.copy()
    out[unknown] = np.asarray(spsolve(system, rhs)).reshape(len(unknown), -1)
    return out


def pad(texture: np.ndarray, valid: np.ndarray, *, rings: int = 4, band: int = 512) -> np.ndarray:
    """Fill the texels outside ``valid`` from the charts' borders.

    Args:
        texture: (S, S, 3) float32 texture; only ``valid`` texels are read.
        valid: (S, S) bool texels inside charts.
        rings: Rings of texels around the charts filled by averaging their filled neighbours;
            texels farther out are filled by push-pull (smooth, for mipmaps).
        band: Rows grown at once (whole-texture temporaries are slow on 8k textures).

    Returns:
        (S, S, 3) float32 texture with every texel set.
    """
    color = np.zeros(texture.shape, np.float32)
    weight = np.zeros(valid.shape, np.float32)
    height = len(valid)
    for top in range(0, height, band):
        low, high = max(0, top - rings), min(height, top + band + rings)
        part_color, part_weight = _grow(texture[low:high], valid[low:high], rings)
        rows = slice(top - low, top - low + min(band, height - top))
        color[top:top + band], weight[top:top + band] = part_color[rows], part_weight[rows]
    return _push_pull(color, weight)


def _grow(texture: np.ndarray, valid: np.ndarray, rings: int) -> tuple[np.ndarray, np.ndarray]:
    """``rings`` rings of texels around the ``valid`` ones (H, W), each the mean of its filled
    8-neighbours: the colours (H, W, 3) float32 and (H, W) float32 weights (1 where filled).
    Beyond the edges there is nothing: a band's halo rows must hold ``rings`` rows of context."""
    color = np.where(valid[..., None], texture, 0).astype(np.float32)
    weight = valid.astype(np.float32)
    kernel = np.ones((3, 3), np.float32)
    for _ in range(rings):
        summed = cv2.filter2D(color, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        count = cv2.filter2D(weight, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        grow = (weight == 0) & (count > 0)
        color[grow] = summed[grow] / count[grow, None]
        weight[grow] = 1.0
    return color, weight


def _push_pull(color: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Texels of zero ``weight`` (H, W) take the weighted average of a coarser level around them."""
    height, width = weight.shape
    if height <= 1 or width <= 1 or weight.all():
        return color
    half = (max(1, width // 2), max(1, height // 2))
    coarse_weight = cv2.resize(weight, half, interpolation=cv2.INTER_AREA)
    coarse_sum = cv2.resize(color * weight[..., None], half, interpolation=cv2.INTER_AREA)
    coarse = np.where(coarse_weight[..., None] > 0, coarse_sum / np.maximum(coarse_weight, 1e-12)[..., None], 0)
    coarse = _push_pull(coarse.astype(np.float32), (coarse_weight > 0).astype(np.float32))
    up = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)
    np.copyto(up, color, where=weight[..., None] > 0)
    return up
