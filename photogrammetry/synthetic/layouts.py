"""Scene content for each rig: the textured parts around (or instead of) the object.

A :class:`Part` is one mesh with one solid texture, attached either to the world
frame (the ground-truth frame: the object frame for a turntable) or to the lab frame
(the turntable's static table and wall, fixed relative to the cameras and the light).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from photogrammetry.synthetic.geometry import Pose, normalize, rotation_z
from photogrammetry.synthetic.mesh import Mesh, box, cylinder, icosphere, merge_meshes, transform_mesh
from photogrammetry.synthetic.rigs import FacadeRig, OrbitRig, TurntableRig
from photogrammetry.synthetic.shapes import ShapeKind, ShapeSpec, make_shape
from photogrammetry.synthetic.texture import TextureSpec

FEATURE_PX = 14.0
"""Target size of a texture mosaic cell in the image, pixels."""


class PartFrame(StrEnum):
    """The rigid frame a part is attached to."""

    WORLD = "world"
    LAB = "lab"


@dataclass(frozen=True, eq=False)
class Part:
    """One textured mesh of a scene."""

    name: str
    """Part name, e.g. ``object``, ``platform``, ``wall``."""
    mesh: Mesh
    """Geometry in the coordinates of ``frame``, metres."""
    texture: TextureSpec
    """Solid texture, evaluated in the coordinates of ``frame``."""
    frame: PartFrame = PartFrame.WORLD
    """Frame the part is rigidly attached to."""
    is_object: bool = False
    """Whether the part belongs to the object (the mask and ``object_mesh.ply``)."""


def random_texture(rng: np.random.Generator, feature_size: float, brightness: float = 1.0) -> TextureSpec:
    """Draw texture parameters around a given mosaic cell size.

    Args:
        rng: Random generator.
        feature_size: Nominal mosaic cell size, metres.
        brightness: Overall albedo multiplier.

    Returns:
        A texture specification.
    """
    return TextureSpec(
        seed=int(rng.integers(2**31)),
        feature_size=feature_size * rng.uniform(0.85, 1.2),
        cell_fraction=rng.uniform(0.3, 0.65),
        spot_weight=rng.uniform(0.6, 1.0),
        stripe_weight=rng.uniform(0.1, 0.6),
        grain=rng.uniform(0.2, 0.4),
        warp=rng.uniform(0.5, 1.0),
        brightness=brightness,
    )


def _feature_size(distance: float, focal: float) -> float:
    """Mosaic cell size that appears ``FEATURE_PX`` pixels wide at ``distance`` metres."""
    return FEATURE_PX * distance / focal


def turntable_parts(shape: ShapeSpec, rig: TurntableRig, focal: float, rng: np.random.Generator) -> list[Part]:
    """Object on a rotating platform (world frame), static table and wall behind it (lab frame)."""
    obj = make_shape(shape)
    radius = float(np.max(np.sqrt(np.sum(obj.vertices[:, :2] ** 2, axis=1))))
    platform = transform_mesh(cylinder(radius * 1.1 + 0.03, 0.03, 96), Pose(np.eye(3), np.array([0.0, 0.0, -0.03])))
    reach = rig.distance * 3.0
    table = box([2.0 * reach, 2.0 * reach, 0.06], [0.0, 0.0, -0.06])
    wall = box([2.0 * reach, 0.1, reach], [0.0, rig.distance * 1.5, reach / 2.0 - 0.06])
    near = _feature_size(rig.distance, focal)
    return [
        Part("object", obj, random_texture(rng, near), is_object=True),
        Part("platform", platform, random_texture(rng, near * 0.8)),
        Part("table", table, random_texture(rng, near * 1.6), frame=PartFrame.LAB),
        Part("wall", wall, random_texture(rng, near * 3.0), frame=PartFrame.LAB),
    ]


def _clutter_item(rng: np.random.Generator, min_radius: float, max_radius: float) -> Mesh:
    """A random primitive or small procedural shape standing on the ground ring."""
    size = rng.uniform(0.15, 0.7)
    choice = int(rng.integers(4))
    if choice == 0:
        mesh = box(rng.uniform(0.4, 1.0, 3) * size, [0.0, 0.0, 0.0])
        mesh = transform_mesh(mesh, Pose(np.eye(3), np.array([0.0, 0.0, -mesh.bounds[0][2]])))
    elif choice == 1:
        mesh = cylinder(size * rng.uniform(0.2, 0.5), size, 48)
    else:
        kind = [ShapeKind.BUMPY_SPHERE, ShapeKind.VASE][choice - 2]
        mesh = make_shape(ShapeSpec(kind=kind, seed=int(rng.integers(2**31)), height=size, detail=3))
    angle = rng.uniform(0.0, 2.0 * math.pi)
    r = rng.uniform(min_radius, max_radius)
    place = np.array([r * math.cos(angle), r * math.sin(angle), 0.0])
    return transform_mesh(mesh, Pose(rotation_z(rng.uniform(0.0, 2.0 * math.pi)), place))


def orbit_parts(shape: ShapeSpec, rig: OrbitRig, focal: float, rng: np.random.Generator) -> list[Part]:
    """Object on the ground in a walled room with clutter outside the camera circle (all world frame)."""
    room = 2.0 * (rig.radius + 2.0)
    half = room / 2.0
    walls = merge_meshes(
        [
            box([room, 0.2, 3.0], [0.0, half, 1.5]),
            box([room, 0.2, 3.0], [0.0, -half, 1.5]),
            box([0.2, room, 3.0], [half, 0.0, 1.5]),
            box([0.2, room, 3.0], [-half, 0.0, 1.5]),
        ]
    )
    ground = box([room, room, 0.1], [0.0, 0.0, -0.05])
    near = _feature_size(rig.radius, focal)
    parts = [
        Part("object", make_shape(shape), random_texture(rng, near), is_object=True),
        Part("ground", ground, random_texture(rng, near * 1.5)),
        Part("walls", walls, random_texture(rng, _feature_size(half, focal))),
    ]
    for i in range(rig.num_clutter):
        item = _clutter_item(rng, rig.radius + 0.45, half - 0.6)
        parts.append(Part(f"clutter_{i:02d}", item, random_texture(rng, near * 1.5)))
    return parts


def _facade_storey(rig: FacadeRig, z0: float, rng: np.random.Generator) -> dict[str, list[Mesh]]:
    """Masonry with window openings, recessed panes, sills, ornaments and balconies of one storey."""
    width, bay, win_w, depth = rig.bays * 2.4, 2.4, 1.2, 0.25
    centres = (np.arange(rig.bays) + 0.5) * bay - width / 2.0
    edges = np.concatenate(
        [[-width / 2.0], np.stack([centres - win_w / 2, centres + win_w / 2], -1).ravel(), [width / 2.0]]
    )
    out: dict[str, list[Mesh]] = {"masonry": [], "glass": [], "trim": []}
    out["masonry"] += [
        box([width, depth, 0.9], [0.0, depth / 2, z0 + 0.45]),
        box([width, depth, 0.6], [0.0, depth / 2, z0 + 2.7]),
    ]
    for left, right in edges.reshape(-1, 2):
        out["masonry"].append(box([right - left, depth, 1.5], [(left + right) / 2, depth / 2, z0 + 1.65]))
        if rng.random() < 0.5:
            ball = transform_mesh(icosphere(2), Pose(np.eye(3), np.array([(left + right) / 2, 0.0, z0 + 2.1])), 0.16)
            out["trim"].append(ball)
    for x in centres:
        out["glass"].append(box([win_w, 0.04, 1.5], [x, depth - 0.03, z0 + 1.65]))
        out["trim"].append(box([win_w + 0.24, 0.14, 0.07], [x, -0.05, z0 + 0.87]))
        if z0 > 0.0 and rng.random() < 0.3:
            out["trim"] += [
                box([win_w + 0.6, 0.8, 0.12], [x, -0.4, z0 + 0.84]),
                box([win_w + 0.6, 0.05, 0.85], [x, -0.78, z0 + 1.3]),
            ]
    return out


def facade_parts(rig: FacadeRig, focal: float, rng: np.random.Generator) -> list[Part]:
    """A storeyed facade with recessed windows, cornices, pilasters and balconies on paved ground."""
    width, height = rig.bays * 2.4, rig.floors * 3.0
    pieces: dict[str, list[Mesh]] = {"masonry": [], "glass": [], "trim": []}
    for floor in range(rig.floors):
        for name, meshes in _facade_storey(rig, 3.0 * floor, rng).items():
            pieces[name] += meshes
    for floor in range(1, rig.floors + 1):
        pieces["trim"].append(box([width + 0.3, 0.22, 0.16], [0.0, -0.09, 3.0 * floor - 0.08]))
    for x in (np.arange(rig.bays + 1) * 2.4 - width / 2)[rng.random(rig.bays + 1) < 0.4]:
        pieces["trim"].append(box([0.32, 0.1, height], [x, -0.05, height / 2]))
    ground = box([width + 4.0, rig.distance + 2.3, 0.2], [0.0, 0.3 - (rig.distance + 2.3) / 2, -0.1])
    fs = _feature_size(rig.distance, focal)
    return [
        Part("masonry", merge_meshes(pieces["masonry"]), random_texture(rng, fs)),
        Part("glass", merge_meshes(pieces["glass"]), random_texture(rng, fs * 0.7, brightness=0.5)),
        Part("trim", merge_meshes(pieces["trim"]), random_texture(rng, fs * 0.8)),
        Part("ground", ground, random_texture(rng, fs * 0.8)),
    ]


def light_direction(kind: str) -> np.ndarray:
    """Unit direction towards the (directional) light in the lab frame, shape ``(3,)``."""
    toward = {"turntable": (-0.45, -0.75, 0.85), "orbit": (-0.3, -0.4, 0.9), "facade": (-0.5, -0.6, 0.8),
              "room": (0.3, -0.5, 0.8)}[kind]
    return normalize(np.array(toward))
