"""Indoor scenes: a room box with furniture, seen by a hand-held camera walking, panning or orbiting.

What a capture of a room has and the object scenes lack: planes (floor, walls, ceiling), surfaces
painted nearly uniform, near and far geometry in one view (a cabinet at arm's length before a
wall across the room), and forward motion with short baselines. Every part is in the world frame;
the cameras are placed first, and furniture never stands where a camera is.
"""

from __future__ import annotations

import math

import numpy as np

from photogrammetry.synthetic.geometry import Pose, look_at, rotation_z
from photogrammetry.synthetic.layouts import FEATURE_PX, Part, random_texture
from photogrammetry.synthetic.mesh import Mesh, box, cylinder, merge_meshes, transform_mesh
from photogrammetry.synthetic.rigs import RoomRig, View
from photogrammetry.synthetic.texture import TextureSpec

WALL = 0.1
"""Thickness of the floor, ceiling and wall slabs, metres (outside the inner size)."""

MARGIN = 0.7
"""Closest a camera comes to a wall, metres."""

KEEP_OUT = 0.35
"""Closest horizontal distance from a camera centre to a piece of furniture, metres."""

PATHS = ("walk", "pan", "orbit")
"""The camera paths of a :class:`~photogrammetry.synthetic.rigs.RoomRig`."""


def _heading(yaw: float, pitch: float) -> np.ndarray:
    """Unit viewing direction of a yaw about +z (0: +x) and a pitch (positive: up), radians, shape ``(3,)``."""
    return np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), math.sin(pitch)])


def _inside(point: np.ndarray, rig: RoomRig) -> bool:
    """Whether ``point`` (x, y) keeps :data:`MARGIN` from every wall."""
    half = np.array(rig.size[:2]) / 2.0 - MARGIN
    return bool(np.all(np.abs(point[:2]) <= half))


