"""Mapping strategies: incremental (default) or global, with a global retry when the incremental
mapper breaks the scene into pieces. The retry's model is kept when it registers more images and
agrees with the largest incremental piece (:func:`disagreement`): on 20 frames of a real forward
walk (fast preset) the global model registered all 20 but shrank along the walk (median rotation
error 11.8 degrees against the true cameras; the piece of 13, 2.2 degrees), 11.6 % of its size off
the piece. On 40 frames of that walk (cpu preset) a global model that agreed with the piece of 28
within both limits (2 %, 1 degree) was garbage elsewhere (pose AUC@5 0.016): where the largest piece
moves straight ahead (forward motion at least :data:`~photogrammetry.sfm.intrinsics.FORWARD_MOTION`)
the retry's model would never be kept, so the retry is not run: on the office walk's 60 frames (``cpu``)
the global runs took 50 s of the stage's 124 (three runs, each refused).
Any retry's model (distortion held, global) replaces the models before it only where it also keeps
their scale on the images both hold (:mod:`photogrammetry.sfm.continuity`).

The pieces of an incremental run that registered an image of the largest model again are joined
into it through that image (:mod:`photogrammetry.sfm.pieces`, ``mapping.join_min_shared_points``)
before any retry: on the office walk's fast turn the pieces of 13 and 8 frames shared frame 12.

Each run writes its models into a folder of its own and returns them as
``pycolmap.Reconstruction`` objects, largest first. Nothing here decides what is exported.

The stage's defaults relax COLMAP's initial-pair and registration thresholds (initial pair:
50 inliers, 8 degrees instead of 100 and 16; registration: 15 inliers at a 0.1 ratio instead
of 30 at 0.25; 5 trials instead of 3): on the 16-view Middlebury temple ring (22.5 degrees
apart, black background) COLMAP's own settings register 13 views, these all 16.

Lens distortion is refined while mapping, as COLMAP does, unless ``refine_extra_params`` is
``never``; with ``final`` (the default) an incremental run that breaks into pieces is tried again
with it held at its starting value, and the run that registers more is kept: distortion that the
views do not constrain (a long lens: 3,000 px on 640 x 480) sent a synthetic ring into pieces of
2-6 views, held every view registered. The final refinement decides whether to keep it
(:mod:`photogrammetry.sfm.refine`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photogrammetry.errors import StageError
from photogrammetry.sfm import plausible
from photogrammetry.sfm.colmap import colmap_errors
from photogrammetry.sfm.field import narrow_database
from photogrammetry.sfm.intrinsics import forward_motion, moves_ahead

if TYPE_CHECKING:
    import pycolmap

    from photogrammetry.sfm.options import SfmOptions

log = logging.getLogger("photogrammetry.sfm")

_HINT = ("try more overlap between photos, another preset (e.g. --preset high), or "
         "--set sfm.mapping.mapper=global")


@dataclass(frozen=True)
class MappingOutcome:
    """The models of the chosen mapping run and how they were found."""

    models: list[Any]
    """``pycolmap.Reconstruction`` objects, most registered images first."""
    mapper: str
    """``incremental`` or ``global``: the run whose models are kept."""
    attempts: tuple[str, ...]
    """One line per mapping run: mapper and model sizes."""


def choose_mapper(config: SfmOptions, num_images: int) -> str:
    """``incremental`` or ``global`` for ``config.mapping.mapper`` (``auto`` decides by image count)."""
    if config.mapping.mapper != "auto":
        return config.mapping.mapper
    return "global" if num_images > config.mapping.global_above_images else "incremental"


LIGHT_BA_TOLERANCE = 1e-4
"""The bundle adjustments' relative cost change at which a light pass (``light``) stops, where
``mapping.ba_function_tolerance`` is lower."""


def light_tolerance(config: SfmOptions) -> float:
    """The function tolerance of a light pass's bundle adjustments: :data:`LIGHT_BA_TOLERANCE`, or
    ``mapping.ba_function_tolerance`` where that is higher."""
    return max(LIGHT_BA_TOLERANCE, config.mapping.ba_function_tolerance)


def incremental_options(config: SfmOptions, num_threads: int, *, distortion: bool = True,
                        light: bool = False) -> pycolmap.IncrementalPipelineOptions:
    """pycolmap's incremental pipeline options for ``config``; ``distortion``: refine the distortion
    parameters (unless ``refine_extra_params`` is ``never``). ``light``: for a pass that only finds the
    focal length (:mod:`~photogrammetry.sfm.focal_pass`): no point colours (the images are not read),
    bundle adjustments stopped at :data:`LIGHT_BA_TOLERANCE` and refined once instead of 2 (local) and
    5 (global) times. Measured on temple, office-20, fountain and facade (``cpu``): the light passes'
    mapping 2.7 -> 1.9 s of CPU in all, the final focal lengths the same to 0.1 px and pose AUC@5 to
    three digits."""
    import pycolmap

    o = pycolmap.IncrementalPipelineOptions()
    o.min_num_matches = config.mapping.min_num_matches
    o.min_model_size = config.mapping.min_model_size
    o.num_threads = num_threads
    o.random_seed = config.seed
    o.ba_refine_focal_length = config.refine_focal_length
    o.ba_refine_extra_params = distortion and config.refine_extra_params != "never"
    o.ba_refine_principal_point = config.refine_principal_point == "always"
    o.mapper.init_min_num_inliers = config.mapping.init_min_num_inliers
    o.mapper.init_min_tri_angle = config.mapping.init_min_tri_angle
    o.mapper.abs_pose_min_num_inliers = config.mapping.abs_pose_min_num_inliers
    o.mapper.abs_pose_min_inlier_ratio = config.mapping.abs_pose_min_inlier_ratio
    o.mapper.max_reg_trials = config.mapping.max_reg_trials
    o.structure_less_registration_fallback = config.mapping.structure_less_fallback
    o.ba_local_function_tolerance = o.ba_global_function_tolerance = config.mapping.ba_function_tolerance
    o.ba_global_frames_ratio = o.ba_global_points_ratio = config.mapping.ba_global_ratio
    o.triangulation.min_angle = o.mapper.filter_min_tri_angle = config.mapping.min_tri_angle
    if light:
        o.extract_colors = False
        o.ba_local_function_tolerance = o.ba_global_function_tolerance = light_tolerance(config)
        o.ba_local_max_refinements = o.ba_global_max_refinements = 1
    return o


def global_options(config: SfmOptions, num_threads: int) -> pycolmap.GlobalPipelineOptions:
    """pycolmap's global (GLOMAP) pipeline options for ``config``."""
    import pycolmap

    o = pycolmap.GlobalPipelineOptions()
    o.min_num_matches = config.mapping.min_num_matches
    o.min_model_size = config.mapping.min_model_size
    o.num_threads = num_threads
    o.random_seed = config.seed
    ba = o.mapper.bundle_adjustment
    ba.refine_focal_length = config.refine_focal_length
    ba.refine_extra_params = config.refine_extra_params != "never"
    ba.refine_principal_point = config.refine_principal_point == "always"
    o.mapper.global_positioning.use_gpu = False
    ba.ceres.use_gpu = False
    return o


