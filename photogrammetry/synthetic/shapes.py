"""Procedural objects for object-centred scenes (turntable, orbit).

Every shape is built from a seed, scaled to the requested height and placed with
its lowest point on ``z = 0`` and its bounding box centred on the z axis, so it
stands on a platform or the ground at the origin.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import open3d as o3d

from photogrammetry.synthetic.geometry import Pose, cos_sin, rotation_axis_angle
from photogrammetry.synthetic.mesh import (
    Mesh,
    box,
    cylinder,
    icosphere,
    lathe,
    make_mesh,
    merge_meshes,
    transform_mesh,
    tube,
)
from photogrammetry.synthetic.noise import fbm


class ShapeKind(StrEnum):
    """The procedural object families."""

    BUMPY_SPHERE = "bumpy_sphere"
    SUPERQUADRIC = "superquadric"
    STATUE = "statue"
    TORUS_KNOT = "torus_knot"
    VASE = "vase"


@dataclass(frozen=True, kw_only=True)
class ShapeSpec:
    """Which object to build."""

    kind: ShapeKind
    """Object family."""
    seed: int
    """Seed of the family's random parameters."""
    height: float = 0.3
    """Object height in metres after scaling."""
    detail: int = 4
    """Resolution: icosphere subdivisions for round shapes; other shapes scale their sampling with it."""


def bumpy_sphere(rng: np.random.Generator, detail: int) -> Mesh:
    """An ellipsoid with fractal radial bumps (watertight)."""
    dirs = icosphere(detail).vertices
    seed = int(rng.integers(2**31))
    bumps = fbm(dirs * rng.uniform(1.2, 2.0) + rng.uniform(-50, 50, 3), seed, 3) - 0.5
    radius = 1.0 + rng.uniform(0.5, 0.9) * bumps
    return make_mesh(dirs * radius[:, None] * rng.uniform(0.75, 1.25, 3), icosphere(detail).triangles)


def superquadric(rng: np.random.Generator, detail: int) -> Mesh:
    """A superellipsoid (from rounded box to pinched star) with random radii (watertight)."""
    sphere = icosphere(detail)
    e1, e2 = rng.uniform(0.3, 1.6, 2)
    a = np.abs(sphere.vertices) / rng.uniform(0.7, 1.3, 3)
    f = (a[:, 0] ** (2.0 / e2) + a[:, 1] ** (2.0 / e2)) ** (e2 / e1) + a[:, 2] ** (2.0 / e1)
    return make_mesh(sphere.vertices * (f ** (-e1 / 2.0))[:, None], sphere.triangles)


def vase(rng: np.random.Generator, detail: int) -> Mesh:
    """A closed surface of revolution with a wavy profile and noisy fluting (watertight)."""
    rows = 12 * detail
    z = np.linspace(0.0, 1.0, rows)
    profile = 0.32 + 0.1 * rng.uniform(-1, 1) * z
    for _ in range(3):
        cos, _sin = cos_sin(2.0 * math.pi * (rng.uniform(0.5, 2.5) * z + rng.uniform()))
        profile = profile + rng.uniform(0.03, 0.09) * cos
    body = lathe(np.maximum(profile, 0.08), z * rng.uniform(1.2, 2.0), segments=16 * detail)
    v = body.vertices
    seed = int(rng.integers(2**31))
    flute = 1.0 + 0.25 * (fbm(v * np.array([4.0, 4.0, 1.5]), seed, 2) - 0.5)
    return make_mesh(v * np.stack([flute, flute, np.ones_like(flute)], -1), body.triangles)


def torus_knot(rng: np.random.Generator, detail: int) -> Mesh:
    """A (p, q) torus knot tube standing upright (watertight, genus one)."""
    p, q = [(2, 3), (3, 2), (2, 5), (3, 4)][int(rng.integers(4))]
    t = np.arange(64 * detail) * (2.0 * math.pi / (64 * detail))
    r = rng.uniform(0.35, 0.5)
    cos_p, sin_p = cos_sin(p * t)
    cos_q, sin_q = cos_sin(q * t)
    centre = np.stack([cos_p, sin_p, np.zeros_like(t)], -1)
    curve = centre * (1.0 + r * cos_q)[:, None] + np.stack([0 * t, 0 * t, r * sin_q], -1)
    knot = tube(curve, curve - centre, radius=rng.uniform(0.16, 0.22), segments=4 * detail)
    return transform_mesh(knot, Pose(rotation_axis_angle(np.array([1.0, 0.0, 0.0]), math.pi / 2), np.zeros(3)))