def _path(rig: RoomRig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Camera centres ``(N, 3)`` and yaws ``(N,)`` of the rig's path."""
    half = np.maximum(np.array(rig.size[:2]) / 2.0 - MARGIN, 0.05)
    turn = math.radians(rig.turn_deg) * (1.0 if rng.random() < 0.5 else -1.0)
    if rig.path == "orbit":
        radius = float(min(half)) * rng.uniform(0.6, 1.0)
        start = rng.uniform(0.0, 2.0 * math.pi)
        angles = start + np.arange(rig.num_views) * rig.step / radius * np.sign(turn)
        centres = np.stack([radius * np.cos(angles), radius * np.sin(angles), np.full(rig.num_views, rig.height)], -1)
        return centres, angles + math.pi
    position = rng.uniform(-half, half) * (0.3 if rig.path == "walk" else 0.8)
    yaw = rng.uniform(0.0, 2.0 * math.pi)
    centres, yaws = [], []
    for k in range(rig.num_views):
        centres.append([*position, rig.height + 0.03 * math.sin(1.3 * k)])
        yaws.append(yaw)
        yaw += turn * rng.uniform(0.5, 1.5)
        if rig.path == "walk":
            for _ in range(24):  # turn on by 15 degrees until the step stays in the room
                ahead = position + rig.step * np.array([math.cos(yaw), math.sin(yaw)])
                if _inside(ahead, rig):
                    position = ahead
                    break
                yaw += math.copysign(math.radians(15.0), turn)
        else:
            sway = rig.step * np.array([-math.sin(yaw), math.cos(yaw)]) * math.copysign(1.0, math.sin(0.7 * k))
            position = np.clip(position + sway, -half, half)
    return np.array(centres), np.array(yaws)


def room_views(rig: RoomRig, rng: np.random.Generator) -> list[View]:
    """Views along the rig's path, each looking along its yaw, pitched by about ``pitch_deg``."""
    if rig.path not in PATHS:
        raise ValueError(f"RoomRig.path must be one of {PATHS}, got {rig.path!r}")
    centres, yaws = _path(rig, rng)
    views = []
    for k, (eye, yaw) in enumerate(zip(centres, yaws, strict=True)):
        pitch = math.radians(rig.pitch_deg + rng.normal(0.0, rig.look_jitter_deg))
        yaw = yaw + math.radians(rng.normal(0.0, rig.look_jitter_deg))
        pose = look_at(eye, eye + _heading(yaw, pitch))
        views.append(View(f"view_{k:03d}", pose, pose))
    return views


def weak_texture(rng: np.random.Generator, feature_size: float) -> TextureSpec:
    """A nearly uniform paint: faint cells and grain, no spots or stripes to speak of."""
    return TextureSpec(
        seed=int(rng.integers(2**31)),
        feature_size=feature_size * rng.uniform(1.0, 3.0),
        cell_fraction=rng.uniform(0.0, 0.2),
        cell_opacity=rng.uniform(0.05, 0.3),
        spot_weight=rng.uniform(0.0, 0.15),
        stripe_weight=rng.uniform(0.0, 0.1),
        grain=rng.uniform(0.02, 0.12),
        warp=rng.uniform(0.5, 1.0),
        brightness=rng.uniform(0.6, 1.0),
    )


def _texture(rng: np.random.Generator, rig: RoomRig, feature_size: float) -> TextureSpec:
    """A weak texture with probability ``rig.weak_texture``, else a rich one."""
    if rng.random() < rig.weak_texture:
        return weak_texture(rng, feature_size)
    return random_texture(rng, feature_size * rng.uniform(0.5, 1.5))


def _piece(rng: np.random.Generator, rig: RoomRig) -> Mesh:
    """One piece of furniture standing on the floor at the origin (table, cabinet, sofa, shelf or pole)."""
    kind = int(rng.integers(5))
    if kind == 0:  # a table: top and four legs
        w, d, h = rng.uniform(0.6, 1.6), rng.uniform(0.5, 1.0), rng.uniform(0.45, 0.8)
        legs = [box([0.05, 0.05, h - 0.04], [sx * (w / 2 - 0.05), sy * (d / 2 - 0.05), (h - 0.04) / 2])
                for sx in (-1, 1) for sy in (-1, 1)]
        return merge_meshes([box([w, d, 0.04], [0.0, 0.0, h - 0.02]), *legs])
    if kind == 1:  # a cabinet
        size = [rng.uniform(0.4, 1.2), rng.uniform(0.35, 0.6), rng.uniform(0.8, min(2.1, rig.size[2] - 0.2))]
        return box(size, [0.0, 0.0, size[2] / 2])
    if kind == 2:  # a sofa: seat and back
        w, d = rng.uniform(1.2, 2.2), rng.uniform(0.7, 0.95)
        return merge_meshes([box([w, d, 0.45], [0.0, 0.0, 0.225]), box([w, 0.2, 0.85], [0.0, d / 2 - 0.1, 0.425])])
    if kind == 3:  # open shelves: sides and boards
        w, d, h = rng.uniform(0.6, 1.2), rng.uniform(0.25, 0.4), rng.uniform(1.0, min(2.0, rig.size[2] - 0.2))
        boards = [box([w, d, 0.03], [0.0, 0.0, z]) for z in np.linspace(0.05, h - 0.02, int(rng.integers(3, 6)))]
        sides = [box([0.03, d, h], [sx * (w / 2 - 0.015), 0.0, h / 2]) for sx in (-1, 1)]
        return merge_meshes([*boards, *sides, box([w, 0.02, h], [0.0, d / 2 - 0.01, h / 2])])
    return cylinder(rng.uniform(0.015, 0.06), rng.uniform(1.0, rig.size[2]), 24)  # a thin pole or lamp stand


def _place(mesh: Mesh, rng: np.random.Generator, rig: RoomRig, views: list[View]) -> Mesh | None:
    """``mesh`` turned and moved to a random spot on the floor that keeps clear of every camera, or ``None``:
    a third of the pieces 0.6-2 m in front of a random view (near geometry), a third against a wall,
    the rest anywhere."""
    turned = transform_mesh(mesh, Pose(rotation_z(rng.uniform(0.0, 2.0 * math.pi)), np.zeros(3)))
    lo, hi = turned.bounds
    room = np.array(rig.size[:2]) / 2.0
    if np.any(hi[:2] - lo[:2] >= 2.0 * room):
        return None
    centres = np.array([v.cam_from_world.center for v in views])
    where = int(rng.integers(3))
    spot = rng.uniform(-room - lo[:2], room - hi[:2])
    if where == 0:  # in front of a view
        view = views[int(rng.integers(len(views)))]
        forward = view.cam_from_world.rotation[2, :2]
        forward = forward / max(float(np.linalg.norm(forward)), 1e-9)
        spot = view.cam_from_world.center[:2] + rng.uniform(0.6, 2.0) * forward - (lo[:2] + hi[:2]) / 2
        if np.any(spot + lo[:2] < -room) or np.any(spot + hi[:2] > room):
            return None
    elif where == 1:  # push it to the nearest wall along one axis
        axis = int(rng.integers(2))
        spot[axis] = (room - hi[:2])[axis] if spot[axis] > 0 else (-room - lo[:2])[axis]
    lo2, hi2 = lo[:2] + spot, hi[:2] + spot
    gap = np.maximum(np.maximum(lo2 - centres[:, :2], centres[:, :2] - hi2), 0.0)
    if np.sqrt((gap**2).sum(axis=1)).min() < KEEP_OUT:
        return None
    return transform_mesh(turned, Pose(np.eye(3), np.array([*spot, 0.0])))


def room_parts(rig: RoomRig, views: list[View], focal: float, rng: np.random.Generator) -> list[Part]:
    """Floor, ceiling, four walls, posters and furniture, each with its own texture (weak or rich)."""
    w, d, h = rig.size
    fs = FEATURE_PX * 2.0 / focal  # cells of FEATURE_PX pixels at 2 m
    slabs = {
        "floor": box([w + 2 * WALL, d + 2 * WALL, WALL], [0.0, 0.0, -WALL / 2]),
        "ceiling": box([w + 2 * WALL, d + 2 * WALL, WALL], [0.0, 0.0, h + WALL / 2]),
        "wall_north": box([w, WALL, h], [0.0, d / 2 + WALL / 2, h / 2]),
        "wall_south": box([w, WALL, h], [0.0, -d / 2 - WALL / 2, h / 2]),
        "wall_east": box([WALL, d, h], [w / 2 + WALL / 2, 0.0, h / 2]),
        "wall_west": box([WALL, d, h], [-w / 2 - WALL / 2, 0.0, h / 2]),
    }
    parts = [Part(name, mesh, _texture(rng, rig, fs)) for name, mesh in slabs.items()]
    for i in range(int(rng.integers(0, 4))):  # posters and boards on the walls: rich texture on a plain wall
        pw, ph = rng.uniform(0.4, 1.5), rng.uniform(0.4, 1.0)
        x, z = rng.uniform(-w / 2 + pw / 2, w / 2 - pw / 2), rng.uniform(ph / 2 + 0.6, h - ph / 2 - 0.2)
        side = rng.choice([-1.0, 1.0])
        parts.append(Part(f"poster_{i}", box([pw, 0.02, ph], [x, side * (d / 2 - 0.01), z]),
                          random_texture(rng, fs * 0.6)))
    placed = 0
    for _ in range(20 * rig.num_furniture):
        if placed == rig.num_furniture:
            break
        mesh = _place(_piece(rng, rig), rng, rig, views)
        if mesh is not None:
            parts.append(Part(f"furniture_{placed:02d}", mesh, _texture(rng, rig, fs * 0.6)))
            placed += 1
    return parts
