"""Textured OBJ files: ``<name>.obj`` + ``<name>.mtl`` + the texture (and normal map) beside them.

UVs follow OpenGL (``v = 0`` at the texture's bottom row), as in memory (:mod:`photogrammetry.io.mesh`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from photogrammetry.errors import InputError
from photogrammetry.io.jsonio import write_bytes_atomic
from photogrammetry.io.mesh import TexturedMeshData, encode_image


def _rows(prefix: str, values: np.ndarray, fmt: str) -> str:
    """OBJ lines ``prefix v0 v1 ...`` for each row of ``values``."""
    line = prefix + " " + " ".join([fmt] * values.shape[1])
    return "\n".join(line % tuple(row) for row in values.tolist()) + "\n"


def obj_texture_name(name: str = "model", image_format: Literal["png", "jpeg"] = "png") -> str:
    """File name of the texture :func:`write_obj` writes beside ``<name>.obj``: ``<name>.png`` or ``<name>.jpg``."""
    return f"{name}.{'png' if image_format == 'png' else 'jpg'}"


def obj_normal_map_name(name: str = "model") -> str:
    """File name of the normal map :func:`write_obj` writes beside ``<name>.obj`` (always PNG: lossless)."""
    return f"{name}_normal.png"


def write_obj(folder: Path, mesh: TexturedMeshData, *, name: str = "model",
              image_format: Literal["png", "jpeg"] = "png") -> Path:
    """Write ``<name>.obj``, ``<name>.mtl`` and the texture (and normal map) into ``folder``; returns the OBJ path.

    A normal map is named twice in the MTL: ``norm`` (the PBR extension of the MTL format, read by
    three.js and tinyobjloader) and ``map_Bump`` (which Blender's importer takes as a normal map).
    """
    folder = Path(folder)
    image = obj_texture_name(name, image_format)
    write_bytes_atomic(folder / image, encode_image(mesh.texture, image_format))
    mtl = f"newmtl material0\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nillum 1\nmap_Kd {image}\n"
    if mesh.normal_map is not None:
        normal_image = obj_normal_map_name(name)
        write_bytes_atomic(folder / normal_image, encode_image(mesh.normal_map, "png"))
        mtl += f"norm {normal_image}\nmap_Bump {normal_image}\n"
    write_bytes_atomic(folder / f"{name}.mtl", mtl.encode("ascii"))
    parts = [f"# photogrammetry textured mesh\nmtllib {name}.mtl\n", _rows("v", mesh.vertices, "%.8g"),
             _rows("vt", mesh.uv, "%.7g")]
    faces = mesh.faces + 1
    corner, per_corner = ("%d/%d/%d", 3) if mesh.normals is not None else ("%d/%d", 2)
    if mesh.normals is not None:
        parts.append(_rows("vn", mesh.normals, "%.6g"))
    refs = np.repeat(faces[:, :, None], per_corner, axis=2).reshape(len(faces), -1)
    line = "f " + " ".join([corner] * 3)
    parts += ["usemtl material0\n", "\n".join(line % tuple(row) for row in refs.tolist()) + "\n"]
    path = folder / f"{name}.obj"
    write_bytes_atomic(path, "".join(parts).encode("ascii"))
    return path


def _images_of_mtl(mtl_path: Path) -> tuple[Path, Path | None]:
    """The ``map_Kd`` image of an MTL file's first material, and its ``norm`` normal map if any."""
    found: dict[str, Path] = {}
    for line in mtl_path.read_text(encoding="utf-8").splitlines():
        key, _, rest = line.strip().partition(" ")
        if key in ("map_Kd", "norm") and key not in found:
            found[key] = mtl_path.parent / rest.strip()
    if "map_Kd" not in found:
        raise InputError(f"{mtl_path}: no map_Kd texture")
    return found["map_Kd"], found.get("norm")


def _read_rgb(path: Path, what: Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB; errors name the OBJ ``what`` it belongs to."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{what}: cannot read its texture {path.name}")
    return np.ascontiguousarray(image[..., ::-1])


def _parse_obj(path: Path) -> tuple[dict[str, list[str]], list[list[str]], str | None]:
    """The ``v``, ``vt``, ``vn`` lines, the face corner tokens and the ``mtllib`` of an OBJ file."""
    rows: dict[str, list[str]] = {"v": [], "vt": [], "vn": []}
    faces: list[list[str]] = []
    mtllib = None
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, rest = line.strip().partition(" ")
        if key in rows:
            rows[key].append(rest)
        elif key == "f":
            corners = rest.split()
            faces += [[corners[0], corners[i], corners[i + 1]] for i in range(1, len(corners) - 1)]
        elif key == "mtllib":
            mtllib = rest.strip()
    return rows, faces, mtllib


def read_obj(path: Path) -> TexturedMeshData:
    """Read a textured OBJ (one material with ``map_Kd``, and ``norm`` when the OBJ has normals);
    vertices are split per (v, vt, vn).

    Raises:
        InputError: when the file, its UVs, its material or its texture is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: OBJ file not found")
    rows, faces, mtllib = _parse_obj(path)
    if not faces or not rows["vt"] or mtllib is None:
        raise InputError(f"{path}: expected triangles with texture coordinates and a material library")
    corners = np.array([[c.split("/") for c in face] for face in faces])
    if corners.shape[2] < 2:
        raise InputError(f"{path}: faces have no texture coordinate indices")
    refs = corners[..., : 3 if rows["vn"] and corners.shape[2] == 3 else 2].astype(np.int64) - 1
    unique, inverse = np.unique(refs.reshape(-1, refs.shape[2]), axis=0, return_inverse=True)
    positions = np.loadtxt(rows["v"], ndmin=2)[:, :3]
    uvs = np.loadtxt(rows["vt"], ndmin=2)[:, :2]
    normals = np.loadtxt(rows["vn"], ndmin=2)[unique[:, 2]] if unique.shape[1] == 3 else None
    texture, normal_map = _images_of_mtl(path.parent / mtllib)
    return TexturedMeshData(vertices=positions[unique[:, 0]], faces=inverse.reshape(-1, 3), uv=uvs[unique[:, 1]],
                            texture=_read_rgb(texture, path), normals=normals,
                            normal_map=_read_rgb(normal_map, path) if normal_map and normals is not None else None)
