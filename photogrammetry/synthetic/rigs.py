"""Camera rigs: where the cameras are, per view, for each kind of synthetic scene.

Every rig returns named :class:`View` records holding two poses: ``cam_from_world``
(the ground truth written out: the frame the reconstruction recovers) and
``cam_from_lab`` (the frame of the static background and of the light). They
differ only for the turntable, whose world frame is the rotating object's frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from photogrammetry.synthetic.geometry import Pose, look_at, rotation_z


@dataclass(frozen=True, kw_only=True)
class TurntableRig:
    """Fixed camera(s); the object turns on a platform in front of a static wall and table."""

    kind: ClassVar[str] = "turntable"
    views_per_ring: int = 24
    """Views per ring; the platform turns by ``360 / views_per_ring`` degrees between views."""
    ring_elevations_deg: tuple[float, ...] = (20.0,)
    """Camera elevation above the horizontal for each ring (1 to 3 rings), degrees."""
    distance: float = 0.65
    """Distance from the camera to the centre of the object's bounding box, metres."""


@dataclass(frozen=True, kw_only=True)
class OrbitRig:
    """A camera walking a circle around an object that stands in a cluttered room."""

    kind: ClassVar[str] = "orbit"
    num_views: int = 18
    """Views evenly spaced on the full circle."""
    radius: float = 0.8
    """Horizontal distance from the object's axis to the camera, metres."""
    height: float = 0.45
    """Mean camera height above the ground, metres."""
    height_variation: float = 0.1
    """Amplitude of the camera's up-and-down motion (two cycles per orbit), metres."""
    look_jitter_deg: float = 2.0
    """Standard deviation of the random deviation of the optical axis from the object centre, degrees."""
    num_clutter: int = 12
    """Number of background objects placed outside the camera circle."""


@dataclass(frozen=True, kw_only=True)
class FacadeRig:
    """A camera walking sideways along a building facade, looking at it."""

    kind: ClassVar[str] = "facade"
    num_views: int = 12
    """Views evenly spaced along the walk."""
    distance: float = 5.0
    """Distance from the camera path to the facade's main plane, metres."""
    span: float = 5.5
    """Length of the sideways walk, metres."""
    height: float = 1.6
    """Camera height above the ground, metres."""
    look_jitter_deg: float = 3.0
    """Standard deviation of the random yaw/pitch deviation from looking straight at the wall, degrees."""
    floors: int = 3
    """Storeys of the facade (3 m each)."""
    bays: int = 6
    """Window columns of the facade (2.4 m each)."""


@dataclass(frozen=True, kw_only=True)
class RoomRig:
    """A hand-held camera inside a furnished room: walking forward and turning, panning, or orbiting.

    The views of :func:`photogrammetry.synthetic.rooms.room_views`; the room and its furniture are
    :func:`photogrammetry.synthetic.rooms.room_parts`.
    """

    kind: ClassVar[str] = "room"
    num_views: int = 12
    """Views along the path."""
    size: tuple[float, float, float] = (5.0, 4.0, 2.6)
    """Inner width (x), depth (y) and height (z) of the room, metres."""
    path: str = "walk"
    """``walk`` (forward, turning slowly), ``pan`` (standing, turning, a small sideways sway) or
    ``orbit`` (an arc around the room's centre, looking at it)."""
    step: float = 0.15
    """Distance between consecutive camera centres, metres."""
    turn_deg: float = 4.0
    """Yaw change between consecutive views (walk, pan), degrees."""
    height: float = 1.5
    """Camera height above the floor, metres."""
    pitch_deg: float = -10.0
    """Mean pitch of the optical axis (negative: looking down), degrees."""
    look_jitter_deg: float = 1.5
    """Standard deviation of the random deviation of the optical axis, degrees."""
    num_furniture: int = 6
    """Pieces of furniture (tables, cabinets, sofas, shelves, poles) placed around the cameras."""
    weak_texture: float = 0.4
    """Share of the surfaces painted nearly uniform (walls, cabinet doors), as rooms have."""


Rig = TurntableRig | OrbitRig | FacadeRig | RoomRig


@dataclass(frozen=True, eq=False)
class View:
    """One camera placement."""

    name: str
    """View name (``view_000``, ...), the stem of every per-view file."""
    cam_from_world: Pose
    """Ground-truth pose: world is the object frame (turntable) or the static scene."""
    cam_from_lab: Pose
    """Pose relative to the static background and the light."""


def _name(index: int) -> str:
    """Name of the view with this index."""
    return f"view_{index:03d}"


def _jittered_target(rng: np.random.Generator, eye: np.ndarray, target: np.ndarray, jitter_deg: float) -> np.ndarray:
    """Move ``target`` sideways so the optical axis deviates by about ``jitter_deg`` degrees, shape ``(3,)``."""
    distance = math.sqrt(float(np.sum((target - eye) ** 2)))
    return target + rng.normal(size=3) * (distance * math.tan(math.radians(jitter_deg)))


def turntable_views(rig: TurntableRig, center: np.ndarray) -> list[View]:
    """Views of a turntable: ring by ring, the platform turning by equal steps.

    The camera sits on the lab's -y side; for view ``k`` of a ring the object frame is
    rotated by ``k * 360 / views_per_ring`` degrees about +z (``lab_from_world``), so the
    equivalent ground-truth camera orbits the static object in the opposite direction.

    Args:
        rig: Turntable settings.
        center: Point the camera looks at (object bounding-box centre), shape ``(3,)``.

    Returns:
        ``len(ring_elevations_deg) * views_per_ring`` views.
    """
    if not 1 <= len(rig.ring_elevations_deg) <= 3:
        raise ValueError(f"a turntable has 1 to 3 rings, got {len(rig.ring_elevations_deg)}")
    views = []
    for elevation in rig.ring_elevations_deg:
        e = math.radians(elevation)
        eye = center + rig.distance * np.array([0.0, -math.cos(e), math.sin(e)])
        cam_from_lab = look_at(eye, center)
        for k in range(rig.views_per_ring):
            lab_from_world = Pose(rotation_z(2.0 * math.pi * k / rig.views_per_ring), np.zeros(3))
            views.append(View(_name(len(views)), cam_from_lab.compose(lab_from_world), cam_from_lab))
    return views


def orbit_views(rig: OrbitRig, center: np.ndarray, rng: np.random.Generator) -> list[View]:
    """Views on a circle around ``center`` (shape ``(3,)``), counter-clockwise from the -y side."""
    views = []
    for k in range(rig.num_views):
        phi = 2.0 * math.pi * k / rig.num_views - math.pi / 2.0
        z = rig.height + rig.height_variation * math.sin(2.0 * phi)
        eye = np.array([rig.radius * math.cos(phi), rig.radius * math.sin(phi), z])
        pose = look_at(eye, _jittered_target(rng, eye, center, rig.look_jitter_deg))
        views.append(View(_name(k), pose, pose))
    return views


def facade_views(rig: FacadeRig, rng: np.random.Generator) -> list[View]:
    """Views along a line parallel to the facade plane ``y = 0``, from left to right."""
    views = []
    for k in range(rig.num_views):
        x = rig.span * (k / max(rig.num_views - 1, 1) - 0.5)
        eye = np.array([x, -rig.distance, rig.height])
        target = np.array([x, 0.0, rig.height + 0.15 * rig.distance])
        pose = look_at(eye, _jittered_target(rng, eye, target, rig.look_jitter_deg))
        views.append(View(_name(k), pose, pose))
    return views
