"""The light first pass mapped from several starting focal lengths where a camera has no prior.

Without a focal prior COLMAP starts every camera at 1.2 x its longest side and bundle adjustment
refines it from there; that start is never questioned. Where the truth lies far from it the model
can settle on the wrong focal length: on the office frames 40-59 (``--preset xfeat``) the light
pass started at 648 px against the true 495.5; at that focal length near-rotations look like
parallax, COLMAP started from a pair with 11 degrees of triangulation angle (2.7 at the true focal
length), the model bent around 650-670 px and the second pass started from 660 px (pose AUC@5
0.074). A long lens (3,000 px on 640 px images) started at 768 px breaks into pieces of a few views.

So :func:`light_pass` maps the database lightly (:func:`~photogrammetry.sfm.mapping.reconstruct`,
no retries) from each of ``focal_starts.factors`` x the longest side in turn, written into the
database's cameras without a prior (not marked as priors), and keeps, among the starts whose largest
model holds at least half the connected images, the one with the lowest mean reprojection error
(:func:`best`): a bent model fits its tracks worse (office 40-59, the mapper alone: 0.90-0.94 px
against 0.53-0.59 px for sound ones; ``xfeat``'s light pass 1.26 px at 660 px, 1.12 px at 497 px).
The starts stop where the best so far holds at least half the connected images and another start
ended within ``focal_starts.converged`` of its focal length or at an error more than
``focal_starts.clear_margin`` above its own (:func:`settled`), and a start is not tried where one
between it and the best (which registers every connected image) registered under half as many
(:func:`beyond`). The database's cameras keep the winning start, so a mapping in full after it
starts there too. Each start is one line of the
outcome's attempts (``sfm.json``), with the spread of the focal lengths the starts ended at.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from photogrammetry.errors import StageError
from photogrammetry.sfm import mapping
from photogrammetry.sfm.mapping import MappingOutcome
from photogrammetry.sfm.options import SfmOptions

log = logging.getLogger("photogrammetry.sfm")


@dataclass(frozen=True)
class Start:
    """One start's light mapping (its counts read once: :func:`best`, :func:`settled` and :func:`beyond`
    compare every start after each mapping)."""

    factor: float
    """The starting focal length, times each camera's longest side."""
    outcome: MappingOutcome | None
    """Its mapping; ``None`` where it found no model."""

    @cached_property
    def registered(self) -> int:
        return self.outcome.models[0].num_reg_images() if self.outcome else 0

    @cached_property
    def error(self) -> float:
        return float(self.outcome.models[0].compute_mean_reprojection_error()) if self.outcome else float("inf")

    @cached_property
    def focal(self) -> float | None:
        """The mean focal length of the largest model's cameras (``None`` without a model)."""
        if not self.outcome:
            return None
        cameras = list(self.outcome.models[0].cameras.values())
        return sum(c.mean_focal_length() for c in cameras) / len(cameras)

    def describe(self) -> str:
        if not self.outcome:
            return f"{self.factor:g}x: no model"
        return f"{self.factor:g}x -> {self.focal:.1f} px ({self.registered} images, {self.error:.2f} px)"


def set_start(database: Path, factor: float) -> list[int]:
    """Start the database's cameras without a focal prior at ``factor`` x their longest side (not
    marked as priors); their ids."""
    import pycolmap

    free = []
    with pycolmap.Database.open(database) as db:
        for camera in db.read_all_cameras():
            if camera.has_prior_focal_length:
                continue
            params = camera.params.copy()
            params[list(camera.focal_length_idxs())] = factor * max(camera.width, camera.height)
            camera.params = params
            db.update_camera(camera)
            free.append(int(camera.camera_id))
    return free


TIE_PX = 0.01
"""Reprojection errors within this many pixels of each other are a tie, which the earlier start wins
(office 40-59, ``cpu``: 1.2x and 2.4x ended at the same 489.5 px and 0.49 px)."""


def best(starts: list[Start], connected: int) -> Start:
    """Among the starts whose largest model holds at least half the ``connected`` images (the light pass's
    own bar), the one with the lowest reprojection error (the earliest within :data:`TIE_PX` of it); where
    none does, the one registering the most images, then with the lowest error. Not the most images first:
    on the office walk's 60 frames (``cpu``) the 0.6x start registered 58 at 0.62 px and 533.5 px, the 1.2x,
    2.4x and 5x starts 48 at 0.41-0.42 px and 488-489 px; the 58 were wrong (their second pass registered
    48, both passes ran again in full and the model kept failed the pose check at 9.6 degrees, AUC@5 0.035
    against 0.260)."""
    candidates = [s for s in starts if 2 * s.registered >= connected and s.outcome is not None]
    if not candidates:
        most = max(s.registered for s in starts)
        candidates = [s for s in starts if s.registered == most]
    low = min(s.error for s in candidates)
    return next(s for s in candidates if s.error <= low + TIE_PX)