def run_mapper(mapper: str, database: Path, images: Path, out: Path, config: SfmOptions,
               num_threads: int, *, distortion: bool = True, light: bool = False) -> list[pycolmap.Reconstruction]:
    """Run one mapper; its models, most registered images first (empty when none was found).
    ``distortion`` false holds the distortion parameters, ``light`` makes a light pass (incremental
    mapper, see :func:`incremental_options`). ``num_threads``: the incremental mapper's where
    ``mapping.threads`` is 0."""
    import pycolmap

    out.mkdir(parents=True, exist_ok=True)
    if distortion and narrow_database(database, config.narrow_field):
        log.info("%s mapping: lens distortion held, the cameras' fields are narrower than sfm.narrow_field %g",
                 mapper, config.narrow_field)
        distortion = False
    with colmap_errors(f"{mapper} mapping", _HINT):
        if mapper == "global":
            options = global_options(config, num_threads)
            options.mapper.bundle_adjustment.refine_extra_params &= distortion
            found = pycolmap.global_mapping(database, images, out, options)
        else:
            found = _incremental(database, images, out, config,
                                 incremental_options(config, config.mapping.threads or num_threads,
                                                     distortion=distortion, light=light))
    return plausible_models([m for m in found.values() if m.num_reg_images() > 0], mapper)


def _incremental(database: Path, images: Path, out: Path, config: SfmOptions,
                 options: pycolmap.IncrementalPipelineOptions) -> dict:
    """COLMAP's incremental mapping, started from :func:`~photogrammetry.sfm.initial_pair.choose`'s pair where
    COLMAP's own first choice is a planar pair that its essential matrix contradicts."""
    import pycolmap

    from photogrammetry.sfm import initial_pair

    pair = initial_pair.choose(database, config.initial_pair, options)
    found = initial_pair.map_from(pair, database, images, out, options) if pair else {}
    return found or pycolmap.incremental_mapping(database, images, out, options)


