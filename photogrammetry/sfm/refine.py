"""Final refinement of the chosen model: track completion, re-triangulation and a robust global
bundle adjustment, refining the lens distortion where it pays and the principal point where
enough views constrain it.

Lens distortion (with ``refine_extra_params = "final"``) is refined from the mapped model free and,
where that moves the image corners by more than ``refinement.distortion_free_px``, held at its starting
value (zero, or a calibration's). The free one is kept when its distortion moves the corners by at most
``refinement.distortion_free_px`` (the held adjustment is then not run, except on a walk straight ahead: see
below; on fountain and facade the stage's global adjustments went from 3 to 2; elsewhere the held one starts
from the free one's poses and points: on the temple 0.10 s of CPU instead of 0.20, the same chosen model),
or when it lowers the mean reprojection error by at least ``refinement.distortion_min_gain`` and passes
the same BIC test as below:
large distortion that the views do not constrain trades off against the focal length. Measured
on the real office walk (undistorted, true focal 495.5 px, 20 frames): with the default preset k
stays near 0.009 (1.7-2.1 px at the corners) and the focal length at 492 px free against 483 px
held, the free fit 0.3-0.7 % lower in error and better in pose AUC@5 (0.51-0.53 against
0.45-0.48 over five RANSAC seeds); with the fast preset (SIFT, a thin model) the free fit is
550.6 px with k = 0.066 (7.4 px) for a 6.5 % lower error, 486.5 px held. Such a walk straight ahead
(forward motion at least :data:`~photogrammetry.sfm.intrinsics.FORWARD_MOTION`) is where k and the
focal length trade off, so there the error must drop by ``refinement.distortion_min_gain_forward``
(10 %) instead, and the fast preset's k is held.

On such a walk the corner shift does not keep the free fit either: there the error cannot tell a
distortion from a focal length, and both fits are adjusted. The free one is kept where it moves the
focal length by at most ``refinement.distortion_max_focal_change`` (2 %) from the held one's; beyond,
its distortion is scaled down to move it that far and held there (:func:`limited_distortion`). Measured
on the real office walk (``cpu``, undistorted frames, three seeds each; true focal 495.5 px): on 20 frames
the free fits moved the corners by 2.6-5.3 px and the focal length 2.7-4.6 % from the held fits, for
-0.2 to 1.3 % in error, and landed +0.7 to +4.0 % off against -1.9 to -0.5 % held, which of them was
kept flipping with the seed at the 4 px limit; on 40 frames 1.3-2.0 % apart (free -1.3 to -0.6 %, held
-2.6 %). The same 20 frames warped with a real distortion of 4-6 px at the corners: the error -0.2 to
+0.2 % lower with it free, the held fits 3.3-3.7 % short, the free ones 1.2-2.6 % long. Where the two
lay more than 2.6 % apart the truth lay between them (closer, on 40 frames, both were short), so the
focal length ends at most 2 % from the held fit's, towards the free one's: within reach of the truth
whether the lens is a pinhole or has that distortion. Synthetic (white noise, so the free fit is
right): a forward walk with k = 0.02 (4.7 px) gains 0.07 % from it; held it came out 2.9 % short,
limited 0.9 % (free 0.2 %).

A stronger lens breaks that rule: through a barrel lens of ``k1 = -0.15`` (17 px at the corners of the office
frames) the free fit was right (+2.5 %) and the held one 38.6 % long, for a 6.9 % higher error only. So
before the distortion is scaled down, the photos' straight edges are asked (:mod:`photogrammetry.sfm.plumb`,
``sfm.plumb``): where they lie nearer the free fit's distortion and rule the held one out, the free fit is
kept; where they do not (no evidence, or nearer the held fit), the rule above decides.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from photogrammetry.sfm import plumb
from photogrammetry.sfm.colmap import colmap_errors
from photogrammetry.sfm.intrinsics import (WALK_PRINCIPAL_POINT_MAX_SD, forward_motion, moves_ahead,
                                            principal_point_deviations)

if TYPE_CHECKING:
    import pycolmap

    from photogrammetry.io.sfm import LensCheck
    from photogrammetry.sfm.options import SfmOptions
    from photogrammetry.sfm.refine_options import RefinementOptions

log = logging.getLogger("photogrammetry.sfm")

_HINT = "try --set sfm.refinement.enabled=false, or report the photos that cause it"


def principal_point_constrained(model: pycolmap.Reconstruction, min_images: int) -> bool:
    """Whether every camera in use has at least ``min_images`` registered images."""
    per_camera = Counter(model.image(i).camera_id for i in model.reg_image_ids())
    return bool(per_camera) and min(per_camera.values()) >= min_images


def principal_points_plausible(model: pycolmap.Reconstruction, max_offset: float) -> bool:
    """Whether each camera's principal point lies within ``max_offset`` x size of the image centre."""
    return principal_point_offset(model) <= max_offset


