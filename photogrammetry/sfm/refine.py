"""Final refinement of the chosen model: track completion, re-triangulation and a robust global
bundle adjustment, refining the lens distortion where it pays and the principal point where
enough views constrain it.

The lens distortion is chosen by :mod:`photogrammetry.sfm.distortion` (free, held or limited; its
measurements are there); the adjustments themselves are :mod:`photogrammetry.sfm.adjust`'s.

The principal point is weakly constrained: refining it where the data do not call for it
moves it by a pixel or two and tilts every camera by as much (the image centre is usually
right within that). So the model is refined twice from the same start, with it fixed and
with it free, and the free one is kept only when (1) every camera in use has
``refinement.principal_point_min_images`` registered images, (2) the refined points stay within
``refinement.max_principal_point_offset`` of the image centre, (3) one moves at least
``refinement.principal_point_min_offset`` from it and (4) the fit improves significantly: a BIC test on the
reprojection errors, ``2 n ln(e_fixed / e_free) > k ln n`` with ``n`` residuals and ``k`` = 2
parameters per camera, and the error at least ``refinement.principal_point_min_gain`` lower (with thousands
of observations the BIC alone passes gains of 0.02 %: on the turntable sample scene such a point
turned every camera by 4.7 degrees). Measured: temple and fountain (true principal points 6-17 px
off centre) gain 1.2-1.6 % in error and pass; a synthetic orbit with a centred principal point
gains 0.03 % with SIFT and is refused, but 0.12 % with ALIKED, whose biased keypoints pull the
point 0.8 px off (0.12 % of the image) and tilt every camera by 0.06 degrees: (3) refuses that.

Where the cameras move mostly straight ahead (forward motion at least
:data:`~photogrammetry.sfm.intrinsics.FORWARD_MOTION`: a walk, a video) the focus of expansion lies near the
principal point, which trades off with the direction of motion: there it is tried from the chosen fit and kept
only where, besides the tests above, its standard deviation is at most
:data:`~photogrammetry.sfm.intrinsics.WALK_PRINCIPAL_POINT_MAX_SD` of the image; the distortion is then chosen
again with it free. Measured on the real office walk (true point 10 px above the centre of 540 x 360; 20-frame
windows from frames 0, 5, 10, 15, 20, 30 and 40, ``cpu`` and ``fast``, the same mapped models): kept in 9 of 14,
each within 6 px of the truth, pose AUC@5 -0.003 to +0.18 and the focal length nearer the truth in all 9 (it was
held at the centre before: AUC@5 0.450 -> 0.613 on 20-39 ``cpu``); refused in frames 0-24, where it landed 13-23 px
off.

"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from photogrammetry.sfm.adjust import Refinement, refine_once, significant
from photogrammetry.sfm.colmap import colmap_errors
from photogrammetry.sfm.distortion import choose_distortion, reset_distortion
from photogrammetry.sfm.intrinsics import (WALK_PRINCIPAL_POINT_MAX_SD, forward_motion, moves_ahead,
                                            principal_point_deviations)

if TYPE_CHECKING:
    import pycolmap

    from photogrammetry.sfm.options import SfmOptions

log = logging.getLogger("photogrammetry.sfm")

_HINT = "try --set sfm.refinement.enabled=false, or report the photos that cause it"


def principal_point_constrained(model: pycolmap.Reconstruction, min_images: int) -> bool:
    """Whether every camera in use has at least ``min_images`` registered images."""
    per_camera = Counter(model.image(i).camera_id for i in model.reg_image_ids())
    return bool(per_camera) and min(per_camera.values()) >= min_images


def principal_points_plausible(model: pycolmap.Reconstruction, max_offset: float) -> bool:
    """Whether each camera's principal point lies within ``max_offset`` x size of the image centre."""
    return principal_point_offset(model) <= max_offset


def principal_point_offset(model: pycolmap.Reconstruction) -> float:
    """The largest distance of a camera's principal point from its image centre, as a fraction
    of the image size (along x over the width, along y over the height)."""
    offsets = [max(abs(c.principal_point_x - c.width / 2) / c.width, abs(c.principal_point_y - c.height / 2) / c.height)
               for c in model.cameras.values()]
    return max(offsets, default=0.0)


