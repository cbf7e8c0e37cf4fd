"""Triangle meshes and the primitives the synthetic scenes are built from.

Vertices are rounded to float32 precision when a mesh is made, so the mesh that is
ray cast (open3d works in float32) and the one written to PLY are the same surface.
Sharp edges are made by not sharing vertices (a box has 24), so interpolated
vertex normals are smooth on curved surfaces and exact on flat faces.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from photogrammetry.io.mesh import vertex_normals
from photogrammetry.synthetic.geometry import Pose, cos_sin, normalize, rotate


@dataclass(frozen=True, eq=False)
class Mesh:
    """An indexed triangle mesh with per-vertex normals (counter-clockwise faces point outward)."""

    vertices: np.ndarray
    """Vertex positions, shape ``(V, 3)``, ``float64`` holding float32-representable values."""
    triangles: np.ndarray
    """Vertex indices per triangle, shape ``(F, 3)``, ``int64``."""
    normals: np.ndarray
    """Unit vertex normals, shape ``(V, 3)``, ``float64``."""

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounding box ``(min, max)``, each shape ``(3,)``."""
        return self.vertices.min(axis=0), self.vertices.max(axis=0)


def make_mesh(vertices: np.ndarray, triangles: np.ndarray, normals: np.ndarray | None = None) -> Mesh:
    """Build a :class:`Mesh`, rounding vertices to float32 and computing normals if not given.

    Args:
        vertices: Shape ``(V, 3)``.
        triangles: Shape ``(F, 3)``.
        normals: Optional vertex normals, shape ``(V, 3)``.

    Returns:
        The mesh.
    """
    v = np.asarray(vertices, dtype=np.float32).astype(np.float64)
    f = np.asarray(triangles, dtype=np.int64).reshape(-1, 3)
    n = vertex_normals(v, f) if normals is None else normalize(np.asarray(normals, dtype=np.float64))
    return Mesh(vertices=v, triangles=f, normals=n)


def merge_meshes(meshes: Sequence[Mesh]) -> Mesh:
    """Concatenate meshes into one (no vertex welding)."""
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    return Mesh(
        vertices=np.concatenate([m.vertices for m in meshes]),
        triangles=np.concatenate([m.triangles + o for m, o in zip(meshes, offsets, strict=True)]),
        normals=np.concatenate([m.normals for m in meshes]),
    )


def transform_mesh(mesh: Mesh, pose: Pose, scale: np.ndarray | float = 1.0) -> Mesh:
    """Scale (per axis, about the origin), then rigidly move a mesh.

    Args:
        mesh: Input mesh.
        pose: ``new_from_old`` transform applied after scaling.
        scale: Scalar or per-axis scale, shape ``(3,)``.

    Returns:
        The transformed mesh (normals follow the inverse-transpose of the scaling).
    """
    s = np.broadcast_to(np.asarray(scale, dtype=np.float64), (3,))
    normals = normalize(rotate(mesh.normals / s, pose.rotation))
    return make_mesh(pose.apply(mesh.vertices * s), mesh.triangles, normals)


def box(size: Sequence[float], center: Sequence[float] = (0.0, 0.0, 0.0)) -> Mesh:
    """Axis-aligned box with sharp edges (24 vertices, 12 triangles).

    Args:
        size: Edge lengths along x, y, z.
        center: Box centre.

    Returns:
        The box mesh.
    """
    half, c = np.asarray(size, float) / 2.0, np.asarray(center, float)
    axes = np.eye(3)
    verts, norms, tris = [], [], []
    for axis in range(3):
        u, v = axes[(axis + 1) % 3], axes[(axis + 2) % 3]
        for sign in (-1.0, 1.0):
            square = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
            corners = [sign * axes[axis] + a * u + b * v for a, b in (square if sign > 0 else square[::-1])]
            base = len(verts)
            verts += [c + half * p for p in corners]
            norms += [sign * axes[axis]] * 4
            tris += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
    return make_mesh(np.array(verts), np.array(tris), np.array(norms))


def _grid_triangles(rows: int, cols: int, closed: bool) -> np.ndarray:
    """Triangles of a ``rows x cols`` vertex grid (row-major), optionally wrapping the columns."""
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(cols if closed else cols - 1), indexing="ij")
    a = r * cols + c
    b = r * cols + (c + 1) % cols
    d, e = a + cols, b + cols
    return np.concatenate([np.stack([a, b, e], -1).reshape(-1, 3), np.stack([a, e, d], -1).reshape(-1, 3)])


