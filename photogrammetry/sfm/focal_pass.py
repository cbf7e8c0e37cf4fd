"""A second mapping pass for cameras without a focal prior, with the first pass's focal length as one.

COLMAP takes a different path for a camera with a focal prior: geometric verification fits an
essential matrix (5 degrees of freedom) instead of a fundamental matrix (7), the initial pair and
the registrations start from calibrated relative and absolute poses, and the mapper does not
estimate a focal length for each new image. Without EXIF every camera takes the uncalibrated path,
and the poses come out worse even where the focal length converges: on the 16-view Middlebury
temple ring (fast preset, EXIF-less) the focal length ends within 0.6 % of the truth, but pose AUC@5
is 0.876-0.877 over RANSAC seeds against 0.893 with any prior at all given (the true 1523 px, 1532 px
or 1400 px: 0.893 each, the same model). So when a camera had no prior, the database's cameras get
the focal length the first pass found, marked as a prior, and verification and mapping run again;
bundle adjustment still refines it. The second pass is kept where its largest model registers at
least as many images as the first's; otherwise the first pass and its database are restored.

Where the second pass follows, the first pass is light (:func:`map_cameras`): its verification runs
at most ``mapping.focal_first_pass_trials`` RANSAC iterations, and its mapping none of the retries
(distortion held, global), with lighter bundle adjustments and no point colours
(:func:`~photogrammetry.sfm.mapping.incremental_options`), since it only has to find the focal
length; it maps from several starting focal lengths and keeps the best start
(:mod:`~photogrammetry.sfm.focal_starts`). Where its largest model holds less than half the
connected images (or the second pass registers fewer, or fails), both passes run again in full, as
without the light one. Where the second pass leaves connected images out, only the pairs between those
images and its model are verified in full (:func:`_left_out`): the images left out can join the model through no other
pairs, so where none passes, the passes are not run again. On the office walk's 60 frames (``cpu``;
48 registered either way, the 12 left out join through one frame) the stage went from 124 s to 27 s
on the same matches, with the global retries skipped on the walk (:mod:`~photogrammetry.sfm.mapping`).
The second pass is not held to the first pass's scale (:mod:`~photogrammetry.sfm.continuity`, which the
retries within a pass are): the first only finds the focal length, uncalibrated, and can be the broken
one. On the office walk's first 40 frames the full first pass's 28 frames departed by 24.7 % from the
true cameras' scale; with the check the second pass's 40 were refused and the 28 kept (AUC@5 0.135,
against 0.295 for the 40, 17.2 %).

Measured on the temple and the office (``cpu`` preset): the uncalibrated verification at 1000
iterations took 4-6 s of the stage's 19-25 s, at 200 a quarter of it, with 38 of 39 pairs verified.
After a light first pass the second verifies again only the pairs the first verified
(:func:`~photogrammetry.sfm.verification.verify_again`): the others, which do not overlap, would use
every RANSAC iteration once more. On the temple (the same matches, one profile each at load 11) the
two verifications took 5.1 s instead of 10.6 s, with the same 16 views and AUC@5 0.947 (0.945 before).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Any

from photogrammetry.errors import StageError
from photogrammetry.sfm import focal_starts, guided, mapping, plausible, verification
from photogrammetry.sfm.continuity import keeps_scale
from photogrammetry.sfm.database import connected_images
from photogrammetry.sfm.mapping import MappingOutcome
from photogrammetry.sfm.options import SfmOptions

log = logging.getLogger("photogrammetry.sfm")


def estimated_priors(database: Path, model: Any) -> dict[int, float]:
    """Focal lengths of ``model`` (a ``pycolmap.Reconstruction``) for the database's cameras that have
    no focal prior and images in it, by camera id; not those it left implausible
    (:func:`~photogrammetry.sfm.plausible.plausible_camera`), which keep their starting guess."""
    import pycolmap

    with pycolmap.Database.open(database) as db:
        free = {int(c.camera_id) for c in db.read_all_cameras() if not c.has_prior_focal_length}
    return {int(i): float(model.camera(i).mean_focal_length()) for i in model.cameras
            if int(i) in free and plausible.plausible_camera(model.camera(i))}


def _write_priors(database: Path, focals: dict[int, float]) -> None:
    import pycolmap

    with pycolmap.Database.open(database) as db:
        for camera in db.read_all_cameras():
            focal = focals.get(int(camera.camera_id))
            if focal is None:
                continue
            params = camera.params.copy()
            params[list(camera.focal_length_idxs())] = focal
            camera.params, camera.has_prior_focal_length = params, True
            db.update_camera(camera)


def light_first_pass(database: Path, config: SfmOptions) -> bool:
    """Whether a second pass will follow (a camera of ``database`` has no focal prior, and
    ``mapping.focal_second_pass`` and ``refine_focal_length`` are on), so that the first is light."""
    import pycolmap

    if not (config.mapping.focal_second_pass and config.refine_focal_length):
        return False
    with pycolmap.Database.open(database) as db:
        return any(not c.has_prior_focal_length for c in db.read_all_cameras())


def first_pass_options(config: SfmOptions) -> SfmOptions:
    """``config`` with the light first pass's verification: at most ``mapping.focal_first_pass_trials``
    RANSAC iterations."""
    trials = min(config.verification.max_trials, config.mapping.focal_first_pass_trials)
    return dataclasses.replace(config, verification=dataclasses.replace(config.verification, max_trials=trials))


def map_cameras(database: Path, images: Path, scratch: Path, config: SfmOptions, *, light: bool, num_images: int,
                connected: int, num_threads: int, features: Path | None = None) -> MappingOutcome:
    """Both mapping passes on the verified ``database``: the first (light where ``light``, its
    verification done with :func:`first_pass_options`) and :func:`second_pass`.

    A light first pass maps without retries; the second pass is kept where it registers every
    connected image. Otherwise, or where the light pass's largest model holds less than half the
    connected images (a long lens mapped with its distortion free broke into pieces of 3 views, whose
    focal length sent the second pass into pieces too), ``database`` is verified again in full and
    both passes run as without the light one.

    ``features`` (our ``features.h5``): where ``guided.min_points`` asks for it, the second pass
    first matches the first's weak images again (:mod:`photogrammetry.sfm.guided`).

    Raises:
        StageError: When the full first pass found no model.
    """
    if light:
        found = _light_passes(database, images, scratch / "light", config, num_images=num_images,
                              connected=connected, num_threads=num_threads, features=features)
        if found is not None:
            return found
        log.info("the light first pass found no model holding half the connected images, or the second pass "
                 "registered fewer: both run again in full")
        verification.verify(database, config, num_threads=num_threads)
        connected = connected_images(database, config.mapping.min_num_matches)
    first = mapping.reconstruct(database, images, scratch, config, num_images=num_images, connected=connected,
                                num_threads=num_threads, features=features)
    return second_pass(database, images, scratch / "focal", config, first, num_images=num_images,
                       num_threads=num_threads, features=features)


def _light_passes(database: Path, images: Path, scratch: Path, config: SfmOptions, *, num_images: int,
                  connected: int, num_threads: int, features: Path | None) -> MappingOutcome | None:
    """The light first pass and the second pass, where the second registers every connected image;
    else ``None``, with ``database`` as the light verification left it."""
    try:
        first = focal_starts.light_pass(database, images, scratch, config, num_images=num_images, connected=connected,
                                        num_threads=num_threads, features=features)
    except StageError as err:
        log.info("light first pass: %s", err)
        return None
    largest = first.models[0].num_reg_images()
    if 2 * largest < connected:  # pieces: the focal length of a few views is no prior to trust
        log.info("light first pass: %d of %d connected images in its largest model", largest, connected)
        return None
    focals = estimated_priors(database, first.models[0])
    if not focals:
        return None
    again, _, complete = _second_run(database, images, scratch / "second-pass", config, first, focals,
                                     num_images=num_images, num_threads=num_threads, only_verified=True,
                                     features=features)
    if again is None:
        return None
    trials = first_pass_options(config).verification.max_trials
    light = f"light first pass ({trials} RANSAC iterations at most, no retries)"
    outcome = MappingOutcome(models=again.models, mapper=again.mapper,
                             attempts=(*(f"{light}, {a}" for a in first.attempts),
                                       *(f"second pass, {a}" for a in again.attempts)))
    if complete:
        return outcome
    return _left_out(database, images, scratch / "left-out", config, outcome, num_images=num_images,
                     num_threads=num_threads, features=features)


def _left_out(database: Path, images: Path, scratch: Path, config: SfmOptions, outcome: MappingOutcome, *,
              num_images: int, num_threads: int, features: Path | None) -> MappingOutcome:
    """``outcome``, the light passes' mapping that left connected images out, or the mapping after the
    pairs between the images it left out and those of its largest model are verified in full
    (:func:`~photogrammetry.sfm.verification.verify_between`). An image left out can join that model
    only through such pairs (its first 2D-3D matches come from them), and only those the light
    verifications rejected can differ from what the mapping had: where none of them passes, the
    database would map as it did and ``outcome`` stands (the passes are not run again in full). Where
    some pass, the database is mapped again and kept where that registers more images and keeps the
    scale (:func:`~photogrammetry.sfm.continuity.keeps_scale`); else the database is restored."""
    import pycolmap

    model = outcome.models[0]
    placed = {int(i) for i in model.reg_image_ids()}
    with pycolmap.Database.open(database) as db:
        left = {int(im.image_id) for im in db.read_all_images()} - placed
    scratch.mkdir(parents=True, exist_ok=True)
    saved = scratch / "before.db"
    shutil.copyfile(database, saved)
    added = verification.verify_between(database, config, left, placed, num_threads=num_threads)
    note = (f"full verification of the pairs between the {len(left)} images left out and the model: "
            f"{added} pair(s) more")
    log.info("the light passes registered %d of %d images; %s%s", model.num_reg_images(), num_images, note,
             "" if added else ": mapped as before, kept without a mapping in full")
    again = _map_again(database, images, scratch, config, num_images=num_images, num_threads=num_threads,
                       features=features) if added else None
    if again is not None and again.models[0].num_reg_images() > model.num_reg_images() and keeps_scale(
            model, again.models[0], config.mapping.retry_max_scale_change, "the mapping after the full verification"):
        return MappingOutcome(models=again.models, mapper=again.mapper,
                              attempts=(*outcome.attempts, *(f"{note}, {a}" for a in again.attempts)))
    shutil.copyfile(saved, database)
    return MappingOutcome(models=outcome.models, mapper=outcome.mapper, attempts=(*outcome.attempts, note))


def _second_run(database: Path, images: Path, scratch: Path, config: SfmOptions, first: MappingOutcome,
                focals: dict[int, float], *, num_images: int, num_threads: int, only_verified: bool = False,
                features: Path | None = None) -> tuple[MappingOutcome | None, str, bool]:
    """The second pass's mapping where it registers at least as many images as ``first`` (else
    ``None``, with ``database`` restored; its copy stays in ``scratch/first-pass.db``), the line that
    says so, and whether it registers every connected image. ``only_verified``: verify again only the
    pairs the first pass verified (:func:`~photogrammetry.sfm.verification.verify_again`)."""
    saved = scratch / "first-pass.db"
    scratch.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(database, saved)
    _write_priors(database, focals)
    guide = features is not None and config.guided.min_points > 0
    done = guided.add_guided_matches(database, features, first.models, config.guided,
                                     config.verification.min_inliers) if guide else set()
    if only_verified:  # the pairs verified passed the chance check; guided matches may add pairs that did not
        verification.verify_again(database, config, num_threads=num_threads, recheck=bool(done))
    else:
        verification.verify(database, config, num_threads=num_threads)
    connected = connected_images(database, config.mapping.min_num_matches)
    again = _map_again(database, images, scratch, config, num_images=num_images, num_threads=num_threads,
                       features=features)
    if guide and again is not None:
        again = _guided_round(database, images, scratch / "guided", config, again, features, done,
                              num_images=num_images, num_threads=num_threads)
    before = first.models[0].num_reg_images()
    after = again.models[0].num_reg_images() if again else 0
    shown = ", ".join(f"{f:.1f} px" for f in focals.values())
    note = f"second pass, focal length {shown} as a prior: registered images {after}"
    if again is not None and after >= before:  # no scale check against the first pass: see the module docstring
        log.info("%s (first pass %d): kept", note, before)
        return again, note, after >= connected
    log.info("%s (first pass %d): the first pass is kept", note, before)
    shutil.copyfile(saved, database)
    return None, note, False


def _map_again(database: Path, images: Path, scratch: Path, config: SfmOptions, *, num_images: int,
               num_threads: int, features: Path | None = None) -> MappingOutcome | None:
    """Map the verified ``database`` again (:func:`~photogrammetry.sfm.mapping.reconstruct`); ``None`` with no model."""
    connected = connected_images(database, config.mapping.min_num_matches)
    try:
        return mapping.reconstruct(database, images, scratch, config, num_images=num_images, connected=connected,
                                   num_threads=num_threads, features=features)
    except StageError as err:  # no model: the first pass stands
        log.info("second mapping pass failed (%s); the first pass is kept", err)
        return None


def _guided_round(database: Path, images: Path, scratch: Path, config: SfmOptions, mapped: MappingOutcome,
                  features: Path, done: set[tuple[int, int]], *, num_images: int, num_threads: int) -> MappingOutcome:
    """``mapped`` or, where its models still hold weak images in pairs that the first guided matching left
    out (images that the first pass had not registered together), those pairs matched along ``mapped``'s
    epipolar lines and the database mapped once more: kept where it registers at least as many images."""
    more = guided.add_guided_matches(database, features, mapped.models, config.guided,
                                     config.verification.min_inliers, skip=done)
    if not more:
        return mapped
    verification.verify_again(database, config, num_threads=num_threads)
    again = _map_again(database, images, scratch, config, num_images=num_images, num_threads=num_threads,
                       features=features)
    before = mapped.models[0].num_reg_images()
    if again is None or again.models[0].num_reg_images() < before or (
            again.models[0].num_reg_images() > before and not keeps_scale(
                mapped.models[0], again.models[0], config.mapping.retry_max_scale_change, "guided matching's mapping")):
        log.info("guided matching, second round: the mapping before it is kept")
        return mapped
    log.info("guided matching, second round: %d pairs more, registered images %d (before it %d)", len(more),
             again.models[0].num_reg_images(), before)
    return again


def second_pass(database: Path, images: Path, scratch: Path, config: SfmOptions, first: MappingOutcome, *,
                num_images: int, num_threads: int, features: Path | None = None) -> MappingOutcome:
    """``first`` or, where a camera had no focal prior, the mapping of a second pass that starts from
    the focal lengths ``first`` found, marked as priors (see the module docstring).

    Args:
        database: The verified database of the first pass; rewritten by the second pass when it is kept.
        images: Folder of the images by name.
        scratch: Folder for the second pass's runs.
        config: The sfm options (``mapping.focal_second_pass``).
        first: The first pass's outcome.
        num_images: Images in the database.
        num_threads: Threads COLMAP may use.
        features: Our ``features.h5``, for guided matching (``guided.min_points``).
    """
    if not (config.mapping.focal_second_pass and config.refine_focal_length and first.models):
        return first
    focals = estimated_priors(database, first.models[0])
    if not focals:
        return first
    again, note, _ = _second_run(database, images, scratch / "second-pass", config, first, focals,
                                 num_images=num_images, num_threads=num_threads, features=features)
    if again is not None:
        return MappingOutcome(models=again.models, mapper=again.mapper,
                              attempts=(*first.attempts, *(f"second pass, {a}" for a in again.attempts)))
    return MappingOutcome(models=first.models, mapper=first.mapper, attempts=(*first.attempts, note))
