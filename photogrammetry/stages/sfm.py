"""Structure from motion: a COLMAP database from our features and matches, geometric
verification, mapping, a final refinement and the exports.

Steps: cameras from ingest's groups (focal prior when there is one, else 1.2 x the longest
side, refined), keypoints and raw matches into ``database.db``, with COLMAP's SIFT matches on
the same pairs added (``sift_assist``); RANSAC verification; the
incremental mapper with relaxed initial-pair and registration thresholds (the global mapper
above ``global_above_images`` images, or as a retry when the incremental one breaks into
pieces), once more with the focal length found given as a prior where a camera had none
(:mod:`photogrammetry.sfm.focal_pass`); every model kept, the largest one refined (track completion, re-triangulation, robust
global bundle adjustment with the principal point where enough views constrain it) and
exported. See :mod:`photogrammetry.io.sfm` for the files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from photogrammetry.engine.eta import Cost
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import InputError, StageError
from photogrammetry.io.features import FeatureSet, MatchSet
from photogrammetry.io.ingest import IngestResult
from photogrammetry.io.sfm import ModelInfo, SfmSummary, load_sfm, save_sfm_summary
from photogrammetry.io.masks import MaskSet
from photogrammetry.sfm import intrinsics, messages
from photogrammetry.sfm.options import SfmOptions

_GROUPS = {
    "sift": {"assist": "sift_assist", "max_features": "sift_max_features"},
    "verification": {name: f"verify_{name}" for name in ("max_error", "max_trials", "min_inliers", "min_inlier_ratio")},
    "mapping": {name: name for name in ("mapper", "global_above_images", "retry_global", "min_num_matches",
                                        "init_min_num_inliers", "init_min_tri_angle", "abs_pose_min_num_inliers",
                                        "abs_pose_min_inlier_ratio", "max_reg_trials", "min_model_size")},
    "refinement": {"enabled": "final_refinement", "sift_adjustment": "final_sift_adjustment",
                   "sift_min_points": "final_sift_min_points",
                   **{name: name for name in ("distortion_min_gain", "distortion_free_px", "principal_point_min_images",
                                              "max_principal_point_offset", "principal_point_min_offset",
                                              "principal_point_min_gain")}},
}
_TOP = ("camera_model", "shared_intrinsics", "refine_focal_length", "refine_extra_params", "focal_px", "fov_deg",
        "focal_warn_sd", "refine_principal_point", "seed", "calibration")


@dataclass(frozen=True, kw_only=True)
class SfmConfig(SfmOptions):
    """Settings of the sfm stage: the options of :class:`~photogrammetry.sfm.options.SfmOptions`,
    declared (with their defaults and docs) there; ``photogrammetry options sfm`` lists them."""

    KEY_NAMES: ClassVar[dict[str, str]] = {
        **{name: name for name in _TOP},
        **{f"{group}.{name}": old for group, names in _GROUPS.items() for name, old in names.items()}}
    """The flat names these options had in the cache key before they were nested (stage version 4)."""


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


def _write_models(models: list[Any], ingest: IngestResult, masks: MaskSet | None, out: Path) -> None:
    """Every model into ``models/<i>``; the first (chosen) one's exports into ``out``."""
    from photogrammetry.sfm import export

    for i, model in enumerate(models):
        export.write_colmap(model, out / f"models/{i}")
    by_name = {im.name: im for im in ingest.images}
    export.export_model(models[0], out, lambda name: ingest.image_path(by_name[name]),
                        masks.mask_path if masks is not None else lambda name: None)


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
                      workers: int, images: Path) -> Any:
    """The chosen model refined (:mod:`photogrammetry.sfm.refine`), then adjusted on its SIFT points
    (with the SIFT assist and learned features): a ``Refinement``."""
    from photogrammetry.sfm import adjust, precision, refine

    if not config.refinement.enabled:
        return adjust.Refinement(model, config.refine_principal_point == "always",
                                 config.refine_extra_params == "always")
    refined = refine.refine_model(model, db, config, num_threads=workers, images=images)
    if config.refinement.sift_adjustment and first_sift and extractor != "sift":
        adjusted, _ = precision.sift_adjustment(refined.model, first_sift, config, distortion=refined.distortion,
                                                num_threads=workers)
        refined = dataclasses.replace(refined, model=adjusted)
    return refined


