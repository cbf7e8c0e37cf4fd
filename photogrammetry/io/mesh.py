"""Mesh artifacts: in-memory meshes, PLY files, the stages' results (OBJ + MTL: :mod:`photogrammetry.io.obj`).

The files of the ``mesh`` and ``texture`` stages are listed in
:mod:`photogrammetry.io`. Conventions: vertices are in the reconstruction's frame; ``units``
is ``"metres"`` when the scale is known, else ``"sfm"``; UVs in memory, OBJ and PLY follow
OpenGL (``v = 0`` at the texture's bottom row; the GLB writer flips them to glTF's top-left
origin, see :mod:`photogrammetry.io.gltf`); textures in memory are ``(H, W, 3)`` uint8 RGB with row 0 at the top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from photogrammetry.errors import InputError
from photogrammetry.io.jsonio import read_json, write_bytes_atomic
from photogrammetry.io.scale import Units
DETAIL_LEVELS: dict[str, int] = {"preview": 25_000, "reduced": 50_000, "medium": 100_000, "full": 250_000}
"""Detail levels (as in Apple's Object Capture) -> target triangle count; ``raw`` is undecimated."""
LEVEL_NAMES: tuple[str, ...] = (*DETAIL_LEVELS, "raw")
"""Every level a mesh artifact holds, coarsest first."""


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals.

    Args:
        vertices: Shape ``(V, 3)``.
        triangles: Shape ``(F, 3)``.

    Returns:
        Unit normals, shape ``(V, 3)`` (``+z`` for vertices in no triangle).
    """
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    face = np.cross(b - a, c - a)
    acc = np.zeros_like(vertices)
    for i in range(3):
        np.add.at(acc, triangles[:, i], face)
    length = np.sqrt(np.sum(acc * acc, axis=1, keepdims=True))
    unused = length[:, 0] == 0.0
    acc[unused] = (0.0, 0.0, 1.0)
    length[unused] = 1.0
    return acc / length


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit normals (F, 3) and areas (F,) of the faces (counter-clockwise winding points outwards)."""
    corners = vertices[faces]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    area = np.linalg.norm(cross, axis=1)
    return cross / np.maximum(area, 1e-30)[:, None], 0.5 * area


@dataclass(frozen=True, kw_only=True, eq=False)
class MeshData:
    """A triangle mesh in memory."""

    vertices: np.ndarray
    """(V, 3) float64 positions."""
    faces: np.ndarray
    """(F, 3) int64 vertex indices, counter-clockwise seen from outside."""
    normals: np.ndarray | None = None
    """(V, 3) float32 unit vertex normals, if known."""
    colors: np.ndarray | None = None
    """(V, 3) float32 RGB vertex colours in [0, 1], if known."""

    def __post_init__(self) -> None:
        vertices = np.asarray(self.vertices, dtype=np.float64).reshape(-1, 3)
        faces = np.asarray(self.faces, dtype=np.int64).reshape(-1, 3)
        if len(faces) and (faces.min() < 0 or faces.max() >= len(vertices)):
            raise ValueError(f"face indices out of range for {len(vertices)} vertices")
        object.__setattr__(self, "vertices", vertices)
        object.__setattr__(self, "faces", faces)
        for name in ("normals", "colors"):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value, dtype=np.float32)
                if value.shape != vertices.shape:
                    raise ValueError(f"{name} must have shape {vertices.shape}, got {value.shape}")
                object.__setattr__(self, name, value)


@dataclass(frozen=True, kw_only=True, eq=False)
class TexturedMeshData:
    """A mesh with one texture atlas; vertices are split where the UV charts are cut."""

    vertices: np.ndarray
    """(V, 3) float64 positions."""
    faces: np.ndarray
    """(F, 3) int64 vertex indices."""
    uv: np.ndarray
    """(V, 2) float32 texture coordinates in [0, 1], OpenGL convention (v = 0 at the bottom)."""
    texture: np.ndarray
    """(H, W, 3) uint8 RGB atlas, row 0 at the top."""
    normals: np.ndarray | None = None
    """(V, 3) float32 unit vertex normals, if known."""
    normal_map: np.ndarray | None = None
    """(H, W, 3) uint8 tangent-space normal map, row 0 at the top, in the tangent frames of
    :mod:`photogrammetry.io.tangents` (needs ``normals``), if baked."""

    def __post_init__(self) -> None:
        checked = MeshData(vertices=self.vertices, faces=self.faces, normals=self.normals)
        if self.normal_map is not None and (self.normals is None or self.normal_map.dtype != np.uint8
                                            or self.normal_map.ndim != 3 or self.normal_map.shape[2] != 3):
            raise ValueError("normal_map must be (H, W, 3) uint8 and needs vertex normals")
        uv = np.asarray(self.uv, dtype=np.float32)
        if uv.shape != (len(checked.vertices), 2):
            raise ValueError(f"uv must have shape {(len(checked.vertices), 2)}, got {uv.shape}")
        if self.texture.dtype != np.uint8 or self.texture.ndim != 3 or self.texture.shape[2] != 3:
            raise ValueError(f"texture must be (H, W, 3) uint8, got {self.texture.dtype} {self.texture.shape}")
        for name in ("vertices", "faces", "normals"):
            object.__setattr__(self, name, getattr(checked, name))
        object.__setattr__(self, "uv", uv)