def triangulation_options(config: SfmOptions) -> tuple[pycolmap.IncrementalTriangulatorOptions,
                                                       pycolmap.IncrementalMapperOptions]:
    """COLMAP's triangulation and mapper options (the smallest triangulation angle of
    ``mapping.min_tri_angle``, where points are made and filtered) for work on a mapped model."""
    import pycolmap

    triangulation, mapper = pycolmap.IncrementalTriangulatorOptions(), pycolmap.IncrementalMapperOptions()
    triangulation.min_angle = mapper.filter_min_tri_angle = config.mapping.min_tri_angle
    return triangulation, mapper


def bundle_options(config: SfmOptions, *, principal_point: bool, distortion: bool,
                   num_threads: int) -> pycolmap.BundleAdjustmentOptions:
    """Robust (Cauchy) global adjustment options: the focal length as ``config`` says, the principal
    point and the distortion parameters as asked, stopping at ``refinement.function_tolerance``."""
    import pycolmap

    ba = pycolmap.BundleAdjustmentOptions()
    ba.print_summary = False
    ba.refine_focal_length = config.refine_focal_length
    ba.refine_extra_params = distortion
    ba.refine_principal_point = principal_point
    ba.ceres.loss_function_type = pycolmap.LossFunctionType.CAUCHY
    ba.ceres.solver_options.function_tolerance = config.refinement.function_tolerance
    ba.ceres.solver_options.num_threads = num_threads
    return ba


def _refine_once(model: pycolmap.Reconstruction, database: Path, config: SfmOptions, *,
                 principal_point: bool, distortion: bool, num_threads: int) -> None:
    """Complete and merge tracks, re-triangulate, then iterate global BA and filtering, in place."""
    import pycolmap

    triangulation, mapper_options = triangulation_options(config)
    mapper_options.num_threads = num_threads
    with pycolmap.Database.open(database) as db:
        cache = pycolmap.DatabaseCache.create(db, pycolmap.DatabaseCacheOptions())
    mapper = pycolmap.IncrementalMapper(cache)
    mapper.begin_reconstruction(model)
    mapper.complete_and_merge_tracks(triangulation)
    mapper.retriangulate(triangulation)
    mapper.iterative_global_refinement(2, 0.0005, mapper_options,
                                       bundle_options(config, principal_point=principal_point, distortion=distortion,
                                                      num_threads=num_threads), triangulation,
                                       normalize_reconstruction=False)
    mapper.filter_points(mapper_options)
    mapper.end_reconstruction(False)


def principal_point_offset(model: pycolmap.Reconstruction) -> float:
    """The largest distance of a camera's principal point from its image centre, as a fraction
    of the image size (along x over the width, along y over the height)."""
    offsets = [max(abs(c.principal_point_x - c.width / 2) / c.width, abs(c.principal_point_y - c.height / 2) / c.height)
               for c in model.cameras.values()]
    return max(offsets, default=0.0)


def significant(fixed: pycolmap.Reconstruction, free: pycolmap.Reconstruction, params_per_camera: int,
                min_gain: float = 0.0) -> bool:
    """Does freeing ``params_per_camera`` more parameters explain the observations better?

    A BIC test on the mean reprojection errors, ``2 n ln(e_fixed / e_free) > k ln n`` with ``n``
    residuals and ``k`` the freed parameters, and the error at least ``min_gain`` lower."""
    n = 2 * free.compute_num_observations()
    e_fixed, e_free = fixed.compute_mean_reprojection_error(), free.compute_mean_reprojection_error()
    if n == 0 or e_fixed <= 0 or e_free <= 0 or e_fixed < (1.0 + min_gain) * e_free:
        return False
    return 2 * n * math.log(e_fixed / e_free) > params_per_camera * free.num_cameras() * math.log(n)


def extra_params_per_camera(model: pycolmap.Reconstruction) -> int:
    """The most distortion parameters a camera of ``model`` has (0 for pinhole models)."""
    return max((len(c.extra_params_idxs()) for c in model.cameras.values()), default=0)


