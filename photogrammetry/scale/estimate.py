"""Metric scale of an SfM model: metres per model unit, with its relative uncertainty.

Four sources, each a function returning a :class:`ScaleEstimate`:

- :func:`platform_scale`: the radius of the turntable's platform. Its top is found among the
  sparse points (see :func:`photogrammetry.scale.geometry.estimate_platform`: the lowest
  dense layer across the axis of the cameras' circle) and its radius, the 98th percentile of
  their distances to the axis, against the measured one gives the scale; the uncertainty is the
  bootstrap spread of that percentile. It measures the object's frame itself.
- :func:`radius_scale`: the horizontal distance from the camera to the turntable's axis. The
  cameras of one ring lie on a circle around the axis in the object frame; the fitted circle's
  radius in model units against the measured one gives the scale; the uncertainty is the
  standard error of the circle's radius from the centres' scatter around it. The cameras'
  distance trades off against the focal length, which SfM may get wrong by a percent or two
  when the object fills little of the photos: the object's scale is then off as much.
- :func:`marker_scale`: ArUco markers or a ChArUco board on the platform. Corners are detected
  in every registered photo and triangulated; every pair of corners of one target with a known
  distance gives a ratio; the scale is their median and the uncertainty its standard error
  (1.4826 MAD / sqrt(n)).
- :func:`points_scale`: two points marked in two or more photos each, with the distance
  between them; the uncertainty comes from re-triangulating with 0.5 px of noise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from photogrammetry.scale.geometry import Observation, estimate_platform, fit_circle, triangulate
from photogrammetry.scale.markers import PointId, TargetSpec, detect, known_distances

MAX_RAY_ERROR = 0.005
"""Triangulated points whose reprojection error exceeds this (normalised units, ~3 px at
600 px focal) are dropped as mismatched detections."""


@dataclass(frozen=True, kw_only=True)
class ScaleEstimate:
    """A metric scale."""

    method: str
    """Where it came from: ``radius``, ``marker`` or ``points``."""
    scale: float
    """Metres per model unit (multiply model coordinates by it)."""
    relative_uncertainty: float
    """One standard deviation of ``scale``, as a fraction of it."""
    samples: int
    """Independent measurements it rests on (cameras, corner pairs, observations)."""


def _observation(model: Any, image: Any, pixel: np.ndarray) -> Observation:
    camera = model.cameras[image.camera_id]
    ray = camera.cam_from_img(np.asarray(pixel, float).reshape(1, 2))[0]
    return Observation(cam_from_world=image.cam_from_world().matrix(), ray=ray)


def _robust(ratios: np.ndarray) -> tuple[float, float]:
    """Median and its relative standard error (MAD based) of (N,) ratios."""
    median = float(np.median(ratios))
    mad = 1.4826 * float(np.median(np.abs(ratios - median)))
    return median, mad / np.sqrt(len(ratios)) / median if len(ratios) > 1 else float("nan")


def radius_scale(model: Any, names: Sequence[str], radius_m: float) -> ScaleEstimate:
    """Scale from the distance ``radius_m`` between the camera and the turntable's axis.

    Args:
        model: The SfM model (``pycolmap.Reconstruction``).
        names: Image names of one ring (the camera at one height); unregistered ones are skipped.
        radius_m: Measured horizontal distance from the camera's lens to the axis, metres.
    """
    by_name = {im.name: im for im in model.images.values() if im.has_pose}
    centres = np.array([by_name[n].projection_center() for n in names if n in by_name])
    if len(centres) < 5:
        raise ValueError(f"the radius needs at least 5 registered views of one ring, got {len(centres)}")
    circle = fit_circle(centres)
    spread = float(np.std(circle.residuals, ddof=1)) / np.sqrt(len(centres))
    return ScaleEstimate(method="radius", scale=radius_m / circle.radius,
                         relative_uncertainty=spread / circle.radius, samples=len(centres))


def platform_scale(model: Any, radius_m: float, *, seed: int = 0) -> ScaleEstimate:
    """Scale from the measured radius ``radius_m`` of the turntable's platform (its top).

    Args:
        model: The SfM model (``pycolmap.Reconstruction``) of a single-pass turntable capture
            whose masks kept the platform (the ``background`` method does).
        radius_m: The platform's radius, metres.
        seed: Seed of the bootstrap.
    """
    images = [im for im in model.images.values() if im.has_pose]
    if len(images) < 5:
        raise ValueError(f"the platform needs at least 5 registered views, got {len(images)}")
    platform = estimate_platform(np.array([im.projection_center() for im in images]),
                                 np.array([p.xyz for p in model.points3D.values()]))
    if len(platform.radial) < 20:
        raise ValueError(f"only {len(platform.radial)} sparse points on the platform's top; is it in the masks?")
    rng = np.random.default_rng(seed)
    resampled = [np.percentile(rng.choice(platform.radial, len(platform.radial)), 98) for _ in range(200)]
    return ScaleEstimate(method="platform", scale=radius_m / platform.radius,
                         relative_uncertainty=float(np.std(resampled) / platform.radius), samples=len(platform.radial))


def _marker_points(model: Any, image_path: Callable[[str], Path], spec: TargetSpec) -> dict[PointId, np.ndarray]:
    """Corners of the target triangulated from every registered photo that sees them."""
    seen: dict[PointId, list[Observation]] = defaultdict(list)
    for image in model.images.values():
        if image.has_pose:
            for point, pixel in detect(image_path(image.name), spec).items():
                seen[point].append(_observation(model, image, pixel))
    points = {}
    for point, observations in seen.items():
        found = triangulate(observations)
        if found is not None and found[1] < MAX_RAY_ERROR:
            points[point] = found[0]
    return points


def marker_scale(model: Any, image_path: Callable[[str], Path], spec: TargetSpec) -> ScaleEstimate:
    """Scale from ArUco markers or a ChArUco board of known size seen in the photos.

    Args:
        model: The SfM model.
        image_path: Path of the photo of an image name (the photos the model was made from).
        spec: The target: kind, dictionary and sizes in millimetres.
    """
    points = _marker_points(model, image_path, spec)
    pairs = known_distances(list(points), spec)
    if not pairs:
        raise ValueError(f"no {spec.kind} target ({spec.dictionary}) was seen in two or more registered photos")
    ratios = np.array([d / 1000.0 / np.linalg.norm(points[a] - points[b]) for a, b, d in pairs])
    scale, uncertainty = _robust(ratios)
    return ScaleEstimate(method="marker", scale=scale, relative_uncertainty=uncertainty, samples=len(pairs))


def parse_points(text: str) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Marked points from text: one observation a line, ``label image_name x y`` (pixels, COLMAP
    convention: the top-left pixel's centre is (0.5, 0.5)); ``#`` starts a comment."""
    marked: dict[str, list[tuple[str, np.ndarray]]] = defaultdict(list)
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 4:
            raise ValueError(f"line {number}: expected 'label image_name x y', got {line!r}")
        marked[parts[0]].append((parts[1], np.array([float(parts[2]), float(parts[3])])))
    return dict(marked)


def points_scale(model: Any, text: str, distance_m: float, *, noise_px: float = 0.5, seed: int = 0) -> ScaleEstimate:
    """Scale from two marked points ``distance_m`` apart (see :func:`parse_points` for the text)."""
    marked = parse_points(text)
    if len(marked) != 2:
        raise ValueError(f"the points file must mark exactly two points, got {len(marked)}: {', '.join(marked)}")
    by_name = {im.name: im for im in model.images.values() if im.has_pose}
    rng = np.random.default_rng(seed)

    def distance(noise: float) -> float:
        ends = []
        for label, observations in marked.items():
            obs = [_observation(model, by_name[n], p + rng.normal(0.0, noise, 2))
                   for n, p in observations if n in by_name]
            found = triangulate(obs)
            if found is None:
                raise ValueError(f"point {label!r} is not marked in two registered photos")
            ends.append(found[0])
        return float(np.linalg.norm(ends[0] - ends[1]))

    scale = distance_m / distance(0.0)
    trials = np.array([distance_m / distance(noise_px) for _ in range(50)])
    samples = sum(len(v) for v in marked.values())
    return ScaleEstimate(method="points", scale=scale, relative_uncertainty=float(np.std(trials) / scale),
                         samples=samples)
