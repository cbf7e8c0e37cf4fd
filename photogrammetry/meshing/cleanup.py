"""Mesh cleanup: topology repair, small components and floaters removed, small holes filled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from photogrammetry.errors import ConfigError
from photogrammetry.io.mesh import MeshData, face_normals


def to_open3d(mesh: MeshData):
    """A legacy ``open3d.geometry.TriangleMesh`` with the mesh's vertices, faces and colours."""
    import open3d as o3d

    legacy = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(mesh.vertices),
                                       o3d.utility.Vector3iVector(mesh.faces.astype(np.int32)))
    if mesh.colors is not None:
        legacy.vertex_colors = o3d.utility.Vector3dVector(mesh.colors.astype(np.float64))
    return legacy


def from_open3d(legacy, *, normals: bool = True) -> MeshData:
    """A :class:`MeshData` from a legacy open3d mesh, with fresh vertex normals when asked."""
    if normals and len(legacy.triangles):
        legacy.compute_vertex_normals()
    return MeshData(vertices=np.asarray(legacy.vertices), faces=np.asarray(legacy.triangles),
                    normals=np.asarray(legacy.vertex_normals) if legacy.has_vertex_normals() else None,
                    colors=np.asarray(legacy.vertex_colors) if legacy.has_vertex_colors() else None)


def repair(mesh: MeshData) -> MeshData:
    """Merge duplicate vertices, drop degenerate and duplicate faces and non-manifold edges."""
    legacy = to_open3d(mesh)
    legacy.remove_duplicated_vertices()
    legacy.remove_degenerate_triangles()
    legacy.remove_duplicated_triangles()
    faces = np.asarray(legacy.triangles)
    if _has_non_manifold_edges(faces):
        legacy.remove_non_manifold_edges()
    else:  # all open3d's pass does then, in a tenth of its seconds: drop the faces of no area
        flat = ~(face_normals(np.asarray(legacy.vertices), faces)[1] > 0)
        if flat.any():
            legacy.remove_triangles_by_mask(flat)
    legacy.remove_unreferenced_vertices()
    return from_open3d(legacy)


def _edge_keys(faces: np.ndarray) -> np.ndarray:
    """(3F,) int64 key of each face's undirected edges: face i's edges at i, F + i and 2F + i."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1).astype(np.int64)
    return edges[:, 0] * (int(faces.max()) + 1) + edges[:, 1]


def _has_non_manifold_edges(faces: np.ndarray) -> bool:
    """Whether an edge of ``faces`` (F, 3) belongs to more than two faces."""
    if len(faces) < 3:
        return False
    keys = np.sort(_edge_keys(faces))
    return bool(np.any(keys[2:] == keys[:-2]))


def face_components(mesh: MeshData) -> tuple[np.ndarray, np.ndarray]:
    """Connected pieces of ``mesh``: faces that share an edge are in one piece, as in open3d's
    ``cluster_connected_triangles`` (the same pieces in a tenth of its time on a 1.2 M-face mesh).

    Returns:
        (F,) piece index of each face and (P,) area of each piece.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    faces = mesh.faces
    keys = _edge_keys(faces)
    order = np.argsort(keys, kind="stable")
    owner = np.tile(np.arange(len(faces)), 3)[order]
    shared = keys[order][1:] == keys[order][:-1]  # neighbours in the sorted keys share an edge
    graph = coo_matrix((np.ones(int(shared.sum()), dtype=np.int8), (owner[:-1][shared], owner[1:][shared])),
                       shape=(len(faces), len(faces)))
    labels = connected_components(graph, directed=False)[1]
    return labels, np.bincount(labels, weights=face_normals(mesh.vertices, faces)[1])


def keep_large_components(mesh: MeshData, *, min_fraction: float, max_components: int = 0) -> MeshData:
    """Keep the connected components whose area is at least ``min_fraction`` of the largest's.

    Args:
        mesh: The mesh.
        min_fraction: Area threshold relative to the largest component (0 keeps all).
        max_components: Keep at most this many of the largest components (0: no limit).
    """
    if len(mesh.faces) == 0:
        return mesh
    labels, areas = face_components(mesh)
    if len(areas) <= 1:
        return mesh
    order = np.argsort(-areas)
    keep = order[areas[order] >= min_fraction * areas[order[0]]]
    if max_components > 0:
        keep = keep[:max_components]
    legacy = to_open3d(mesh)
    legacy.remove_triangles_by_mask(~np.isin(labels, keep))
    legacy.remove_unreferenced_vertices()
    return from_open3d(legacy)


def boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """Closed loops of boundary edges, each as vertex indices in the faces' winding order.

    A boundary edge belongs to one face only. Loops through a vertex with several boundary
    edges (non-manifold) are skipped.
    """
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    size = int(faces.max()) + 1
    keys = np.sort(directed[:, 0].astype(np.int64) * size + directed[:, 1])
    reverse = directed[:, 1].astype(np.int64) * size + directed[:, 0]
    found = keys[np.minimum(np.searchsorted(keys, reverse), len(keys) - 1)] == reverse  # np.isin: 5x the time
    boundary = directed[~found]
    starts, counts = np.unique(boundary[:, 0], return_counts=True)
    ambiguous = set(starts[counts > 1].tolist())
    following = {int(a): int(b) for a, b in boundary if a not in ambiguous}
    loops, seen = [], set()
    for start in list(following):
        if start in seen:
            continue
        loop, vertex = [], start
        while vertex in following and vertex not in seen:
            seen.add(vertex)
            loop.append(vertex)
            vertex = following[vertex]
        if vertex == start and len(loop) >= 3:
            loops.append(np.asarray(loop, dtype=np.int64))
    return loops


def fill_small_holes(mesh: MeshData, max_radius: float) -> MeshData:
    """Close holes whose boundary lies within ``max_radius`` (world units) of its centre.

    Each such hole gets a vertex at its boundary's centre and a fan of triangles to it, wound
    like the faces around it; larger openings stay open.
    """
    if max_radius <= 0 or len(mesh.faces) == 0:
        return mesh
    vertices, faces = [mesh.vertices], [mesh.faces]
    colors = [mesh.colors] if mesh.colors is not None else None
    count = len(mesh.vertices)
    for loop in boundary_loops(mesh.faces):
        ring = mesh.vertices[loop]
        centre = ring.mean(axis=0)
        if np.linalg.norm(ring - centre, axis=1).max() > max_radius:
            continue
        vertices.append(centre[None])
        if colors is not None:
            colors.append(mesh.colors[loop].mean(axis=0, keepdims=True))
        faces.append(np.stack([np.roll(loop, -1), loop, np.full(len(loop), count)], axis=1))
        count += 1
    if len(faces) == 1:
        return mesh
    return MeshData(vertices=np.concatenate(vertices), faces=np.concatenate(faces),
                    colors=None if colors is None else np.concatenate(colors))


@dataclass(frozen=True, kw_only=True)
class CleanupOptions:
    """What :func:`clean_mesh` keeps and fills."""

    min_component: float = 0.05
    """Connected pieces smaller than this fraction of the largest one's area are removed."""
    max_components: int = 0
    """Keep at most this many of the largest pieces; 0 keeps every piece big enough."""
    hole_radius: float = 0.03
    """Holes up to this radius, relative to the mesh's bounding-box diagonal, are filled."""

    def __post_init__(self) -> None:
        if self.min_component < 0 or self.max_components < 0 or self.hole_radius < 0:
            raise ConfigError("min_component, max_components and hole_radius must not be negative")


def clean_mesh(mesh: MeshData, options: CleanupOptions) -> MeshData:
    """:func:`clean` with ``options``, the hole radius taken relative to the mesh's bounding-box diagonal."""
    diagonal = float(np.linalg.norm(np.ptp(mesh.vertices, axis=0))) if len(mesh.vertices) else 0.0
    return clean(mesh, min_component_fraction=options.min_component, max_components=options.max_components,
                 hole_radius=options.hole_radius * diagonal)


def clean(mesh: MeshData, *, min_component_fraction: float, max_components: int,
          hole_radius: float) -> MeshData:
    """Repair, then keep the main components, then fill small holes, then repair again."""
    mesh = keep_large_components(repair(mesh), min_fraction=min_component_fraction,
                                 max_components=max_components)
    return repair(fill_small_holes(mesh, hole_radius))
