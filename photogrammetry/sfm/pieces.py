"""Pieces of one mapping run joined where they share a registered image.

The incremental mapper starts a new model where it cannot register an image into the current one,
and a later model may register some images of an earlier one again. Where a walk turns fast, one
frame sees both sides of the turn: it ends the first piece and starts the next, and nothing else
links them. On the real office walk (20 frames, ``cpu`` preset) frame 12 was registered in both
pieces (13 and 8 frames), frame 13 had 3 2D-3D matches to the first, and the 7 frames after the
turn were left out of the chosen model.

:func:`join_pieces` moves a smaller piece onto the largest by the similarity its shared images give:
their orientations and centres, and the scale from the 3D points that both pieces triangulated at
the same keypoints of those images (the median ratio of their depths). At least
``min_shared_points`` such points must agree within a factor of 1.5 of that median. Where fewer
do (and ``mapping.join_tracks``), the piece is placed by any that agree, the pairs through the shared
images are matched again along the placed poses, and the scale is taken from the shared images'
keypoints now matched on both sides instead (:mod:`photogrammetry.sfm.bridge`); at least
``min_shared_points`` of them must agree, and their median ratio be known within
``join_max_scale_error``, else the piece is left apart (such pieces are tried one after the other,
once the others are joined). The piece's other images join the largest model at the poses moved onto it; then
their points are triangulated, tracks completed and merged and the model adjusted again (robust
global bundle adjustment with the mapping's intrinsics settings, the distortion held), so that the
shared frame's tracks tie both parts together.

Measured on the office walk (``cpu``, ``benchmarks/sfm.py``): 20 frames 13/20 -> 20/20, pose AUC@5 0.268
-> 0.235-0.486 over four runs of the same matches (COLMAP's threads make runs differ); 40 frames 28/40
-> 40/40, 0.140 -> 0.402. The joined frames are the weaker part: AUC@5 0.10 among frames 12-19 in the
0.235 run (with 4096 keypoints, where the mapper links them itself: 0.47).
"""

from __future__ import annotations

import copy
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photogrammetry.sfm.continuity import shared_depth_ratios

if TYPE_CHECKING:
    import pycolmap

    from photogrammetry.sfm.options import SfmOptions

log = logging.getLogger("photogrammetry.sfm")

AGREEMENT = 1.5
"""A shared point's depth ratio must lie within this factor of the median for the point to count."""

JOIN_TOLERANCE = 1e-5
"""The function tolerance at which the adjustments after a join stop (the refinement's
``refinement.function_tolerance`` where higher): the chosen model is adjusted again by the final
refinement. On the office walk (``cpu``, the same matches, one mapping thread): office-60's two joins
1.53 -> 0.8 CPU s (the stage 11.0 -> 10.3), the same model (48/60, AUC@5 0.260, focal 490.6 px);
office-40 0.243 -> 0.244, office-20 0.518 -> 0.531, the same photos registered."""


@dataclass(frozen=True)
class Join:
    """A similarity from a piece onto the largest model and what it rests on."""

    sim: pycolmap.Sim3d
    """``largest_from_piece``."""
    shared_images: int
    shared_points: int
    """Points both models triangulated at the same keypoints of the shared images, that agree."""


def _names(model: pycolmap.Reconstruction) -> dict[str, int]:
    return {model.image(i).name: int(i) for i in model.reg_image_ids()}


def similarity(piece: pycolmap.Reconstruction, largest: pycolmap.Reconstruction, min_shared_points: int) -> Join | None:
    """The similarity that moves ``piece`` onto ``largest`` through their shared registered images, or
    ``None`` with no shared image or fewer than ``min_shared_points`` agreeing shared points."""
    import pycolmap

    ours, theirs = _names(largest), _names(piece)
    shared = sorted(set(ours) & set(theirs))
    if not shared:
        return None
    rotations, ratios = [], []
    for name in shared:
        a, b = largest.image(ours[name]), piece.image(theirs[name])
        rotations.append(a.cam_from_world().rotation.matrix().T @ b.cam_from_world().rotation.matrix())
        ratios.extend(shared_depth_ratios(piece, b, largest, a))  # the largest's depth over the piece's
    if not ratios:
        return None
    median = float(np.median(ratios))
    agree = [r for r in ratios if median / AGREEMENT <= r <= median * AGREEMENT]
    if len(agree) < min_shared_points:
        return None
    scale = float(np.median(agree))
    u, _, vt = np.linalg.svd(np.sum(rotations, axis=0))  # the chordal mean of the shared images' rotations
    rotation = u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))]) @ vt
    centres = [(largest.image(ours[n]).projection_center(), piece.image(theirs[n]).projection_center()) for n in shared]
    translation = np.mean([ca - scale * rotation @ cb for ca, cb in centres], axis=0)
    return Join(pycolmap.Sim3d(scale, pycolmap.Rotation3d(rotation), translation), len(shared), len(agree))