def _apart(chosen: Any, others: Iterable[Any]) -> list[Any]:
    """The models of ``others`` that hold an image ``chosen`` does not (the rest add nothing to it)."""
    placed = {chosen.image(i).name for i in chosen.reg_image_ids()}
    return [m for m in others if any(m.image(i).name not in placed for i in m.reg_image_ids())]


def _plausible(model: Any, ctx: StageContext) -> Any:
    """``model`` without its implausible images (:mod:`photogrammetry.sfm.plausible`), with a warning naming them."""
    from photogrammetry.sfm import plausible

    kept, dropped = plausible.without_implausible(model)
    if dropped:
        ctx.log.warning("%s", plausible.describe(dropped))
    return kept


def _split(model: Any, config: SfmConfig, ctx: StageContext) -> Any:
    """``model`` without the parts that hang on it by fewer than ``split_weak_link_points`` points, each logged."""
    from photogrammetry.sfm import links

    kept, cut = links.split(model, config.split_weak_link_points)
    for link in cut:
        ctx.log.warning("%d photo(s) taken out of the model (%s): they hang on the other %d by %d 3D points "
                        "(sfm.split_weak_link_points = %d), too few to hold their scale", len(link.images),
                        ", ".join(link.images[:8]) + (" ..." if len(link.images) > 8 else ""), link.other_images,
                        link.points, config.split_weak_link_points)
    return kept


def _warn_apart(chosen: Any, others: list[Any], db: Path, ingest: IngestResult, config: SfmConfig,
                ctx: StageContext) -> None:
    """Warn where ``others`` hold photos the chosen model does not (:func:`_apart`)."""
    from photogrammetry.sfm import diagnosis

    apart = _apart(chosen, others)
    if apart:
        ctx.log.warning("%s", diagnosis.several_models([chosen, *apart], [im.name for im in ingest.images],
                                                       diagnosis.tracks_into(db, chosen),
                                                       config.mapping.abs_pose_min_num_inliers))


def _verify(db: Path, config: SfmConfig, workers: int) -> tuple[bool, int]:
    """Geometric verification, light where a second mapping pass will follow
    (:func:`~photogrammetry.sfm.focal_pass.light_first_pass`, in full where it verifies no pair):
    whether it was light, and the pairs verified."""
    from photogrammetry.sfm import focal_pass, verification

    light = focal_pass.light_first_pass(db, config)
    verified = verification.verify(db, focal_pass.first_pass_options(config) if light else config, num_threads=workers)
    if light and verified == 0:
        return False, verification.verify(db, config, num_threads=workers)
    return light, verified


def _map(db: Path, images: Path, config: SfmConfig, ctx: StageContext, *, light: bool, num_images: int,
         connected: int, features: Path) -> Any:
    """:func:`~photogrammetry.sfm.focal_pass.map_cameras`, with a warning (and, where mapping fails, the
    reason) where most verified matches stand still: a static background."""
    from photogrammetry.sfm import diagnosis, focal_pass

    still = diagnosis.still_share(db, config.mapping.min_num_matches)
    if still >= diagnosis.STILL_SHARE:
        ctx.log.warning("%s", diagnosis.static_background(still))
    try:
        return focal_pass.map_cameras(db, images, ctx.out / ".mapping", config, light=light, num_images=num_images,
                                      connected=connected, num_threads=ctx.workers, features=features)
    except StageError as error:
        if still < diagnosis.STILL_SHARE:
            raise
        raise StageError(f"{error}. {diagnosis.static_background(still)}") from error


def _map_checked(db: Path, images: Path, config: SfmConfig, ctx: StageContext, beat: Any, *, light: bool,
                 num_images: int, connected: int, features: Path) -> tuple[Any, Any]:
    """:func:`_map`, its chosen model checked by :func:`~photogrammetry.sfm.sanity.checked` (mapped again with
    other seeds where its rotations disagree with the verified pairs'); the outcome and the check's record."""
    from photogrammetry.sfm import sanity

    outcome = _map(db, images, config, ctx, light=light, num_images=num_images, connected=connected,
                   features=features)
    beat.step("sanity check")
    remap = sanity.map_again(db, images, ctx.out / ".mapping" / "sanity", num_images=num_images,
                             num_threads=ctx.workers, features=features)
    return sanity.checked(outcome, db, config, remap, num_threads=ctx.workers)