def _hide_inner_triangles(parts: list[Mesh]) -> Mesh:
    """Merge overlapping watertight parts, dropping triangles buried inside another part.

    Triangles with all three vertices inside another part are removed, so a union of
    primitives has (almost) no hidden inner surface; triangles crossing another part's
    surface are kept, so the result is not exactly watertight.
    """
    kept = []
    for i, part in enumerate(parts):
        inside = np.zeros(len(part.vertices), dtype=bool)
        for j, other in enumerate(parts):
            if i != j:
                scene = o3d.t.geometry.RaycastingScene()
                scene.add_triangles(other.vertices.astype(np.float32), other.triangles.astype(np.uint32))
                inside |= scene.compute_occupancy(part.vertices.astype(np.float32)).numpy() > 0.5
        tris = part.triangles[~inside[part.triangles].all(axis=1)]
        kept.append(Mesh(vertices=part.vertices, triangles=tris, normals=part.normals))
    return merge_meshes(kept)


def statue(rng: np.random.Generator, detail: int) -> Mesh:
    """A figure on a plinth: bumpy body and head, tilted cylinder arms, optional halo."""
    plinth = box([0.9, 0.8, 0.25], [0.0, 0.0, 0.125])
    body_h = rng.uniform(0.5, 0.7)
    body = transform_mesh(
        bumpy_sphere(rng, detail - 1),
        Pose(np.eye(3), np.array([0, 0, 0.25 + body_h])),
        np.array([rng.uniform(0.28, 0.38), rng.uniform(0.22, 0.3), body_h]),
    )
    head_z = 0.25 + 2.0 * body_h + 0.15
    head = transform_mesh(bumpy_sphere(rng, detail - 1), Pose(np.eye(3), np.array([0, 0, head_z])), 0.2)
    parts = [plinth, body, head]
    for side in (-1.0, 1.0):
        tilt = side * rng.uniform(0.5, 1.2)
        arm = cylinder(0.07, rng.uniform(0.45, 0.65), segments=8 * detail)
        shoulder = np.array([side * 0.2, 0.0, 0.25 + 1.6 * body_h])
        parts.append(
            transform_mesh(arm, Pose(rotation_axis_angle(np.array([0.0, 1.0, 0.0]), math.pi - tilt), shoulder))
        )
    if rng.random() < 0.5:
        ring = transform_mesh(
            torus_knot(rng, max(detail - 1, 2)), Pose(np.eye(3), np.array([0.0, 0.0, head_z + 0.15])), 0.18
        )
        parts.append(ring)
    return _hide_inner_triangles(parts)


SHAPE_BUILDERS: dict[ShapeKind, Callable[[np.random.Generator, int], Mesh]] = {
    ShapeKind.BUMPY_SPHERE: bumpy_sphere,
    ShapeKind.SUPERQUADRIC: superquadric,
    ShapeKind.STATUE: statue,
    ShapeKind.TORUS_KNOT: torus_knot,
    ShapeKind.VASE: vase,
}
"""Registry of object builders: ``builder(rng, detail) -> Mesh`` in arbitrary units."""


def make_shape(spec: ShapeSpec) -> Mesh:
    """Build the object, scaled to ``spec.height``, standing on ``z = 0``, centred on the z axis.

    Args:
        spec: Object family, seed, height and detail.

    Returns:
        The object mesh in metres.
    """
    if spec.detail < 2:
        raise ValueError(f"detail must be at least 2, got {spec.detail}")
    raw = SHAPE_BUILDERS[spec.kind](np.random.default_rng([spec.seed, 303]), spec.detail)
    lo, hi = raw.bounds
    scale = spec.height / (hi[2] - lo[2])
    offset = -np.array([(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0, lo[2]]) * scale
    return transform_mesh(raw, Pose(np.eye(3), offset), scale)
