"""Synthetic sfm inputs for the captures that make focal estimation hard, without images.

``pycolmap.synthesize_dataset`` places its cameras around the points at a moderate field of
view; these rigs place them the way two hard real captures do:

- :func:`forward_video`: a hand-held walk through a room, frames of a video (each camera
  looks roughly along the direction it moves in; frames overlap only with near neighbours);
- :func:`narrow_ring`: an object photographed on a ring of viewpoints through a long lens
  (focal length over 4x the image width);
- :func:`sideways_walk`: a walk across a room looking at its far wall (sideways steps), through a
  lens with radial distortion.

Their projections become ``features.h5`` / ``matches.h5`` (with a share of wrong matches)
beside an :class:`IngestResult` without a focal prior, as from photos without EXIF.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from photogrammetry.io.features import FeatureSet, Features, Matches, MatchSet, write_features, write_matches
from photogrammetry.io.ingest import CameraGroup, ImageRecord, IngestReport, IngestResult


@dataclass(frozen=True)
class Rig:
    """True cameras and points of a synthetic capture."""

    rotations: np.ndarray
    """``(V, 3, 3)`` camera-from-world rotations."""
    translations: np.ndarray
    """``(V, 3)`` camera-from-world translations."""
    points: np.ndarray
    """``(N, 3)`` world points."""
    normals: np.ndarray
    """``(N, 3)`` outward surface normals (a point is seen from the side its normal faces)."""
    width: int
    height: int
    focal: float
    """True focal length in pixels (principal point at the image centre, no distortion)."""
    window: int
    """Frames within this distance of each other are matched (0: every pair)."""
    k1: float = 0.0
    """Radial distortion of the lens (COLMAP's ``SIMPLE_RADIAL``: ``x (1 + k1 r^2)`` in normalised coordinates)."""
    principal_point: tuple[float, float] = (0.0, 0.0)
    """Offset of the principal point from the image centre, pixels (x, y)."""
    readout: float = 0.0
    """Rolling shutter: row ``y`` is read ``(y - height / 2) / height * readout`` frame intervals after the
    middle row, the camera moving meanwhile at the velocity of its neighbouring frames (0: a global shutter)."""
    readout_moves: bool = True
    """The camera's centre moves during the readout too (else it only turns, as on a fast pan)."""


def _look(center: np.ndarray, forward: np.ndarray, up=(0.0, 0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Camera-from-world rotation and translation of a camera at ``center`` looking along ``forward``."""
    z = forward / np.linalg.norm(forward)
    x = np.cross(z, np.asarray(up, float))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    rotation = np.stack([x, y, z])
    return rotation, -rotation @ center


def _walls(rng: np.random.Generator, planes: tuple[tuple[int, float, int], ...], low: list[float],
           high: list[float], count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random points on each wall ``(axis, value, normal sign)`` of the box ``low``-``high``,
    and their normals."""
    walls = []
    for axis, value, normal in planes:
        p = rng.uniform(low, high, size=(count, 3))
        p[:, axis] = value
        n = np.zeros_like(p)
        n[:, axis] = normal
        walls.append((p, n))
    points, normals = (np.concatenate(a) for a in zip(*walls))
    return points, normals


def forward_video(*, num_frames: int = 24, focal: float = 500.0, seed: int = 0,
                  principal_point: tuple[float, float] = (0.0, 0.0)) -> Rig:
    """A walk of 3 m down a 8 x 5 x 3 m room, looking ahead with a gentle sway, 640 x 480, the principal
    point ``principal_point`` pixels off the centre."""
    points, normals = _walls(np.random.default_rng(seed), ((0, 8.0, -1), (1, -2.5, 1), (1, 2.5, -1), (2, 0.0, 1),
                                                          (2, 3.0, -1)), [-1.0, -2.5, 0.0], [8.0, 2.5, 3.0], 300)
    rotations, translations = [], []
    for i in range(num_frames):
        s = i / max(num_frames - 1, 1)
        center = np.array([3.0 * s, 0.4 * np.sin(2.0 * s), 1.5 + 0.1 * np.sin(5.0 * s)])
        yaw, pitch = np.deg2rad(12.0 * np.sin(3.0 * s)), np.deg2rad(-5.0 + 4.0 * np.cos(4.0 * s))
        forward = np.array([np.cos(yaw) * np.cos(pitch), np.sin(yaw) * np.cos(pitch), np.sin(pitch)])
        r, t = _look(center, forward)
        rotations.append(r)
        translations.append(t)
    return Rig(np.stack(rotations), np.stack(translations), points, normals, 640, 480, focal, window=6,
               principal_point=principal_point)


def sideways_walk(*, num_frames: int = 24, focal: float = 500.0, k1: float = 0.0, seed: int = 0) -> Rig:
    """A walk of 4 m across a 8 x 6 x 3 m room, looking at the far wall 5 m away (the cameras step
    sideways, across their viewing direction), 640 x 480, through a lens with radial distortion ``k1``."""
    points, normals = _walls(np.random.default_rng(seed), ((0, -4.0, 1), (0, 4.0, -1), (1, 3.0, -1), (2, 0.0, 1),
                                                          (2, 3.0, -1)), [-4.0, -3.0, 0.0], [4.0, 3.0, 3.0], 500)
    rotations, translations = [], []
    for i in range(num_frames):
        s = i / max(num_frames - 1, 1)
        yaw = np.deg2rad(8.0 * np.sin(3.0 * s))
        r, t = _look(np.array([4.0 * s - 2.0, -2.0, 1.5]), np.array([np.sin(yaw), np.cos(yaw), -0.05]))
        rotations.append(r)
        translations.append(t)
    return Rig(np.stack(rotations), np.stack(translations), points, normals, 640, 480, focal, window=6, k1=k1)


def narrow_ring(*, num_views: int = 16, focal: float = 3000.0, seed: int = 0) -> Rig:
    """An object of 1 m across seen from 16 views on a ring 12 m away, 20 degrees up, 640 x 480."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(2500, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radius = 0.35 * (1.0 + 0.25 * np.sin(3.0 * directions[:, 0]) * np.cos(2.0 * directions[:, 2]))
    points = directions * radius[:, None]
    rotations, translations = [], []
    for i in range(num_views):
        a, e = 2.0 * np.pi * i / num_views, np.deg2rad(20.0)
        center = 12.0 * np.array([np.cos(a) * np.cos(e), np.sin(a) * np.cos(e), np.sin(e)])
        r, t = _look(center, -center)
        rotations.append(r)
        translations.append(t)
    return Rig(np.stack(rotations), np.stack(translations), points, directions, 640, 480, focal, window=0)


def _pixels(rig: Rig, cam: np.ndarray) -> np.ndarray:
    """Pixels of camera-frame points through the rig's lens."""
    xy = cam[:, :2] / np.maximum(cam[:, 2:], 1e-9)
    xy = xy * (1.0 + rig.k1 * np.sum(xy**2, axis=1, keepdims=True))
    return rig.focal * xy + [rig.width / 2 + rig.principal_point[0], rig.height / 2 + rig.principal_point[1]]


def _project(rig: Rig, view: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel positions (COLMAP convention) of the points ``view`` sees, and their indices."""
    from photogrammetry.sfm.rolling_shutter import observation_cameras, sequence_velocities

    cam = rig.points @ rig.rotations[view].T + rig.translations[view]
    center = -rig.rotations[view].T @ rig.translations[view]
    uv = _pixels(rig, cam)
    if rig.readout:
        centres = -np.einsum("nji,nj->ni", rig.rotations, rig.translations)
        angular, linear = sequence_velocities(rig.rotations, centres if rig.readout_moves else None)
        for _ in range(4):  # the row a point lands in sets its time, which moves the row
            R, C = observation_cameras(np.full(len(cam), view), uv[:, 1], rig.rotations, centres, angular, linear,
                                       rig.height, rig.readout)
            cam = np.einsum("nij,nj->ni", R, rig.points - C)
            uv = _pixels(rig, cam)
    facing = np.einsum("ij,ij->i", rig.normals, center - rig.points) > 0
    inside = (cam[:, 2] > 0.3) & facing & (uv[:, 0] > 1) & (uv[:, 1] > 1)
    inside &= (uv[:, 0] < rig.width - 1) & (uv[:, 1] < rig.height - 1)
    return uv[inside], np.flatnonzero(inside)


def _ingest(root: Path, names: list[str], width: int, height: int) -> IngestResult:
    images = tuple(ImageRecord(
        name=n, file=f"images/{n}", source=str(root / n), camera_id=1, width=width, height=height, scale=1.0,
        orientation=1, focal_px=None, focal_source="none", make=None, model=None, lens=None, focal_mm=None,
        sha256="0" * 64, mask=None) for n in names)
    camera = CameraGroup(camera_id=1, width=width, height=height, focal_px=None, focal_source="none", make=None,
                         model=None, lens=None, images=tuple(names))
    return IngestResult(root=root, images=images, cameras=(camera,), report=IngestReport(skipped=(), duplicates=()))


def write_rig(rig: Rig, folder: Path, *, noise_px: float = 0.5, wrong: float = 0.1,
              seed: int = 0) -> tuple[IngestResult, FeatureSet, MatchSet]:
    """The sfm stage's inputs for ``rig``: noisy projections, matches with a share ``wrong`` of outliers."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)  # no pixels: COLMAP only reads colours there
    names = [f"frame_{i:04d}.jpg" for i in range(len(rig.rotations))]
    seen, features = [], []
    for i, name in enumerate(names):
        uv, ids = _project(rig, i)
        uv = uv + rng.normal(scale=noise_px, size=uv.shape)
        seen.append({int(p): k for k, p in enumerate(ids)})
        features.append((name, Features(uv.astype(np.float32), np.ones(len(uv), np.float32),
                                        np.zeros((len(uv), 1), np.uint8), (rig.width, rig.height))))
    items = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if rig.window and j - i > rig.window:
                continue
            common = sorted(set(seen[i]) & set(seen[j]))
            m = np.array([[seen[i][p], seen[j][p]] for p in common], dtype=np.int32).reshape(-1, 2)
            if len(m) < 20:
                continue
            bad = rng.random(len(m)) < wrong
            m[bad, 1] = rng.integers(0, len(seen[j]), size=int(bad.sum()))
            items.append((names[i], names[j], Matches(m, np.ones(len(m), np.float32))))
    write_features(folder / "features.h5", features, "sift")
    write_matches(folder / "matches.h5", items, {name: len(f.keypoints) for name, f in features})
    return (_ingest(folder, names, rig.width, rig.height),
            FeatureSet(path=folder / "features.h5", extractor="sift"),
            MatchSet(path=folder / "matches.h5", pairs=tuple((a, b) for a, b, _ in items)))