def _bridge(db: Path, images: Path, config: SfmConfig, ctx: StageContext, outcome: Any, extractor: str,
            beat: Any) -> Any:
    """:func:`~photogrammetry.sfm.learned_bridge.bridge` (learned matches where the SIFT model breaks) where
    ``sfm.learned_bridge`` is on and the features are SIFT; else ``outcome`` as it is."""
    if not (config.learned_bridge.enabled and extractor == "sift"):
        return outcome
    from photogrammetry.sfm import learned_bridge

    beat.step("learned bridge")
    return learned_bridge.bridge(db, images, ctx.out / ".mapping" / "bridge", config, outcome,
                                 num_threads=ctx.workers, device=ctx.device)


def _write_database(db: Path, images: Path, ingest: IngestResult, features: FeatureSet, matches: MatchSet,
                    masks: MaskSet | None, config: SfmConfig, ctx: StageContext, beat: Any) -> tuple[Any, set, dict]:
    """The COLMAP database of our features and matches, a calibration applied where given, and COLMAP's SIFT
    matches added where ``sift.assist``: the database's counts, the calibrated camera ids and the first SIFT
    keypoint of each image (by image id)."""
    from photogrammetry.sfm import database, sift

    stats = database.write_database(db, ingest, features.path, matches.path, camera_model=config.camera_model,
                                    shared_intrinsics=config.shared_intrinsics)
    calibrated = _apply_calibration(db, config) if config.calibration else set()
    if config.calibration:
        ctx.log.info("calibration from %s applied to %d camera(s)", config.calibration, len(calibrated))
    first_sift: dict[int, int] = {}
    if config.sift.assist:
        beat.step("COLMAP SIFT assist")
        added, first_sift = sift.add_sift_matches(db, images, max_features=config.sift.max_features,
                                                  num_threads=ctx.workers, masks=sift_masks(masks, ctx.log))
        ctx.log.info("added %d COLMAP SIFT matches", added)
    return stats, calibrated, first_sift


def run(config: SfmConfig, ctx: StageContext, *, ingest: IngestResult, features: FeatureSet,
        matches: MatchSet, masks: MaskSet | None = None) -> dict[str, Any]:
    """Reconstruct cameras and sparse points into ``ctx.out``."""
    from photogrammetry.sfm import colmap, database, diagnosis, links, rolling_shutter, sanity

    db = ctx.out / "database.db"
    images = colmap.image_folder(ingest, ctx.out / ".images")
    ingest = intrinsics.with_user_focal(ingest, focal_px=config.focal_px, fov_deg=config.fov_deg)
    with colmap.quiet_colmap(), ctx.heartbeat("writing the database") as beat:
        stats, calibrated, first_sift = _write_database(db, images, ingest, features, matches, masks, config, ctx,
                                                        beat)
        beat.step("geometric verification")
        light, verified = _verify(db, config, ctx.workers)
        connected = database.connected_images(db, config.mapping.min_num_matches)
        ctx.log.info("%d images, %d matched pairs, %d verified pairs connecting %d images",
                     stats.images, stats.pairs, verified, connected)
        if verified == 0:
            ids = {i: im.name for i, im in enumerate(ingest.images, 1)}  # as write_database numbers them
            raise StageError(diagnosis.no_verified_pairs(db, ids, config))
        beat.step("mapping and bundle adjustment")
        outcome, pose_check = _map_checked(db, images, config, ctx, beat, light=light, num_images=stats.images,
                                           connected=connected, features=features.path)
        outcome = _bridge(db, images, config, ctx, outcome, features.extractor, beat)
        beat.step("refinement")
        final = _final_refinement(outcome.models[0], db, config, first_sift, features.extractor, ctx.workers,
                                  images)
        final, shutter = rolling_shutter.correct_refined(final, ingest, config, ctx.workers, ctx.log)
        chosen = _split(_plausible(final.model, ctx), config, ctx)
        pp, distortion = final.principal_point, final.distortion
        models = [chosen, *outcome.models[1:]]
        _warn_apart(chosen, outcome.models[1:], db, ingest, config, ctx)
        beat.step("writing the models")
        _write_models(models, ingest, masks, ctx.out)
        deviations = intrinsics.focal_deviations(chosen, focal=config.refine_focal_length, principal_point=pp,
                                                 distortion=distortion, num_threads=ctx.workers)
    shutil.rmtree(ctx.out / ".mapping", ignore_errors=True)
    database.compact(db)
    registered = sorted(chosen.image(i).name for i in chosen.reg_image_ids())
    summary = SfmSummary(
        mapper=outcome.mapper, attempts=outcome.attempts, models=_model_infos(models), registered=tuple(registered),
        unregistered=tuple(sorted({im.name for im in ingest.images} - set(registered))), verified_pairs=verified,
        principal_point_refined=pp, distortion_refined=distortion,
        cameras=intrinsics.camera_infos(chosen, ingest, deviations, calibrated=calibrated, others=final.other_focals,
                                        lens_checks=final.lens_checks),
        forward_motion=intrinsics.forward_motion(chosen), weak_links=links.find(chosen, config.weak_link_points),
        pose_check=pose_check)
    save_sfm_summary(ctx.out, summary)
    messages.log_summary(ctx.log, summary, config)
    return {"registered": len(registered), "images": stats.images, "models": len(models),
            "model_sizes": ", ".join(str(m.num_images) for m in summary.models),
            "points": chosen.num_points3D(), "mapper": outcome.mapper,
            "reprojection_error": summary.models[0].mean_reprojection_error,
            "focal": "; ".join(messages.describe_focal(c, distortion) for c in summary.cameras),
            "forward_motion": summary.forward_motion, "weak_links": messages.describe_links(summary.weak_links),
            **({"pose_check": sanity.describe(pose_check)} if pose_check else {}),
            **({"rolling_shutter": shutter.describe()} if shutter else {})}


