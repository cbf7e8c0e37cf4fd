"""Where each camera's focal length comes from and how well the views constrain it.

Without a prior (photos without EXIF: video frames, screenshots, scans, messaging apps) the
focal length starts at COLMAP's guess, 1.2 x the longest side, and bundle adjustment finds it;
with the distortion held while mapping (:mod:`photogrammetry.sfm.refine`) it converges from
any start on the captures measured (a long lens at 5 x the image width, a forward walk). A
user's focal length (``sfm.focal_px`` or ``sfm.fov_deg``) replaces EXIF's for every camera.

After the final adjustment each camera's focal length gets a standard deviation from the
adjustment's covariance (pycolmap's ``estimate_ba_covariance``), scaled by the observed
reprojection noise: forward motion, narrow fields of view and few views leave it large.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from photogrammetry.io.ingest import IngestResult
from photogrammetry.io.sfm import CameraInfo, LensCheck

if TYPE_CHECKING:
    import pycolmap

SOURCES = {"exif_focal_plane": "exif", "exif_35mm": "exif", "user": "user", "none": "estimated"}
"""Ingest's ``focal_source`` -> the source a camera reports."""


def user_focal(width: int, height: int, scale: float, *, focal_px: float, fov_deg: float) -> float | None:
    """A user's focal length in pixels of a prepared image (``scale`` = prepared / original size).

    Args:
        width: Prepared image width.
        height: Prepared image height.
        scale: Ingest's downscaling factor of the image.
        focal_px: Focal length in pixels of the original photo (0: not given).
        fov_deg: Field of view across the longest side, degrees (0: not given).
    """
    if focal_px > 0:
        return focal_px * scale
    if fov_deg > 0:
        return 0.5 * max(width, height) / math.tan(math.radians(fov_deg) / 2.0)
    return None


def with_user_focal(ingest: IngestResult, *, focal_px: float, fov_deg: float) -> IngestResult:
    """``ingest`` with every image and camera group given the user's focal length (source ``user``)."""
    if focal_px <= 0 and fov_deg <= 0:
        return ingest
    images = tuple(dataclasses.replace(im, focal_px=user_focal(im.width, im.height, im.scale, focal_px=focal_px,
                                                               fov_deg=fov_deg), focal_source="user")
                   for im in ingest.images)
    scale = {im.camera_id: im.scale for im in ingest.images}
    groups = tuple(dataclasses.replace(g, focal_px=user_focal(g.width, g.height, scale.get(g.camera_id, 1.0),
                                                              focal_px=focal_px, fov_deg=fov_deg), focal_source="user")
                   for g in ingest.cameras)
    return dataclasses.replace(ingest, images=images, cameras=groups)


DEVIATION_TOLERANCE = 1e-8
"""Function tolerance of :func:`focal_deviations`' adjustment, which starts at the refined model: without one it ran
its 100 iterations (office walk, 60 frames: 92 iterations, 2.16 CPU s; at 1e-8 11 iterations, 0.33 s, the
standard deviation the same to four digits, 0.6351 px)."""


def _covariances(model: pycolmap.Reconstruction, *, focal: bool, principal_point: bool, distortion: bool,
                 num_threads: int) -> dict[int, np.ndarray]:
    """Covariance of each camera's parameters (``camera.params`` order, held ones zero) in squared pixels, by
    camera id: one more (plain least-squares) adjustment of a copy of ``model`` with the focal lengths, and the
    principal points and distortion as asked, free; its covariance scaled by the reprojection noise (per axis:
    the mean error over sqrt(pi / 2)). Cameras whose covariance cannot be had are left out."""
    import pycolmap

    work = copy.deepcopy(model)
    options = pycolmap.BundleAdjustmentOptions()
    options.print_summary = False
    options.refine_focal_length = focal
    options.refine_principal_point = principal_point
    options.refine_extra_params = distortion
    options.ceres.solver_options.num_threads = num_threads
    options.ceres.solver_options.function_tolerance = DEVIATION_TOLERANCE
    config = pycolmap.BundleAdjustmentConfig()
    for image_id in work.reg_image_ids():
        config.add_image(image_id)
    config.fix_gauge(pycolmap.BundleAdjustmentGauge.THREE_POINTS)
    adjuster = pycolmap.create_default_ceres_bundle_adjuster(options, config, work)
    adjuster.solve()
    covariance = pycolmap.estimate_ba_covariance(pycolmap.BACovarianceOptions(), work, adjuster)
    if covariance is None:
        return {}
    noise2 = (work.compute_mean_reprojection_error() / math.sqrt(math.pi / 2.0)) ** 2
    out = {}
    for camera_id, camera in work.cameras.items():
        free = sorted([*(camera.focal_length_idxs() if focal else []),
                       *(camera.principal_point_idxs() if principal_point else []),
                       *(camera.extra_params_idxs() if distortion else [])])
        block = covariance.get_other_params_cov(camera.params)
        if block is None or np.asarray(block).shape[0] != len(free):
            continue
        full = np.zeros((len(camera.params), len(camera.params)))
        full[np.ix_(free, free)] = noise2 * np.asarray(block)
        out[int(camera_id)] = full
    return out


