"""The lens distortion of the final refinement: free, held at its starting value, or limited.

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
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from photogrammetry.sfm import plumb
from photogrammetry.sfm.adjust import Refinement, extra_params_per_camera, refine_once, significant
from photogrammetry.sfm.field import narrow_model
from photogrammetry.sfm.intrinsics import forward_motion, moves_ahead

if TYPE_CHECKING:
    import pycolmap

    from photogrammetry.sfm.options import SfmOptions
    from photogrammetry.sfm.refine_options import RefinementOptions

log = logging.getLogger("photogrammetry.sfm")


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


def choose_distortion(model: pycolmap.Reconstruction, database: Path, config: SfmOptions, *,
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
        refine_once(held, database, config, principal_point=principal_point, distortion=free, num_threads=num_threads)
        return Refinement(held, principal_point, free)
    free = copy.deepcopy(model)  # the mapped distortion, refined
    refine_once(free, database, config, principal_point=principal_point, distortion=True, num_threads=num_threads)
    shift = max(corner_shift_px(c) for c in free.cameras.values())
    options = config.refinement
    forward = forward_motion(model)
    ahead = moves_ahead(forward)
    narrow = narrow_model(model, config.narrow_field)  # distortion trades off with the focal length there too
    if shift <= options.distortion_free_px and not (ahead or narrow):  # kept whatever the held one gives
        log.info("lens distortion refined: it moves the corners by %.1f px (at most %.1f px kept without a test); "
                 "focal length %s px", shift, options.distortion_free_px, _focals(free))
        return Refinement(free, principal_point, True)
    held = copy.deepcopy(free)  # from the free one's poses and points: it converges in half the time
    reset_distortion(held, database)
    refine_once(held, database, config, principal_point=principal_point, distortion=False, num_threads=num_threads)
    change = focal_change(held, free)
    gained = significant(held, free, extra, options.distortion_min_gain_forward if narrow
                         else distortion_min_gain(options, forward))
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
    refine_once(limited, database, config, principal_point=principal_point, distortion=False, num_threads=num_threads)
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

