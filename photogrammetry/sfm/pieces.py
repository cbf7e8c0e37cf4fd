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
``min_shared_points`` such points must agree within a factor of 1.5 of that median, else the piece
is left apart. The piece's other images join the largest model at the poses moved onto it; then
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pycolmap

    from photogrammetry.sfm.options import SfmOptions

log = logging.getLogger("photogrammetry.sfm")

AGREEMENT = 1.5
"""A shared point's depth ratio must lie within this factor of the median for the point to count."""


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
        pose_a, pose_b = a.cam_from_world(), b.cam_from_world()
        rotations.append(pose_a.rotation.matrix().T @ pose_b.rotation.matrix())
        for pa, pb in zip(a.points2D, b.points2D, strict=True):
            if pa.has_point3D() and pb.has_point3D():
                za = (pose_a * largest.point3D(pa.point3D_id).xyz)[2]
                zb = (pose_b * piece.point3D(pb.point3D_id).xyz)[2]
                if za > 0 and zb > 0:
                    ratios.append(za / zb)
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


def join_pieces(models: list, database: Path, config: SfmOptions, *, num_threads: int) -> list:
    """``models`` (largest first) with every piece that shares a registered image with the largest
    joined into it (see the module docstring); the largest is changed in place, joined pieces are dropped."""
    if len(models) < 2:
        return models
    largest, kept, added = models[0], [models[0]], {}
    for piece in models[1:]:
        join = similarity(piece, largest, config.mapping.join_min_shared_points)
        fresh = {} if join is None else {n: i for n, i in _names(piece).items()
                                         if n not in _names(largest) and i not in added}
        if not fresh:
            kept.append(piece)
            continue
        moved = copy.deepcopy(piece)
        moved.transform(join.sim)
        added.update({image_id: moved.image(image_id).cam_from_world() for image_id in fresh.values()})
        log.info("joined a piece of %d images into the largest model through %d shared image(s) and %d shared "
                 "points: %d images added", piece.num_reg_images(), join.shared_images, join.shared_points, len(fresh))
    if added:
        _register(largest, added, database, config, num_threads)
    return sorted(kept, key=lambda m: (-m.num_reg_images(), -m.num_points3D()))


def _register(model: pycolmap.Reconstruction, poses: dict[int, pycolmap.Rigid3d], database: Path, config: SfmOptions,
              num_threads: int) -> None:
    """Register the images ``poses`` names into ``model`` at those poses, triangulate them and adjust, in place."""
    import pycolmap

    from photogrammetry.sfm.refine import bundle_options, triangulation_options

    with pycolmap.Database.open(database) as db:
        cache = pycolmap.DatabaseCache.create(db, pycolmap.DatabaseCacheOptions())
    mapper = pycolmap.IncrementalMapper(cache)
    mapper.begin_reconstruction(model)
    for image_id, pose in poses.items():
        frame = model.frame(model.image(image_id).frame_id)
        frame.rig_from_world = pose
        model.register_frame(frame.frame_id)
    triangulation, options = triangulation_options(config)
    for image_id in poses:
        mapper.triangulate_image(triangulation, image_id)
    mapper.complete_and_merge_tracks(triangulation)
    mapper.retriangulate(triangulation)
    options.num_threads = num_threads
    ba = bundle_options(config, principal_point=config.refine_principal_point == "always", distortion=False,
                        num_threads=num_threads)
    mapper.iterative_global_refinement(2, 0.0005, options, ba, triangulation, normalize_reconstruction=False)
    mapper.filter_points(options)
    mapper.end_reconstruction(False)