def plausible_models(models: list, mapper: str) -> list:
    """``models`` without their implausible images (:func:`~photogrammetry.sfm.plausible.without_implausible`,
    each logged; a model with fewer than two plausible images is left out), most registered images first."""
    kept = []
    for model in models:
        dropped = plausible.implausible_images(model)
        if model.num_reg_images() - len(dropped) < 2:
            log.info("%s mapping: a model of %d images left out: fewer than two are plausible", mapper,
                     model.num_reg_images())
            continue
        for image in dropped:
            log.info("%s mapping: %s taken out of a model: %s", mapper, image.name, image.reason)
        kept.append(plausible.without(model, dropped) if dropped else model)
    return sorted(kept, key=lambda m: (-m.num_reg_images(), -m.num_points3D()))


def _describe(mapper: str, models: list) -> str:
    sizes = ", ".join(str(m.num_reg_images()) for m in models) or "none"
    return f"{mapper}: {len(models)} model(s), registered images {sizes}"


def reconstruct(database: Path, images: Path, scratch: Path, config: SfmOptions, *,
                num_images: int, connected: int, num_threads: int, retries: bool = True,
                light: bool = False, features: Path | None = None) -> MappingOutcome:
    """Map with the configured strategy; retry with the global mapper when the result is fragmented.

    Args:
        database: Verified COLMAP database.
        images: Folder of the images by name (colours of the points are read there).
        scratch: Folder for the runs' outputs (``<mapper>/<i>``).
        config: The sfm options.
        num_images: Images in the database.
        connected: Images with at least one verified pair (the most any model can register).
        num_threads: Threads COLMAP may use.
        retries: Retry as described above (false: the first run only).
        light: Map lightly (:func:`incremental_options`): the run only finds the focal length.
        features: Our ``features.h5``, for joining pieces through their tracks (``mapping.join_tracks``;
            not in a light pass, which only finds the focal length).

    Raises:
        StageError: When no run found a model.
    """
    first = choose_mapper(config, num_images)
    models = _joined(run_mapper(first, database, images, scratch / first, config, num_threads, light=light), first,
                     database, config, num_threads, None if light else features, light=light)
    attempts, chosen = [_describe(first, models)], first
    if retries and first == "incremental":
        models, chosen = _retries(models, attempts, database, images, scratch, config, connected=connected,
                                  num_threads=num_threads, features=features)
    if not models:
        raise StageError(f"structure from motion found no model ({'; '.join(attempts)}): no image pair gave "
                         f"a reliable initial reconstruction; {_HINT}")
    return MappingOutcome(models=models, mapper=chosen, attempts=tuple(attempts))


def _retries(models: list, attempts: list[str], database: Path, images: Path, scratch: Path, config: SfmOptions, *,
             connected: int, num_threads: int, features: Path | None) -> tuple[list, str]:
    """The incremental run's ``models`` or a retry's, where they leave connected images out: the lens
    distortion held (``refine_extra_params`` ``final``; not run where no image left out could register or join,
    :func:`_may_register`), then the global mapper (``retry_global``; not run where the
    largest model moves straight ahead, where its model would be refused). A retry's models
    are kept where they register more images and keep the scale of the model they replace
    (:func:`~photogrammetry.sfm.continuity.keeps_scale`). Appends one line per run to ``attempts``."""
    from photogrammetry.sfm.continuity import keeps_scale

    largest, chosen = (models[0].num_reg_images() if models else 0), "incremental"
    limit = config.mapping.retry_max_scale_change
    held_retry = (config.refine_extra_params == "final" and largest < connected
                  and not narrow_database(database, config.narrow_field))  # held already
    if held_retry and not _may_register(models, database, config):
        attempts.append("incremental, distortion held: not run, no image left out could register or join")
    elif held_retry:
        log.info("incremental mapping registered %d of %d connected images; retrying with the lens distortion held",
                 largest, connected)
        held = _joined(run_mapper("incremental", database, images, scratch / "incremental-held", config, num_threads,
                                  distortion=False), "incremental", database, config, num_threads, features)
        attempts.append(_describe("incremental, distortion held", held))
        if held and held[0].num_reg_images() > largest and (
                not models or keeps_scale(models[0], held[0], limit, "the retry with the lens distortion held")):
            models, largest = held, held[0].num_reg_images()
    if not (config.mapping.retry_global and largest < connected):
        return models, chosen
    if models and moves_ahead(forward := forward_motion(models[0])):
        log.info("incremental mapping registered %d of %d connected images; no global retry: the cameras move "
                 "mostly straight ahead (forward motion %.2f), where its model is not used", largest, connected,
                 forward)
        attempts.append("global: not run, the cameras move straight ahead")
        return models, chosen
    log.info("incremental mapping registered %d of %d connected images; retrying with the global mapper",
             largest, connected)
    retry = run_mapper("global", database, images, scratch / "global", config, num_threads)
    attempts.append(_describe("global", retry))
    if retry and retry[0].num_reg_images() > largest and _global_agrees(models, retry[0], config) and (
            not models or keeps_scale(models[0], retry[0], limit, "the global retry")):
        models, chosen = retry, "global"
    return models, chosen