def _principal_point_on_walk(model: pycolmap.Reconstruction, chosen: Refinement, database: Path, config: SfmOptions,
                             num_threads: int, images: Path | None) -> Refinement:
    """On a walk: ``chosen`` (``model`` refined, principal points held) adjusted with them free, its distortion as
    chosen; where the tests of :func:`refine_model` pass and each point's standard deviation is at most
    :data:`~photogrammetry.sfm.intrinsics.WALK_PRINCIPAL_POINT_MAX_SD`, the distortion chosen again from ``model``
    with them free (held at the centre while the true one is off, the free distortion takes up the difference:
    a synthetic walk, the point 14 px above the centre, 489.7 px limited, 497.0 px with it free; true 500)."""
    options = config.refinement  # called within refine_model's colmap_errors
    free = copy.deepcopy(chosen.model)
    refine_once(free, database, config, principal_point=True, distortion=chosen.distortion, num_threads=num_threads)
    deviations = principal_point_deviations(free, distortion=chosen.distortion, num_threads=num_threads)
    offset, sd = principal_point_offset(free), max(deviations.values(), default=math.inf)
    keep = (principal_points_plausible(free, options.max_principal_point_offset)
            and offset >= options.principal_point_min_offset and sd <= WALK_PRINCIPAL_POINT_MAX_SD
            and significant(chosen.model, free, 2, options.principal_point_min_gain))
    log.info("principal point %s (a walk straight ahead): %.2f %% of the image from the centre, +- %.2f %% (at most "
             "%.2f %% kept), reprojection error %.4f px fixed, %.4f px refined",
             "refined" if keep else "kept at the image centre", 100 * offset, 100 * sd,
             100 * WALK_PRINCIPAL_POINT_MAX_SD, chosen.model.compute_mean_reprojection_error(),
             free.compute_mean_reprojection_error())
    if not keep:
        return chosen
    again = choose_distortion(model, database, config, principal_point=True, num_threads=num_threads, images=images)
    plausible = principal_points_plausible(again.model, options.max_principal_point_offset)
    return again if plausible else dataclasses.replace(chosen, model=free, principal_point=True)


def refine_model(model: pycolmap.Reconstruction, database: Path, config: SfmOptions, *,
                 num_threads: int, images: Path | None = None) -> Refinement:
    """The refined model and which intrinsics it refined.

    Args:
        model: A model whose image ids are those of ``database``; left unchanged.
        database: The verified COLMAP database the model was made from.
        config: The sfm options.
        num_threads: Threads COLMAP may use.
        images: The folder the model's image names lie in (for the straight lines of
            :mod:`photogrammetry.sfm.plumb`; ``None``: not looked at).
    """
    always = config.refine_principal_point == "always"
    with colmap_errors("the final bundle adjustment", _HINT):
        chosen = choose_distortion(model, database, config, principal_point=always, num_threads=num_threads,
                                    images=images)
        fixed, distortion = chosen.model, chosen.distortion
        if always or config.refine_principal_point == "never" or not principal_point_constrained(
                fixed, config.refinement.principal_point_min_images):
            return chosen
        if moves_ahead(forward_motion(model)):
            return _principal_point_on_walk(model, chosen, database, config, num_threads, images)
        free = copy.deepcopy(model)  # same start and passes as ``fixed``: only the principal point differs
        if not distortion:
            reset_distortion(free, database)
        refine_once(free, database, config, principal_point=True, distortion=distortion, num_threads=num_threads)
    if not principal_points_plausible(free, config.refinement.max_principal_point_offset):
        log.warning("the refined principal point left the image centre region; keeping it fixed")
        return chosen
    offset = principal_point_offset(free)
    if offset < config.refinement.principal_point_min_offset:
        log.info("principal point kept at the image centre: the refined one is %.2f %% of the image away",
                 100 * offset)
        return chosen
    keep = significant(fixed, free, 2, config.refinement.principal_point_min_gain)
    log.info("principal point %s: reprojection error %.4f px fixed, %.4f px refined",
             "refined" if keep else "kept at the image centre", fixed.compute_mean_reprojection_error(),
             free.compute_mean_reprojection_error())
    return dataclasses.replace(chosen, model=free, principal_point=True) if keep else chosen