STAGE = StageSpec(
    name="sfm",
    version=22,  # 5: distortion must lower the error by 10 % to be kept under forward motion; 6: mask_path;
    # 7: database.db compacted, the same bytes on every run; 8: a global retry is kept only where it agrees
    # with the largest incremental piece; 9: a second mapping pass with the estimated focal length as a prior;
    # 10: pairs whose few inliers could be chance are verified again at a tighter threshold; the principal
    # point held at the centre under forward motion, and no global retry kept there; the first pass light
    # where the second follows, the final adjustments stop at a function tolerance; 11: pieces that share an
    # image joined, the mapper's adjustments stop at a function tolerance, the light pass's second
    # verification only on the pairs the first verified; 12: the light pass maps with lighter bundle adjustments;
    # 13: the second verification after a light pass does not check the pairs for chance again; weak links
    # found along a maximum spanning tree of our own (ties may pick another tree than scipy's); the free lens
    # distortion adjusted first; sfm.json gives each camera the focal length of the other fit (focal_other_px);
    # 14: on a walk straight ahead the free distortion is not kept by its corner shift alone: it may move the
    # focal length by at most refinement.distortion_max_focal_change from the held fit, else it is scaled down;
    # 15: images with an implausible camera or no 3D point taken out of the models, and such focal lengths no prior;
    # 16: no global retry where the cameras move straight ahead, no held retry where no image left out could
    # register or join; a retry within a pass kept only where it keeps the scale of the model it replaces; after
    # light passes that leave images out, only those images' pairs with the model are verified again in full;
    # 17: on a walk straight ahead the free distortion is kept where the photos' straight lines confirm it (sfm.plumb);
    # the light first pass adjusts the pieces it joins once, at its mapper's tolerance; the other passes'
    # joins stop at pieces.JOIN_TOLERANCE; the focal length's deviation adjusted to intrinsics.DEVIATION_TOLERANCE;
    # 18: sfm.json records the straight lines' lens check per camera (CameraInfo.lens_check), the focal count shows it;
    # the held retry is skipped or run by reach.cut's bounds (both ways across, initial pairs, joins through shared images)
    # 19: the mapping's rotations checked against the verified pairs' own, mapped again with other seeds (sfm.sanity)
    # 20: an incremental run whose first pick of initial pair is a planar pair its essential matrix contradicts starts
    # from the next sound pair (sfm.initial_pair)
    # 21: on a walk straight ahead the principal point is refined where the tests pass and its standard deviation
    # is at most intrinsics.WALK_PRINCIPAL_POINT_MAX_SD of the image
    # 22: the light first pass from several focal starts (sfm.focal_starts)
    config=SfmConfig,
    run=run,
    load=load_sfm,
    requires=("ingest", "masks", "features", "matches"),
    fingerprint=fingerprint,
    outputs={"sparse_model": "model", "model_text": "model_text", "sparse_points": "points.ply",
             "transforms": "transforms.json", "summary": "sfm.json"},
    cost=Cost(seconds=1.0, count="images"),
    summary="Structure from motion with pycolmap: cameras, poses, sparse points; COLMAP, PLY and nerfstudio exports.",
)
