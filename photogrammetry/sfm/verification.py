"""Geometric verification of the raw matches in a COLMAP database (pycolmap's RANSAC).

For each matched pair COLMAP estimates the essential matrix (both cameras with a focal
prior), the fundamental matrix and a homography, keeps the inliers of the best-supported model
and records the configuration (calibrated, uncalibrated, planar, ...) for the mapper. Pairs whose
few inliers could be chance are then verified again at a tighter threshold
(:mod:`photogrammetry.sfm.chance`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photogrammetry.sfm import chance
from photogrammetry.sfm.colmap import colmap_errors, estimate_pairs

if TYPE_CHECKING:
    import pycolmap

    from photogrammetry.sfm.options import SfmOptions

log = logging.getLogger("photogrammetry.sfm")


def two_view_options(config: SfmOptions) -> pycolmap.TwoViewGeometryOptions:
    """``pycolmap.TwoViewGeometryOptions`` for the sfm options."""
    import pycolmap

    options = pycolmap.TwoViewGeometryOptions()
    options.min_num_inliers = config.verification.min_inliers
    options.min_inlier_ratio = config.verification.min_inlier_ratio
    options.ransac.max_error = config.verification.max_error
    options.ransac.max_num_trials = config.verification.max_trials
    options.ransac.random_seed = config.seed
    return options


@dataclass(frozen=True)
class PairCheck:
    """One pair's verification as :func:`verify` does it (full RANSAC, then the check for chance inliers),
    for the pairs verified one at a time."""

    options: pycolmap.TwoViewGeometryOptions
    """The sfm options' RANSAC."""
    tight: pycolmap.TwoViewGeometryOptions | None
    """The tighter threshold of the chance check (:func:`~photogrammetry.sfm.chance.recheck_options`); None: off."""
    least: int
    """``verification.min_inliers``."""

    @classmethod
    def of(cls, config: SfmOptions) -> PairCheck:
        """The check with ``config``'s verification options."""
        options = two_view_options(config)
        core = config.verification.core_fraction
        return cls(options, chance.recheck_options(options, core) if 0 < core < 1 else None, options.min_num_inliers)

    def estimate(self, camera1: pycolmap.Camera, points1: np.ndarray, camera2: pycolmap.Camera, points2: np.ndarray,
                 matches: np.ndarray) -> tuple[pycolmap.TwoViewGeometry, int]:
        """The pair's two-view geometry from its (N, 2) keypoints and (M, 2) matches, and its inlier count:
        0 where fewer than ``chance.RECHECK_BELOW`` times ``least`` inliers leave under ``least`` at the
        tighter threshold."""
        import pycolmap

        args = (camera1, points1, camera2, points2, matches)
        found = pycolmap.estimate_two_view_geometry(*args, self.options)
        count = len(found.inlier_matches)
        if (self.tight is not None and self.least <= count < chance.RECHECK_BELOW * self.least
                and len(pycolmap.estimate_two_view_geometry(*args, self.tight).inlier_matches) < self.least):
            count = 0
        return found, count


def verify(database: Path, config: SfmOptions, *, num_threads: int = -1, recheck: bool = True) -> int:
    """Estimate a two-view geometry for every matched pair of ``database``, replacing earlier ones.

    Args:
        database: A database with keypoints and raw matches.
        config: The sfm options (``verification`` and ``seed``).
        num_threads: Threads COLMAP may use (-1: all).
        recheck: Verify the pairs whose few inliers could be chance again at a tighter threshold
            (:func:`~photogrammetry.sfm.chance.drop_chance_pairs`); false where every pair passed that already.

    Returns:
        Number of pairs with at least ``verification.min_inliers`` inliers.
    """
    import pycolmap

    with colmap_errors("geometric verification", "check that the features and matches artifacts are complete"):
        with pycolmap.Database.open(database) as db:
            db.clear_two_view_geometries()
        verifier = pycolmap.GeometricVerifierOptions()
        verifier.num_threads = num_threads
        options = two_view_options(config)
        pycolmap.geometric_verification(database, verifier_options=verifier, two_view_geometry_options=options)
        dropped = (chance.drop_chance_pairs(database, options, config.verification.core_fraction,
                                            num_threads=num_threads) if recheck else 0)
        if dropped:
            log.info("%d verified pair(s) dropped: their inliers could be chance (fewer than %d within %.1f px)",
                     dropped, config.verification.min_inliers,
                     config.verification.core_fraction * config.verification.max_error)
        with pycolmap.Database.open(database) as db:
            _, inliers = db.read_two_view_geometry_num_inliers()
    return sum(1 for n in inliers if n >= config.verification.min_inliers)


