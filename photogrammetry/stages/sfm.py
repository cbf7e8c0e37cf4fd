"""Structure from motion: a COLMAP database from our features and matches, geometric
verification, mapping, a final refinement and the exports.

Steps: cameras from ingest's groups (focal prior when there is one, else 1.2 x the longest
side, refined), keypoints and raw matches into ``database.db``, with COLMAP's SIFT matches on
the same pairs added (``sift_assist``); RANSAC verification; the
incremental mapper with relaxed initial-pair and registration thresholds (the global mapper
above ``global_above_images`` images, or as a retry when the incremental one breaks into
pieces); every model kept, the largest one refined (track completion, re-triangulation, robust
global bundle adjustment with the principal point where enough views constrain it) and
exported. See :mod:`photogrammetry.io.sfm` for the files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError, InputError, StageError
from photogrammetry.io.features import FeatureSet, MatchSet
from photogrammetry.io.ingest import IngestResult
from photogrammetry.io.sfm import CameraInfo, ModelInfo, SfmSummary, load_sfm, save_sfm_summary
from photogrammetry.masking.result import MaskSet
from photogrammetry.sfm import intrinsics

CameraModel = Literal["SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV"]


@dataclass(frozen=True, kw_only=True)
class SfmConfig:
    """Settings of the sfm stage."""

    mapper: Literal["auto", "incremental", "global"] = "auto"
    """``incremental`` (COLMAP), ``global`` (GLOMAP) or ``auto``: global above
    ``global_above_images`` images, incremental otherwise."""
    global_above_images: int = 300
    """Image count above which ``auto`` picks the global mapper."""
    retry_global: bool = True
    """When the incremental mapper leaves connected images out (the scene broke into pieces),
    run the global mapper too and keep whichever registers more images."""
    camera_model: CameraModel = "SIMPLE_RADIAL"
    """COLMAP camera model; ``SIMPLE_RADIAL`` (focal, principal point, one radial term) suits
    most photos; ``OPENCV`` for strong distortion; ``PINHOLE`` for undistorted images."""
    shared_intrinsics: bool = True
    """One camera per ingest camera group (same body, lens, focal, size) instead of one per image."""
    refine_focal_length: bool = True
    """Bundle adjustment refines the focal length (keep on unless the focal prior is exact)."""
    refine_extra_params: Literal["never", "final", "always"] = "final"
    """Lens distortion: ``final``: refined while mapping (held in a retry when the incremental
    mapper breaks into pieces), then in the last global bundle adjustment kept where it moves the
    image corners by at most ``distortion_free_px``, or lowers the reprojection error by
    ``distortion_min_gain`` against the same adjustment with it held at zero (or at the
    calibration's) and passes a BIC test: large distortion that the views do not constrain trades
    off against the focal length (see :mod:`photogrammetry.sfm.refine`);
    ``always``: refined throughout, as COLMAP does (strongly distorted lenses: fisheye, action
    cameras); ``never``: held throughout."""
    distortion_min_gain: float = 0.03
    """Smallest relative drop of the mean reprojection error for which ``final`` keeps refined
    distortion that moves the image corners by more than ``distortion_free_px`` (0.03: 3 %)."""
    distortion_free_px: float = 4.0
    """Refined distortion that moves the image corners by at most this many pixels is kept by
    ``final`` without the error test (the office walk's default-preset models: 1.7-2.1 px, where the
    free fit is the better one)."""
    focal_px: float = 0.0
    """Focal length in pixels of the photos as given (before ``ingest.max_image_size``), for every
    camera, instead of EXIF's or an estimate; still refined unless ``refine_focal_length`` is
    false. 0: EXIF where the photos have it, else estimated."""
    fov_deg: float = 0.0
    """Field of view across the photos' longest side, degrees, for every camera: the same as
    ``focal_px`` for photos of any size (0: unset; give one of the two)."""
    focal_warn_sd: float = field(default=0.01, metadata={"cache": False})
    """Warn when an estimated focal length's standard deviation from the final bundle adjustment
    exceeds this fraction of it."""
    refine_principal_point: Literal["never", "final", "always"] = "final"
    """``final``: tried in the last global bundle adjustment and kept only where it is
    plausible and significantly lowers the reprojection error (see :mod:`photogrammetry.sfm.refine`);
    ``always``: refined during mapping too, unconditionally; ``never``: the image centre."""
    principal_point_min_images: int = 8
    """Registered images a camera needs before its principal point is refined."""
    max_principal_point_offset: float = 0.1
    """A refined principal point farther than this fraction of the image size from the centre
    is rejected (the refinement is redone with it fixed)."""
    principal_point_min_offset: float = 0.003
    """A refined principal point nearer than this fraction of the image size to the centre is
    not kept: so small a shift is within what feature bias alone causes (ALIKED moved the
    centred one of the orbit scene by 0.8 px of 640 and tilted every camera by 0.06 degrees),
    while real lenses that need it are off by more (temple 2-3 %, fountain 1 %)."""
    principal_point_min_gain: float = 0.005
    """Smallest relative drop of the mean reprojection error for which a refined principal point is
    kept (0.005: 0.5 %). Measured: temple and fountain (true points 6-17 px off centre) 1.2-1.6 %;
    the turntable sample scene (centred) 0.05 %, where the BIC test alone let a point through that
    turned every camera by 4.7 degrees."""
    final_refinement: bool = True
    """Complete and merge tracks, re-triangulate and run a robust global bundle adjustment on
    the chosen model."""
    final_sift_adjustment: bool = True
    """With ``sift_assist``: adjust the cameras once more on the SIFT points alone, which are
    located more precisely than learned ones, then re-triangulate every point (see
    :mod:`photogrammetry.sfm.precision`)."""
    final_sift_min_points: int = 100
    """Images with fewer SIFT points keep their learned points in that last adjustment."""
    verify_max_error: float = 4.0
    """RANSAC inlier threshold of the geometric verification, pixels."""
    verify_max_trials: int = 2000
    """Most RANSAC iterations per pair and model; pairs that do not overlap always use them all."""
    verify_min_inliers: int = 15
    """Pairs with fewer verified inliers are dropped."""
    verify_min_inlier_ratio: float = 0.1
    """Pairs whose verified fraction of raw matches is lower are dropped."""
    min_num_matches: int = 15
    """Verified inliers a pair needs to be used by the mappers."""
    init_min_num_inliers: int = 50
    """Inliers the initial image pair needs (COLMAP: 100; lower helps wide baselines)."""
    init_min_tri_angle: float = 8.0
    """Smallest median triangulation angle of the initial pair, degrees (COLMAP: 16)."""
    abs_pose_min_num_inliers: int = 15
    """2D-3D inliers a new image needs to register (COLMAP: 30)."""
    abs_pose_min_inlier_ratio: float = 0.1
    """Inlier fraction a new image needs to register (COLMAP: 0.25)."""
    max_reg_trials: int = 5
    """Times the incremental mapper tries to register an image (COLMAP: 3)."""
    sift_assist: bool = True
    """Add COLMAP's SIFT keypoints and matches to ours on the same pairs before verification
    (rotation invariant, dense on small photos; see :mod:`photogrammetry.sfm.sift`). Costs a
    SIFT extraction and matching on the CPU (about what COLMAP alone spends on them); measured
    with the fast preset: temple AUC@5 0.87 -> 0.91, fountain median rotation error 0.13 -> 0.06
    degrees, orbit 0.017 -> 0.008 degrees."""
    sift_max_features: int = 8192
    """Most SIFT features per image with ``sift_assist``."""
    min_model_size: int = 3
    """Smallest model kept, in images."""
    seed: int = 0
    """Seed of COLMAP's random sampling (RANSAC, mapping)."""
    calibration: str = field(default="", metadata={"cache": False, "path": "dir"})
    """A COLMAP model folder of an earlier reconstruction with the same camera (e.g. the first
    object of a turntable batch): each camera of the same image size starts from its model and
    parameters (keep them fixed with ``refine_focal_length`` false and ``refine_extra_params`` /
    ``refine_principal_point`` never). Its cameras' content, not the path, is in the key."""

    def __post_init__(self) -> None:
        positive = ("global_above_images", "principal_point_min_images", "verify_min_inliers", "min_num_matches",
                    "init_min_num_inliers", "abs_pose_min_num_inliers", "verify_max_trials", "sift_max_features",
                    "max_reg_trials", "min_model_size", "final_sift_min_points")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"sfm.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("verify_min_inlier_ratio", "abs_pose_min_inlier_ratio", "max_principal_point_offset",
                     "principal_point_min_offset"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"sfm.{name} must be within [0, 1), got {getattr(self, name)}")
        if self.verify_max_error <= 0:
            raise ConfigError(f"sfm.verify_max_error must be > 0 pixels, got {self.verify_max_error}")
        if self.focal_px < 0 or not 0.0 <= self.fov_deg < 180.0:
            raise ConfigError(f"sfm.focal_px must be >= 0 pixels and sfm.fov_deg within [0, 180) degrees, got "
                              f"{self.focal_px} and {self.fov_deg}")
        if self.focal_px and self.fov_deg:
            raise ConfigError("give one of sfm.focal_px and sfm.fov_deg, not both")
        if min(self.distortion_min_gain, self.distortion_free_px, self.principal_point_min_gain) < 0 or \
                self.focal_warn_sd <= 0:
            raise ConfigError(f"sfm.distortion_min_gain, sfm.distortion_free_px and sfm.principal_point_min_gain "
                              f"must be >= 0 and sfm.focal_warn_sd > 0, got {self.distortion_min_gain}, "
                              f"{self.distortion_free_px}, {self.principal_point_min_gain} and {self.focal_warn_sd}")
        if not 0.0 < self.init_min_tri_angle < 90.0:
            raise ConfigError(f"sfm.init_min_tri_angle must be within (0, 90) degrees, got {self.init_min_tri_angle}")