@dataclass(frozen=True)
class Refinement:
    """The refined model and which intrinsics the last adjustment refined."""

    model: pycolmap.Reconstruction
    principal_point: bool
    """Whether the principal points were refined (and kept)."""
    distortion: bool
    """Whether the distortion parameters were refined (and kept)."""
    other_focals: Mapping[int, float] = field(default_factory=dict)
    """Each camera's focal length in the distortion fit not kept (free where it was held, held where it
    was free), by camera id; empty where only one was fitted. The spread between the two is what the
    views leave to the lens: on 20 frames of the office walk (``cpu``, six RANSAC seeds) 2.7-5.3 %,
    where the adjustment's standard deviation said 0.5 %."""
    lens_checks: Mapping[int, LensCheck] = field(default_factory=dict)
    """What the photos' straight lines said of each camera's distortion (:func:`~photogrammetry.sfm.plumb.lens_checks`),
    by camera id, where the choice between the fits asked them; empty where it did not."""


def corner_shift_px(camera: pycolmap.Camera) -> float:
    """How far the camera's distortion moves the image corners, pixels (the largest of the four)."""
    import numpy as np

    corners = np.array([[0.0, 0.0], [camera.width, 0.0], [0.0, camera.height], [camera.width, camera.height]])
    fx, fy = camera.focal_length_x, camera.focal_length_y
    rays = np.column_stack([(corners[:, 0] - camera.principal_point_x) / fx,
                            (corners[:, 1] - camera.principal_point_y) / fy, np.ones(4)])
    return float(np.max(np.linalg.norm(np.asarray(camera.img_from_cam(rays)) - corners, axis=1)))


def reset_distortion(model: pycolmap.Reconstruction, database: Path) -> None:
    """Set each camera's distortion parameters back to the database's (its starting values), in place."""
    import pycolmap

    with pycolmap.Database.open(database) as db:
        start = {c.camera_id: c for c in db.read_all_cameras()}
    for camera_id, camera in model.cameras.items():
        if camera_id in start and start[camera_id].model == camera.model:
            params = camera.params.copy()
            for i in camera.extra_params_idxs():
                params[i] = start[camera_id].params[i]
            camera.params = params


def _choose_distortion(model: pycolmap.Reconstruction, database: Path, config: SfmOptions, *,
                       principal_point: bool, num_threads: int, images: Path | None = None) -> Refinement:
    """``model`` refined with the distortion held at its starting value or free (``final``:
    whichever the test prefers; on a walk straight ahead, free where the photos' straight lines confirm it
    (:func:`~photogrammetry.sfm.plumb.lens_checks`, photos in ``images``), else free or limited by
    :func:`limited_distortion`), with the focal lengths of the fit not kept (:func:`focals_of`; none where only
    one was fitted) and what the lines said (where they were asked)."""
    extra = extra_params_per_camera(model)
    if config.refine_extra_params != "final" or extra == 0:
        held = copy.deepcopy(model)
        free = config.refine_extra_params == "always" and extra > 0
        _refine_once(held, database, config, principal_point=principal_point, distortion=free, num_threads=num_threads)
        return Refinement(held, principal_point, free)
    free = copy.deepcopy(model)  # the mapped distortion, refined
    _refine_once(free, database, config, principal_point=principal_point, distortion=True, num_threads=num_threads)
    shift = max(corner_shift_px(c) for c in free.cameras.values())
    options = config.refinement
    forward = forward_motion(model)
    ahead = moves_ahead(forward)
    if shift <= options.distortion_free_px and not ahead:  # kept whatever the held one gives
        log.info("lens distortion refined: it moves the corners by %.1f px (at most %.1f px kept without a test); "
                 "focal length %s px", shift, options.distortion_free_px, _focals(free))
        return Refinement(free, principal_point, True)
    held = copy.deepcopy(free)  # from the free one's poses and points: it converges in half the time
    reset_distortion(held, database)
    _refine_once(held, database, config, principal_point=principal_point, distortion=False, num_threads=num_threads)
    change = focal_change(held, free)
    gained = significant(held, free, extra, distortion_min_gain(options, forward))
    keep = gained or (ahead and change <= options.distortion_max_focal_change)
    log.info("lens distortion %s: reprojection error %.4f px held, %.4f px refined (moving the corners by %.1f px "
             "and the focal length by %.1f %%); focal length %s px held, %s px refined",
             "refined" if keep else "limited" if ahead else "held at its starting value",
             held.compute_mean_reprojection_error(), free.compute_mean_reprojection_error(), shift, 100 * change,
             _focals(held), _focals(free))
    if keep:
        return Refinement(free, principal_point, True, focals_of(held))
    if not ahead:
        return Refinement(held, principal_point, False, focals_of(free))
    checks = plumb.lens_checks(free, held, images, config.plumb) if images is not None and config.plumb.enabled else {}
    if plumb.confirms_free(checks):
        log.info("lens distortion refined: the straight lines in the photos confirm the free fit; focal length %s px",
                 _focals(free))
        return Refinement(free, principal_point, True, focals_of(held), checks)
    limited = limited_distortion(free, held, options.distortion_max_focal_change)
    _refine_once(limited, database, config, principal_point=principal_point, distortion=False, num_threads=num_threads)
    if not between(limited, held, free):  # the adjustment left the valley between the two: the held fit is safer
        log.info("lens distortion held at its starting value: scaled down, the focal length left the two fits' "
                 "range (%s px)", _focals(limited))
        return Refinement(held, principal_point, False, focals_of(free), checks)
    log.info("lens distortion scaled to move the focal length by at most %.1f %% and held there (a walk straight "
             "ahead, where the reprojection error cannot tell the distortion from the focal length): focal length "
             "%s px, reprojection error %.4f px", 100 * options.distortion_max_focal_change, _focals(limited),
             limited.compute_mean_reprojection_error())
    return Refinement(limited, principal_point, False, focals_of(free), checks)


