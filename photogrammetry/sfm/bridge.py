"""Tracks across a join: guided matching between a piece and the largest model before they are adjusted as one.

A piece of an incremental run is joined into the largest model through the images both registered
(:mod:`photogrammetry.sfm.pieces`). Its scale against the rest then rests on the 3D points that tie
the two sides together: tracks seen by an image of the piece, the shared image and an image of the
largest model. Where a walk turns fast these are few, because nearest-neighbour matching with a
ratio test over the whole image finds few keypoints of the shared frame that match both a frame
before it and one after it. Measured on the real office walk (60 frames, ``cpu``): frames 150-174
formed a piece that shared only frame 174 with the rest; 8 of frame 174's keypoints were verified
inliers with a frame on each side, 3 were triangulated in both models, and no pair of frames across
it verified (3 correct raw matches of 32 between frames 172 and 176). Joined on those, the piece
came out 16 % shallower than the rest against the true cameras.

Once the piece's images sit in the largest model at the poses the join gives, the pairs through the
shared images (each with the images it is verified with on either side) are matched again along
the epipolar lines of those poses (:func:`guided.epipolar_matches`, ``guided`` options: band, ratio,
descriptor distance; matches that triangulate behind a camera dropped: on the office walk 12-55 % of
a pair's verified matches did, along the line on the wrong side of the epipole). The new matches
join the pairs' raw matches, and each pair is verified again with COLMAP's RANSAC (and the tighter
check for chance inliers of :mod:`photogrammetry.sfm.chance`); a pair's geometry is replaced where it
gains inliers. These pairs' epipolar lines do not depend on the join's scale, which
:func:`scale_through` then takes from the shared images' keypoints matched on both sides, with its
standard error. The pairs across (an image of the piece with one of the largest model, both
verified with a shared image) are matched last, at that scale. On the office walk frame 174's
keypoints matched on both sides went from 8 to 11 (along the true epipolar lines SIFT's keypoints
give 41), of which 3-7 triangulated on both sides: 7 gave the scale within 1.5-2.0 %, 4 within
9.6 %. Where the join held, the 12 frames came in at the rest's scale; in four runs of six the
retry with the lens distortion held then kept a model of all 60 broken elsewhere. That retry is now
refused (:mod:`~photogrammetry.sfm.continuity`), and with it refused five runs kept 48 of 60 (the join
found 4 keypoints within 9.6-9.7 %), so ``mapping.join_tracks`` stays off (docs/photos_without_exif.md).

Only our own features take part (the keypoints of the SIFT assist have no descriptors here).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photogrammetry.io.features import FeatureFile
from photogrammetry.sfm import chance
from photogrammetry.sfm.database import pairs_of
from photogrammetry.sfm.guided import camera_rays, epipolar_matches, essential, image_features, merged_matches
from photogrammetry.sfm.verification import two_view_options

if TYPE_CHECKING:
    import pycolmap

    from photogrammetry.sfm.options import SfmOptions

log = logging.getLogger("photogrammetry.sfm")


def pairs_across(database: Path, shared: set[int], piece: set[int], largest: set[int],
                 min_inliers: int) -> list[tuple[int, int]]:
    """The image pairs (ids) to match again around the ``shared`` images of a join: each shared image
    with every image of ``piece`` or ``largest`` it is verified with (at least ``min_inliers``
    inliers), and each such image of the piece with each such image of the largest model."""
    near: dict[int, set[int]] = {s: set() for s in shared}
    for a, b, count in pairs_of(database):
        if count < min_inliers:
            continue
        for s, other in ((a, b), (b, a)):
            if s in shared and other not in shared and other in piece | largest:
                near[s].add(other)
    found = {tuple(sorted((s, o))) for s, others in near.items() for o in others}
    for others in near.values():
        found |= {tuple(sorted((a, b))) for a in others & (piece - largest) for b in others & (largest - piece)}
    return sorted(found)


def through_and_across(pairs: list[tuple[int, int]], shared: set[int]) -> tuple[list, list]:
    """``pairs`` split into those with a shared image (their epipolar lines do not depend on the
    join's scale) and those across it (they do)."""
    through = [p for p in pairs if set(p) & shared]
    return through, [p for p in pairs if not set(p) & shared]


def scale_through(database: Path, model: pycolmap.Reconstruction, shared: set[int], piece: set[int],
                  largest: set[int], min_angle_deg: float, agreement: float) -> tuple[float, int, float]:
    """The factor that the piece's part of ``model`` must be scaled by about the shared images, from the
    shared images' keypoints that are verified inliers with an image of ``piece`` and one of ``largest``
    (ids, the shared ones excepted): each such keypoint's depth in its shared image, triangulated with
    the largest model's images over that triangulated with the piece's (two views each, rays at least
    ``min_angle_deg`` apart, median per side); the median of the ratios that agree within a factor
    ``agreement`` of the first median, their count, and the median's standard error as a fraction
    (1.2533 x the robust standard deviation of their logarithms over the square root of the count;
    1.0, 0 and infinity without)."""
    import pycolmap

    ratios = []
    with pycolmap.Database.open(database) as db:
        for s in shared:
            keypoints = np.asarray(db.read_keypoints(s))[:, :2].astype(np.float64)
            depths: dict[str, dict[int, list[float]]] = {"piece": {}, "largest": {}}
            for side, images in (("piece", piece), ("largest", largest)):
                for other in images:
                    if not db.exists_two_view_geometry(s, other):
                        continue
                    matches = np.asarray(db.read_two_view_geometry(s, other).inlier_matches).reshape(-1, 2)
                    if len(matches) == 0:
                        continue
                    keypoints_o = np.asarray(db.read_keypoints(other))[matches[:, 1], :2].astype(np.float64)
                    z = _depths(model, s, other, keypoints[matches[:, 0]], keypoints_o, min_angle_deg)
                    for k, depth in zip(matches[:, 0], z, strict=True):
                        if np.isfinite(depth):
                            depths[side].setdefault(int(k), []).append(float(depth))
            both = set(depths["piece"]) & set(depths["largest"])
            ratios += [np.median(depths["largest"][k]) / np.median(depths["piece"][k]) for k in both]
    if not ratios:
        return 1.0, 0, float("inf")
    median = float(np.median(ratios))
    agree = [r for r in ratios if median / agreement <= r <= median * agreement]
    logs = np.log(agree)
    error = 1.2533 * 1.4826 * float(np.median(np.abs(logs - np.median(logs)))) / np.sqrt(len(agree))
    return float(np.median(agree)), len(agree), float(np.expm1(error))


def _depths(model: pycolmap.Reconstruction, a: int, b: int, keypoints_a: np.ndarray, keypoints_b: np.ndarray,
            min_angle_deg: float) -> np.ndarray:
    """``(N,)`` depths in image ``a`` of the points that the matched keypoints of ``a`` and ``b`` triangulate
    to (midpoint of the two rays; NaN where the rays are less than ``min_angle_deg`` apart or a point
    lies behind a camera)."""
    pose_a, pose_b = model.image(a).cam_from_world(), model.image(b).cam_from_world()
    rays_a, rays_b = camera_rays(model, a, keypoints_a), camera_rays(model, b, keypoints_b)
    rotation_a, rotation_b = pose_a.rotation.matrix(), pose_b.rotation.matrix()
    world_a, world_b = rays_a @ rotation_a, rays_b @ rotation_b  # R^T ray, rows
    baseline = model.image(b).projection_center() - model.image(a).projection_center()
    # depth_a * world_a - depth_b * world_b = baseline, least squares per point
    aa, bb, ab = np.sum(world_a**2, 1), np.sum(world_b**2, 1), np.sum(world_a * world_b, 1)
    ra, rb = world_a @ baseline, world_b @ baseline
    det = aa * bb - ab**2
    with np.errstate(divide="ignore", invalid="ignore"):
        depth_a = (bb * ra - ab * rb) / det
        depth_b = (ab * ra - aa * rb) / det
        cosine = ab / np.sqrt(aa * bb)
    angle = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
    return np.where((angle >= min_angle_deg) & (depth_a > 0) & (depth_b > 0), depth_a, np.nan)


def match_across(database: Path, features: Path, model: pycolmap.Reconstruction, pairs: list[tuple[int, int]],
                 config: SfmOptions) -> int:
    """Match ``pairs`` of ``model``'s registered images again along its epipolar lines, add the new
    matches to their raw matches and verify each pair again, replacing its two-view geometry where
    that finds more inliers (see the module docstring). Returns the pairs whose geometry was replaced."""
    import pycolmap

    options = two_view_options(config)
    tight = chance.recheck_options(options, config.verification.core_fraction)
    guided = config.guided
    replaced = 0
    with pycolmap.Database.open(database) as db, FeatureFile(features) as file:
        cameras = {c.camera_id: c for c in db.read_all_cameras()}
        cache = {i: image_features(db, file, model, i) for i in {i for pair in pairs for i in pair}}
        for a, b in pairs:
            (kp0, rays0, desc0), (kp1, rays1, desc1) = cache[a], cache[b]
            focal = model.camera(model.image(a).camera_id).mean_focal_length()
            new = epipolar_matches(essential(model, a, b), rays0, rays1, desc0, desc1,
                                   band=guided.max_error_px / focal, ratio=guided.ratio,
                                   max_distance=guided.max_distance)
            new = new[np.isfinite(_depths(model, a, b, kp0[new[:, 0]], kp1[new[:, 1]], 0.0))]  # in front of both
            raw = np.asarray(db.read_matches(a, b), np.int64).reshape(-1, 2) if db.exists_matches(a, b) \
                else np.zeros((0, 2), np.int64)
            merged = np.ascontiguousarray(merged_matches(raw, new), dtype=np.uint32)
            if len(merged) == len(raw):
                continue
            camera0, camera1 = cameras[db.read_image(a).camera_id], cameras[db.read_image(b).camera_id]
            found = pycolmap.estimate_two_view_geometry(camera0, kp0, camera1, kp1, merged, options)
            count = len(found.inlier_matches)
            if count < options.min_num_inliers or (
                    count < chance.RECHECK_BELOW * options.min_num_inliers
                    and len(pycolmap.estimate_two_view_geometry(camera0, kp0, camera1, kp1, merged, tight)
                            .inlier_matches) < options.min_num_inliers):
                continue
            before = len(db.read_two_view_geometry(a, b).inlier_matches) if db.exists_two_view_geometry(a, b) else 0
            if count <= before:
                continue
            if db.exists_matches(a, b):
                db.delete_matches(a, b)
            db.write_matches(a, b, merged)
            if db.exists_two_view_geometry(a, b):
                db.delete_two_view_geometry(a, b)
            db.write_two_view_geometry(a, b, found)
            replaced += 1
    log.info("tracks across a join: %d pairs matched again along the joined poses, %d of them with more "
             "verified matches", len(pairs), replaced)
    return replaced