def _calibration_cameras(config: SfmConfig) -> list[Any]:
    """The cameras of ``config.calibration`` (pycolmap), or an error naming the folder."""
    import pycolmap

    folder = Path(config.calibration).expanduser()
    try:
        return list(pycolmap.Reconstruction(folder).cameras.values())
    except (RuntimeError, ValueError, OSError) as e:
        raise InputError(f"sfm.calibration: cannot read a COLMAP model in {folder.resolve()}: {e}") from None


def fingerprint(config: SfmConfig, photos: Path) -> dict[str, Any] | None:
    """The calibration cameras (model, size, parameters), when one is given."""
    if not config.calibration:
        return None
    cameras = sorted((c.model.name, c.width, c.height, [round(float(p), 9) for p in c.params])
                     for c in _calibration_cameras(config))
    return {"calibration_sha256": hashlib.sha256(repr(cameras).encode("utf-8")).hexdigest()}


def _apply_calibration(database: Path, config: SfmConfig) -> set[int]:
    """Give the database's cameras the calibration's model and parameters (matched by size); the
    ids of those that got them."""
    import pycolmap

    known = {(c.width, c.height): c for c in _calibration_cameras(config)}
    applied: set[int] = set()
    with pycolmap.Database.open(database) as db:
        for camera in db.read_all_cameras():
            match = known.get((camera.width, camera.height))
            if match is not None:
                camera.model, camera.params, camera.has_prior_focal_length = match.model, match.params, True
                db.update_camera(camera)
                applied.add(int(camera.camera_id))
    return applied