def focal_deviations(model: pycolmap.Reconstruction, *, focal: bool, principal_point: bool, distortion: bool,
                     num_threads: int) -> dict[int, float]:
    """Standard deviation in pixels of each camera's focal length, by camera id.

    From :func:`_covariances` with the focal lengths, and the principal points and distortion where they
    were refined, free. Cameras whose covariance cannot be had are left out; none when the focal lengths were
    held (``focal`` false).
    """
    if not focal:
        return {}
    deviations = {}
    for camera_id, cov in _covariances(model, focal=True, principal_point=principal_point, distortion=distortion,
                                       num_threads=num_threads).items():
        idx = list(model.camera(camera_id).focal_length_idxs())
        variance = float(np.sum(cov[np.ix_(idx, idx)])) / len(idx) ** 2  # of the mean of the focal entries
        deviations[camera_id] = math.sqrt(max(variance, 0.0))
    return deviations


WALK_PRINCIPAL_POINT_MAX_SD = 0.0025
"""On a walk straight ahead (:func:`moves_ahead`) a refined principal point is kept only where its standard
deviation (:func:`principal_point_deviations`) is at most this fraction of the image size along each axis, on
top of the tests every refined principal point passes (:mod:`photogrammetry.sfm.refine`). Measured on the real
office walk (540 x 360, true point 10.3 px above the centre; 20-frame windows from frames 0, 5, 10, 15, 20, 30
and 40, ``cpu`` and ``fast``): where the point landed within 6 px of the truth, 0.10-0.16 % (0.36-0.57 px);
where it landed 13-23 px off (frames 0-24), 0.16-0.48 %, and the one of those the other tests passed (frames
5-24, ``fast``, 13 frames registered: the focal length moved from +0.2 to -6.0 %) 0.48 %."""


def principal_point_deviations(model: pycolmap.Reconstruction, *, distortion: bool,
                               num_threads: int) -> dict[int, float]:
    """The larger of each camera's principal point standard deviations along x over the width and along y over
    the height (fractions of the image), by camera id, from :func:`_covariances` with the focal lengths and
    principal points free (and the distortion where ``distortion``)."""
    out = {}
    for camera_id, cov in _covariances(model, focal=True, principal_point=True, distortion=distortion,
                                       num_threads=num_threads).items():
        camera = model.camera(camera_id)
        ix, iy = camera.principal_point_idxs()
        out[camera_id] = max(math.sqrt(max(cov[ix, ix], 0.0)) / camera.width,
                             math.sqrt(max(cov[iy, iy], 0.0)) / camera.height)
    return out


def camera_infos(model: pycolmap.Reconstruction, ingest: IngestResult, deviations: Mapping[int, float], *,
                 calibrated: set[int], others: Mapping[int, float] | None = None,
                 lens_checks: Mapping[int, LensCheck] | None = None) -> tuple[CameraInfo, ...]:
    """What each camera of ``model`` ended with, and where its focal length came from.

    Args:
        model: The final model.
        ingest: The ingest result the model was made from (after :func:`with_user_focal`).
        deviations: Focal standard deviations by camera id (:func:`focal_deviations`).
        calibrated: Ids of the cameras that started from ``sfm.calibration``.
        others: Focal lengths of the other lens-distortion fit by camera id
            (:attr:`~photogrammetry.sfm.adjust.Refinement.other_focals`).
        lens_checks: What the photos' straight lines said of each camera's distortion, by camera id
            (:attr:`~photogrammetry.sfm.adjust.Refinement.lens_checks`).
    """
    records = {im.name: im for im in ingest.images}
    members: dict[int, list[str]] = {}
    for image_id in model.reg_image_ids():
        image = model.image(image_id)
        members.setdefault(int(image.camera_id), []).append(image.name)
    infos = []
    for camera_id, names in sorted(members.items()):
        camera, first = model.camera(camera_id), records.get(names[0])
        source = "calibration" if camera_id in calibrated else SOURCES.get(first.focal_source if first else "none",
                                                                           "estimated")
        sd, other = deviations.get(camera_id), (others or {}).get(camera_id)
        infos.append(CameraInfo(
            camera_id=camera_id, model=camera.model.name, width=camera.width, height=camera.height, images=len(names),
            focal_px=round(float(camera.mean_focal_length()), 3), focal_source=source,
            focal_prior_px=round(first.focal_px, 3) if first and first.focal_px else None,
            focal_sd_px=None if sd is None else round(sd, 3),
            extra_params=tuple(round(float(camera.params[i]), 6) for i in camera.extra_params_idxs()),
            focal_other_px=None if other is None else round(other, 3),
            lens_check=(lens_checks or {}).get(camera_id)))
    return tuple(infos)