def focal_change(held: pycolmap.Reconstruction, free: pycolmap.Reconstruction) -> float:
    """The largest relative difference between a camera's focal length in ``free`` and in ``held``."""
    before = focals_of(held)
    return max((abs(f / before[i] - 1.0) for i, f in focals_of(free).items() if before.get(i)), default=0.0)


def limited_distortion(free: pycolmap.Reconstruction, held: pycolmap.Reconstruction,
                       limit: float) -> pycolmap.Reconstruction:
    """A copy of ``held`` whose cameras' distortion is moved from its held value towards the free fit's by
    ``limit / change``, the focal length's change from ``held`` to ``free``, where that passes ``limit``:
    the focal length trades off about linearly with the distortion, so adjusted with it held there it
    lands about ``limit`` from the held fit's, towards the free fit's. From the held fit, not the free
    one: on the office walk's 20 frames (seed 1) the adjustment from the free fit's poses stayed at its
    focal length (515.2 px for 515.4 free, 493.0 held), from the held one's it went to 502.5 px."""
    out = copy.deepcopy(held)
    before = focals_of(held)
    for camera_id, camera in out.cameras.items():
        target = free.camera(camera_id)
        change = abs(target.mean_focal_length() / before[int(camera_id)] - 1.0)
        if change <= limit:
            continue
        params = camera.params.copy()
        for i in camera.extra_params_idxs():
            params[i] += (target.params[i] - params[i]) * limit / change
        camera.params = params
    return out


def between(model: pycolmap.Reconstruction, held: pycolmap.Reconstruction, free: pycolmap.Reconstruction) -> bool:
    """Whether each camera's focal length in ``model`` lies between its held and free fits'."""
    a, b = focals_of(held), focals_of(free)
    return all(min(a[i], b[i]) <= f <= max(a[i], b[i]) for i, f in focals_of(model).items() if i in a and i in b)


def focals_of(model: pycolmap.Reconstruction) -> dict[int, float]:
    """Each camera's mean focal length, by camera id."""
    return {int(i): float(c.mean_focal_length()) for i, c in model.cameras.items()}


def distortion_min_gain(options: RefinementOptions, forward: float | None) -> float:
    """The error drop that refined distortion must bring to be kept: more where the cameras move
    straight ahead (``forward`` at least :data:`~photogrammetry.sfm.intrinsics.FORWARD_MOTION`), where it trades off with the focal."""
    return options.distortion_min_gain_forward if moves_ahead(forward) else options.distortion_min_gain


def _focals(model: pycolmap.Reconstruction) -> str:
    return ", ".join(f"{f:.1f}" for f in focals_of(model).values())


def _principal_point_on_walk(model: pycolmap.Reconstruction, chosen: Refinement, database: Path, config: SfmOptions,
                             num_threads: int, images: Path | None) -> Refinement:
    """On a walk: ``chosen`` (``model`` refined, principal points held) adjusted with them free, its distortion as
    chosen; where the tests of :func:`refine_model` pass and each point's standard deviation is at most
    :data:`~photogrammetry.sfm.intrinsics.WALK_PRINCIPAL_POINT_MAX_SD`, the distortion chosen again from ``model``
    with them free (held at the centre while the true one is off, the free distortion takes up the difference:
    a synthetic walk, the point 14 px above the centre, 489.7 px limited, 497.0 px with it free; true 500)."""
    options = config.refinement  # called within refine_model's colmap_errors
    free = copy.deepcopy(chosen.model)
    _refine_once(free, database, config, principal_point=True, distortion=chosen.distortion, num_threads=num_threads)
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
    again = _choose_distortion(model, database, config, principal_point=True, num_threads=num_threads, images=images)
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
        chosen = _choose_distortion(model, database, config, principal_point=always, num_threads=num_threads,
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
        _refine_once(free, database, config, principal_point=True, distortion=distortion, num_threads=num_threads)
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