def _disc(ring: np.ndarray, z_sign: float) -> Mesh:
    """Flat cap closing a horizontal ring of vertices ``(S, 3)``, facing ``z_sign * z``."""
    centre = ring.mean(axis=0)
    s = len(ring)
    tris = np.stack([np.full(s, s), np.arange(s), (np.arange(s) + 1) % s], -1)
    if z_sign < 0:
        tris = tris[:, ::-1]
    return make_mesh(np.vstack([ring, centre]), tris, np.tile([0.0, 0.0, z_sign], (s + 1, 1)))


def lathe(radii: np.ndarray, heights: np.ndarray, segments: int = 64) -> Mesh:
    """Closed surface of revolution about +z, capped with flat discs at both ends.

    Args:
        radii: Profile radii from bottom to top, shape ``(M,)``, positive.
        heights: Profile heights, increasing, shape ``(M,)``.
        segments: Vertices around each ring.

    Returns:
        A watertight mesh (side, bottom and top caps meet at sharp rims).
    """
    cos, sin = cos_sin(np.arange(segments) * (2.0 * math.pi / segments))
    ring = np.stack([cos, sin, np.zeros(segments)], -1)
    verts = (radii[:, None, None] * ring[None] + heights[:, None, None] * np.array([0.0, 0.0, 1.0])).reshape(-1, 3)
    side = make_mesh(verts, _grid_triangles(len(radii), segments, closed=True))
    return merge_meshes([side, _disc(verts[:segments], -1.0), _disc(verts[-segments:], 1.0)])


def cylinder(radius: float, height: float, segments: int = 64) -> Mesh:
    """Capped cylinder on the xy plane from ``z = 0`` to ``z = height``."""
    return lathe(np.array([radius, radius]), np.array([0.0, height]), segments)


def icosphere(subdivisions: int) -> Mesh:
    """Unit sphere from a subdivided icosahedron (``20 * 4**subdivisions`` triangles)."""
    g = (1.0 + math.sqrt(5.0)) / 2.0
    verts = normalize(
        np.array(
            [
                (-1, g, 0),
                (1, g, 0),
                (-1, -g, 0),
                (1, -g, 0),
                (0, -1, g),
                (0, 1, g),
                (0, -1, -g),
                (0, 1, -g),
                (g, 0, -1),
                (g, 0, 1),
                (-g, 0, -1),
                (-g, 0, 1),
            ],
            float,
        )
    )
    tris = np.array(
        [
            (0, 11, 5),
            (0, 5, 1),
            (0, 1, 7),
            (0, 7, 10),
            (0, 10, 11),
            (1, 5, 9),
            (5, 11, 4),
            (11, 10, 2),
            (10, 7, 6),
            (7, 1, 8),
            (3, 9, 4),
            (3, 4, 2),
            (3, 2, 6),
            (3, 6, 8),
            (3, 8, 9),
            (4, 9, 5),
            (2, 4, 11),
            (6, 2, 10),
            (8, 6, 7),
            (9, 8, 1),
        ]
    )
    for _ in range(subdivisions):
        edges = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
        unique, inverse = np.unique(edges, axis=0, return_inverse=True)
        mid = len(verts) + inverse.reshape(3, -1).T
        verts = np.vstack([verts, normalize(verts[unique[:, 0]] + verts[unique[:, 1]])])
        a, b, c = tris.T
        ab, bc, ca = mid.T
        tris = np.concatenate([np.stack(t, -1) for t in ((a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca))])
    return make_mesh(verts, tris, verts)


def tube(curve: np.ndarray, reference: np.ndarray, radius: float, segments: int = 16) -> Mesh:
    """Closed tube of circular cross-section around a closed curve.

    Args:
        curve: Closed curve samples (the last connects back to the first), shape ``(M, 3)``.
        reference: Per-sample direction roughly perpendicular to the curve that fixes the
            cross-section's orientation, shape ``(M, 3)``.
        radius: Tube radius.
        segments: Vertices around each cross-section.

    Returns:
        A watertight tube mesh (a torus topologically).
    """
    tangent = normalize(np.roll(curve, -1, axis=0) - np.roll(curve, 1, axis=0))
    normal = normalize(reference - np.sum(reference * tangent, axis=1, keepdims=True) * tangent)
    binormal = np.cross(tangent, normal)
    cos, sin = cos_sin(np.arange(segments) * (2.0 * math.pi / segments))
    offsets = cos[None, :, None] * normal[:, None] + sin[None, :, None] * binormal[:, None]
    verts = (curve[:, None] + radius * offsets).reshape(-1, 3)
    rows = len(curve)
    tris = _grid_triangles(rows + 1, segments, closed=True) % (rows * segments)
    return make_mesh(verts, tris, offsets.reshape(-1, 3))