def settled(starts: list[Start], connected: int, tolerance: float, margin: float) -> bool:
    """Whether the best start so far holds at least half the ``connected`` images and another start
    ended within ``tolerance`` of its focal length (both found the same camera), or another start that
    holds half the images too ended at a reprojection error more than ``margin`` above the best's (the
    best is clearly the better of two answers)."""
    top = best(starts, connected)
    if top.focal is None or 2 * top.registered < connected:
        return False
    others = [s for s in starts if s is not top and s.focal is not None]
    return any(abs(s.focal - top.focal) <= tolerance * top.focal for s in others) or any(
        2 * s.registered >= connected and s.error > (1.0 + margin) * top.error for s in others)


def beyond(starts: list[Start], factor: float, connected: int) -> Start | None:
    """Where the best start so far registers every connected image, an earlier start lying between it and
    ``factor`` that registered under half as many: the starts beyond it lie further from the focal length
    found, and ``factor`` is not tried (a 320 px video: 1.2x found no model, 0.6x all 24 frames, 2.4x 2;
    5x is not tried). ``None`` otherwise."""
    top = best(starts, connected)
    if top.outcome is None or top.registered < connected:
        return None
    low, high = sorted((factor, top.factor))
    return next((s for s in starts if low < s.factor < high and 2 * s.registered < top.registered), None)


def _map(database: Path, images: Path, scratch: Path, config: SfmOptions, factor: float, *, num_images: int,
         connected: int, num_threads: int, features: Path | None) -> Start:
    set_start(database, factor)
    try:
        outcome = mapping.reconstruct(database, images, scratch / f"start-{factor:g}", config, num_images=num_images,
                                      connected=connected, num_threads=num_threads, retries=False, light=True,
                                      features=features)
    except StageError as err:
        log.info("light first pass from %gx the longest side: %s", factor, err)
        outcome = None
    return Start(factor, outcome)


def spread(starts: list[Start]) -> float:
    """The spread of the focal lengths the starts ended at, as a fraction of the smallest (0 with fewer than
    two), over the starts whose largest model holds at least half the images of the best one's (a start
    that found 2 views of 24, a wide video started at 5x, says nothing of the focal length)."""
    most = max(s.registered for s in starts)
    ends = [s.focal for s in starts if s.focal is not None and 2 * s.registered >= most]
    return (max(ends) - min(ends)) / min(ends) if len(ends) > 1 else 0.0


def light_pass(database: Path, images: Path, scratch: Path, config: SfmOptions, *, num_images: int, connected: int,
               num_threads: int, features: Path | None = None) -> MappingOutcome:
    """The light first pass from the best of ``config.focal_starts.factors`` (see the module docstring);
    the database's cameras without a prior keep the winning start.

    Raises:
        StageError: When no start found a model.
    """
    options = config.focal_starts
    factors = options.factors or (1.2,)
    starts: list[Start] = []
    skipped: list[str] = []
    for factor in factors:
        if starts and (nearer := beyond(starts, factor, connected)):
            skipped.append(f"{factor:g}x: not run ({nearer.factor:g}x, nearer, {nearer.registered} images)")
            continue
        starts.append(_map(database, images, scratch, config, factor, num_images=num_images, connected=connected,
                           num_threads=num_threads, features=features))
        if len(factors) > 1 and settled(starts, connected, options.converged, options.clear_margin):
            break
    top = best(starts, connected)
    if top.factor != starts[-1].factor:
        set_start(database, top.factor)
    if top.outcome is None:
        raise StageError("structure from motion found no model from any focal start "
                         f"({', '.join(f'{f:g}x' for f in factors)} the longest side)")
    tried = "; ".join([*(s.describe() for s in starts), *skipped])
    line = f"focal starts: {tried}; kept {top.factor:g}x, the ends spread {100 * spread(starts):.1f} %"
    if len(factors) > 1:
        log.info("%s", line)
    attempts = (line,) * (len(factors) > 1) + top.outcome.attempts
    return MappingOutcome(models=top.outcome.models, mapper=top.outcome.mapper, attempts=attempts)

