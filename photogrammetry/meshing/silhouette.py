"""Silhouette refinement: the mesh's outline moved onto the photos' mask outlines.

Poisson rounds sharp convex edges (a cylinder's rim, a box's top edges) by about a cell of
its octree, and an MVS cloud is thin where the surface turns away from the cameras: the
mesh's silhouette then lies a fraction of a pixel to a pixel inside the object's outline in
the photos, and a new view renders a line of background along it. The masks know the
outline to the pixel. Each pass finds the vertices on the mesh's contour in each masked view
(normal across the viewing ray, visible), reads how far inside or outside the mask's outline
they project (sub-pixel signed distance), moves them across the ray by that much, averaged
over the views, and spreads the moves to their neighbours so that the surface stays smooth.
Contour vertices farther than ``band`` pixels from the outline are left alone: occluded
contours, concavities, and masks wrong by more than that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from photogrammetry.errors import ConfigError
from photogrammetry.io.mesh import MeshData, vertex_normals
from photogrammetry.meshing.views import CameraView, sample_image


@dataclass(frozen=True, kw_only=True)
class SilhouetteOptions:
    """Settings of :func:`fit_silhouettes`."""

    band: float = 2.0
    """With masks: the mesh's contour vertices projecting up to this many pixels inside a mask's
    outline are moved onto it (Poisson rounds sharp edges, MVS thins out at grazing angles:
    new views would show a line of background along the object); 0 leaves the mesh as is."""
    iterations: int = 3
    """Passes of the fit; each recomputes normals and contours after the previous one's moves (0: none)."""
    spread: int = 2
    """Rings of neighbours the moves are averaged over (0: contour vertices only)."""

    def __post_init__(self) -> None:
        if self.band < 0 or self.iterations < 0 or self.spread < 0:
            raise ConfigError("band, iterations and spread must not be negative")