def join_pieces(models: list, database: Path, config: SfmOptions, *, num_threads: int,
                features: Path | None = None, light_tolerance: float | None = None) -> list:
    """``models`` (largest first) with every piece that shares a registered image with the largest
    joined into it (see the module docstring); the largest is changed in place, joined pieces are
    dropped. ``features`` (our ``features.h5``): with ``mapping.join_tracks``, the pieces left apart
    for too few shared points are tried once more through their tracks (:func:`_join_by_tracks`).
    ``light_tolerance``: for a light pass, which only finds the focal length, the joined model is adjusted
    as its mapper adjusts, once and stopped at this function tolerance (:func:`_triangulate`)."""
    if len(models) < 2:
        return models
    largest, kept, added, few = models[0], [models[0]], {}, []
    for piece in models[1:]:
        join = similarity(piece, largest, config.mapping.join_min_shared_points)
        fresh = {} if join is None else {n: i for n, i in _names(piece).items()
                                         if n not in _names(largest) and i not in added}
        if not fresh:
            (few if join is None else kept).append(piece)
            continue
        moved = copy.deepcopy(piece)
        moved.transform(join.sim)
        added.update({image_id: moved.image(image_id).cam_from_world() for image_id in fresh.values()})
        log.info("joined a piece of %d images into the largest model through %d shared image(s) and %d shared "
                 "points: %d images added", piece.num_reg_images(), join.shared_images, join.shared_points, len(fresh))
    if added:
        _triangulate(largest, list(added), database, config, num_threads, poses=added, light_tolerance=light_tolerance)
    tracks = features is not None and config.mapping.join_tracks and config.mapping.join_min_shared_points > 0
    for piece in few:
        joined = _join_by_tracks(largest, piece, database, config, num_threads, features) if tracks else None
        if joined is None:
            kept.append(piece)
        else:
            kept[0] = largest = joined
    return sorted(kept, key=lambda m: (-m.num_reg_images(), -m.num_points3D()))


def _join_by_tracks(largest: pycolmap.Reconstruction, piece: pycolmap.Reconstruction, database: Path,
                    config: SfmOptions, num_threads: int, features: Path) -> pycolmap.Reconstruction | None:
    """A copy of ``largest`` with ``piece``'s other images joined, where ``piece`` shares too few points
    with it: placed by any that agree, its scale taken from the tracks matched again through the shared
    images (:func:`_bridged`), triangulated and adjusted; ``None`` where there is no such point, nothing
    to add, or fewer than ``join_min_shared_points`` keypoints tie the scale. The database is as it was
    afterwards: the mapping passes that follow verify and map on their own."""
    join = similarity(piece, largest, 1)
    ours = _names(largest)
    fresh = {} if join is None else {n: i for n, i in _names(piece).items() if n not in ours}
    if not fresh:
        return None
    shared = {i for n, i in _names(piece).items() if n in ours}
    backup = database.with_name(database.name + ".before-join")
    shutil.copyfile(database, backup)
    try:
        joined = _bridged(_placed(largest, piece, join.sim, fresh.values()), largest, piece, join, shared,
                          set(fresh.values()), database, features, config)
        if joined is None:
            return None
        _triangulate(joined, [*fresh.values(), *shared], database, config, num_threads)
    finally:
        shutil.copyfile(backup, database)
        backup.unlink()
    log.info("joined a piece of %d images into the largest model through %d shared image(s) (%d shared points "
             "before, %d points seen from both sides after): %d images added", piece.num_reg_images(),
             join.shared_images, join.shared_points,
             points_across(joined, set(fresh.values()), set(ours.values()) - shared), len(fresh))
    return joined


def _bridged(joined: pycolmap.Reconstruction, largest: pycolmap.Reconstruction, piece: pycolmap.Reconstruction,
             join: Join, shared: set[int], fresh: set[int], database: Path, features: Path,
             config: SfmOptions) -> pycolmap.Reconstruction | None:
    """``joined`` (the piece's ``fresh`` images placed by ``join``) with the pairs through the ``shared``
    images matched again, the piece's scale corrected from them and the pairs across matched again
    (:mod:`photogrammetry.sfm.bridge`); ``None`` where fewer than ``join_min_shared_points`` keypoints
    tie the scale, or tie it less well than ``join_max_scale_error``."""
    from photogrammetry.sfm import bridge

    least = config.mapping.join_min_shared_points
    others = set(_names(largest).values()) - shared
    pairs = bridge.pairs_across(database, shared, set(_names(piece).values()), set(_names(largest).values()),
                                config.verification.min_inliers)
    through, across = bridge.through_and_across(pairs, shared)
    bridge.match_across(database, features, joined, through, config)
    factor, count, error = bridge.scale_through(database, joined, shared, fresh, others,
                                                config.mapping.min_tri_angle, AGREEMENT)
    if count < least or error > config.mapping.join_max_scale_error:
        log.info("a piece of %d images left apart: %d keypoints of the %d shared image(s) tie its scale to the "
                 "largest model's, within %.1f %% (sfm.mapping.join_min_shared_points = %d, join_max_scale_error = "
                 "%g)", piece.num_reg_images(), count, len(shared), 100 * error, least,
                 config.mapping.join_max_scale_error)
        return None
    log.info("the scale of a piece of %d images corrected by %.3f (within %.1f %%) from %d keypoints of the shared "
             "image(s) (from %d shared points before)", piece.num_reg_images(), factor, 100 * error, count,
             join.shared_points)
    centres = [joined.image(i).projection_center() for i in shared]
    joined = _placed(largest, piece, _rescaled(join.sim, factor, centres), fresh)
    bridge.match_across(database, features, joined, across, config)
    return joined


