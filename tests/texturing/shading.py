"""Lambert shading of meshes read back from GLB files, normal maps decoded as glTF viewers do.

A small ray caster (open3d's ``RaycastingScene``): each pixel's normal is the hit triangle's
interpolated vertex normal or, with a ``normalTexture``, ``normalize(mat3(T, B, N) * (2 texel - 1))``
where ``T``, ``B = cross(N, T) * w`` and ``N`` are interpolated from the ``TANGENT`` and ``NORMAL``
attributes (the glTF 2.0 specification's convention, its sample viewer's shader) and the texel is
sampled bilinearly at ``TEXCOORD_0`` (glTF: ``v`` down).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from photogrammetry.evaluation.texture_render import sample_bilinear
from photogrammetry.io.mesh import MeshData
from tests.io.gltf_check import accessor_array, split_glb


@dataclass(frozen=True, kw_only=True, eq=False)
class ShadedMesh:
    """What shading needs of a mesh."""

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    tangents: np.ndarray | None = None
    uv_gltf: np.ndarray | None = None
    normal_map: np.ndarray | None = None
    """(H, W, 3) float in [0, 1], row 0 at the top."""


def bumpy_sphere(resolution: int = 60, bumps: float = 0.06, frequency: float = 6.0) -> MeshData:
    """A unit sphere with smooth radial bumps (``4 * resolution**2``-ish faces) and its vertex normals."""
    import open3d as o3d

    legacy = o3d.geometry.TriangleMesh.create_sphere(radius=1.0, resolution=resolution)
    p = np.asarray(legacy.vertices)
    radius = 1.0 + bumps * np.sin(frequency * p[:, 0]) * np.sin(frequency * p[:, 1]) * np.sin(frequency * p[:, 2])
    legacy.vertices = o3d.utility.Vector3dVector(p * radius[:, None])
    legacy.compute_vertex_normals()
    return MeshData(vertices=np.asarray(legacy.vertices), faces=np.asarray(legacy.triangles),
                    normals=np.asarray(legacy.vertex_normals))


def decimated(mesh: MeshData, triangles: int) -> MeshData:
    """``mesh`` reduced by quadric decimation, with fresh vertex normals."""
    import open3d as o3d

    legacy = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(mesh.vertices),
                                       o3d.utility.Vector3iVector(mesh.faces))
    low = legacy.simplify_quadric_decimation(target_number_of_triangles=triangles)
    low.compute_vertex_normals()
    return MeshData(vertices=np.asarray(low.vertices), faces=np.asarray(low.triangles),
                    normals=np.asarray(low.vertex_normals))


def from_glb(data: bytes, *, normal_map: bool = True) -> ShadedMesh:
    """The mesh of a GLB file we wrote; ``normal_map=False`` ignores its normal texture."""
    doc, binary, _ = split_glb(data)
    primitive = doc["meshes"][0]["primitives"][0]
    attributes = primitive["attributes"]
    vertices = accessor_array(doc, binary, attributes["POSITION"]).astype(np.float64)
    faces = accessor_array(doc, binary, primitive["indices"]).reshape(-1, 3).astype(np.int64)
    normals = accessor_array(doc, binary, attributes["NORMAL"]).astype(np.float64)
    material = doc["materials"][primitive["material"]]
    if not normal_map or "normalTexture" not in material:
        return ShadedMesh(vertices=vertices, faces=faces, normals=normals)
    image = doc["images"][doc["textures"][material["normalTexture"]["index"]]["source"]]
    view = doc["bufferViews"][image["bufferView"]]
    encoded = np.frombuffer(binary[view.get("byteOffset", 0):view.get("byteOffset", 0) + view["byteLength"]], np.uint8)
    texels = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0
    return ShadedMesh(vertices=vertices, faces=faces, normals=normals,
                      tangents=accessor_array(doc, binary, attributes["TANGENT"]).astype(np.float64),
                      uv_gltf=accessor_array(doc, binary, attributes["TEXCOORD_0"]).astype(np.float64),
                      normal_map=texels)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def pixel_normals(mesh: ShadedMesh, eye: np.ndarray, size: int = 128) -> np.ndarray:
    """(size, size, 3) shading normals seen from ``eye`` looking at the origin (NaN on misses)."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(mesh.vertices.astype(np.float32)),
                        o3d.core.Tensor(mesh.faces.astype(np.uint32)))
    rays = scene.create_rays_pinhole(fov_deg=40.0, center=[0, 0, 0], eye=list(eye), up=[0, 0, 1],
                                     width_px=size, height_px=size)
    hits = scene.cast_rays(rays)
    ids = hits["primitive_ids"].numpy().reshape(-1).astype(np.int64)
    hit = ids != np.int64(o3d.t.geometry.RaycastingScene.INVALID_ID)
    uv = hits["primitive_uvs"].numpy().reshape(-1, 2)[hit].astype(np.float64)
    w = np.column_stack([1.0 - uv.sum(axis=1), uv])
    corners = mesh.faces[ids[hit]]

    def lerp(values: np.ndarray) -> np.ndarray:
        return np.einsum("mk,mkd->md", w, values[corners])

    n = _unit(lerp(mesh.normals))
    if mesh.normal_map is not None:
        t = _unit(lerp(mesh.tangents[:, :3]))
        b = _unit(lerp(np.cross(mesh.normals, mesh.tangents[:, :3]) * mesh.tangents[:, 3:4]))
        tex_uv = lerp(mesh.uv_gltf)
        texel = sample_bilinear(mesh.normal_map, np.column_stack([tex_uv[:, 0], 1.0 - tex_uv[:, 1]]))
        local = texel.astype(np.float64) * 2.0 - 1.0
        n = _unit(local[:, 0:1] * t + local[:, 1:2] * b + local[:, 2:3] * n)
    out = np.full((size * size, 3), np.nan)
    out[hit] = n
    return out.reshape(size, size, 3)


def lambert(normals: np.ndarray, light: np.ndarray) -> np.ndarray:
    """max(0, n . l) per pixel (NaN on misses)."""
    return np.maximum(normals @ _unit(np.asarray(light, np.float64)), 0.0)
