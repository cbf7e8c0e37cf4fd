"""How many 2D-3D matches an image left out of a model could have: whether a mapping retry can add it.

The incremental mapper registers an image from matches between its keypoints and the model's 3D
points (at least ``mapping.abs_pose_min_num_inliers`` inliers). Without the structure-less fallback
nothing else registers an image, and a 3D point at a registered image's keypoint needs a verified
match of that keypoint with another registered image. :func:`most_matches` counts, for each image
outside the model, its keypoints with a verified match to such a keypoint: an upper bound on its
2D-3D matches with any model of those images, whatever poses a retry finds, since the retry maps the
same verified matches (and a model holding fewer of them offers fewer). Where no image left out
reaches the minimum, the retry with the lens distortion held cannot add one by registering it onto
such a model. It can still join a piece that shares an image with the model (:mod:`~photogrammetry.sfm.pieces`)
where the run before it did not, so the retry still runs where such a piece exists
(:func:`~photogrammetry.sfm.mapping.reconstruct`): on the office walk's first 40 frames it joined the
walk's first 12 frames on 3 shared points (40 of 40, where the run before it had 28). Measured there
and on all 60 frames (``cpu``): those 12 frames, tied to the model through frame 174 only, reach at
most 7 against the 15 needed (5 counting only the model's own 3D points).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photogrammetry.sfm.database import pairs_of

if TYPE_CHECKING:
    import pycolmap


def most_matches(model: pycolmap.Reconstruction, database: Path, min_inliers: int, *,
                 structure_less: bool) -> int:
    """The most 2D-3D matches any image of ``database`` outside ``model`` could have with a model holding
    ``model``'s registered images: its keypoints with a verified match (pairs of at least ``min_inliers``
    inliers) to a keypoint of a registered image that has a verified match with another registered image
    (so that a model holding both can triangulate it, whatever poses it finds); with ``structure_less``
    (the mapper's structure-less fallback, which registers from 2D-2D matches) to any keypoint of a
    registered image. 0 where no image is left out."""
    import pycolmap

    placed = {int(i) for i in model.reg_image_ids()}
    tracked: dict[int, set[int]] = {i: set() for i in placed}
    across = []
    wanted = [(a, b) for a, b, count in pairs_of(database) if count >= min_inliers and (a in placed or b in placed)]
    with pycolmap.Database.open(database) as db:
        for a, b in wanted:
            inliers = np.asarray(db.read_two_view_geometry(a, b).inlier_matches).reshape(-1, 2)
            if a in placed and b in placed:
                tracked[a].update(inliers[:, 0].tolist())
                tracked[b].update(inliers[:, 1].tolist())
            else:
                across.append((a, b, inliers))
    reach: dict[int, set[int]] = {}
    for a, b, inliers in across:
        left, there = (b, a) if a in placed else (a, b)
        ours, theirs = (inliers[:, 1], inliers[:, 0]) if a in placed else (inliers[:, 0], inliers[:, 1])
        keep = np.ones(len(inliers), bool) if structure_less else np.isin(theirs, list(tracked[there]))
        reach.setdefault(left, set()).update(int(k) for k in ours[keep])
    return max((len(k) for k in reach.values()), default=0)