def signed_outline_distance(mask: np.ndarray) -> np.ndarray:
    """(H, W) float32 signed distance in pixels from each pixel centre to the mask's outline,
    positive inside; the outline lies half-way between an inside and an outside pixel centre."""
    inside = mask.astype(np.uint8)
    to_outside = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    to_inside = cv2.distanceTransform(1 - inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.where(inside > 0, to_outside - 0.5, 0.5 - to_inside).astype(np.float32)


def _visible(scene, view: CameraView, points: np.ndarray, tolerance: float) -> np.ndarray:
    """(N,) bool: nothing of the mesh lies between the camera and the points (N, 3)."""
    import open3d as o3d

    offset = points - view.center
    distance = np.linalg.norm(offset, axis=1)
    rays = np.concatenate([np.broadcast_to(view.center, points.shape), offset / distance[:, None]], axis=1)
    hits = scene.cast_rays(o3d.core.Tensor(rays.astype(np.float32)))["t_hit"].numpy()
    return hits >= distance - tolerance


def edge_faces(faces: np.ndarray) -> np.ndarray:
    """(E, 2) the two faces of every edge shared by exactly two faces."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    owner = np.tile(np.arange(len(faces)), 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    edges, owner = edges[order], owner[order]
    same = np.all(edges[1:] == edges[:-1], axis=1)
    pairs = np.flatnonzero(same)
    single = np.ones(len(pairs), dtype=bool)
    if len(pairs) > 1:  # an edge of three faces or more: skipped
        single = np.diff(np.concatenate([[-2], pairs])) > 1
        single &= np.diff(np.concatenate([pairs, [len(edges)]])) > 1
    pairs = pairs[single]
    return np.stack([owner[pairs], owner[pairs + 1]], axis=1)


def contour_vertices(vertices: np.ndarray, faces: np.ndarray, pairs: np.ndarray, view: CameraView) -> np.ndarray:
    """Indices of the vertices on the mesh's contour seen from ``view``: on an edge between a face
    turned towards the camera and one turned away (the rendered outline runs along such edges)."""
    corners = vertices[faces]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    facing = np.einsum("nd,nd->n", cross, view.center - corners.mean(axis=1)) > 0
    flip = pairs[facing[pairs[:, 0]] != facing[pairs[:, 1]]]
    return _shared_vertices(faces, flip)


def _shared_vertices(faces: np.ndarray, flip: np.ndarray) -> np.ndarray:
    """The vertices (unique) of the edges between the face pairs (E, 2)."""
    a, b = faces[flip[:, 0]], faces[flip[:, 1]]
    common = (a[:, :, None] == b[:, None, :]).any(axis=2)  # (E, 3): corners of a also in b
    return np.unique(a[common]).astype(np.int64)


def rendered_silhouette(scene, view: CameraView) -> np.ndarray:
    """(H, W) bool: the pixels whose centre ray hits the mesh of ``scene`` (an open3d ``RaycastingScene``)."""
    import open3d as o3d

    extrinsic = np.eye(4)
    extrinsic[:3, :3], extrinsic[:3, 3] = view.R, view.t
    rays = o3d.t.geometry.RaycastingScene.create_rays_pinhole(
        o3d.core.Tensor(view.K), o3d.core.Tensor(extrinsic), view.width, view.height)
    return np.isfinite(scene.cast_rays(rays)["t_hit"].numpy())


def _contour_moves(mesh: MeshData, pairs: np.ndarray, normals: np.ndarray, view: CameraView,
                   outline: np.ndarray, scene, options: SilhouetteOptions,
                   tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the visible contour vertices of one view on the mesh's rendered outline and inside
    the mask's, and their moves (M, 3): outwards across the ray by the mask's outline distance
    minus the rendering's (both quantised alike to pixel centres: the difference is the offset)."""
    candidates = contour_vertices(mesh.vertices, mesh.faces, pairs, view)
    pix, z = view.project(mesh.vertices[candidates])
    inside = (z > 0) & np.all((pix >= 0) & (pix < [view.width, view.height]), axis=1)
    candidates, pix, z = candidates[inside], pix[inside], z[inside]
    own = sample_image(signed_outline_distance(rendered_silhouette(scene, view)), pix)[:, 0]
    shift = sample_image(outline, pix)[:, 0] - own
    near = (np.abs(own) <= 1.0) & (shift > 0) & (shift <= options.band)
    candidates, shift, z = candidates[near], shift[near], z[near]
    seen = _visible(scene, view, mesh.vertices[candidates], tolerance)
    candidates, shift, z = candidates[seen], shift[seen], z[seen]
    ray = mesh.vertices[candidates] - view.center
    ray /= np.linalg.norm(ray, axis=1, keepdims=True)
    across = normals[candidates] - np.einsum("nd,nd->n", normals[candidates], ray)[:, None] * ray
    across /= np.maximum(np.linalg.norm(across, axis=1, keepdims=True), 1e-12)
    return candidates, across * (shift * z / view.K[0, 0])[:, None]  # pixels to world units at depth z


def _spread(faces: np.ndarray, count: int, moves: np.ndarray, weights: np.ndarray, rings: int) -> np.ndarray:
    """Moves (V, 3) averaged over ``rings`` rings of neighbours, weighted by the views behind them."""
    from scipy import sparse

    rows = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 1], faces[:, 2], faces[:, 0]])
    cols = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0], faces[:, 0], faces[:, 1], faces[:, 2]])
    adjacency = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(count, count))
    adjacency = (adjacency > 0).astype(np.float64) + sparse.identity(count, format="csr")
    total, weight = moves * weights[:, None], weights.astype(np.float64)
    for _ in range(rings):
        total, weight = adjacency @ total, adjacency @ weight
    return np.where(weight[:, None] > 0, total / np.maximum(weight, 1e-30)[:, None], 0.0)


def fit_silhouettes(mesh: MeshData, views: Sequence[CameraView], spacing: float,
                    options: SilhouetteOptions = SilhouetteOptions()) -> MeshData:
    """The mesh with its contour vertices moved onto the masks' outlines (see the module docstring).

    Args:
        mesh: The cleaned mesh.
        views: Views; those without a mask are skipped.
        spacing: Point spacing of the cloud: the depth tolerance of the visibility test.
        options: Band, contour angle, passes and spreading.
    """
    import open3d as o3d

    masked = [(view, signed_outline_distance(mask)) for view in views
              if (mask := view.read_mask()) is not None]
    if not masked or len(mesh.faces) == 0:
        return mesh
    vertices, pairs = mesh.vertices.copy(), edge_faces(mesh.faces)
    for _ in range(options.iterations):
        current = MeshData(vertices=vertices, faces=mesh.faces)
        normals = vertex_normals(vertices, mesh.faces)
        scene = o3d.t.geometry.RaycastingScene()
        scene.add_triangles(o3d.core.Tensor(vertices.astype(np.float32)),
                            o3d.core.Tensor(mesh.faces.astype(np.uint32)))
        moves, weights = np.zeros_like(vertices), np.zeros(len(vertices))
        for view, outline in masked:
            index, move = _contour_moves(current, pairs, normals, view, outline, scene, options, 2.0 * spacing)
            np.add.at(moves, index, move)
            np.add.at(weights, index, 1.0)
        moves = np.divide(moves, weights[:, None], out=np.zeros_like(moves), where=weights[:, None] > 0)
        vertices = vertices + _spread(mesh.faces, len(vertices), moves, weights, options.spread)
    return MeshData(vertices=vertices, faces=mesh.faces, normals=vertex_normals(vertices, mesh.faces),
                    colors=mesh.colors)
