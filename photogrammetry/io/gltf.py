"""GLB (binary glTF 2.0) files: one mesh, its texture embedded, units in ``asset.extras``.

UVs in memory follow OpenGL (``v = 0`` at the texture's bottom row, see
:mod:`photogrammetry.io.mesh`); the writer flips them to glTF's top-left origin. A mesh with a
normal map gets the material's ``normalTexture`` (PNG) and the ``TANGENT`` attribute its texels
are expressed in (:mod:`photogrammetry.io.tangents`; glTF's "+Y up" is our ``B`` along ``v`` up).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, Literal

import numpy as np

from photogrammetry.io.jsonio import write_bytes_atomic
from photogrammetry.io.mesh import TexturedMeshData, encode_image
from photogrammetry.io.tangents import vertex_tangents

_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_FLOAT, _UNSIGNED_INT = 5126, 5125
_GLB_MAGIC, _JSON_CHUNK, _BIN_CHUNK = 0x46546C67, 0x4E4F534A, 0x004E4942


class _BufferBuilder:
    """Accumulates the binary chunk of a GLB: 4-byte aligned buffer views and their accessors."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def view(self, payload: bytes, target: int | None = None) -> int:
        """Append ``payload`` as a buffer view; returns its index."""
        self.data += b"\0" * (-len(self.data) % 4)
        entry = {"buffer": 0, "byteOffset": len(self.data), "byteLength": len(payload)}
        if target is not None:
            entry["target"] = target
        self.data += payload
        self.views.append(entry)
        return len(self.views) - 1

    def accessor(self, array: np.ndarray, kind: str, target: int, *, bounds: bool = False) -> int:
        """Append a float32 or uint32 array as its own view and accessor; returns the accessor index."""
        component = _FLOAT if array.dtype == np.float32 else _UNSIGNED_INT
        entry: dict[str, Any] = {"bufferView": self.view(np.ascontiguousarray(array).tobytes(), target),
                                 "componentType": component, "count": int(array.shape[0]), "type": kind}
        if bounds:
            flat = array.reshape(array.shape[0], -1)
            entry["min"] = [float(x) for x in flat.min(axis=0)]
            entry["max"] = [float(x) for x in flat.max(axis=0)]
        self.accessors.append(entry)
        return len(self.accessors) - 1


def glb_bytes(mesh: TexturedMeshData, *, extras: dict[str, Any], generator: str,
              image_format: Literal["png", "jpeg"] = "png", jpeg_quality: int = 90) -> bytes:
    """A binary glTF 2.0 file: one mesh, one PBR material whose base colour is the texture.

    The material has no ``baseColorFactor`` (the default, 1) and is fully rough and not
    metallic; with the mesh's normal map it has a ``normalTexture`` and the primitive ``TANGENT``s.
    ``extras`` go into ``asset.extras`` (units and provenance).
    """
    buffers = _BufferBuilder()
    attributes = {"POSITION": buffers.accessor(mesh.vertices.astype(np.float32), "VEC3", _ARRAY_BUFFER, bounds=True)}
    if mesh.normals is not None:  # glTF requires unit normals: degenerate ones point up
        length = np.linalg.norm(mesh.normals, axis=1, keepdims=True)
        normals = np.where(length > 1e-6, mesh.normals / np.maximum(length, 1e-6), [0.0, 0.0, 1.0])
        attributes["NORMAL"] = buffers.accessor(normals.astype(np.float32), "VEC3", _ARRAY_BUFFER)
        if mesh.normal_map is not None:
            tangents = vertex_tangents(mesh.vertices, mesh.faces, normals, mesh.uv)
            attributes["TANGENT"] = buffers.accessor(tangents, "VEC4", _ARRAY_BUFFER)
    gltf_uv = np.stack([mesh.uv[:, 0], 1.0 - mesh.uv[:, 1]], axis=1).astype(np.float32)  # glTF: v down
    attributes["TEXCOORD_0"] = buffers.accessor(gltf_uv, "VEC2", _ARRAY_BUFFER)
    indices = buffers.accessor(mesh.faces.astype(np.uint32).reshape(-1), "SCALAR", _ELEMENT_ARRAY_BUFFER,
                               bounds=True)
    image_view = buffers.view(encode_image(mesh.texture, image_format, jpeg_quality))
    mime = "image/png" if image_format == "png" else "image/jpeg"
    images, textures = [{"bufferView": image_view, "mimeType": mime}], [{"sampler": 0, "source": 0}]
    material: dict[str, Any] = {"name": "texture", "pbrMetallicRoughness": {
        "baseColorTexture": {"index": 0, "texCoord": 0}, "metallicFactor": 0.0, "roughnessFactor": 1.0}}
    if mesh.normal_map is not None:
        images.append({"bufferView": buffers.view(encode_image(mesh.normal_map, "png")), "mimeType": "image/png"})
        textures.append({"sampler": 0, "source": 1})
        material["normalTexture"] = {"index": 1, "texCoord": 0}
    document = {
        "asset": {"version": "2.0", "generator": generator, "extras": extras},
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0, "name": "model"}],
        "meshes": [{"name": "model", "primitives": [{"attributes": attributes, "indices": indices,
                                                      "material": 0, "mode": 4}]}],
        "materials": [material], "textures": textures,
        "samplers": [{"magFilter": 9729, "minFilter": 9987, "wrapS": 33071, "wrapT": 33071}],
        "images": images,
        "accessors": buffers.accessors, "bufferViews": buffers.views,
        "buffers": [{"byteLength": len(buffers.data)}],
    }
    json_chunk = json.dumps(document, separators=(",", ":")).encode("utf-8")
    json_chunk += b" " * (-len(json_chunk) % 4)
    bin_chunk = bytes(buffers.data) + b"\0" * (-len(buffers.data) % 4)
    total = 12 + 8 + len(json_chunk) + 8 + len(bin_chunk)
    return (struct.pack("<III", _GLB_MAGIC, 2, total) + struct.pack("<II", len(json_chunk), _JSON_CHUNK)
            + json_chunk + struct.pack("<II", len(bin_chunk), _BIN_CHUNK) + bin_chunk)


def write_glb(path: Path, mesh: TexturedMeshData, **kwargs: Any) -> None:
    """Write :func:`glb_bytes` to ``path`` atomically (same keyword arguments)."""
    write_bytes_atomic(Path(path), glb_bytes(mesh, **kwargs))
