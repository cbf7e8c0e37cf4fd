"""An upright, centred frame for the exported model: which way is up, where the origin is, what size.

Up comes from the cameras (people hold cameras upright: the mean of each camera's up vector,
its ``-y`` axis in the world), refined by the scene:

- ``turntable``: the axis of the circle the camera centres lie on (the platform's axis);
- ``auto``: the dominant ground plane when there is one (a RANSAC plane holding at least
  ``plane_min_fraction`` of the points, its normal within ``plane_max_tilt_deg`` of the cameras'
  up, the cameras above it); else, when the cameras face one way (a facade, not an orbit: the
  mean of their horizontal viewing directions is over half a unit long), the dominant wall (a
  plane within that angle of vertical: up is kept in it, which removes a pitch common to the
  cameras, as in a facade shot from below; around an object, pitches cancel out in the mean);
  else the cameras' up alone.

The model's front faces the first view (name order): that view looks along ``-Z`` in the
Y-up frame (glTF viewers start on ``+Z``, looking at ``-Z``), along ``+Y`` in the Z-up frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from photogrammetry.errors import ConfigError

Z_UP_FROM_Y_UP = np.array([[1.0, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])
"""(4, 4) the Y-up frame (glTF) to the Z-up one (Blender, CAD): ``(x, y, z) -> (x, -z, y)``."""


@dataclass(frozen=True, kw_only=True)
class FrameOptions:
    """How the exported model is levelled, centred and sized."""

    up: Literal["auto", "cameras", "turntable", "none"] = "auto"
    """Up direction: ``auto`` (the cameras' mean up, refined by a dominant ground plane or wall of
    the fused points), ``cameras`` (their mean up alone), ``turntable`` (the axis of the circle
    of the camera centres, for objects on a turntable) or ``none`` (the reconstruction's axes)."""
    views: int = 0
    """Only the first this many views (name order) give the up direction; 0: all. For a
    turntable capture with the object flipped over half way, the views before the flip."""
    plane_max_tilt_deg: float = 30.0
    """``auto``: largest angle between a ground plane's normal and the cameras' up (and between a
    wall and the vertical)."""
    plane_min_fraction: float = 0.15
    """``auto``: smallest share of the fused points on a plane for it to count."""
    plane_tolerance: float = 0.005
    """``auto``: distance of a point to a plane it lies on, as a fraction of the points' extent."""
    origin: Literal["centre", "ground", "none"] = "centre"
    """Origin of the model: ``centre`` of its bounding box, the ``ground`` under that centre (the
    ground plane found, else the model's lowest point), or ``none`` (the reconstruction's)."""
    size: float = 1.0
    """Without a metric scale: the largest side of the model's bounding box, in units; 0 keeps
    the SfM units. Metric models (a scale method was used) stay in metres."""
    up_axis: Literal["y", "z"] = "y"
    """Up axis of the OBJ, the PLY and the cameras: ``y`` (as the GLB: glTF fixes +Y up) or ``z``
    (Blender's and most CAD tools' convention)."""

    def __post_init__(self) -> None:
        if self.views < 0 or self.size < 0:
            raise ConfigError(f"export.frame.views and export.frame.size must be >= 0, got {self.views}, {self.size}")
        if not 0 < self.plane_max_tilt_deg < 45:
            raise ConfigError(f"export.frame.plane_max_tilt_deg must be within 0..45, got {self.plane_max_tilt_deg}")
        if not 0 < self.plane_min_fraction <= 1 or not 0 < self.plane_tolerance < 0.2:
            raise ConfigError("export.frame.plane_min_fraction must be within 0..1 and export.frame.plane_tolerance "
                              f"within 0..0.2, got {self.plane_min_fraction}, {self.plane_tolerance}")


@dataclass(frozen=True, kw_only=True, eq=False)
class Plane:
    """A plane ``n . x = offset`` found in the points."""

    normal: np.ndarray
    """(3,) unit normal (for a ground plane: pointing up, towards the cameras)."""
    offset: float
    """Signed distance of the plane from the origin along ``normal``."""
    fraction: float
    """Share of the points on it."""


@dataclass(frozen=True, kw_only=True, eq=False)
class UpEstimate:
    """The up direction and where it came from."""

    up: np.ndarray
    """(3,) unit up vector in the reconstruction's frame."""
    source: Literal["cameras", "ground", "wall", "turntable", "none"]
    """What set it."""
    ground: Plane | None = None
    """The ground plane, when one was found."""
    camera_tilt_deg: float = 0.0
    """Angle between the cameras' mean up and ``up``."""


def camera_axes(cam_from_world: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres, up vectors and viewing directions of (N, 3, 4) poses, each (N, 3), in the world."""
    R, t = cam_from_world[:, :, :3], cam_from_world[:, :, 3]
    centres = -np.einsum("nji,nj->ni", R, t)
    return centres, -R[:, 1, :], R[:, 2, :]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _turntable_axis(centres: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Normal of the plane of the camera centres, signed like ``up``."""
    if len(centres) < 3:
        raise ConfigError("export.frame.up=turntable needs at least 3 cameras")
    _, _, vt = np.linalg.svd(centres - centres.mean(axis=0))
    return vt[2] if vt[2] @ up >= 0 else -vt[2]


def find_plane(points: np.ndarray, up: np.ndarray, centres: np.ndarray, options: FrameOptions, *,
               ground: bool, iterations: int = 400, seed: int = 0) -> Plane | None:
    """The plane holding most points among a ground plane (normal near ``up``, cameras above it) or
    a wall (normal near horizontal), or ``None`` when the best holds too few points.

    Args:
        points: (N, 3) points (the fused cloud), subsampled inside.
        up: (3,) the cameras' mean up.
        centres: (C, 3) camera centres.
        options: Tilt, support and tolerance.
        ground: Look for a ground plane (else a wall).
    """
    rng = np.random.default_rng(seed)
    if len(points) < 100:
        return None
    sample = points[rng.choice(len(points), min(len(points), 20_000), replace=False)]
    low, high = np.percentile(sample, [2, 98], axis=0)
    tolerance = options.plane_tolerance * float(np.linalg.norm(high - low))
    a, b, c = (sample[rng.integers(0, len(sample), iterations)] for _ in range(3))
    normals = np.cross(b - a, c - a)
    keep = np.linalg.norm(normals, axis=1) > 1e-12
    normals, a = _unit(normals[keep]), a[keep]
    normals *= np.where(normals @ up < 0, -1.0, 1.0)[:, None]
    cos = normals @ up
    limit = np.cos(np.radians(options.plane_max_tilt_deg))
    offsets = np.einsum("ij,ij->i", normals, a)
    if ground:
        above = np.median(centres @ normals.T, axis=0) > offsets
        valid = (cos >= limit) & above
    else:
        valid = cos <= np.sin(np.radians(options.plane_max_tilt_deg))
    if not valid.any():
        return None
    normals, offsets = normals[valid], offsets[valid]
    counts = (np.abs(sample @ normals.T - offsets) < tolerance).sum(axis=0)
    best = int(np.argmax(counts))
    if counts[best] < options.plane_min_fraction * len(sample):
        return None
    inliers = sample[np.abs(sample @ normals[best] - offsets[best]) < tolerance]
    centre = inliers.mean(axis=0)
    normal = np.linalg.svd(inliers - centre, full_matrices=False)[2][2]
    normal = normal if normal @ normals[best] >= 0 else -normal
    return Plane(normal=normal, offset=float(normal @ centre), fraction=float(counts[best] / len(sample)))


def estimate_up(cam_from_world: np.ndarray, points: np.ndarray | None, options: FrameOptions) -> UpEstimate:
    """The up direction of a reconstruction.

    Args:
        cam_from_world: (N, 3, 4) poses of the views, name order (``options.views`` are used).
        points: (M, 3) points of the scene (the fused cloud) for the planes, or ``None``.
        options: Which method and its thresholds.
    """
    if options.views:
        cam_from_world = cam_from_world[: options.views]
    centres, ups, ahead = camera_axes(cam_from_world)
    mean_up = _unit(ups.mean(axis=0))
    level = ahead - np.outer(ahead @ mean_up, mean_up)
    facing = float(np.linalg.norm(_unit(level[np.linalg.norm(level, axis=1) > 1e-9]).mean(axis=0)))
    if options.up == "none":
        return UpEstimate(up=np.array([0.0, 1.0, 0.0]), source="none")  # the reconstruction's axes are kept
    found: UpEstimate = UpEstimate(up=mean_up, source="cameras")
    if options.up == "turntable":
        found = UpEstimate(up=_turntable_axis(centres, mean_up), source="turntable")
    elif options.up == "auto" and points is not None:
        ground = find_plane(points, mean_up, centres, options, ground=True)
        one_way = ground is None and facing > 0.5
        wall = find_plane(points, mean_up, centres, options, ground=False) if one_way else None
        if ground is not None:
            found = UpEstimate(up=ground.normal, source="ground", ground=ground)
        elif wall is not None:
            found = UpEstimate(up=_unit(mean_up - (mean_up @ wall.normal) * wall.normal), source="wall")
    tilt = float(np.degrees(np.arccos(np.clip(found.up @ mean_up, -1.0, 1.0))))
    return UpEstimate(up=found.up, source=found.source, ground=found.ground, camera_tilt_deg=tilt)


UNIT_WORDS = {"metres": "metres", "sfm": "SfM units (the scale is unknown)",
              "normalised": "normalised: the scale is unknown, the largest side of the model's box is {size:g}"}
"""What each ``units`` value of an export means (``{size}``: the size asked for)."""


@dataclass(frozen=True, kw_only=True, eq=False)
class ModelFrame:
    """Where the exported model lies: the reconstruction's frame to the Y-up model frame."""

    model_from_world: np.ndarray
    """(4, 4) similarity ``x_model = s R x_world + t`` (Y up, front towards +Z)."""
    up: UpEstimate
    """The up direction and its source."""
    scale: float
    """``s``: model units per reconstruction unit."""
    units: Literal["metres", "sfm", "normalised"]
    """Units of the model: ``metres`` (metric scale known), ``sfm`` (kept) or ``normalised``
    (scaled to ``FrameOptions.size``)."""
    size: tuple[float, float, float]
    """Sides of the model's bounding box in the model frame, model units."""

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) reconstruction-frame points in the model frame."""
        return points @ self.model_from_world[:3, :3].T + self.model_from_world[:3, 3]

    def rotate(self, directions: np.ndarray) -> np.ndarray:
        """(N, 3) directions (normals) in the model frame, unit length kept."""
        return directions @ (self.model_from_world[:3, :3] / self.scale).T


def level_rotation(up: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """(3, 3) rotation taking ``up`` to +Y and the horizontal part of ``forward`` (a view's direction) to -Z."""
    y = _unit(up)
    ahead = forward - (forward @ y) * y
    if np.linalg.norm(ahead) < 1e-6:  # looking straight down: any horizontal direction
        ahead = np.cross(y, [1.0, 0, 0] if abs(y[0]) < 0.9 else [0, 1.0, 0])
    z = -_unit(ahead)
    return np.stack([np.cross(y, z), y, z])


def model_frame(vertices: np.ndarray, cam_from_world: np.ndarray, points: np.ndarray | None,
                units: Literal["metres", "sfm"], options: FrameOptions) -> ModelFrame:
    """The upright, centred, sized frame of a model.

    Args:
        vertices: (V, 3) the model's vertices, reconstruction frame.
        cam_from_world: (N, 3, 4) poses of the views in name order; the first one sets the front.
        points: (M, 3) the fused points (for ground planes and walls), or ``None``.
        units: Units of the reconstruction.
        options: How to level, centre and size.
    """
    found = estimate_up(cam_from_world, points, options)
    rotation = np.eye(3) if found.source == "none" else level_rotation(found.up, camera_axes(cam_from_world[:1])[2][0])
    rotated = vertices @ rotation.T
    low, high = rotated.min(axis=0), rotated.max(axis=0)
    origin = np.zeros(3)
    if options.origin != "none":
        origin = (low + high) / 2
    if options.origin == "ground":
        origin[1] = found.ground.offset if found.ground is not None and found.source == "ground" else low[1]
    scale, out_units = 1.0, units
    if units == "sfm" and options.size > 0:
        scale, out_units = options.size / max(float(np.max(high - low)), 1e-12), "normalised"
    matrix = np.eye(4)
    matrix[:3, :3], matrix[:3, 3] = scale * rotation, -scale * origin
    return ModelFrame(model_from_world=matrix, up=found, scale=scale, units=out_units,
                      size=tuple(float(v) for v in scale * (high - low)))