def _model_infos(models: Iterable[Any]) -> tuple[ModelInfo, ...]:
    return tuple(ModelInfo(path=f"models/{i}", num_images=m.num_reg_images(), num_points=m.num_points3D(),
                           mean_reprojection_error=round(float(m.compute_mean_reprojection_error()), 4))
                 for i, m in enumerate(models))


def _connected_images(database: Path, min_inliers: int) -> int:
    """Images in at least one verified pair with ``min_inliers`` inliers."""
    from photogrammetry.sfm.database import pairs_of

    return len({i for a, b, n in pairs_of(database) if n >= min_inliers for i in (a, b)})


def _write_models(models: list[Any], ingest: IngestResult, out: Path) -> None:
    """Every model into ``models/<i>``; the first (chosen) one's exports into ``out``."""
    from photogrammetry.sfm import export

    for i, model in enumerate(models):
        export.write_colmap(model, out / f"models/{i}")
    by_name = {im.name: im for im in ingest.images}
    export.export_model(models[0], out, lambda name: ingest.image_path(by_name[name]))


def sift_masks(masks: MaskSet | None, log: logging.Logger) -> Path | None:
    """The masks folder COLMAP's SIFT reads (``<image name>.png``), when every image has a mask."""
    if masks is None or masks.count == 0:
        return None
    if masks.count < len(masks.files):
        log.warning("%d of %d images have masks: the COLMAP SIFT assist uses every pixel of every image",
                    masks.count, len(masks.files))
        return None
    return masks.root / "masks"