FORWARD_MOTION = 0.35
"""Median ``|cos|`` between the cameras' viewing directions and their steps (:func:`forward_motion`)
from which a capture counts as a walk straight ahead. Measured: the office video's frames 0.42-0.79
(20 frames: the focal length 3 % short to 10 % long over RANSAC seeds); facade 0.03, orbit 0.14,
turntable 0.12, fountain and temple 0.21."""


def forward_motion(model: pycolmap.Reconstruction) -> float | None:
    """How much the cameras move along their viewing direction: the median over registered images of
    ``|cos|`` of the angle between the optical axis and the step to the nearest other camera centre
    (0: sideways, as around an object or along a facade; 1: straight ahead). ``None`` below 3 images."""
    images = [model.image(i) for i in model.reg_image_ids()]
    if len(images) < 3:
        return None
    centers = np.stack([im.projection_center() for im in images])
    axes = np.stack([im.cam_from_world().rotation.matrix()[2] for im in images])
    distances = np.linalg.norm(centers[:, None] - centers[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    steps = centers[np.argmin(distances, axis=1)] - centers
    lengths = np.linalg.norm(steps, axis=1)
    keep = lengths > 0
    if not keep.any():
        return None
    return round(float(np.median(np.abs(np.einsum("ij,ij->i", steps[keep], axes[keep])) / lengths[keep])), 4)


def moves_ahead(forward: float | None) -> bool:
    """Whether a capture whose :func:`forward_motion` is ``forward`` counts as a walk straight ahead."""
    return forward is not None and forward >= FORWARD_MOTION


def other_fit(camera: CameraInfo, distortion: bool, limit: float = 0.0) -> str | None:
    """``511.0 px (+5.3 %) with the lens distortion free``: the focal length of the other distortion fit
    (:attr:`~photogrammetry.io.sfm.CameraInfo.focal_other_px`; held where ``distortion``, the kept fit,
    was refined, else free) where it lies more than ``limit`` x the focal length away; ``None`` where it
    does not or there is none."""
    other = camera.focal_other_px
    if other is None or abs(other - camera.focal_px) <= limit * camera.focal_px:
        return None
    lens = "held" if distortion else "free"
    return f"{other:.1f} px ({100 * (other / camera.focal_px - 1):+.1f} %) with the lens distortion {lens}"


def lens_lines(camera: CameraInfo) -> str | None:
    """``straight lines +0.8 +- 0.2 % at the corners (327 lines in 20 photos; fits free +0.8 %, held +0.0 %): they
    do not tell the fits apart, not decisive``: what the photos' straight lines said of the lens
    (:attr:`~photogrammetry.io.sfm.CameraInfo.lens_check`; ``decisive`` where the free fit was kept on their
    word), or ``None`` where they were not asked."""
    check = camera.lens_check
    if check is None:
        return None
    found = (f"no evidence ({check.reason})" if check.reason or check.corner_shift is None else
             f"{100 * check.corner_shift:+.1f} +- {100 * (check.corner_shift_sd or 0.0):.1f} % at the corners")
    side = {"free": "side with the free fit", "held": "side with the held fit"}.get(check.sides_with,
                                                                                      "do not tell the fits apart")
    return (f"straight lines {found} ({check.lines} lines in {check.photos} photos; fits free "
            f"{100 * check.free_corner_shift:+.1f} %, held {100 * check.held_corner_shift:+.1f} %): they {side}, "
            + ("decisive" if check.decided else "not decisive"))


def focal_warning(camera: CameraInfo, limit: float, forward: float | None = None,
                  distortion: bool = False) -> str | None:
    """A warning for an estimated focal length that the views pin down poorly (a standard deviation
    over ``limit`` x itself, or a walk straight ahead: ``forward`` >= :data:`FORWARD_MOTION`), with
    what to do and, where it lies further than that, the other distortion fit's focal length
    (:func:`other_fit`; ``distortion``: whether the kept fit refined it); ``None`` when there is nothing
    to warn about."""
    sd = camera.focal_sd_px
    loose = sd is not None and sd > limit * camera.focal_px
    ahead = moves_ahead(forward)
    if camera.focal_source != "estimated" or not (loose or ahead):
        return None
    spread = f" +- {sd:.1f} px ({100 * sd / camera.focal_px:.1f} %)" if sd is not None else ""
    other = other_fit(camera, distortion, limit)
    spread += f" ({other})" if other else ""
    cause = ("the cameras move mostly along their viewing direction (a walk straight ahead, or photos taken nearer "
             "and farther along the same line of sight), where a focal length "
             "and the depths trade off" if ahead else
             "typical causes: a camera moving straight ahead, a narrow field of view, few views")
    return (f"the focal length of camera {camera.camera_id} ({camera.width} x {camera.height}, {camera.images} images) "
            f"is poorly constrained: {camera.focal_px:.1f} px{spread}, estimated without EXIF; depths and sizes scale "
            f"with it. {cause[0].upper() + cause[1:]}. Give it with --set sfm.focal_px=PIXELS (of the photos as "
            "given) or --set sfm.fov_deg=DEGREES (across the longest side), or add photos taken from more directions")