def verify_again(database: Path, config: SfmOptions, *, num_threads: int = -1, recheck: bool = True) -> int:
    """:func:`verify` on the pairs of ``database`` that are verified now only (the others keep their raw
    matches, and no geometry): after a light verification, the pairs it rejected do not use every
    RANSAC iteration again. ``recheck`` false: the verified pairs all passed the chance check of
    :func:`verify` already, so it is not run again (on temple, office-20 and fountain the second check
    dropped none, and took 10-23 two-view estimations). Returns the pairs verified."""
    import pycolmap

    with pycolmap.Database.open(database) as db:
        pair_ids, counts = db.read_two_view_geometry_num_inliers()
        verified = {int(p) for p, n in zip(pair_ids, counts, strict=True) if n >= config.verification.min_inliers}
        all_ids, all_matches = db.read_all_matches()
        held = [(tuple(int(i) for i in pycolmap.pair_id_to_image_pair(p)), m)
                for p, m in zip(all_ids, all_matches, strict=True) if int(p) not in verified]
        for (id1, id2), _ in held:
            db.delete_matches(id1, id2)
    try:
        return verify(database, config, num_threads=num_threads, recheck=recheck)
    finally:
        with pycolmap.Database.open(database) as db:
            for (id1, id2), matches in held:
                db.write_matches(id1, id2, matches)


def verify_between(database: Path, config: SfmOptions, one: set[int], other: set[int], *,
                   num_threads: int = 1) -> int:
    """Verify the matched pairs of ``database`` between an image of ``one`` and an image of ``other`` (ids)
    that have no verified geometry (a light verification rejected them, :func:`verify_again` left them out), with
    ``config``'s full RANSAC and the check for chance inliers; those that pass get their geometry, the
    others stay as they are. Pairs with fewer raw matches than ``verification.min_inliers`` are not
    tried. The pairs are estimated on up to ``num_threads`` threads (-1: one per CPU), each with the
    options' seed: the same geometries as on one. Returns the pairs verified."""
    import pycolmap

    check = PairCheck.of(config)
    with pycolmap.Database.open(database) as db:
        pair_ids, counts = db.read_two_view_geometry_num_inliers()
        verified = {int(p) for p, n in zip(pair_ids, counts, strict=True) if n >= check.least}
        all_ids, _ = db.read_all_matches()
        jobs = []
        for pair_id in (int(p) for p in all_ids):
            id1, id2 = (int(i) for i in pycolmap.pair_id_to_image_pair(pair_id))
            if pair_id in verified or not (id1 in one and id2 in other or id1 in other and id2 in one):
                continue
            matches = np.asarray(db.read_matches(id1, id2), dtype=np.uint32).reshape(-1, 2)
            if len(matches) >= check.least:
                jobs.append((id1, id2, matches))
        added = 0
        for (id1, id2, _), (found, count) in zip(jobs, estimate_pairs(db, jobs, check.estimate, num_threads),
                                                 strict=True):
            if count < check.least:
                continue
            if db.exists_two_view_geometry(id1, id2):
                db.delete_two_view_geometry(id1, id2)
            db.write_two_view_geometry(id1, id2, found)
            added += 1
    return added
