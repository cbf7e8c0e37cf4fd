"""Whether a mapping retry can register more images than the model before it: bounds from the verified matches.

The incremental mapper registers an image from correspondences between its keypoints and the model's 3D
points (at least ``mapping.abs_pose_min_num_inliers`` inliers; COLMAP counts one for each match to a
keypoint holding a 3D point). Without the structure-less fallback nothing else registers an image, and a
3D point at a registered image's keypoint needs a verified match of that keypoint with another registered
image. A retry (the lens distortion held) maps the same verified matches, so what those matches allow
bounds it whatever poses it finds: :func:`cut` splits the images into those the model left out (``A``), those
it shares with another model of the run (``C``) and its others (``B``); a model larger than it holds images
of ``A`` and ``B``, and one that holds both began from a pair across, registered an image of one side onto
a model of the other side's images, or joined two pieces through an image of ``C`` on at least
``mapping.join_min_shared_points`` points triangulated by both at the same keypoints
(:mod:`~photogrammetry.sfm.pieces`). Where no bound reaches what the mapper needs, the retry is not run
(:func:`~photogrammetry.sfm.mapping.reconstruct`).

Measured on the office walk (``cpu``, the second pass's database): on all 60 frames the 12 left out reach
at most 7 correspondences into the model, the model's frames at most 6 into a model of the 12 and frame
174, which both pieces hold; no pair across is verified; but 8 keypoints of frame 174 are matched on
both sides, so a join stays possible and the retry runs (the final models share 3 such points that agree,
exactly ``join_min_shared_points``). On the first 40 frames (an earlier code) a retry joined the first 12
frames on 3 shared points, 40 of 40 where the run before it had 28.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photogrammetry.sfm.database import pairs_of

if TYPE_CHECKING:
    from photogrammetry.sfm.options import MappingOptions


@dataclass(frozen=True)
class Cut:
    """Upper bounds on what a mapping of the same verified matches can do across the cut between the images a
    model left out (``A``, those in a verified pair) and the images it holds, of which ``shared`` (``C``) are
    registered in another model too (``B``: the others). See :func:`cut`."""

    left_out: int
    """Images in ``A``."""
    shared: int
    """Images in ``C``."""
    placed: int
    """Images the model holds (``B`` and ``C``)."""
    into: int
    """The most 2D-3D correspondences an image of ``A`` could have with a model of images of ``B`` and ``C``."""
    out_of: int
    """The most an image of ``B`` could have with a model of images of ``A`` and ``C``."""
    across: int
    """The most verified inliers of a pair between ``A`` and ``B`` (an initial pair needs
    ``mapping.init_min_num_inliers``)."""
    both_sides: int
    """Keypoints of the images of ``C`` with verified matches to images on both sides, ``A`` and ``C`` and
    ``B`` and ``C`` (a join needs ``mapping.join_min_shared_points`` such points)."""

    def may_add(self, options: MappingOptions) -> bool:
        """Whether a mapping may register more images than the model holds (see :func:`cut`)."""
        return (self.left_out + self.shared > self.placed or options.join_tracks
                or max(self.into, self.out_of) >= options.abs_pose_min_num_inliers
                or self.across >= options.init_min_num_inliers
                or (options.join_min_shared_points > 0 and self.both_sides >= options.join_min_shared_points))


def cut(database: Path, placed: set[int], shared: set[int], min_inliers: int, *, structure_less: bool) -> Cut:
    """Bounds on whether a mapping of ``database``'s verified matches (pairs of at least ``min_inliers`` inliers)
    can register more images than a model holding ``placed`` (image ids), ``shared`` of them registered in
    another model too.

    Such a model holds an image left out (``A``) and, where ``A`` and ``C`` (``shared``) are fewer than
    ``placed``, an image of ``B`` (the placed ones not shared). An incremental model grows from an initial pair
    by registering one image at a time, and pieces are joined only through images they share; so a model
    holding images of both ``A`` and ``B`` began from a pair across (``across``), or at some point registered an
    image of one side onto a model of images of the other side and ``C`` (``into``, ``out_of``: correspondences
    as COLMAP counts them, one for each match to a keypoint that a model of that side can triangulate, i.e.
    with a verified match to another image of it), or joined a piece of one side to a piece of the other
    through images of ``C`` on points both triangulated at the same keypoints (``both_sides``). Where every
    bound is below what the mapper needs (:meth:`Cut.may_add`), no such model exists."""
    import pycolmap

    pairs = [(a, b) for a, b, count in pairs_of(database) if count >= min_inliers]
    left = {i for pair in pairs for i in pair} - placed
    with pycolmap.Database.open(database) as db:
        inliers = {(a, b): np.asarray(db.read_two_view_geometry(a, b).inlier_matches).reshape(-1, 2)
                   for a, b in pairs}
    across = max((len(m) for (a, b), m in inliers.items()
                  if (a in left and b in placed - shared) or (b in left and a in placed - shared)), default=0)
    side_a, side_b = left | shared, placed
    return Cut(left_out=len(left), shared=len(shared), placed=len(placed),
               into=_most_correspondences(inliers, side_b, left, structure_less),
               out_of=_most_correspondences(inliers, side_a, placed - shared, structure_less), across=across,
               both_sides=sum(_both_sides(inliers, s, side_a - {s}, side_b - {s}) for s in shared))


def _most_correspondences(inliers: dict[tuple[int, int], np.ndarray], model: set[int], targets: set[int],
                          structure_less: bool) -> int:
    """The most 2D-3D correspondences an image of ``targets`` could have with a model of images of ``model``:
    its matches to keypoints of those images that have a verified match with another of them (any, with
    ``structure_less``)."""
    tracked: dict[int, set[int]] = {i: set() for i in model}
    for (a, b), m in inliers.items():
        if a in model and b in model:
            tracked[a].update(m[:, 0].tolist())
            tracked[b].update(m[:, 1].tolist())
    counts: dict[int, int] = {}
    for (a, b), m in inliers.items():
        for image, other, ours, theirs in ((a, b, m[:, 0], m[:, 1]), (b, a, m[:, 1], m[:, 0])):
            if image in targets and other in model:
                hits = len(theirs) if structure_less else int(np.isin(theirs, list(tracked[other])).sum())
                counts[image] = counts.get(image, 0) + hits
    return max(counts.values(), default=0)


def _both_sides(inliers: dict[tuple[int, int], np.ndarray], image: int, one: set[int], other: set[int]) -> int:
    """Keypoints of ``image`` with a verified match to an image of ``one`` and one to an image of ``other``."""
    seen: tuple[set[int], set[int]] = (set(), set())
    for (a, b), m in inliers.items():
        if image not in (a, b):
            continue
        partner, ours = (b, m[:, 0]) if a == image else (a, m[:, 1])
        for side, group in zip(seen, (one, other)):
            if partner in group:
                side.update(ours.tolist())
    return len(seen[0] & seen[1])
