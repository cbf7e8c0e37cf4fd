"""Tangent frames of textured meshes, the one convention our normal maps are baked and written in.

A tangent-space normal map stores, per texel, the surface normal in the frame ``(T, B, N)``:
``T`` along increasing ``u``, ``B`` along increasing ``v`` (OpenGL UVs, ``v`` up: the map's
green channel points up in the image, as glTF's "+Y up" asks), ``N`` the interpolated vertex
normal. :func:`vertex_tangents` gives each vertex ``T`` (unit, orthogonal to its normal) and the
handedness ``w`` with ``B = w * cross(N, T)``: glTF's ``TANGENT`` attribute, which the GLB carries so
that viewers decode the map in this same frame. A shader interpolates ``T``, ``B`` and ``N``
across each triangle and takes ``normalize(mat3(T, B, N) * texel)``; :func:`decode` does the same
and the baker inverts it. OBJ files carry no tangents: viewers derive their own (MikkTSpace in
Blender), which differ from these only where the UV mapping shears across a triangle.
"""

from __future__ import annotations

import numpy as np


def vertex_tangents(vertices: np.ndarray, faces: np.ndarray, normals: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """``(V, 4)`` float32 tangents ``(Tx, Ty, Tz, w)`` of a mesh with unit normals ``(V, 3)`` and UVs ``(V, 2)``.

    Each face's ``dP/du`` and ``dP/dv`` are summed at its corners (weighted by the face's UV area,
    signed), ``T`` is ``dP/du`` made orthogonal to the vertex normal, ``w`` the sign of
    ``dot(cross(N, T), dP/dv)``. Vertices with no usable face get any unit vector orthogonal to ``N``.
    """
    p = vertices[faces].astype(np.float64)
    t = uv[faces].astype(np.float64)
    e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    d1, d2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
    # [e1 e2] = [dP/du dP/dv] [d1 d2]: multiply by the adjugate (the determinant's sign kept as weight)
    du = e1 * d2[:, 1:2] - e2 * d1[:, 1:2]
    dv = e2 * d1[:, 0:1] - e1 * d2[:, 0:1]
    sign = np.sign(d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0])[:, None]
    sum_u, sum_v = np.zeros((len(vertices), 3)), np.zeros((len(vertices), 3))
    for corner in range(3):
        np.add.at(sum_u, faces[:, corner], du * sign)
        np.add.at(sum_v, faces[:, corner], dv * sign)
    n = normals.astype(np.float64)
    tangent = sum_u - n * np.einsum("ij,ij->i", sum_u, n)[:, None]
    length = np.linalg.norm(tangent, axis=1)
    bad = length < 1e-12
    if bad.any():  # any direction orthogonal to the normal
        helper = np.where(np.abs(n[bad, 0:1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        tangent[bad] = np.cross(n[bad], helper)
        length[bad] = np.linalg.norm(tangent[bad], axis=1)
    tangent /= np.maximum(length, 1e-30)[:, None]
    w = np.where(np.einsum("ij,ij->i", np.cross(n, tangent), sum_v) < 0.0, -1.0, 1.0)
    return np.column_stack([tangent, w]).astype(np.float32)


def texel_frames(corners: np.ndarray, barycentric: np.ndarray, normals: np.ndarray,
                 tangents: np.ndarray) -> np.ndarray:
    """``(M, 3, 3)`` frames with columns ``T, B, N`` (each unit) at surface points, as a shader has them.

    Args:
        corners: ``(M, 3)`` vertex indices of each point's face.
        barycentric: ``(M, 3)`` weights of the corners.
        normals: ``(V, 3)`` unit vertex normals.
        tangents: ``(V, 4)`` from :func:`vertex_tangents`.
    """
    n_v = normals[corners].astype(np.float64)
    t_v = tangents[corners, :3].astype(np.float64)
    b_v = np.cross(n_v, t_v) * tangents[corners, 3:4]
    frame = np.stack([np.einsum("mk,mkd->md", barycentric, x) for x in (t_v, b_v, n_v)], axis=2)
    return frame / np.maximum(np.linalg.norm(frame, axis=1, keepdims=True), 1e-12)


def decode(normal_map_texels: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """``(M, 3)`` unit normals from ``(M, 3)`` texel values in [0, 1] and their frames ``(M, 3, 3)``."""
    local = normal_map_texels.astype(np.float64) * 2.0 - 1.0
    world = np.einsum("mij,mj->mi", frames, local)
    return world / np.maximum(np.linalg.norm(world, axis=1, keepdims=True), 1e-12)


def encode(world_normals: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """``(M, 3)`` texel values in [0, 1] that :func:`decode` turns back into ``world_normals`` (M, 3)
    in ``frames`` (M, 3, 3) (pointing out of the surface: z at least 0.05 before normalising)."""
    local = np.zeros((len(frames), 3))
    local[:, 2] = 1.0  # a degenerate frame (tangent along the normal): the flat normal
    usable = np.abs(np.linalg.det(frames)) > 1e-6
    local[usable] = np.linalg.solve(frames[usable], world_normals.astype(np.float64)[usable, :, None])[:, :, 0]
    local /= np.maximum(np.linalg.norm(local, axis=1, keepdims=True), 1e-12)
    local[:, 2] = np.maximum(local[:, 2], 0.05)
    local /= np.linalg.norm(local, axis=1, keepdims=True)
    return (local + 1.0) * 0.5