def _final_refinement(model: Any, db: Path, config: SfmConfig, first_sift: dict[int, int], extractor: str,
                      workers: int) -> Any:
    """The chosen model refined (:mod:`photogrammetry.sfm.refine`), then adjusted on its SIFT points
    (with the SIFT assist and learned features): a ``Refinement``."""
    from photogrammetry.sfm import precision, refine

    if not config.final_refinement:
        return refine.Refinement(model, config.refine_principal_point == "always",
                                 config.refine_extra_params == "always")
    refined = refine.refine_model(model, db, config, num_threads=workers)
    if config.final_sift_adjustment and first_sift and extractor != "sift":
        adjusted, _ = precision.sift_adjustment(refined.model, first_sift, config, distortion=refined.distortion,
                                                num_threads=workers)
        refined = dataclasses.replace(refined, model=adjusted)
    return refined


def run(config: SfmConfig, ctx: StageContext, *, ingest: IngestResult, features: FeatureSet,
        matches: MatchSet, masks: MaskSet | None = None) -> dict[str, Any]:
    """Reconstruct cameras and sparse points into ``ctx.out``."""
    from photogrammetry.sfm import colmap, database, mapping, sift, verification

    db = ctx.out / "database.db"
    images = colmap.image_folder(ingest, ctx.out / ".images")
    ingest = intrinsics.with_user_focal(ingest, focal_px=config.focal_px, fov_deg=config.fov_deg)
    with colmap.quiet_colmap():
        stats = database.write_database(db, ingest, features.path, matches.path, camera_model=config.camera_model,
                                        shared_intrinsics=config.shared_intrinsics)
        calibrated = _apply_calibration(db, config) if config.calibration else set()
        if config.calibration:
            ctx.log.info("calibration from %s applied to %d camera(s)", config.calibration, len(calibrated))
        first_sift: dict[int, int] = {}
        if config.sift_assist:
            added, first_sift = sift.add_sift_matches(db, images, max_features=config.sift_max_features,
                                                      num_threads=ctx.workers, masks=sift_masks(masks, ctx.log))
            ctx.log.info("added %d COLMAP SIFT matches", added)
        verified = verification.verify(db, config, num_threads=ctx.workers)
        connected = _connected_images(db, config.min_num_matches)
        ctx.log.info("%d images, %d matched pairs, %d verified pairs connecting %d images",
                     stats.images, stats.pairs, verified, connected)
        if verified == 0:
            raise StageError(f"no image pair survived geometric verification ({stats.pairs} matched pairs); the photos "
                             "may not overlap: take more photos with overlap, or try another preset")
        outcome = mapping.reconstruct(db, images, ctx.out / ".mapping", config, num_images=stats.images,
                                      connected=connected, num_threads=ctx.workers)
        final = _final_refinement(outcome.models[0], db, config, first_sift, features.extractor, ctx.workers)
        chosen, pp, distortion = final.model, final.principal_point, final.distortion
        models = [chosen, *outcome.models[1:]]
        _write_models(models, ingest, ctx.out)
        deviations = intrinsics.focal_deviations(chosen, focal=config.refine_focal_length, principal_point=pp,
                                                 distortion=distortion, num_threads=ctx.workers)
    shutil.rmtree(ctx.out / ".mapping", ignore_errors=True)
    registered = sorted(chosen.image(i).name for i in chosen.reg_image_ids())
    summary = SfmSummary(
        mapper=outcome.mapper, attempts=outcome.attempts, models=_model_infos(models), registered=tuple(registered),
        unregistered=tuple(sorted({im.name for im in ingest.images} - set(registered))), verified_pairs=verified,
        principal_point_refined=pp, distortion_refined=distortion,
        cameras=intrinsics.camera_infos(chosen, ingest, deviations, calibrated=calibrated),
        forward_motion=intrinsics.forward_motion(chosen))
    save_sfm_summary(ctx.out, summary)
    _log_summary(ctx, summary, config)
    return {"registered": len(registered), "images": stats.images, "models": len(models),
            "model_sizes": ", ".join(str(m.num_images) for m in summary.models),
            "points": chosen.num_points3D(), "mapper": outcome.mapper,
            "reprojection_error": summary.models[0].mean_reprojection_error,
            "focal": "; ".join(_describe_focal(c) for c in summary.cameras), "forward_motion": summary.forward_motion}


