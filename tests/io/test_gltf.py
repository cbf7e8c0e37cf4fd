"""GLB writer: valid glTF 2.0 (structural check), loads in trimesh, open3d and pygltflib, right colours."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from photogrammetry.evaluation.texture_render import load_textured_mesh
from photogrammetry.io.gltf import glb_bytes, write_glb
from photogrammetry.io.mesh import TexturedMeshData

from .gltf_check import check_glb, split_glb

EXTRAS = {"units": "sfm", "triangles": 2}


@pytest.fixture(scope="module")
def glb(quad: TexturedMeshData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("glb") / "model.glb"
    write_glb(path, quad, extras=EXTRAS, generator="photogrammetry test")
    return path


@pytest.mark.parametrize("image_format", ["png", "jpeg"])
def test_structure_is_valid(quad: TexturedMeshData, image_format: str) -> None:
    data = glb_bytes(quad, extras=EXTRAS, generator="test", image_format=image_format)
    assert check_glb(data) == []
    document, _, _ = split_glb(data)
    assert document["images"][0]["mimeType"] == f"image/{image_format}"


def test_the_checker_catches_broken_files(quad: TexturedMeshData) -> None:
    data = bytearray(glb_bytes(quad, extras=EXTRAS, generator="test"))
    assert check_glb(bytes(data[:-4])) != []  # truncated
    document, binary, _ = split_glb(bytes(data))
    document["accessors"][0]["max"] = [2.0, 2.0, 2.0]
    document["images"][0]["mimeType"] = "image/gif"
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    header = np.array([0x46546C67, 2, 12 + 8 + len(text) + 8 + len(binary)], "<u4").tobytes()
    broken = header + np.array([len(text), 0x4E4F534A], "<u4").tobytes() + text \
        + np.array([len(binary), 0x004E4942], "<u4").tobytes() + binary
    problems = check_glb(broken)
    assert any("max" in p for p in problems) and any("mimeType" in p for p in problems)


def test_metadata_and_material(glb: Path) -> None:
    document, _, _ = split_glb(glb.read_bytes())
    assert document["asset"]["extras"] == EXTRAS
    assert document["asset"]["generator"] == "photogrammetry test"
    pbr = document["materials"][0]["pbrMetallicRoughness"]
    assert "baseColorFactor" not in pbr  # no dimming: the default factor is 1
    assert pbr["baseColorTexture"]["index"] == 0 and pbr["metallicFactor"] == 0.0


def test_loads_in_pygltflib(glb: Path) -> None:
    import pygltflib

    gltf = pygltflib.GLTF2().load(str(glb))
    assert gltf.asset.version == "2.0"
    assert len(gltf.meshes[0].primitives) == 1
    assert gltf.binary_blob() is not None


def test_loads_in_trimesh_with_its_texture(glb: Path, quad: TexturedMeshData) -> None:
    import trimesh

    mesh = trimesh.load(str(glb), force="mesh", process=False)
    assert len(mesh.faces) == 2
    np.testing.assert_allclose(np.sort(mesh.vertices, axis=0), np.sort(quad.vertices, axis=0), atol=1e-6)
    assert isinstance(mesh.visual, trimesh.visual.TextureVisuals)
    assert mesh.visual.material.baseColorTexture.size == (64, 64)


def test_loads_in_open3d(glb: Path) -> None:
    import open3d as o3d

    mesh = o3d.io.read_triangle_mesh(str(glb), enable_post_processing=False)
    assert len(mesh.triangles) == 2 and mesh.has_triangle_uvs()
    model = o3d.io.read_triangle_model(str(glb))
    assert len(model.meshes) == 1 and len(model.materials) >= 1


@pytest.mark.parametrize(("uv", "colour"), [((0.25, 0.75), (1, 0, 0)), ((0.75, 0.75), (0, 1, 0)),
                                             ((0.25, 0.25), (0, 0, 1)), ((0.75, 0.25), (1, 1, 1))])
def test_uv_orientation_survives_the_round_trip(glb: Path, uv: tuple[float, float], colour: tuple) -> None:
    """The point at (x, y) = uv shows the texture's quadrant at OpenGL (u, v) = uv."""
    part = load_textured_mesh(glb).parts[0]
    face = 0 if uv[0] > uv[1] else 1
    corners = part.vertices[part.faces[face]]
    # barycentric coordinates of the point in that face
    matrix = np.stack([corners[1, :2] - corners[0, :2], corners[2, :2] - corners[0, :2]], axis=1)
    bary = np.linalg.solve(matrix, np.asarray(uv) - corners[0, :2])
    shaded = part.shade(np.array([face]), bary[None])
    np.testing.assert_allclose(shaded[0], colour, atol=0.02)


_VALIDATOR_DIR = os.environ.get("GLTF_VALIDATOR_DIR", "")
_VALIDATE_JS = """
const validator = require('gltf-validator');
const bytes = new Uint8Array(require('fs').readFileSync(process.argv[1]));
validator.validateBytes(bytes).then((r) => console.log(JSON.stringify(r.issues)));
"""


@pytest.mark.skipif(not (shutil.which("node") and (Path(_VALIDATOR_DIR) / "node_modules" / "gltf-validator").is_dir()),
                    reason="set GLTF_VALIDATOR_DIR to a folder with `npm install gltf-validator` done in it")
@pytest.mark.parametrize("image_format", ["png", "jpeg"])
def test_khronos_validator_finds_no_issue(quad: TexturedMeshData, image_format: str, tmp_path: Path) -> None:
    path = tmp_path / "model.glb"
    write_glb(path, quad, extras={"units": "sfm"}, generator="test", image_format=image_format)
    run = subprocess.run(["node", "-e", _VALIDATE_JS, str(path)], cwd=_VALIDATOR_DIR, capture_output=True,
                         text=True, timeout=60, check=True)
    issues = json.loads(run.stdout)
    assert (issues["numErrors"], issues["numWarnings"]) == (0, 0), issues["messages"]
