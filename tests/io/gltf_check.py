"""A structural check of binary glTF 2.0 files against the specification's rules.

Covers what the Khronos validator reports as errors for the files we write: the GLB header
and chunks, required properties, index references, accessor sizes, bounds and min/max,
buffer view alignment and targets, index ranges, texture coordinates, image MIME types and
magic bytes, and materials. Returns a list of problems (empty when the file is valid).
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
_REQUIRED = {"accessors": ("componentType", "count", "type"), "bufferViews": ("buffer", "byteLength"),
             "buffers": ("byteLength",), "meshes": ("primitives",), "textures": (), "images": (),
             "samplers": (), "materials": (), "nodes": (), "scenes": ()}


def split_glb(data: bytes) -> tuple[dict[str, Any], bytes, list[str]]:
    """The JSON document, the BIN chunk and the problems of the container."""
    problems = []
    if len(data) < 20:
        return {}, b"", ["file shorter than a GLB header"]
    magic, version, length = struct.unpack_from("<III", data, 0)
    if magic != 0x46546C67 or version != 2:
        problems.append(f"bad magic {magic:#x} or version {version}")
    if length != len(data) or length % 4:
        problems.append(f"header length {length} differs from the file's {len(data)} or is not a multiple of 4")
    json_length, json_type = struct.unpack_from("<II", data, 12)
    if json_type != 0x4E4F534A or json_length % 4:
        problems.append("first chunk is not a JSON chunk padded to 4 bytes")
    raw = data[20:20 + json_length]
    if raw.rstrip(b" ") != raw.rstrip():
        problems.append("JSON chunk padded with something other than spaces")
    document = json.loads(raw.decode("utf-8"))
    binary = b""
    offset = 20 + json_length
    if offset < len(data):
        bin_length, bin_type = struct.unpack_from("<II", data, offset)
        if bin_type != 0x004E4942 or bin_length % 4:
            problems.append("second chunk is not a BIN chunk padded to 4 bytes")
        binary = data[offset + 8: offset + 8 + bin_length]
    return document, binary, problems


def _check_references(doc: dict[str, Any]) -> list[str]:
    """Required properties and every index pointing into an existing array."""
    problems = []
    if doc.get("asset", {}).get("version") != "2.0":
        problems.append("asset.version must be '2.0'")
    for key, required in _REQUIRED.items():
        for i, item in enumerate(doc.get(key, [])):
            problems += [f"{key}[{i}] lacks {r}" for r in required if r not in item]
    size = {key: len(doc.get(key, [])) for key in _REQUIRED}

    def ref(value: Any, key: str, where: str) -> None:
        if value is not None and not (isinstance(value, int) and 0 <= value < size[key]):
            problems.append(f"{where} -> {key}[{value}] does not exist")

    ref(doc.get("scene"), "scenes", "scene")
    for i, scene in enumerate(doc.get("scenes", [])):
        for n in scene.get("nodes", []):
            ref(n, "nodes", f"scenes[{i}]")
    for i, node in enumerate(doc.get("nodes", [])):
        ref(node.get("mesh"), "meshes", f"nodes[{i}]")
    for i, mesh in enumerate(doc.get("meshes", [])):
        for p in mesh["primitives"]:
            for name, a in p.get("attributes", {}).items():
                ref(a, "accessors", f"meshes[{i}].{name}")
            ref(p.get("indices"), "accessors", f"meshes[{i}].indices")
            ref(p.get("material"), "materials", f"meshes[{i}].material")
    for i, accessor in enumerate(doc.get("accessors", [])):
        ref(accessor.get("bufferView"), "bufferViews", f"accessors[{i}]")
    for i, view in enumerate(doc.get("bufferViews", [])):
        ref(view.get("buffer"), "buffers", f"bufferViews[{i}]")
    for i, texture in enumerate(doc.get("textures", [])):
        ref(texture.get("source"), "images", f"textures[{i}]")
        ref(texture.get("sampler"), "samplers", f"textures[{i}]")
    for i, image in enumerate(doc.get("images", [])):
        ref(image.get("bufferView"), "bufferViews", f"images[{i}]")
    for i, material in enumerate(doc.get("materials", [])):
        pbr = material.get("pbrMetallicRoughness", {})
        ref(pbr.get("baseColorTexture", {}).get("index"), "textures", f"materials[{i}]")
        ref(material.get("normalTexture", {}).get("index"), "textures", f"materials[{i}].normalTexture")
    return problems


def accessor_array(doc: dict[str, Any], binary: bytes, index: int) -> np.ndarray:
    """The data of an accessor as an (count, components) array."""
    accessor = doc["accessors"][index]
    view = doc["bufferViews"][accessor["bufferView"]]
    dtype = np.dtype(_COMPONENTS[accessor["componentType"]]).newbyteorder("<")
    width = _SIZES[accessor["type"]]
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    flat = np.frombuffer(binary, dtype=dtype, count=accessor["count"] * width, offset=start)
    return flat.reshape(accessor["count"], width)


def _check_views(doc: dict[str, Any], binary: bytes) -> list[str]:
    """Buffer length, view bounds and alignment, accessor bounds, alignment and min/max."""
    problems = []
    buffers = doc.get("buffers", [])
    length = buffers[0]["byteLength"] if buffers else -1
    if len(buffers) != 1 or "uri" in buffers[0] or not length <= len(binary) < length + 4:
        problems.append("the GLB needs exactly one buffer without uri, as long as the BIN chunk (up to padding)")
    for i, view in enumerate(doc.get("bufferViews", [])):
        if view.get("byteOffset", 0) + view["byteLength"] > buffers[0]["byteLength"]:
            problems.append(f"bufferViews[{i}] runs past the buffer")
    for i, accessor in enumerate(doc.get("accessors", [])):
        view = doc["bufferViews"][accessor["bufferView"]]
        item = np.dtype(_COMPONENTS[accessor["componentType"]]).itemsize
        start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
        if start % item or (view.get("target") == 34962 and start % 4):
            problems.append(f"accessors[{i}] is not aligned to its component size")
        if accessor.get("byteOffset", 0) + accessor["count"] * item * _SIZES[accessor["type"]] > view["byteLength"]:
            problems.append(f"accessors[{i}] runs past its buffer view")
            continue
        data = accessor_array(doc, binary, i)
        for bound, reduce in (("min", np.min), ("max", np.max)):
            if bound in accessor and not np.array_equal(np.asarray(accessor[bound], dtype=data.dtype), reduce(data, 0)):
                problems.append(f"accessors[{i}].{bound} differs from the data's")
        if not np.all(np.isfinite(data)):
            problems.append(f"accessors[{i}] holds non-finite values")
    return problems


def _check_meshes(doc: dict[str, Any], binary: bytes) -> list[str]:
    """Primitives: POSITION with min/max, index range and type, texture coordinates."""
    problems = []
    for i, mesh in enumerate(doc.get("meshes", [])):
        for p in mesh["primitives"]:
            position = doc["accessors"][p["attributes"]["POSITION"]]
            if "min" not in position or "max" not in position or position["type"] != "VEC3":
                problems.append(f"meshes[{i}]: POSITION must be VEC3 with min and max")
            counts = {doc["accessors"][a]["count"] for a in p["attributes"].values()}
            if len(counts) != 1:
                problems.append(f"meshes[{i}]: attributes differ in count {sorted(counts)}")
            if "indices" in p:
                indices = doc["accessors"][p["indices"]]
                view = doc["bufferViews"][indices["bufferView"]]
                if indices["type"] != "SCALAR" or indices["componentType"] not in (5121, 5123, 5125):
                    problems.append(f"meshes[{i}]: indices must be unsigned SCALAR")
                if view.get("target", 34963) != 34963 or "byteStride" in view:
                    problems.append(f"meshes[{i}]: the indices' view must target ELEMENT_ARRAY_BUFFER, unstrided")
                data = accessor_array(doc, binary, p["indices"])
                if indices["count"] % 3 or data.max() >= position["count"]:
                    problems.append(f"meshes[{i}]: indices out of range or not whole triangles")
            problems += _check_tangents(doc, binary, p, f"meshes[{i}]")
            if "TEXCOORD_0" in p["attributes"]:
                uv = accessor_array(doc, binary, p["attributes"]["TEXCOORD_0"])
                if doc["accessors"][p["attributes"]["TEXCOORD_0"]]["type"] != "VEC2":
                    problems.append(f"meshes[{i}]: TEXCOORD_0 must be VEC2")
                if uv.size and (uv.min() < -1e-6 or uv.max() > 1 + 1e-6):
                    problems.append(f"meshes[{i}]: TEXCOORD_0 outside [0, 1] (allowed, but not what we write)")
    return problems


def _check_tangents(doc: dict[str, Any], binary: bytes, primitive: dict[str, Any], where: str) -> list[str]:
    """TANGENT: float VEC4, unit XYZ, W +1 or -1, with NORMAL (else ignored); a normalTexture wants both."""
    attributes = primitive["attributes"]
    material = doc.get("materials", [{}])[primitive.get("material", 0)] if "material" in primitive else {}
    if "TANGENT" not in attributes:
        return []
    problems = []
    accessor = doc["accessors"][attributes["TANGENT"]]
    if accessor["type"] != "VEC4" or accessor["componentType"] != 5126:
        return [f"{where}: TANGENT must be a float VEC4"]
    tangent = accessor_array(doc, binary, attributes["TANGENT"]).astype(np.float64)
    if np.abs(np.linalg.norm(tangent[:, :3], axis=1) - 1).max(initial=0) > 1e-3:
        problems.append(f"{where}: TANGENT XYZ not unit length")
    if not np.isin(tangent[:, 3], (-1.0, 1.0)).all():
        problems.append(f"{where}: TANGENT W must be 1 or -1")
    if "NORMAL" not in attributes:
        problems.append(f"{where}: TANGENT without NORMAL is ignored by viewers")
    if "normalTexture" in material and "TEXCOORD_0" not in attributes:
        problems.append(f"{where}: a normalTexture needs TEXCOORD_0")
    return problems


def _check_images(doc: dict[str, Any], binary: bytes) -> list[str]:
    """Embedded images: a MIME type of glTF's two, matching the bytes; samplers' enums."""
    problems = []
    for i, image in enumerate(doc.get("images", [])):
        mime = image.get("mimeType")
        if "bufferView" in image and mime not in _MAGIC:
            problems.append(f"images[{i}]: mimeType {mime!r} must be image/png or image/jpeg")
            continue
        view = doc["bufferViews"][image["bufferView"]]
        start = view.get("byteOffset", 0)
        if not binary[start:start + view["byteLength"]].startswith(_MAGIC[mime]):
            problems.append(f"images[{i}]: bytes are not {mime}")
        if "target" in view:
            problems.append(f"images[{i}]: an image's buffer view must have no target")
    for i, sampler in enumerate(doc.get("samplers", [])):
        wraps = (sampler.get("wrapS", 10497), sampler.get("wrapT", 10497))
        if sampler.get("magFilter", 9729) not in (9728, 9729) or not set(wraps) <= {33071, 33648, 10497}:
            problems.append(f"samplers[{i}]: invalid filter or wrap enum")
    for i, material in enumerate(doc.get("materials", [])):
        factor = material.get("pbrMetallicRoughness", {}).get("baseColorFactor", [1, 1, 1, 1])
        if len(factor) != 4 or min(factor) < 0 or max(factor) > 1:
            problems.append(f"materials[{i}]: baseColorFactor must be 4 numbers in [0, 1]")
    return problems


def check_glb(data: bytes) -> list[str]:
    """Every problem found in a GLB file's bytes (empty list: valid)."""
    document, binary, problems = split_glb(data)
    if problems:
        return problems
    problems = _check_references(document)
    if problems:
        return problems
    return _check_views(document, binary) + _check_meshes(document, binary) + _check_images(document, binary)
