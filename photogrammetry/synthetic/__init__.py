"""Synthetic scenes with exact ground truth: procedural textured meshes ray cast on the CPU.

Typical use::

    from photogrammetry.synthetic import random_scene, render_scene, render_sample_scene

    render_scene(random_scene(seed=3), Path("out/scene_003"))
    render_sample_scene("turntable", Path("sample_scenes/turntable"))

The written layout and the readers of the ground truth are in
:mod:`photogrammetry.synthetic.io`.
"""

from photogrammetry.synthetic.dataset import render_scene
from photogrammetry.synthetic.io import (
    SceneLayout,
    SceneMeta,
    focal_px_from_exif,
    load_depth,
    load_mask,
    load_normals,
    read_scene_meta,
)
from photogrammetry.synthetic.rigs import FacadeRig, OrbitRig, RoomRig, TurntableRig
from photogrammetry.synthetic.samples import SAMPLE_SCENES, SampleScene, render_sample_scene
from photogrammetry.synthetic.scenes import (
    CameraSpec,
    SceneKind,
    SceneSpec,
    build_scene,
    random_room_scene,
    random_scene,
)
from photogrammetry.synthetic.shapes import ShapeKind, ShapeSpec

__all__ = [
    "SAMPLE_SCENES",
    "CameraSpec",
    "FacadeRig",
    "OrbitRig",
    "RoomRig",
    "SampleScene",
    "SceneKind",
    "SceneLayout",
    "SceneMeta",
    "SceneSpec",
    "ShapeKind",
    "ShapeSpec",
    "TurntableRig",
    "build_scene",
    "focal_px_from_exif",
    "load_depth",
    "load_mask",
    "load_normals",
    "random_room_scene",
    "random_scene",
    "read_scene_meta",
    "render_sample_scene",
    "render_scene",
]
