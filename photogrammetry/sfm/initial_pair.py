"""The incremental mapper's initial pair, where COLMAP's own choice would start a bent model.

COLMAP starts a model from the first pair, in its order (images with the most correspondences
first, then their partners with the most), whose two-view geometry has enough inliers, a small
enough forward motion and a large enough triangulation angle. Where a homography fits the pair's
inliers about as well as an essential matrix (a planar or panoramic configuration), it takes the
pair's pose from the homography's decomposition. On a walk that turns fast in front of a wall that
pose can be far off, with a triangulation angle that the essential matrix does not give, and the
whole model is built on it: on the real office frames 40-59 (``cpu`` matches) COLMAP started from
00246-00254 (41 degrees apart), whose homography pose is 19.9 degrees off the true rotation and
whose triangulation angle is 15.2 degrees (essential matrix: 0.5 degrees off, 5.1 degrees, too
little to start from); every later image was registered against that structure, and bundle
adjustment kept the bend: relative rotations 17.4 degrees off at the median, reprojection error
0.92 px, focal length 467 px (true 495.5). Started from 00236-00246 (essential matrix, 0.3 degrees
off): 0.9 degrees, 0.53 px, 488 px. The true cameras adjusted on the same matches give 0.50 px, so
the bend is a local minimum that the start decides, not a better fit.

:func:`choose` walks COLMAP's order with COLMAP's tests and returns the first pair that passes them
without such a contradiction (the homography's and the essential matrix's rotations within
``initial_pair.max_disagreement_deg``), but only where COLMAP's own first pick is contradicted;
elsewhere it returns ``None`` and COLMAP chooses as before. :func:`map_from` maps from the pair
and lets COLMAP start the further models (pieces) on its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photogrammetry.sfm.colmap import keypoint_positions

if TYPE_CHECKING:
    import pycolmap

    from photogrammetry.sfm.initial_pair_options import InitialPairOptions

log = logging.getLogger("photogrammetry.sfm")


@dataclass(frozen=True)
class PairPose:
    """One pair's initial two-view geometry as COLMAP's mapper estimates it."""

    inliers: int
    tri_angle_deg: float
    """Median triangulation angle of the pose COLMAP would use."""
    forward: float
    """Forward part of the unit translation (COLMAP's ``init_max_forward_motion`` test)."""
    disagreement_deg: float
    """Angle between the homography's and the essential matrix's rotations (0 where the configuration
    is not planar or panoramic)."""


def pair_pose(camera1: pycolmap.Camera, points1: np.ndarray, camera2: pycolmap.Camera, points2: np.ndarray,
              matches: np.ndarray, max_error: float, seed: int) -> PairPose | None:
    """The pair's initial two-view geometry with COLMAP's mapper's RANSAC (``max_error`` pixels), and how
    far its homography pose is from its essential-matrix pose; ``None`` where no pose is found."""
    import pycolmap

    options = pycolmap.TwoViewGeometryOptions()
    options.ransac.max_error = max_error
    options.ransac.min_num_trials = 30
    options.ransac.random_seed = seed
    found = pycolmap.estimate_calibrated_two_view_geometry(camera1, points1, camera2, points2, matches, options)
    if not pycolmap.estimate_two_view_geometry_pose(camera1, points1, camera2, points2, found):
        return None
    kinds = pycolmap.TwoViewGeometryConfiguration
    rotation, t, tri_angle = (pycolmap.Rotation3d(found.cam2_from_cam1.rotation.matrix()),
                              np.asarray(found.cam2_from_cam1.translation, dtype=float), float(found.tri_angle))
    disagreement = 0.0
    if found.config in (kinds.PLANAR, kinds.PANORAMIC, kinds.PLANAR_OR_PANORAMIC):
        found.config = kinds.CALIBRATED
        if not pycolmap.estimate_two_view_geometry_pose(camera1, points1, camera2, points2, found):
            return None
        disagreement = float(np.degrees((found.cam2_from_cam1.rotation * rotation.inverse()).angle()))
    forward = abs(t[2]) / max(float(np.linalg.norm(t)), 1e-12)
    return PairPose(len(found.inlier_matches), float(np.degrees(tri_angle)), forward, disagreement)


def colmap_order(database: Path, min_num_matches: int, min_inliers: int) -> list[tuple[int, int]]:
    """The candidate pairs in COLMAP's order: first images by their verified correspondences (pairs of at
    least ``min_num_matches`` inliers), most first; each one's partners by their shared inliers (at least
    ``min_inliers``), most first; each pair once."""
    import pycolmap

    with pycolmap.Database.open(database) as db:
        pair_ids, counts = db.read_two_view_geometry_num_inliers()
    shared: dict[int, dict[int, int]] = {}
    for pair_id, count in zip(pair_ids, counts, strict=True):
        if count < min_num_matches:
            continue
        a, b = (int(i) for i in pycolmap.pair_id_to_image_pair(int(pair_id)))
        shared.setdefault(a, {})[b] = int(count)
        shared.setdefault(b, {})[a] = int(count)
    order, seen = [], set()
    for first in sorted(shared, key=lambda i: (-sum(shared[i].values()), i)):
        for second in sorted(shared[first], key=lambda j: (-shared[first][j], j)):
            key = (min(first, second), max(first, second))
            if shared[first][second] >= min_inliers and key not in seen:
                seen.add(key)
                order.append((first, second))
    return order


def choose(database: Path, options: InitialPairOptions, pipeline: pycolmap.IncrementalPipelineOptions
           ) -> tuple[int, int] | None:
    """The initial pair (image ids) to give COLMAP's incremental mapper run with ``pipeline``, or ``None`` to
    leave it its own choice: a pair only where the first pair COLMAP would accept (by ``pipeline``'s initial
    pair settings) has a homography pose that its essential matrix contradicts; then the first pair after it
    that passes COLMAP's tests uncontradicted (logged)."""
    import pycolmap

    if not options.enabled:
        return None
    mapper = pipeline.mapper
    order = colmap_order(database, pipeline.min_num_matches, mapper.init_min_num_inliers)[:options.max_pairs]
    contradicted = None
    with pycolmap.Database.open(database) as db:
        cameras = {c.camera_id: c for c in db.read_all_cameras()}
        images = {im.image_id: im for im in db.read_all_images()}
        keypoints: dict[int, np.ndarray] = {}  # each image's read once, as the walk reaches it

        def positions(image_id: int) -> np.ndarray:
            if image_id not in keypoints:
                keypoints[image_id] = keypoint_positions(db, image_id)
            return keypoints[image_id]

        for id1, id2 in order:
            pose = pair_pose(cameras[images[id1].camera_id], positions(id1), cameras[images[id2].camera_id],
                             positions(id2), np.asarray(db.read_two_view_geometry(id1, id2).inlier_matches),
                             mapper.init_max_error, pipeline.random_seed)
            if pose is None or not (pose.inliers >= mapper.init_min_num_inliers
                                    and pose.forward < mapper.init_max_forward_motion
                                    and pose.tri_angle_deg > mapper.init_min_tri_angle):
                continue
            if pose.disagreement_deg > options.max_disagreement_deg:
                contradicted = contradicted or (images[id1].name, images[id2].name, pose.disagreement_deg)
                continue
            if contradicted is None:
                return None
            log.info("incremental mapping starts from %s and %s: COLMAP's first choice, %s and %s, is a planar or "
                     "panoramic pair whose homography and essential matrix disagree by %.1f degrees "
                     "(sfm.initial_pair.max_disagreement_deg %.1f)", images[id1].name, images[id2].name,
                     *contradicted, options.max_disagreement_deg)
            return id1, id2
    return None


def map_from(pair: tuple[int, int], database: Path, images: Path, out: Path,
             options: pycolmap.IncrementalPipelineOptions) -> dict:
    """COLMAP's incremental mapping with its first model started from ``pair``, the further models
    (pieces) started by COLMAP itself; ``{}`` where the pair does not start a model (the caller maps
    as before)."""
    import pycolmap

    first = out.parent / f"{out.name}-initial-pair"
    (first / "start").mkdir(parents=True, exist_ok=True)
    single = pycolmap.IncrementalPipelineOptions(options.todict())
    single.init_image_id1, single.init_image_id2 = pair
    single.multiple_models = False
    found = pycolmap.incremental_mapping(database, images, first, single)
    if not found:
        log.info("incremental mapping from images %d and %d found no model; COLMAP chooses the initial pair", *pair)
        return {}
    start = max(found.values(), key=lambda m: m.num_reg_images())
    start.write(first / "start")
    return pycolmap.incremental_mapping(database, images, out, options, input_path=first / "start")
