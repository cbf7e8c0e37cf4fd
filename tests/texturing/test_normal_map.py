"""Normal maps baked from a fine mesh onto a decimated one: tangent frames, files, and shading."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from photogrammetry.io.gltf import glb_bytes
from photogrammetry.io.mesh import TexturedMeshData
from photogrammetry.io.obj import read_obj, write_obj
from photogrammetry.io.tangents import decode, encode, texel_frames, vertex_tangents
from photogrammetry.texturing.atlas import compute_atlas, rasterize, ring_texels
from photogrammetry.texturing.normalmap import bake_normal_map
from tests.io.gltf_check import check_glb
from tests.texturing.shading import bumpy_sphere, decimated, from_glb, lambert, pixel_normals

EYES = ((4.0, 0.0, 1.0), (0.0, -4.0, 2.0), (-3.0, 3.0, -1.0))
LIGHTS = ((1.0, 0.5, 0.8), (-0.6, 1.0, 0.3), (0.2, -1.0, 0.9))


@pytest.fixture(scope="module")
def baked() -> tuple[TexturedMeshData, TexturedMeshData]:
    """The raw bumpy sphere (as a textured mesh) and its 600-triangle level with a 256 px normal map."""
    raw = bumpy_sphere()
    low = decimated(raw, 600)
    atlas = compute_atlas(low, size=256, padding=2)
    inside = rasterize(atlas, 256)
    normals = low.normals[atlas.source_vertex]
    normal_map = bake_normal_map(atlas, normals, inside + ring_texels(atlas, inside), raw, padding=2)
    grey = np.full((256, 256, 3), 128, np.uint8)
    return (TexturedMeshData(vertices=raw.vertices, faces=raw.faces, uv=np.zeros((len(raw.vertices), 2)),
                             texture=grey, normals=raw.normals),
            TexturedMeshData(vertices=atlas.vertices, faces=atlas.faces, uv=atlas.uv, texture=grey, normals=normals,
                             normal_map=normal_map))


def _shading_error(raw: bytes, low: bytes, *, normal_map: bool) -> float:
    """Mean |Lambert(low) - Lambert(raw)| over the pixels both cover, three views x three lights."""
    errors = []
    for eye in EYES:
        reference = pixel_normals(from_glb(raw), np.array(eye))
        normals = pixel_normals(from_glb(low, normal_map=normal_map), np.array(eye))
        both = ~np.isnan(reference[..., 0]) & ~np.isnan(normals[..., 0])
        errors += [np.abs(lambert(normals[both], light) - lambert(reference[both], light)).mean() for light in LIGHTS]
    return float(np.mean(errors))


def test_the_normal_map_shades_the_decimated_level_like_the_raw_mesh(baked) -> None:
    raw, low = (glb_bytes(m, extras={}, generator="test") for m in baked)
    assert check_glb(low) == []
    without, with_map = (_shading_error(raw, low, normal_map=flag) for flag in (False, True))
    assert with_map < 0.5 * without  # measured: 0.0045 against 0.0176
    flipped = baked[1].normal_map.copy()
    flipped[..., 1] = 255 - flipped[..., 1]  # green down: the wrong convention for glTF
    wrong = glb_bytes(dataclasses.replace(baked[1], normal_map=flipped), extras={}, generator="test")
    assert _shading_error(raw, wrong, normal_map=True) > without


def test_the_glb_carries_the_normal_texture_and_tangents(baked) -> None:
    from tests.io.gltf_check import split_glb

    doc, _, _ = split_glb(glb_bytes(baked[1], extras={}, generator="test"))
    assert doc["materials"][0]["normalTexture"] == {"index": 1, "texCoord": 0}
    assert set(doc["meshes"][0]["primitives"][0]["attributes"]) == {"POSITION", "NORMAL", "TEXCOORD_0", "TANGENT"}
    assert [image["mimeType"] for image in doc["images"]] == ["image/png", "image/png"]
    plain = split_glb(glb_bytes(baked[0], extras={}, generator="test"))[0]
    assert "normalTexture" not in plain["materials"][0] and "TANGENT" not in plain["meshes"][0]["primitives"][0][
        "attributes"]


def test_the_obj_names_its_normal_map_and_reads_it_back(baked, tmp_path) -> None:
    write_obj(tmp_path, baked[1], name="model")
    mtl = (tmp_path / "model.mtl").read_text().splitlines()
    assert "norm model_normal.png" in mtl and "map_Bump model_normal.png" in mtl
    back = read_obj(tmp_path / "model.obj")
    np.testing.assert_array_equal(back.normal_map, baked[1].normal_map)
    write_obj(tmp_path / "plain", baked[0], name="model")
    assert read_obj(tmp_path / "plain" / "model.obj").normal_map is None


def test_tangents_follow_u_and_v_with_their_handedness() -> None:
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], float)
    faces = np.array([[0, 1, 2], [1, 3, 2]])
    normals = np.tile([0.0, 0.0, 1.0], (4, 1))
    tangents = vertex_tangents(vertices, faces, normals, vertices[:, :2])
    np.testing.assert_allclose(tangents, np.tile([1.0, 0, 0, 1], (4, 1)), atol=1e-6)
    mirrored = vertex_tangents(vertices, faces, normals, np.column_stack([vertices[:, 0], -vertices[:, 1]]))
    np.testing.assert_allclose(mirrored[:, 3], -1.0)  # v runs against cross(N, T)


def test_encode_inverts_decode_in_skewed_frames() -> None:
    rng = np.random.default_rng(3)
    normals = rng.normal(size=(50, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    tangents = np.column_stack([np.cross(normals, rng.normal(size=(50, 3))), np.sign(rng.normal(size=50))])
    tangents[:, :3] /= np.linalg.norm(tangents[:, :3], axis=1, keepdims=True)
    corners = rng.integers(0, 50, size=(200, 3))
    weights = rng.dirichlet(np.ones(3), size=200)
    frames = texel_frames(corners, weights, normals, tangents)
    wanted = frames[:, :, 2] + 0.3 * frames[:, :, 0] - 0.2 * frames[:, :, 1]
    wanted /= np.linalg.norm(wanted, axis=1, keepdims=True)
    np.testing.assert_allclose(decode(encode(wanted, frames), frames), wanted, atol=1e-9)