def _may_register(models: list, database: Path, config: SfmOptions) -> bool:
    """Whether the retry with the distortion held may register more images than the largest of ``models``,
    by the bounds of :func:`~photogrammetry.sfm.reach.cut` (the images shared with the other models, a join's
    only way across); logged where it may not."""
    from photogrammetry.sfm.reach import cut

    if not models:
        return True
    options = config.mapping
    placed = {int(i) for i in models[0].reg_image_ids()}
    shared = {int(i) for m in models[1:] for i in m.reg_image_ids()} & placed
    bounds = cut(database, placed, shared, options.min_num_matches, structure_less=options.structure_less_fallback)
    if bounds.may_add(options):
        return True
    log.info("incremental mapping registered %d images; no retry with the lens distortion held: no image left out "
             "has more than %d verified matches with keypoints the model can triangulate, no image of the model "
             "more than %d with those of the %d left out (%d needed to register, "
             "sfm.mapping.abs_pose_min_num_inliers), no pair across more than %d inliers (an initial pair needs "
             "%d) and the %d image(s) shared with other models %d keypoints matched on both sides (a join needs %d)",
             bounds.placed, bounds.into, bounds.out_of, bounds.left_out, options.abs_pose_min_num_inliers,
             bounds.across, options.init_min_num_inliers, bounds.shared, bounds.both_sides,
             options.join_min_shared_points)
    return False


def _joined(models: list, mapper: str, database: Path, config: SfmOptions, num_threads: int,
            features: Path | None = None, *, light: bool = False) -> list:
    """An incremental run's pieces that share images joined (:func:`~photogrammetry.sfm.pieces.join_pieces`;
    ``light``: with a light pass's adjustment)."""
    from photogrammetry.sfm.pieces import join_pieces

    if mapper != "incremental" or not config.mapping.join_min_shared_points:
        return models
    return plausible_models(join_pieces(models, database, config, num_threads=num_threads, features=features,
                                        light_tolerance=light_tolerance(config) if light else None), mapper)


def disagreement(piece: pycolmap.Reconstruction, model: pycolmap.Reconstruction) -> tuple[float, float] | None:
    """How far ``model`` is from ``piece`` on the images both registered: the median distance of
    ``piece``'s camera centres moved onto ``model``'s by a similarity fitted from the cameras'
    orientations (so that centres along a line do not leave it free), as a fraction of ``model``'s
    extent, and the median angle between the cameras' orientations after it, degrees. ``None``
    with fewer than 3 shared images or no similarity."""
    import numpy as np

    from photogrammetry.evaluation.similarity import orientation_similarity

    ours = {piece.image(i).name: piece.image(i).cam_from_world() for i in piece.reg_image_ids()}
    theirs = {model.image(i).name: model.image(i).cam_from_world() for i in model.reg_image_ids()}
    names = sorted(set(ours) & set(theirs))
    if len(names) < 3:
        return None
    rotations = [np.stack([poses[n].rotation.matrix() for n in names]) for poses in (ours, theirs)]
    centers = [np.stack([poses[n].inverse().translation for n in names]) for poses in (ours, theirs)]
    extent = float(np.linalg.norm(centers[1].max(axis=0) - centers[1].min(axis=0)))
    try:
        sim = orientation_similarity(rotations[0], centers[0], rotations[1], centers[1])
    except ValueError:
        return None
    if extent <= 0:
        return None
    residual = np.linalg.norm(centers[0] @ (sim.scale * sim.R).T + sim.t - centers[1], axis=1) / extent
    turns = np.einsum("nji,njk->nik", rotations[1], rotations[0]) @ sim.R.T  # identity where they agree
    angles = np.degrees(np.arccos(np.clip((np.trace(turns, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0)))
    return float(np.median(residual)), float(np.median(angles))


def _global_agrees(pieces: list, model: pycolmap.Reconstruction, config: SfmOptions) -> bool:
    """Whether the global retry's ``model`` agrees with the largest incremental piece (or there is none).
    Where that piece moves straight ahead the retry does not run (:func:`_retries`)."""
    found = disagreement(pieces[0], model) if pieces else None
    if found is None:
        return True
    residual, angle = found
    options = config.mapping
    if residual <= options.global_max_residual and angle <= options.global_max_rotation_deg:
        return True
    log.warning("the global mapper registered more images, but its model disagrees with the largest incremental "
                "one (%d images) by %.1f %% of its size and %.1f degrees: it is not used (the cameras may move "
                "along a line, where global positioning is ill-posed)", pieces[0].num_reg_images(),
                100 * residual, angle)
    return False
