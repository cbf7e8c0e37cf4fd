"""Scene specifications, their assembly into renderable scenes, and random scene generation.

A :class:`SceneSpec` is a small frozen value that fully determines a rendered scene
(geometry, textures, cameras, sensor noise): the same spec gives the same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from photogrammetry.synthetic.geometry import FILM_WIDTH_MM, PinholeCamera
from photogrammetry.synthetic.layouts import (
    Part,
    PartFrame,
    facade_parts,
    light_direction,
    orbit_parts,
    turntable_parts,
)
from photogrammetry.synthetic.mesh import Mesh, merge_meshes
from photogrammetry.synthetic.rigs import (
    FacadeRig,
    OrbitRig,
    Rig,
    RoomRig,
    TurntableRig,
    View,
    facade_views,
    orbit_views,
    turntable_views,
)
from photogrammetry.synthetic.rooms import PATHS, room_parts, room_views
from photogrammetry.synthetic.shapes import ShapeKind, ShapeSpec

GENERATOR_VERSION = "1"
"""Bumped whenever a change alters rendered output for an unchanged spec."""


class SceneKind(StrEnum):
    """The kinds of synthetic scene, one per rig."""

    TURNTABLE = "turntable"
    ORBIT = "orbit"
    FACADE = "facade"
    ROOM = "room"


@dataclass(frozen=True, kw_only=True)
class CameraSpec:
    """Image size and intrinsics of the virtual camera."""

    width: int = 640
    """Image width, pixels."""
    height: int = 480
    """Image height, pixels."""
    focal_35mm: float = 32.0
    """35 mm equivalent focal length (long side = 36 mm); an integer keeps EXIF exact."""
    principal_offset: tuple[float, float] = (0.0, 0.0)
    """Principal point offset from the image centre, pixels (x, y)."""

    def pinhole(self) -> PinholeCamera:
        """The intrinsics in pixels (principal point in COLMAP's pixel-centre convention)."""
        return PinholeCamera(
            width=self.width,
            height=self.height,
            focal=self.focal_35mm * max(self.width, self.height) / FILM_WIDTH_MM,
            cx=self.width / 2.0 + self.principal_offset[0],
            cy=self.height / 2.0 + self.principal_offset[1],
        )


@dataclass(frozen=True, kw_only=True)
class ShadingSpec:
    """Lighting, anti-aliasing and sensor model of the renderer."""

    supersample: int = 1
    """Colour samples per pixel along each axis (ground truth uses the single ray through the pixel centre)."""
    lens_blur: float = 0.2
    """Weight ``a`` of the separable optical blur kernel ``[a, 1 - 2a, a]`` (0 disables it; at most 0.5)."""
    ambient: float = 0.45
    """Ambient light level (fraction of full scale for a white surface)."""
    diffuse: float = 0.65
    """Directional light level for a white surface facing the light."""
    tone_shoulder: float = 0.6
    """Tone curve ``x (1 + k) / (x + k)`` lifting dark tones without clipping (0 disables it)."""
    vignetting: float = 0.3
    """Relative brightness loss in the image corners (quadratic fall-off from the principal point)."""
    read_noise: float = 0.006
    """Standard deviation of the signal-independent sensor noise, fraction of full scale."""
    shot_noise: float = 0.015
    """Standard deviation of the signal-dependent noise at full scale (grows with the square root of the signal)."""
    sky: tuple[float, float, float] = (0.72, 0.8, 0.9)
    """Colour of rays that hit nothing (RGB in ``[0, 1]``)."""

    def __post_init__(self) -> None:
        """Reject settings the renderer cannot honour."""
        if self.supersample < 1 or not 0.0 <= self.lens_blur <= 0.5:
            raise ValueError(f"need supersample >= 1 and 0 <= lens_blur <= 0.5, got {self}")


@dataclass(frozen=True, kw_only=True)
class SceneSpec:
    """Everything that determines a rendered synthetic scene."""

    seed: int
    """Seed of the layout, textures, camera jitter and sensor noise."""
    rig: Rig
    """Camera rig; its type decides the scene kind."""
    shape: ShapeSpec | None = None
    """The object (turntable and orbit scenes); ``None`` for a facade or a room."""
    camera: CameraSpec = field(default_factory=CameraSpec)
    """Image size and intrinsics."""
    shading: ShadingSpec = field(default_factory=ShadingSpec)
    """Lighting, anti-aliasing and sensor model."""
    gt_points: int = 300
    """Number of ground-truth surface points (with tracks) written to ``points3D.txt``."""

    def __post_init__(self) -> None:
        """Check that object scenes have an object and facades and rooms have none."""
        if (self.shape is None) != (self.kind in (SceneKind.FACADE, SceneKind.ROOM)):
            raise ValueError(f"a {self.kind} scene {'needs no' if self.shape is None else 'needs an'} object shape")

    @property
    def kind(self) -> SceneKind:
        """The scene kind, given by the rig."""
        return SceneKind(self.rig.kind)


@dataclass(frozen=True, eq=False)
class Scene:
    """A scene ready to render."""

    spec: SceneSpec
    """The spec it was built from."""
    camera: PinholeCamera
    """Intrinsics shared by all views."""
    parts: tuple[Part, ...]
    """Textured meshes."""
    views: tuple[View, ...]
    """Camera placements."""
    light: np.ndarray
    """Unit direction towards the directional light in the lab frame, shape ``(3,)``."""

    def merged(self, *, objects_only: bool) -> Mesh:
        """World-frame parts merged into one mesh (only the object's parts if ``objects_only``)."""
        return merge_meshes(
            [p.mesh for p in self.parts if p.frame is PartFrame.WORLD and (p.is_object or not objects_only)]
        )


def build_scene(spec: SceneSpec) -> Scene:
    """Assemble geometry, textures and cameras of a scene from its spec.

    Args:
        spec: The scene specification.

    Returns:
        The renderable scene.
    """
    rng = np.random.default_rng([spec.seed, 505])
    camera = spec.camera.pinhole()
    rig = spec.rig
    if isinstance(rig, TurntableRig):
        parts = turntable_parts(spec.shape, rig, camera.focal, rng)
        lo, hi = parts[0].mesh.bounds
        views = turntable_views(rig, (lo + hi) / 2.0)
    elif isinstance(rig, OrbitRig):
        parts = orbit_parts(spec.shape, rig, camera.focal, rng)
        lo, hi = parts[0].mesh.bounds
        views = orbit_views(rig, (lo + hi) / 2.0, rng)
    elif isinstance(rig, RoomRig):
        views = room_views(rig, rng)
        parts = room_parts(rig, views, camera.focal, rng)
    else:
        parts = facade_parts(rig, camera.focal, rng)
        views = facade_views(rig, rng)
    return Scene(spec=spec, camera=camera, parts=tuple(parts), views=tuple(views), light=light_direction(spec.kind))


def random_scene(seed: int, *, width: int = 640, height: int = 480) -> SceneSpec:
    """Draw a random scene: kind, object, rig and camera all from ``seed``.

    Meant for making many varied scenes (MVS training data, stress tests); every
    draw keeps the baselines moderate enough for feature matching.

    Args:
        seed: Seed of every random choice (and of the scene itself).
        width: Image width, pixels.
        height: Image height, pixels.

    Returns:
        The scene specification.
    """
    rng = np.random.default_rng([seed, 606])
    kinds = (SceneKind.TURNTABLE, SceneKind.ORBIT, SceneKind.FACADE)  # rooms: random_room_scene
    kind = kinds[int(rng.integers(len(kinds)))]
    camera = CameraSpec(width=width, height=height, focal_35mm=float(rng.integers(26, 42)))
    if kind is SceneKind.FACADE:
        rig = FacadeRig(
            num_views=int(rng.integers(8, 16)),
            distance=rng.uniform(4.0, 7.0),
            span=rng.uniform(3.0, 6.0),
            floors=int(rng.integers(2, 5)),
            bays=int(rng.integers(4, 8)),
        )
        return SceneSpec(seed=seed, rig=rig, camera=camera)
    height_m = rng.uniform(0.2, 0.5)
    shape = ShapeSpec(
        kind=list(ShapeKind)[int(rng.integers(len(ShapeKind)))], seed=int(rng.integers(2**31)), height=height_m
    )
    distance = height_m * rng.uniform(2.2, 3.0) * 32.0 / camera.focal_35mm
    if kind is SceneKind.TURNTABLE:
        rings = int(rng.integers(1, 4))
        elevations = tuple(float(e) for e in np.round(np.sort(rng.uniform(10.0, 50.0, rings)), 1))
        rig = TurntableRig(views_per_ring=int(rng.integers(18, 37)), ring_elevations_deg=elevations, distance=distance)
    else:
        rig = OrbitRig(
            num_views=int(rng.integers(16, 33)),
            radius=distance * math.cos(math.radians(20.0)),
            height=height_m * 0.5 + distance * math.sin(math.radians(20.0)),
            num_clutter=int(rng.integers(6, 16)),
        )
    return SceneSpec(seed=seed, rig=rig, shape=shape, camera=camera)


def random_room_scene(seed: int, *, width: int = 640, height: int = 480) -> SceneSpec:
    """Draw a random furnished room and a hand-held camera path in it (walk, pan or orbit), all from ``seed``.

    Kept apart from :func:`random_scene`, whose draws stay as they were: MVS training data mixes both
    (``scripts/train_mvs.py render --rooms``).

    Args:
        seed: Seed of every random choice (and of the scene itself).
        width: Image width, pixels.
        height: Image height, pixels.

    Returns:
        The scene specification.
    """
    rng = np.random.default_rng([seed, 607])
    path = PATHS[int(rng.choice(3, p=[0.5, 0.2, 0.3]))]
    step = {"walk": rng.uniform(0.08, 0.35), "pan": rng.uniform(0.01, 0.06), "orbit": rng.uniform(0.1, 0.3)}[path]
    rig = RoomRig(
        num_views=int(rng.integers(8, 17)),
        size=(float(rng.uniform(3.5, 8.0)), float(rng.uniform(3.0, 7.0)), float(rng.uniform(2.4, 3.2))),
        path=path,
        step=float(step),
        turn_deg=float(rng.uniform(0.0, 8.0) if path != "orbit" else 0.0),
        height=float(rng.uniform(1.2, 1.8)),
        pitch_deg=float(rng.uniform(-25.0, 5.0)),
        num_furniture=int(rng.integers(4, 13)),
        weak_texture=float(rng.uniform(0.2, 0.7)),
    )
    camera = CameraSpec(width=width, height=height, focal_35mm=float(rng.integers(22, 35)))
    return SceneSpec(seed=seed, rig=rig, camera=camera)
