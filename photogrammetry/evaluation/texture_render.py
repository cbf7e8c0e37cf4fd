"""Textured meshes (GLB, OBJ + MTL) loaded with trimesh and rendered into pinhole views.

Rendering is unlit: each pixel takes the base colour of the first surface hit, i.e. the
texture (bilinear, sampled at the interpolated UV) times the material's base colour factor,
or the interpolated vertex colours, or the flat base colour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh

from photogrammetry.errors import InputError
from photogrammetry.evaluation.cameras import CameraPose, PinholeCamera
from photogrammetry.evaluation.raycast import MeshRaycaster
from photogrammetry.evaluation.similarity import Sim3


@dataclass(frozen=True, kw_only=True, eq=False)
class MeshPart:
    """One mesh with one material."""

    vertices: np.ndarray
    """(V, 3) positions."""
    faces: np.ndarray
    """(F, 3) vertex indices."""
    uv: np.ndarray | None = None
    """(V, 2) texture coordinates, OpenGL convention (v = 0 at the bottom row of the texture)."""
    texture: np.ndarray | None = None
    """(H, W, 3) float32 RGB texture in [0, 1]."""
    vertex_colors: np.ndarray | None = None
    """(V, 3) float32 RGB in [0, 1], used when there is no texture."""
    base_color: np.ndarray = field(default_factory=lambda: np.ones(3, dtype=np.float32))
    """(3,) RGB factor multiplying the texture, or the flat colour when there is nothing else."""

    def shade(self, face_ids: np.ndarray, barycentric: np.ndarray) -> np.ndarray:
        """Colours of surface points.

        Args:
            face_ids: (M,) triangle indices.
            barycentric: (M, 2) ``(u, v)``; the point is ``(1-u-v) v0 + u v1 + v v2``.

        Returns:
            (M, 3) float32 RGB.
        """
        u, v = barycentric[:, 0:1], barycentric[:, 1:2]
        weights = np.concatenate([1 - u - v, u, v], axis=1)
        corners = self.faces[face_ids]
        if self.texture is not None and self.uv is not None:
            uv = np.einsum("mk,mkd->md", weights, self.uv[corners])
            return sample_bilinear(self.texture, uv) * self.base_color
        if self.vertex_colors is not None:
            return np.einsum("mk,mkd->md", weights, self.vertex_colors[corners]).astype(np.float32)
        return np.broadcast_to(self.base_color, (len(face_ids), 3)).astype(np.float32)


@dataclass(frozen=True, kw_only=True, eq=False)
class TexturedMesh:
    """A mesh made of parts with their own materials."""

    parts: tuple[MeshPart, ...]
    """The parts; ray hits report the index of the part."""

    def transformed(self, sim: Sim3) -> TexturedMesh:
        """The mesh with its vertices mapped by ``sim`` (e.g. from the estimate's frame to GT)."""
        parts = tuple(
            MeshPart(
                vertices=sim.apply(p.vertices),
                faces=p.faces,
                uv=p.uv,
                texture=p.texture,
                vertex_colors=p.vertex_colors,
                base_color=p.base_color,
            )
            for p in self.parts
        )
        return TexturedMesh(parts=parts)

    def raycaster(self) -> MeshRaycaster:
        """A raycaster over the parts, in order."""
        return MeshRaycaster([(p.vertices, p.faces) for p in self.parts])


def sample_bilinear(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear texture lookup.

    UVs outside [0, 1] repeat; inside, lookups clamp at the texture's edges (no blending
    across the seam, as texture atlases expect).

    Args:
        texture: (H, W, C) image; row 0 is the top (v = 1).
        uv: (M, 2) texture coordinates.

    Returns:
        (M, C) float32 samples.
    """
    height, width = texture.shape[:2]
    uv = np.where((uv < 0) | (uv > 1), np.mod(uv, 1.0), uv)
    x = np.clip(uv[:, 0] * width - 0.5, 0, width - 1)
    y = np.clip((1.0 - uv[:, 1]) * height - 0.5, 0, height - 1)
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = texture[y0, x0] * (1 - fx) + texture[y0, x1] * fx
    bottom = texture[y1, x0] * (1 - fx) + texture[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def _material_colors(material: object) -> tuple[np.ndarray | None, np.ndarray]:
    """(texture (H, W, 3) in [0, 1] or None, base colour factor (3,)) of a trimesh material."""
    image, factor = None, np.ones(3, dtype=np.float32)
    if isinstance(material, trimesh.visual.material.PBRMaterial):
        image = material.baseColorTexture
        if material.baseColorFactor is not None:
            factor = np.asarray(material.baseColorFactor[:3], dtype=np.float32) / 255.0
    elif isinstance(material, trimesh.visual.material.SimpleMaterial):
        image = material.image
        if image is None:
            factor = np.asarray(material.diffuse[:3], dtype=np.float32) / 255.0
    texture = None if image is None else np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return texture, factor


def part_from_trimesh(mesh: trimesh.Trimesh) -> MeshPart:
    """A :class:`MeshPart` from a trimesh mesh with texture, vertex or face colours."""
    vertices, faces = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)
    visual = mesh.visual
    if isinstance(visual, trimesh.visual.TextureVisuals):
        texture, factor = _material_colors(visual.material)
        uv = None if visual.uv is None else np.asarray(visual.uv, dtype=np.float64)
        return MeshPart(vertices=vertices, faces=faces, uv=uv, texture=texture, base_color=factor)
    if visual.kind in ("vertex", "face"):
        colors = np.asarray(visual.vertex_colors[:, :3], dtype=np.float32) / 255.0
        return MeshPart(vertices=vertices, faces=faces, vertex_colors=colors)
    return MeshPart(vertices=vertices, faces=faces)


def load_textured_mesh(path: Path) -> TexturedMesh:
    """Load a textured mesh (GLB / glTF, OBJ + MTL, PLY with colours) with scene transforms applied.

    Raises:
        InputError: when the file cannot be read or holds no triangles.
    """
    path = Path(path)
    try:
        scene = trimesh.load_scene(str(path), process=False)
    except (OSError, ValueError, KeyError) as err:
        raise InputError(f"{path}: cannot read textured mesh ({err})") from err
    parts = tuple(
        part_from_trimesh(geometry)
        for geometry in scene.dump()
        if isinstance(geometry, trimesh.Trimesh) and len(geometry.faces) > 0
    )
    if not parts:
        raise InputError(f"{path}: no triangles")
    return TexturedMesh(parts=parts)


def render_colors(
    mesh: TexturedMesh,
    camera: PinholeCamera,
    pose: CameraPose,
    *,
    raycaster: MeshRaycaster | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Render the mesh's colours into a view (one ray per pixel centre).

    Args:
        mesh: the textured mesh, in the view's world frame.
        camera: intrinsics and output size.
        pose: ``cam_from_world`` pose of the view.
        raycaster: ``mesh.raycaster()``, when rendering many views.

    Returns:
        (H, W, 3) float32 RGB image (0 where nothing is hit) and (H, W) bool hit mask.
    """
    hits = (raycaster or mesh.raycaster()).cast(camera, pose)
    image = np.zeros((camera.height, camera.width, 3), dtype=np.float32)
    for index, part in enumerate(mesh.parts):
        selected = hits.part_ids == index
        if selected.any():
            image[selected] = part.shade(hits.face_ids[selected], hits.barycentric[selected])
    return image, hits.hit
