"""Texturing a mesh from calibrated photos, step by step (see :func:`texture_mesh`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from photogrammetry.errors import ConfigError, InputError
from photogrammetry.io.mesh import MeshData, TexturedMeshData, vertex_normals
from photogrammetry.meshing.views import CameraView
from photogrammetry.texturing.atlas import AtlasMethod, Texels, UVAtlas, compute_atlas, rasterize, ring_texels
from photogrammetry.texturing.bake import BakeInput, BlendOptions, bake
from photogrammetry.texturing.fill import diffuse, pad, vertex_colors
from photogrammetry.texturing.leveling import Levelling, level_photos
from photogrammetry.texturing.normalmap import bake_normal_map
from photogrammetry.texturing.selection import face_adjacency, select_views
from photogrammetry.texturing.visibility import MeshScene, face_quality, view_maps

SIZES = (256, 512, 1024, 2048, 4096, 8192)
"""Atlas sizes :class:`TextureOptions` accepts."""


@dataclass(frozen=True, kw_only=True)
class TextureOptions:
    """Settings of :func:`texture_mesh`."""

    size: int = 4096
    """Side of the square texture atlas in pixels: 2048, 4096 or 8192 (256..1024 for previews)."""
    atlas: AtlasMethod = "charts"
    """UV atlas: ``charts`` (fast, any mesh) or ``open3d`` (UVAtlas: less stretch, slow, manifold only)."""
    padding: int = 2
    """Texels kept free around each chart against colour bleeding (the gutters beyond are filled
    with the charts' smoothly extended colours). Measured on the sample scenes: 4 instead of 2
    costs 0.3-0.6 dB of held-out PSNR where texels are scarce (a 512 px atlas for 640 x 480
    photos, as a 4096 px atlas for 20-megapixel photos is) and nothing at 2048 px."""
    smoothness: float = 0.5
    """Weight of agreement between neighbouring faces in the per-face view selection."""
    level_exposure: bool = True
    """Level exposure and white balance across photos with per-photo gains."""
    vignetting: bool = False
    """With ``level_exposure``, fit each camera's radial brightness fall-off from the surface points
    the photos share and remove it (keeping the brightness the photos show the surface with on
    average): for lenses with visible fall-off. Off by default: on the benchmark's held-out views
    it changed PSNR by facade +0.08 dB (fitted corner fall-off 0.78; the photos have 0.7 before
    their tone curve), orbit -0.02, turntable -0.06 (its light turns with the camera), temple 0.00,
    as each held-out photo keeps its own fall-off."""
    blend: BlendOptions = field(default_factory=BlendOptions)
    """Two-band blending of the texels' colour across photos."""

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ConfigError(f"size must be one of {SIZES}, got {self.size}")
        if not 0 <= self.padding <= 32:
            raise ConfigError(f"padding must be within 0..32, got {self.padding}")
        if self.smoothness < 0:
            raise ConfigError(f"smoothness must not be negative, got {self.smoothness}")


@dataclass(frozen=True, kw_only=True)
class TextureReport:
    """What :func:`texture_mesh` did."""

    views_used: int
    """Views selected for at least one face."""
    unseen_faces: float
    """Fraction of faces that no view sees."""
    gains: np.ndarray
    """(V, 3) exposure gains applied to the photos."""
    corner_falloff: np.ndarray | None
    """(C,) brightness at the image corners (or the largest radius observed) relative to the
    centre, per camera, that was removed (None: vignetting not estimated)."""
    seconds: dict[str, float]
    """Time of each step."""


def _qualities(mesh: MeshData, views: Sequence[CameraView], scene: MeshScene, erode_px: int) -> np.ndarray:
    """(F, V) float32 quality of every face in every view (masks eroded by ``erode_px`` pixels)."""
    quality = np.zeros((len(mesh.faces), len(views)), np.float32)
    for index, view in enumerate(views):
        maps = view_maps(scene, view, view.read_mask(), erode_px=erode_px)
        quality[:, index] = face_quality(view, maps, mesh.vertices, mesh.faces)
    return quality


def _level_points(mesh: MeshData, quality: np.ndarray, count: int = 20_000) -> np.ndarray:
    """(P, 3) centres of faces seen well by at least two views, at most ``count`` of them."""
    shared = np.flatnonzero((quality > 0.5).sum(axis=1) >= 2)
    chosen = np.random.default_rng(0).choice(shared, size=min(count, len(shared)), replace=False)
    return mesh.vertices[mesh.faces[np.sort(chosen)]].mean(axis=1)


def _image(atlas: UVAtlas, texels: Texels, inside: int, mesh: MeshData, colors: np.ndarray, known: np.ndarray,
           padding: int) -> np.ndarray:
    """(S, S, 3) uint8 atlas: photo colours, diffused colours on unseen faces, padded gutters.
    The first ``inside`` texels lie inside the triangles, the others in the ring around the charts."""
    source_faces = atlas.source_vertex[atlas.faces]
    if not known.all():
        values, defined = vertex_colors(source_faces, len(mesh.vertices), texels.face_ids[:inside],
                                        texels.barycentric[:inside], colors[:inside], known[:inside])
        values = diffuse(mesh.faces, values, defined)
        corners = values[source_faces[texels.face_ids[~known]]]
        weights = np.clip(texels.barycentric[~known], 0.0, None)  # ring texels: the nearest point of the face
        weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
        colors = colors.copy()
        colors[~known] = np.einsum("nk,nkc->nc", weights, corners)
    texture = np.zeros((texels.size, texels.size, 3), np.float32)
    valid = np.zeros((texels.size, texels.size), bool)
    texture[texels.rows, texels.cols], valid[texels.rows, texels.cols] = colors, True
    texture = pad(texture, valid, rings=padding)
    return np.clip(np.round(texture * 255.0), 0, 255).astype(np.uint8)


def texture_mesh(mesh: MeshData, views: Sequence[CameraView], options: TextureOptions | None = None, *,
                 workers: int = 1, on_step: Callable[[str], None] | None = None, detail: MeshData | None = None
                 ) -> tuple[TexturedMeshData, TextureReport]:
    """Texture a mesh from undistorted, posed photos.

    Steps: UV atlas (its texels and the ring around each chart); per-face quality in every
    view (visible projected area, depth test against the mesh, masks); per-face view selection
    smoothed over neighbours; exposure gains and vignetting; two-band blending of the texels;
    colours diffused onto unseen faces; padding; with ``detail``, a tangent-space normal map of
    it (:mod:`.normalmap`).

    Args:
        mesh: The mesh; faces wind counter-clockwise seen from outside.
        views: The photos with their cameras (and masks, honoured when present).
        options: Settings (default: :class:`TextureOptions`).
        workers: Threads for the steps that use several (the atlas, the blending).
        on_step: Called with the name of each step after the atlas as it starts (for progress lines).
        detail: A finer mesh of the same surface whose normals are baked into a normal map
            (the textured mesh then always carries vertex normals: the map is relative to them).

    Raises:
        InputError: when there are no views or no face is seen by any of them.
    """
    options = options or TextureOptions()
    if not views:
        raise InputError("texturing needs at least one photo with its camera")
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str, following: str = "") -> None:
        """Record the time since the previous step under ``step``; announce the ``following`` one."""
        nonlocal clock
        seconds[step] = round(time.perf_counter() - clock, 3)
        clock = time.perf_counter()
        if on_step is not None and following:
            on_step(following)

    atlas = compute_atlas(mesh, size=options.size, method=options.atlas, padding=options.padding,
                          workers=workers)
    inside = rasterize(atlas, options.size)
    texels = inside + ring_texels(atlas, inside)
    lap("atlas", "view selection")
    scene = MeshScene(mesh.vertices, mesh.faces)
    erode_px = options.blend.mask_erosion
    quality = _qualities(mesh, views, scene, erode_px)
    if not (quality > 0).any():
        raise InputError("no photo sees the mesh; check that the cameras and the mesh share a frame")
    labels = select_views(quality, face_adjacency(mesh.faces), smoothness=options.smoothness)
    lap("selection", "exposure levelling")
    levelling = level_photos(_level_points(mesh, quality), views, scene, erode_px=erode_px,
                             vignetting=options.vignetting) \
        if options.level_exposure else Levelling(gains=np.ones((len(views), 3)), vignetting=None)
    lap("leveling", "blending")
    target = BakeInput(vertices=atlas.vertices, faces=atlas.faces, face_ids=texels.face_ids,
                       barycentric=texels.barycentric, labels=labels, seen=quality > 0)
    colors, weight = bake(target, views, levelling, scene, options.blend, workers=workers)
    lap("blending", "padding")
    texture = _image(atlas, texels, len(inside.rows), mesh, colors, weight > 0, options.padding)
    lap("padding", "normal map" if detail is not None else "")
    normals = mesh.normals if mesh.normals is not None or detail is None else vertex_normals(mesh.vertices, mesh.faces)
    normals = None if normals is None else normals[atlas.source_vertex]
    normal_map = None
    if detail is not None:
        normal_map = bake_normal_map(atlas, normals, texels, detail, padding=options.padding)
        lap("normal map")
    textured = TexturedMeshData(vertices=atlas.vertices, faces=atlas.faces, uv=atlas.uv, texture=texture,
                                normals=normals, normal_map=normal_map)
    return textured, _report(labels, levelling, seconds)


def _report(labels: np.ndarray, levelling: Levelling, seconds: dict[str, float]) -> TextureReport:
    """What :func:`texture_mesh` did, from its per-face view labels (-1: unseen) and levelling."""
    falloff = None if levelling.vignetting is None else levelling.vignetting.corner_falloff()
    return TextureReport(views_used=len(np.unique(labels[labels >= 0])), unseen_faces=float(np.mean(labels < 0)),
                         gains=levelling.gains, corner_falloff=falloff, seconds=seconds)
