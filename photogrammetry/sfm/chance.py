"""Verified pairs whose inliers could be chance: checked again at a tighter threshold, dropped if they fail.

RANSAC always finds some model that a handful of wrong matches fit within its threshold. Between
photos that do not overlap (most pairs of a video or a walk matched exhaustively, or a retrieval
neighbour that only looks alike), a few dozen raw matches then give 15-20 "inliers", at or above
COLMAP's ``min_num_inliers`` of 15, and the pair enters the view graph with a random relative pose.
Measured on the real office walk (20 frames, SIFT, exhaustive pairs, 4 px): 38 of 95 verified
pairs had no inlier that the true cameras confirm, each with 15-35 inliers, while the pairs that
overlap had 17-800. The mapper took them as links between distant frames and the walk came out
bent (relative rotations 15 degrees off between frames 8-15 apart).

Chance inliers fill the whole band of the threshold; a true model's are concentrated near zero
error (keypoints are located to a pixel or better). So every verified pair with fewer than
``recheck_below`` x ``min_inliers`` inliers is verified once more, on the same raw matches, at
``core_fraction`` x ``max_error``; the pair is dropped (marked degenerate) when that finds fewer
than ``min_inliers``. A pair that passes keeps the inliers of the first verification. On those
office pairs, at 2 px: 28 of the 38 chance pairs fail, none of the 57 true ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from photogrammetry.sfm.colmap import estimate_pairs

if TYPE_CHECKING:
    import pycolmap

RECHECK_BELOW = 4
"""Pairs with at least this many times ``min_inliers`` inliers are not checked again: chance
pairs measured had at most 35 inliers against a minimum of 15."""


def recheck_options(options: pycolmap.TwoViewGeometryOptions, core_fraction: float) -> pycolmap.TwoViewGeometryOptions:
    """``options`` with the RANSAC threshold (and the watermark test's) scaled by ``core_fraction``."""
    import pycolmap

    tight = pycolmap.TwoViewGeometryOptions(options.todict())
    tight.ransac.max_error = core_fraction * options.ransac.max_error
    tight.watermark_detection_max_error = core_fraction * options.watermark_detection_max_error
    return tight


def drop_chance_pairs(database: Path, options: pycolmap.TwoViewGeometryOptions, core_fraction: float, *,
                      num_threads: int = 1) -> int:
    """Verify again at ``core_fraction`` x the threshold every verified pair of ``database`` with fewer
    than :data:`RECHECK_BELOW` x ``options.min_num_inliers`` inliers; mark degenerate those that then
    have fewer than ``options.min_num_inliers``. The pairs are estimated on up to ``num_threads``
    threads (-1: one per CPU), each with the options' seed: the same pairs drop as on one. Returns the
    number dropped."""
    import pycolmap

    if core_fraction <= 0 or core_fraction >= 1:
        return 0
    tight = recheck_options(options, core_fraction)
    least = options.min_num_inliers
    with pycolmap.Database.open(database) as db:
        pair_ids, counts = db.read_two_view_geometry_num_inliers()
        jobs = []
        for pair_id, count in zip(pair_ids, counts, strict=True):
            if least <= count < RECHECK_BELOW * least:
                id1, id2 = (int(i) for i in pycolmap.pair_id_to_image_pair(pair_id))
                jobs.append((id1, id2, np.asarray(db.read_matches(id1, id2), dtype=np.uint32)))

        def inliers(*pair: Any) -> int:
            return len(pycolmap.estimate_two_view_geometry(*pair, tight).inlier_matches)

        found = estimate_pairs(db, jobs, inliers, num_threads)
        dropped = 0
        for (id1, id2, _), count in zip(jobs, found, strict=True):
            if count >= least:
                continue
            empty = pycolmap.TwoViewGeometry()
            empty.config = pycolmap.TwoViewGeometryConfiguration.DEGENERATE
            db.update_two_view_geometry(id1, id2, empty)
            dropped += 1
    return dropped