def _placed(largest: pycolmap.Reconstruction, piece: pycolmap.Reconstruction, sim: pycolmap.Sim3d,
            image_ids) -> pycolmap.Reconstruction:
    """A copy of ``largest`` with ``piece``'s ``image_ids`` registered at their poses moved by ``sim``."""
    import pycolmap

    moved = copy.deepcopy(piece)
    moved.transform(sim)
    joined = pycolmap.Reconstruction(largest)
    for image_id in image_ids:
        _place(joined, piece, image_id, moved.image(image_id).cam_from_world())
    return joined


def _rescaled(sim: pycolmap.Sim3d, factor: float, pivots: list[np.ndarray]) -> pycolmap.Sim3d:
    """``sim`` followed by a scaling by ``factor`` about the mean of ``pivots`` (the shared images' centres)."""
    import pycolmap

    pivot = np.mean(pivots, axis=0)
    return pycolmap.Sim3d(factor * sim.scale, sim.rotation, factor * np.asarray(sim.translation) + (1 - factor) * pivot)


def _place(model: pycolmap.Reconstruction, piece: pycolmap.Reconstruction, image_id: int,
           pose: pycolmap.Rigid3d) -> None:
    """Register ``image_id`` in ``model`` at ``pose``; added from ``piece`` (its keypoints, no points)
    where ``model`` does not hold it (a model read back from disk holds its registered images only)."""
    import pycolmap

    if model.exists_image(image_id):
        _register_at(model, image_id, pose)
        return
    source = piece.image(image_id)
    if not model.exists_camera(source.camera_id):
        model.add_camera_with_trivial_rig(piece.camera(source.camera_id))
    keypoints = np.array([p.xy for p in source.points2D], np.float64).reshape(-1, 2)
    model.add_image_with_trivial_frame(pycolmap.Image(name=source.name, keypoints=keypoints,
                                                      camera_id=source.camera_id, image_id=image_id), pose)


def _register_at(model: pycolmap.Reconstruction, image_id: int, pose: pycolmap.Rigid3d) -> None:
    """Register ``model``'s image ``image_id`` (its frame) at ``pose``."""
    frame = model.frame(model.image(image_id).frame_id)
    frame.rig_from_world = pose
    model.register_frame(frame.frame_id)


def points_across(model: pycolmap.Reconstruction, one: set[int], other: set[int]) -> int:
    """The 3D points of ``model`` seen by an image of ``one`` and an image of ``other`` (image ids)."""
    count = 0
    for point in model.points3D.values():
        seen = {int(e.image_id) for e in point.track.elements}
        count += bool(seen & one) and bool(seen & other)
    return count


def _triangulate(model: pycolmap.Reconstruction, image_ids: list[int], database: Path, config: SfmOptions,
                 num_threads: int, poses: dict[int, pycolmap.Rigid3d] | None = None, *,
                 light_tolerance: float | None = None) -> None:
    """Register the images ``poses`` names (if any) at those poses, triangulate ``image_ids`` of ``model``
    from the database's verified matches, complete and merge tracks and adjust, in place: two rounds of
    global adjustment and filtering stopped at :data:`JOIN_TOLERANCE`, or with ``light_tolerance`` one,
    stopped at that function tolerance (as a light pass's mapper adjusts:
    :func:`~photogrammetry.sfm.mapping.incremental_options`). Office
    walk, 60 frames (``cpu``, the light first pass's join replayed): 0.62 -> 0.25 CPU s, its focal length
    488.26 -> 488.11 px, which the second pass only starts from."""
    import pycolmap

    from photogrammetry.sfm.adjust import bundle_options, triangulation_options

    with pycolmap.Database.open(database) as db:
        cache = pycolmap.DatabaseCache.create(db, pycolmap.DatabaseCacheOptions())
    mapper = pycolmap.IncrementalMapper(cache)
    mapper.begin_reconstruction(model)
    for image_id, pose in (poses or {}).items():
        _register_at(model, image_id, pose)
    triangulation, options = triangulation_options(config)
    for image_id in image_ids:
        mapper.triangulate_image(triangulation, image_id)
    mapper.complete_and_merge_tracks(triangulation)
    mapper.retriangulate(triangulation)
    options.num_threads = num_threads
    ba = bundle_options(config, principal_point=config.refine_principal_point == "always", distortion=False,
                        num_threads=num_threads)
    ba.ceres.solver_options.function_tolerance = (max(JOIN_TOLERANCE, config.refinement.function_tolerance)
                                                  if light_tolerance is None else light_tolerance)
    mapper.iterative_global_refinement(2 if light_tolerance is None else 1, 0.0005, options, ba, triangulation,
                                       normalize_reconstruction=False)
    mapper.filter_points(options)
    mapper.end_reconstruction(False)
