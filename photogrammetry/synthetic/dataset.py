"""Render a scene specification to the on-disk layout documented in :mod:`photogrammetry.synthetic.io`."""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
from pathlib import Path

import numpy as np

from photogrammetry.synthetic.geometry import PIXEL_PITCH_MM
from photogrammetry.synthetic.gt_model import sample_surface_points, write_colmap_model
from photogrammetry.synthetic.io import (
    SceneLayout,
    SceneMeta,
    write_depth,
    write_jpeg,
    write_mask,
    write_normals,
    write_ply,
    write_scene_meta,
)
from photogrammetry.synthetic.mesh import Mesh
from photogrammetry.synthetic.render import Renderer
from photogrammetry.synthetic.scenes import GENERATOR_VERSION, Scene, SceneKind, SceneSpec, build_scene

DEPTH_RESOLUTION = 1e-4
"""Target depth step relative to the scene extent; the step used is the next 1-2-5 value at or above it."""

_COVERAGE = {
    SceneKind.TURNTABLE: (
        "object",
        "object and platform, the parts rigid with the object frame; the static table and wall are not "
        "rigid with it (they move relative to the object from view to view), so they are left out of "
        "scene_mesh.ply, depth and normals (depth 0 there) although they appear in the images",
    ),
    SceneKind.ORBIT: ("scene", "every surface: object, ground, clutter and room walls"),
    SceneKind.FACADE: ("scene", "every surface: facade and ground; sky pixels have depth 0"),
    SceneKind.ROOM: ("scene", "every surface: floor, ceiling, walls, posters and furniture"),
}


def choose_depth_scale(max_depth: float, extent: float) -> float:
    """Metres per 16-bit depth unit: the smallest 1-2-5 step that fits ``max_depth`` and resolves ``extent``.

    Args:
        max_depth: Largest depth to store, metres.
        extent: Scene extent (bounding-box diagonal), metres.

    Returns:
        A step from the series ``1, 2, 5 x 10^k`` metres.
    """
    target = max(max_depth / 65535.0, extent * DEPTH_RESOLUTION)
    exponent = math.floor(math.log10(target))
    for mantissa in (1, 2, 5):
        step = float(f"{mantissa}e{exponent}")
        if step >= target:
            return step
    return float(f"1e{exponent + 1}")


def _notes(scene: Scene) -> tuple[str, ...]:
    """Conventions of the written ground truth, in words."""
    notes = [
        "cam_from_world: x_cam = R X + t; camera +z forward, +x right, +y down (COLMAP)",
        "pixel (row, col) of every GT map is the image pixel centred at (col + 0.5, row + 0.5)",
        "depth is along the camera z axis; normals are camera-frame, unit, facing the camera",
        "normals are interpolated vertex normals of scene_mesh.ply (exact on flat faces)",
        f"virtual sensor: {PIXEL_PITCH_MM * 1000:g} um pixels; 35 mm equivalent uses 36 mm = long image side",
        "points3D: surface points back-projected from exact depth, tracks by depth test (error field unset)",
    ]
    if scene.spec.kind is SceneKind.TURNTABLE:
        notes.append(
            "turntable: fixed camera, object and platform turn; GT cameras are given in the object frame, "
            "i.e. the equivalent camera orbiting the static object; the lighting turns with the camera"
        )
    return tuple(notes)


def _extent(mesh: Mesh) -> float:
    """Diagonal of a mesh's bounding box."""
    lo, hi = mesh.bounds
    return float(np.sqrt(np.sum((hi - lo) ** 2)))


def _meta(scene: Scene, depth_scale: float, world: Mesh, obj: Mesh | None) -> SceneMeta:
    """The ``scene.json`` contents of a rendered scene with world-frame mesh ``world`` and object ``obj``."""
    spec, cam = scene.spec, scene.camera
    lo, hi = world.bounds
    obj_lo, obj_hi = obj.bounds if obj is not None else (None, None)
    frame, covers = _COVERAGE[spec.kind]
    spec_dict = dataclasses.asdict(spec)
    spec_dict["rig"]["kind"] = spec.kind.value
    return SceneMeta(
        kind=spec.kind.value,
        seed=spec.seed,
        generator_version=GENERATOR_VERSION,
        image_size=(cam.width, cam.height),
        num_views=len(scene.views),
        views=tuple(v.name for v in scene.views),
        depth_scale=depth_scale,
        scene_extent=_extent(world),
        scene_bbox_min=tuple(lo.tolist()),
        scene_bbox_max=tuple(hi.tolist()),
        object_bbox_min=None if obj_lo is None else tuple(obj_lo.tolist()),
        object_bbox_max=None if obj_hi is None else tuple(obj_hi.tolist()),
        units="metres",
        world_frame=frame,
        depth_covers=covers,
        camera={
            "model": "PINHOLE",
            "width": cam.width,
            "height": cam.height,
            "fx": cam.focal,
            "fy": cam.focal,
            "cx": cam.cx,
            "cy": cam.cy,
            "sensor_width_mm": cam.width * PIXEL_PITCH_MM,
            "focal_length_mm": cam.focal_mm,
            "focal_length_35mm": cam.focal_35mm,
        },
        notes=_notes(scene),
        spec=spec_dict,
    )


def _render_views(scene: Scene, layout: SceneLayout) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Render every view, writing its image, normals and mask; returns exact depths, normals and images."""
    has_object = scene.spec.shape is not None
    for folder in [layout.images, layout.depth_dir, layout.normals_dir] + ([layout.masks_dir] if has_object else []):
        folder.mkdir(parents=True, exist_ok=True)
    renderer = Renderer(scene)
    depths, normals, images = [], [], []
    for index, view in enumerate(scene.views):
        out = renderer.render(index)
        write_jpeg(layout.image(view.name), out.image, scene.camera)
        write_normals(layout.normals(view.name), out.normals)
        if has_object:
            write_mask(layout.mask(view.name), out.mask)
        depths.append(out.depth)
        normals.append(out.normals.astype(np.float32))
        images.append(out.image)
    return depths, normals, images


def _write(scene: Scene, layout: SceneLayout) -> None:
    """Render ``scene`` and write all its files into ``layout``, ``scene.json`` last."""
    depths, normals, images = _render_views(scene, layout)
    world = scene.merged(objects_only=False)
    obj = scene.merged(objects_only=True) if scene.spec.shape is not None else None
    depth_scale = choose_depth_scale(max(float(d.max()) for d in depths), _extent(world))
    for view, depth in zip(scene.views, depths, strict=True):
        write_depth(layout.depth(view.name), depth, depth_scale)
    write_ply(layout.scene_mesh, world)
    if obj is not None:
        write_ply(layout.object_mesh, obj)
    points = sample_surface_points(scene, depths, normals, images, scene.spec.gt_points)
    write_colmap_model(layout.sparse, scene, points)
    write_scene_meta(layout.scene_json, _meta(scene, depth_scale, world, obj))


def render_scene(spec: SceneSpec, out_dir: Path) -> Path:
    """Render a scene and write its images and ground truth to ``out_dir``.

    The scene is written to a temporary sibling folder and moved into place when
    complete. An existing ``out_dir`` is replaced only if it is empty or holds a
    rendered scene (``gt/scene.json``); anything else raises ``FileExistsError``.

    Args:
        spec: What to render.
        out_dir: Scene folder to create or replace.

    Returns:
        ``out_dir``.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not SceneLayout(out_dir).scene_json.exists():
        raise FileExistsError(f"{out_dir} exists and does not hold a rendered scene; not overwriting it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _write(build_scene(spec), SceneLayout(staging))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir
