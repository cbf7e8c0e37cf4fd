"""Guided matching for the weakly tied images of a first mapping pass, before the second pass.

Where a walk turns fast, each frame overlaps only its neighbours, and the scale carries across the
turn only through keypoints of a frame that match both a frame before it and one after it. Mutual
nearest neighbours with a ratio test over the whole image find few such matches there: the turn's
frames are weakly textured and the ratio test compares every descriptor of the other image. On the
office walk (20 frames, ``cpu``) frame 12 had 14 keypoints matched on both sides, frames 10-11
17-22, and the mapper broke there into pieces joined through 5 points (the part after the turn
then 0.66 x the scale before it).

Images of the first pass's models with fewer than ``guided.min_points`` 3D points are weak. Each
verified pair with a weak image is matched again along the epipolar lines of the cameras of the
first pass's largest model that registered both (intrinsics with distortion, relative pose; where
the first pass broke into pieces at the turn, a piece registered the frames after it): a keypoint's candidates are the
other image's keypoints within ``guided.max_error_px`` of its epipolar line (both ways); the nearest
candidate is kept where it is mutual, passes the ratio test against the second candidate and lies
within ``guided.max_distance`` in descriptor distance. The new matches join the pair's raw matches
(keypoints already matched keep their match) and the second pass verifies them again, calibrated,
with the rest. Only our own features' keypoints take part (those of the SIFT assist have no
descriptors here). Where the second pass's models still hold weak images in pairs that no first-pass
model registered together, those pairs are matched along the second pass's lines and mapped once more
(:func:`~photogrammetry.sfm.focal_pass.map_cameras`).

Measured on the office walk (``cpu`` with ``mapping.min_tri_angle`` 0.75, three runs each, see the
docs/benchmarks.md's "Scale along a walk"): it helps 20 frames in two runs of three and harms 40 frames, so no
preset turns it on (``guided.min_points`` 0). Against the true cameras, about 12 % of the guided matches
lie over 8 px from the true epipolar lines (of the RANSAC inliers, 3 %): the first pass's cameras are
a degree or two off at the turn, and along a nearly pure rotation the lines say little.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photogrammetry.io.features import FeatureFile
from photogrammetry.matching.descriptors import unit_descriptors

if TYPE_CHECKING:
    import pycolmap

    from photogrammetry.sfm.options import GuidedOptions

log = logging.getLogger("photogrammetry.sfm")

_ROWS = 1024
"""Keypoints of the first image compared at once (bounds the memory of a pair)."""


def weak_images(model: pycolmap.Reconstruction, min_points: int) -> set[int]:
    """Registered image ids of ``model`` that see fewer than ``min_points`` of its 3D points."""
    return {int(i) for i in model.reg_image_ids() if model.image(i).num_points3D < min_points}


def essential(model: pycolmap.Reconstruction, id0: int, id1: int) -> np.ndarray:
    """The essential matrix of two registered images of ``model``: ``x1^T E x0 = 0`` for normalised rays."""
    pose = model.image(id1).cam_from_world() * model.image(id0).cam_from_world().inverse()
    t = pose.translation
    skew = np.array([[0.0, -t[2], t[1]], [t[2], 0.0, -t[0]], [-t[1], t[0], 0.0]])
    return skew @ pose.rotation.matrix()


def _line_distances(lines: np.ndarray, rays: np.ndarray) -> np.ndarray:
    """``(L, R)`` distances of the normalised ``rays`` (R, 3) to the ``lines`` (L, 3), normalised units."""
    return np.abs(lines @ rays.T) / np.maximum(np.linalg.norm(lines[:, :2], axis=1, keepdims=True), 1e-12)


def epipolar_matches(E: np.ndarray, rays0: np.ndarray, rays1: np.ndarray, desc0: np.ndarray, desc1: np.ndarray, *,
                     band: float, ratio: float, max_distance: float) -> np.ndarray:
    """Matches ``(M, 2)`` of keypoint indices along the epipolar lines of ``E``.

    Args:
        E: Essential matrix, ``rays1^T E rays0 = 0``.
        rays0, rays1: ``(N, 3)`` normalised camera rays ``(x, y, 1)`` of the keypoints.
        desc0, desc1: ``(N, D)`` unit descriptors.
        band: Largest distance of a candidate to the epipolar line, normalised units (pixels / focal),
            both ways.
        ratio: A match's descriptor distance over the second candidate's must be below it.
        max_distance: Largest descriptor distance of a match.
    """
    n0, n1 = len(rays0), len(rays1)
    if n0 == 0 or n1 == 0:
        return np.zeros((0, 2), np.int64)
    lines_in_1, lines_in_0 = rays0 @ E.T, rays1 @ E
    best1, second1, arg1 = np.full(n0, -2.0), np.full(n0, -2.0), np.zeros(n0, np.int64)
    best0, arg0 = np.full(n1, -2.0), np.zeros(n1, np.int64)
    for start in range(0, n0, _ROWS):
        rows = slice(start, min(start + _ROWS, n0))
        near = (_line_distances(lines_in_1[rows], rays1) < band) & (_line_distances(lines_in_0, rays0[rows]).T < band)
        sim = np.where(near, desc0[rows] @ desc1.T, -2.0)
        top = np.argmax(sim, axis=1)
        arg1[rows], best1[rows] = top, sim[np.arange(len(top)), top]
        sim[np.arange(len(top)), top] = -2.0
        second1[rows] = sim.max(axis=1)
        sim[np.arange(len(top)), top] = best1[rows]
        col = np.argmax(sim, axis=0)
        better = sim[col, np.arange(n1)] > best0
        best0[better], arg0[better] = sim[col, np.arange(n1)][better], col[better] + start
    distance = np.sqrt(np.clip(2.0 - 2.0 * best1, 0.0, None))
    second = np.where(second1 > -2.0, np.sqrt(np.clip(2.0 - 2.0 * second1, 0.0, None)), np.inf)
    keep = (best1 > -2.0) & (arg0[arg1] == np.arange(n0)) & (distance <= max_distance) & (distance < ratio * second)
    index = np.nonzero(keep)[0]
    return np.column_stack([index, arg1[index]]).astype(np.int64)


def camera_rays(model: pycolmap.Reconstruction, image_id: int, keypoints: np.ndarray) -> np.ndarray:
    camera = model.camera(model.image(image_id).camera_id)
    xy = np.asarray(camera.cam_from_img(np.asarray(keypoints, np.float64)), np.float64)
    return np.column_stack([xy, np.ones(len(xy))])


def image_features(db: pycolmap.Database, file: FeatureFile, model: pycolmap.Reconstruction,
                   image_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An image's keypoints (N, 2) as the database holds them, the rays (K, 3) of our own K of them in
    ``model``'s camera and their unit descriptors (K, D) (the SIFT assist's keypoints follow ours and
    have no descriptors here)."""
    own = file.read(db.read_image(image_id).name)
    keypoints = np.asarray(db.read_keypoints(image_id))[:, :2].astype(np.float64)
    return keypoints, camera_rays(model, image_id, keypoints[: len(own.keypoints)]), unit_descriptors(own.descriptors)


def merged_matches(raw: np.ndarray, new: np.ndarray) -> np.ndarray:
    """``raw`` and those of ``new`` whose keypoints ``raw`` leaves unmatched, on both sides."""
    fresh = ~np.isin(new[:, 0], raw[:, 0]) & ~np.isin(new[:, 1], raw[:, 1])
    return np.concatenate([raw.astype(np.int64), new[fresh]])


def _pairs(db: pycolmap.Database, models: list[pycolmap.Reconstruction], min_points: int, min_inliers: int,
           skip: set[tuple[int, int]]) -> list[tuple[int, int, pycolmap.Reconstruction]]:
    """The verified pairs to match again (not in ``skip``), each with the first of ``models`` that
    registered both images."""
    import pycolmap

    pair_ids, counts = db.read_two_view_geometry_num_inliers()
    found = []
    for pair_id, n in zip(pair_ids, counts, strict=True):
        a, b = (int(i) for i in pycolmap.pair_id_to_image_pair(pair_id))
        model = next((m for m in models if m.exists_image(a) and m.exists_image(b) and m.image(a).has_pose
                      and m.image(b).has_pose), None)
        if n >= min_inliers and (a, b) not in skip and model is not None and weak_images(model, min_points) & {a, b}:
            found.append((a, b, model))
    return found


def add_guided_matches(database: Path, features: Path, models: list[pycolmap.Reconstruction],
                       options: GuidedOptions, min_inliers: int,
                       skip: set[tuple[int, int]] = frozenset()) -> set[tuple[int, int]]:
    """Match the verified pairs of ``database`` (at least ``min_inliers`` inliers) that hold a weak
    image again along the epipolar lines of the first of ``models`` (a mapping pass's, largest first)
    that registered both, and add what is new to their raw matches (see the module docstring): the
    pairs matched again (image ids; those of ``skip`` are left out)."""
    import pycolmap

    with pycolmap.Database.open(database) as db, FeatureFile(features) as file:
        pairs = _pairs(db, models, options.min_points, min_inliers, skip)
        added = 0
        cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for a, b, model in pairs:
            for i in (a, b):
                if (id(model), i) not in cache:
                    cache[id(model), i] = image_features(db, file, model, i)
            (_, rays0, desc0), (_, rays1, desc1) = cache[id(model), a], cache[id(model), b]
            focal = model.camera(model.image(a).camera_id).mean_focal_length()
            new = epipolar_matches(essential(model, a, b), rays0, rays1, desc0, desc1,
                                   band=options.max_error_px / focal, ratio=options.ratio,
                                   max_distance=options.max_distance)
            raw = np.zeros((0, 2), np.int64)
            if db.exists_matches(a, b):  # pycolmap reads and writes pairs in the order asked
                raw = np.asarray(db.read_matches(a, b), np.int64).reshape(-1, 2)
                db.delete_matches(a, b)
            merged = merged_matches(raw, new)
            added += len(merged) - len(raw)
            db.write_matches(a, b, np.ascontiguousarray(merged, dtype=np.uint32))
    weak = {i for a, b, m in pairs for i in weak_images(m, options.min_points) & {a, b}}
    log.info("guided matching: %d weak image(s) (fewer than %d points), %d pairs matched again, %d matches added",
             len(weak), options.min_points, len(pairs), added)
    return {(a, b) for a, b, _ in pairs}