def _describe_focal(camera: CameraInfo) -> str:
    """``camera 1: 498.4 px (estimated, sd 0.4 %)``."""
    sd = "" if camera.focal_sd_px is None else f", sd {100 * camera.focal_sd_px / camera.focal_px:.1f} %"
    prior = f" from {camera.focal_prior_px:.1f}" if camera.focal_prior_px and camera.focal_source != "estimated" else ""
    return f"camera {camera.camera_id}: {camera.focal_px:.1f} px ({camera.focal_source}{prior}{sd})"


def _log_summary(ctx: StageContext, summary: SfmSummary, config: SfmConfig) -> None:
    for camera in summary.cameras:
        ctx.log.info("focal length, %s", _describe_focal(camera))
        warning = intrinsics.focal_warning(camera, config.focal_warn_sd, summary.forward_motion)
        if warning:
            ctx.log.warning("%s", warning)
    for attempt in summary.attempts:
        ctx.log.info("mapping attempt: %s", attempt)
    for i, m in enumerate(summary.models):
        ctx.log.info("model %d%s: %d images, %d points, reprojection error %.2f px", i,
                     " (chosen)" if i == 0 else "", m.num_images, m.num_points, m.mean_reprojection_error)
    if summary.unregistered:
        shown = ", ".join(summary.unregistered[:10]) + (" ..." if len(summary.unregistered) > 10 else "")
        ctx.log.warning("%d image(s) not in the chosen model: %s", len(summary.unregistered), shown)


STAGE = StageSpec(
    name="sfm",
    version=4,
    config=SfmConfig,
    run=run,
    load=load_sfm,
    requires=("ingest", "masks", "features", "matches"),
    fingerprint=fingerprint,
    outputs={"sparse_model": "model", "model_text": "model_text", "sparse_points": "points.ply",
             "transforms": "transforms.json", "summary": "sfm.json"},
    summary="Structure from motion with pycolmap: cameras, poses, sparse points; COLMAP, PLY and nerfstudio exports.",
)