# ---------------------------------------------------------------------------------------- PLY


def _ply_bytes(vertex_fields: list[tuple[str, str, np.ndarray]], faces: np.ndarray, comments: list[str]) -> bytes:
    """A binary little-endian PLY from named per-vertex columns ``(name, ply type, (V,) values)``."""
    numpy_type = {"float": "<f4", "double": "<f8", "uchar": "u1"}
    count = len(vertex_fields[0][2])
    header = ["ply", "format binary_little_endian 1.0", *[f"comment {c}" for c in comments],
              f"element vertex {count}", *[f"property {t} {n}" for n, t, _ in vertex_fields],
              f"element face {len(faces)}", "property list uchar int vertex_indices", "end_header", ""]
    vertex = np.empty(count, dtype=[(n, numpy_type[t]) for n, t, _ in vertex_fields])
    for name, _, values in vertex_fields:
        vertex[name] = values
    face = np.empty(len(faces), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    face["n"], face["i"] = 3, faces
    return "\n".join(header).encode("ascii") + vertex.tobytes() + face.tobytes()


def _point_fields(vertices: np.ndarray, normals: np.ndarray | None, rgb: np.ndarray | None) -> list:
    """PLY vertex columns: float64 positions, float32 normals and uchar colours when given."""
    fields = [(axis, "double", vertices[:, i]) for i, axis in enumerate("xyz")]
    if normals is not None:
        fields += [(f"n{axis}", "float", normals[:, i]) for i, axis in enumerate("xyz")]
    if rgb is not None:
        fields += [(name, "uchar", rgb[:, i]) for i, name in enumerate(("red", "green", "blue"))]
    return fields


def write_ply(path: Path, mesh: MeshData, *, comments: tuple[str, ...] = ()) -> None:
    """Write a mesh as binary PLY (float64 positions, normals and uchar colours when present)."""
    rgb = None if mesh.colors is None else np.clip(np.round(mesh.colors * 255), 0, 255).astype(np.uint8)
    write_bytes_atomic(Path(path), _ply_bytes(_point_fields(mesh.vertices, mesh.normals, rgb), mesh.faces,
                                              list(comments)))


def write_textured_ply(path: Path, mesh: TexturedMeshData, texture_file: str | None = None) -> None:
    """Write a textured mesh as PLY: vertex colours sampled from the texture, UVs as ``s``, ``t``."""
    fields = _point_fields(mesh.vertices, mesh.normals, sample_texture(mesh.texture, mesh.uv))
    fields += [("s", "float", mesh.uv[:, 0]), ("t", "float", mesh.uv[:, 1])]
    comments = [f"TextureFile {texture_file}"] if texture_file else []
    write_bytes_atomic(Path(path), _ply_bytes(fields, mesh.faces, comments))


def sample_texture(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Nearest texel colours (N, 3) uint8 of an (H, W, 3) texture at OpenGL UVs (N, 2)."""
    height, width = texture.shape[:2]
    col = np.clip((uv[:, 0] * width).astype(np.int64), 0, width - 1)
    row = np.clip(((1.0 - uv[:, 1]) * height).astype(np.int64), 0, height - 1)
    return texture[row, col]


def read_mesh(path: Path) -> MeshData:
    """Read a triangle mesh (PLY, OBJ, GLB, ...) with open3d; normals and colours when present.

    Raises:
        InputError: when the file is missing or holds no triangles.
    """
    import open3d as o3d

    if not Path(path).is_file():
        raise InputError(f"{path}: mesh file not found")
    legacy = o3d.io.read_triangle_mesh(str(path))
    if len(legacy.triangles) == 0:
        raise InputError(f"{path}: no triangles could be read")
    return MeshData(
        vertices=np.asarray(legacy.vertices), faces=np.asarray(legacy.triangles),
        normals=np.asarray(legacy.vertex_normals) if legacy.has_vertex_normals() else None,
        colors=np.asarray(legacy.vertex_colors) if legacy.has_vertex_colors() else None)


# ------------------------------------------------------------------------------- images


def encode_image(rgb: np.ndarray, fmt: Literal["png", "jpeg"] = "png", quality: int = 90) -> bytes:
    """PNG or JPEG bytes of an (H, W, 3) uint8 RGB image."""
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    ok, buf = (cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3]) if fmt == "png"
               else cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality]))
    if not ok:
        raise InputError(f"could not encode a {rgb.shape} texture as {fmt}")
    return buf.tobytes()


# ------------------------------------------------------------------------------ stage results


@dataclass(frozen=True, kw_only=True)
class MeshInfo:
    """What the mesh stage made (``mesh.json``). No timings: the same inputs and settings give the same
    bytes (the stage logs its step times)."""

    units: Units
    """Length unit of the vertices."""
    method: str
    """Mesher that built the surface (a key of :data:`photogrammetry.meshing.MESHERS`)."""
    triangles: dict[str, int]
    """Triangle count of each level (``raw`` included)."""
    bbox: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
    """Box the mesh was cropped to (min and max corners), if any."""


@dataclass(frozen=True)
class MeshResult:
    """The mesh artifact, loaded."""

    root: Path
    """Artifact folder."""
    info: MeshInfo
    """Counts and units."""

    @property
    def mesh_path(self) -> Path:
        """The cleaned mesh at full resolution (level ``raw``)."""
        return self.root / "mesh.ply"

    def level_path(self, level: str) -> Path:
        """PLY of a detail level (``preview``, ``reduced``, ``medium``, ``full`` or ``raw``)."""
        if level not in LEVEL_NAMES:
            raise ValueError(f"unknown detail level {level!r}; choose one of {', '.join(LEVEL_NAMES)}")
        return self.mesh_path if level == "raw" else self.root / "levels" / f"{level}.ply"


def load_mesh_result(folder: Path) -> MeshResult:
    """Read a mesh artifact folder."""
    raw = read_json(Path(folder) / "mesh.json")
    bbox = raw.get("bbox")
    info = MeshInfo(units=raw["units"], method=raw["method"], triangles=dict(raw["triangles"]),
                    bbox=(tuple(bbox[0]), tuple(bbox[1])) if bbox else None)
    return MeshResult(Path(folder), info)


@dataclass(frozen=True, kw_only=True)
class TextureInfo:
    """What the texture stage made (``texture.json``). No timings: the same inputs and settings give the
    same bytes (the stage logs its step times)."""

    units: Units
    """Length unit of the vertices."""
    level: str
    """Detail level that was textured."""
    texture_size: int
    """Side of the square atlas in pixels."""
    triangles: int
    """Triangles of the textured mesh."""
    views: int
    """Photos that contributed colour."""
    unseen_faces: float
    """Fraction of faces seen by no photo (coloured from their neighbours)."""
    levels: dict[str, int] = field(default_factory=dict)
    """Further levels textured, in ``levels/<level>/model.obj``, and their triangles."""
    normal_map: bool = False
    """Whether the decimated levels carry a normal map baked from the raw mesh."""


@dataclass(frozen=True)
class TextureResult:
    """The texture artifact, loaded."""

    root: Path
    """Artifact folder."""
    info: TextureInfo
    """Units and sizes."""

    @property
    def obj_path(self) -> Path:
        """The textured mesh (with ``model.mtl`` and ``model.png`` beside it)."""
        return self.root / "model.obj"

    def level_obj_path(self, level: str) -> Path:
        """The textured mesh of ``level``: :attr:`obj_path` for the main one, else in ``levels/<level>/``."""
        return self.obj_path if level == self.info.level else self.root / "levels" / level / "model.obj"


def load_texture_result(folder: Path) -> TextureResult:
    """Read a texture artifact folder."""
    raw = read_json(Path(folder) / "texture.json")
    raw.pop("seconds", None)  # step times, which files of earlier versions held
    return TextureResult(Path(folder), TextureInfo(**raw))
