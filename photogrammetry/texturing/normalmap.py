"""Tangent-space normal maps: the detail of a fine mesh baked onto a coarser one's UV atlas.

For every texel of the coarse mesh's atlas (and the ring around each chart) the surface point it
stands for is looked up on the fine mesh (the closest point), the fine mesh's interpolated vertex
normal there is expressed in the coarse mesh's tangent frame at the texel
(:mod:`photogrammetry.io.tangents`, the frame viewers decode the map in) and stored as RGB;
the gutters are padded like the colour atlas. Where the closest point faces away (another sheet
of a thin part) the texel keeps the coarse normal.
"""

from __future__ import annotations

import numpy as np

from photogrammetry.io.mesh import MeshData, vertex_normals
from photogrammetry.io.tangents import encode, texel_frames, vertex_tangents
from photogrammetry.texturing.atlas import Texels, UVAtlas
from photogrammetry.texturing.fill import pad

_CHUNK = 1 << 18
"""Texels baked at once (bounds the temporaries: about 200 bytes each)."""


class _Closest:
    """A fine mesh prepared for closest-point queries."""

    def __init__(self, detail: MeshData) -> None:
        import open3d as o3d

        self._o3d, self._detail = o3d, detail
        self._normals = detail.normals if detail.normals is not None else vertex_normals(detail.vertices, detail.faces)
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(o3d.core.Tensor(detail.vertices.astype(np.float32)),
                                  o3d.core.Tensor(detail.faces.astype(np.uint32)))

    def normals(self, points: np.ndarray) -> np.ndarray:
        """``(M, 3)`` unit normals (the fine mesh's vertex normals, interpolated) at its points closest
        to ``points`` (M, 3)."""
        query = self._o3d.core.Tensor(np.ascontiguousarray(points, dtype=np.float32))
        found = self._scene.compute_closest_points(query)
        face = found["primitive_ids"].numpy().astype(np.int64)
        uv = found["primitive_uvs"].numpy().astype(np.float64)
        weights = np.column_stack([1.0 - uv.sum(axis=1), uv])
        out = np.einsum("mk,mkd->md", weights, self._normals[self._detail.faces[face]].astype(np.float64))
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def bake_normal_map(atlas: UVAtlas, normals: np.ndarray, texels: Texels, detail: MeshData, *,
                    padding: int = 2) -> np.ndarray:
    """The ``(S, S, 3)`` uint8 tangent-space normal map of ``detail`` on the atlas' mesh.

    Args:
        atlas: The coarse mesh with its UVs.
        normals: ``(V, 3)`` unit vertex normals of the atlas' vertices (those the file will carry).
        texels: The texels to bake (inside the charts and the ring around them).
        detail: The fine mesh, in the same frame.
        padding: Rings of texels around the charts filled from their borders (as the colour atlas).
    """
    tangents = vertex_tangents(atlas.vertices, atlas.faces, normals, atlas.uv)
    scene = _Closest(detail)
    size = texels.size
    image = np.zeros((size, size, 3), np.float32)
    valid = np.zeros((size, size), bool)
    for start in range(0, len(texels.face_ids), _CHUNK):
        part = slice(start, start + _CHUNK)
        corners = atlas.faces[texels.face_ids[part]]
        barycentric = texels.barycentric[part].astype(np.float64)
        frames = texel_frames(corners, barycentric, normals, tangents)
        fine = scene.normals(np.einsum("mk,mkd->md", barycentric, atlas.vertices[corners]))
        away = np.einsum("md,md->m", fine, frames[:, :, 2]) <= 0.0
        fine[away] = frames[away, :, 2]
        image[texels.rows[part], texels.cols[part]] = encode(fine, frames)
        valid[texels.rows[part], texels.cols[part]] = True
    image = pad(image, valid, rings=padding)
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
