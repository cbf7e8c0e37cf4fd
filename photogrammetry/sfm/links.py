"""Weak links of a model: parts of it that hang on the rest by few 3D points.

The mappers join any image that registers, and :mod:`photogrammetry.sfm.pieces` joins pieces of an
incremental run on as few as ``sfm.mapping.join_min_shared_points`` points. Where a part of the
model is tied to the rest by a few dozen points, its scale and orientation against the rest hang
on them alone: on the real office walk (60 frames, ``fast`` preset) one run joined frames 12-18
to the rest through frame 19 by 34 points, and that part's scale was 22 % off the true cameras'; in
two others, frames 12-19 held on by 58 and 56 points (in the first, steps 2.14-2.28 x the true ones
there, 2.25 along the rest: no break that time). The model is exported as it is; this check only
finds and reports such links (``sfm.weak_link_points``).

The images are the nodes of a covisibility graph, weighted by the 3D points two images both see.
Every edge of its maximum spanning tree splits the images in two; the points across such a cut are
those seen from both sides (counted once each, however many images see them). A cut whose parts
each hold enough images (:data:`MIN_PART_IMAGES`) and share fewer than ``min_points`` points is a
weak link. Where a part is joined to the rest only by edges weaker than those within it and within
the rest (a walk that turns fast, two clusters of photos), the tree crosses that cut by exactly one
edge, so the check finds it; cuts that split off nested parts (next to each other along a walk) are
reported once, by the one with the fewest points across: two breaks in the same half of a walk are
reported as one, the weaker. About a second for 60 images.

:func:`split` takes the smaller side of such links out of the model (``sfm.split_weak_link_points``, off
by default): on the office walk (``cpu``) it halves the largest scale departure against the true
cameras but drops the photos whose relative poses were still usable (docs/benchmarks.md, "Scale along a walk").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from photogrammetry.io.sfm import WeakLink

MIN_PART_IMAGES = 2
"""A part of fewer images is a weakly registered image, not a weak link between parts of the model."""


def incidence(model: Any) -> tuple[list[str], Any]:
    """The registered image names (sorted) and a sparse ``points x images`` matrix of 0/1: which image
    sees which 3D point of ``model`` (a ``pycolmap.Reconstruction``)."""
    from scipy.sparse import csr_matrix

    names = sorted(model.image(i).name for i in model.reg_image_ids())
    column = {name: c for c, name in enumerate(names)}
    ids = {int(i): column[model.image(i).name] for i in model.reg_image_ids()}
    rows, cols = [], []
    for row, point in enumerate(model.points3D.values()):
        for element in point.track.elements:
            if int(element.image_id) in ids:
                rows.append(row)
                cols.append(ids[int(element.image_id)])
    matrix = csr_matrix((np.ones(len(rows), np.int32), (rows, cols)), shape=(model.num_points3D(), len(names)))
    matrix.data[:] = 1  # duplicates are summed into one entry: an image seeing a point twice counts once
    return names, matrix


def maximum_spanning_tree(weights: np.ndarray) -> list[tuple[int, int]]:
    """The edges of a maximum spanning forest of the graph whose edge weights (symmetric, ``(n, n)``,
    0 where there is no edge) are ``weights``: Prim's algorithm, a tree per connected component. Ours,
    not scipy's ``csgraph``, whose import took 0.24 s of the temple's sfm stage (cProfile, load 7) in
    a run that needs no other part of it."""
    n = len(weights)
    in_tree = np.zeros(n, bool)
    best, parent = np.zeros(n), np.full(n, -1)
    edges = []
    for _ in range(n):
        open_best = np.where(in_tree, -1.0, best)
        v = int(np.argmax(open_best))
        if open_best[v] <= 0:  # no edge into the tree: a new component starts
            v, parent[v] = int(np.flatnonzero(~in_tree)[0]), -1
        in_tree[v] = True
        if parent[v] >= 0:
            edges.append((int(parent[v]), v))
        better = ~in_tree & (weights[v] > best)
        best[better], parent[better] = weights[v][better], v
    return edges


def weak_links(names: list[str], seen: Any, min_points: int) -> list[WeakLink]:
    """The weak links of a model given as image ``names`` and the ``points x images`` incidence
    ``seen`` (:func:`incidence`): cuts along the covisibility graph's maximum spanning tree whose sides
    hold at least :data:`MIN_PART_IMAGES` images each and share fewer than ``min_points`` points;
    nested cuts reported once. Fewest points across first."""
    n = len(names)
    if n < 2 * MIN_PART_IMAGES or min_points <= 0:
        return []
    seen = seen.tocsc().astype(np.float64)
    shared = (seen.T @ seen).toarray()
    np.fill_diagonal(shared, 0)
    tree = maximum_spanning_tree(shared)
    candidates = []
    for a, b in tree:
        side = _side(tree, a, b, n)
        size = int(side.sum())
        if min(size, n - size) < MIN_PART_IMAGES:
            continue
        small = side if size <= n - size else ~side
        across = int(np.count_nonzero((seen @ small > 0) & (seen @ ~small > 0)))
        if across < min_points:
            candidates.append((across, small))
    links: list[WeakLink] = []
    kept: list[Any] = []
    for across, small in sorted(candidates, key=lambda c: (c[0], int(c[1].sum()))):
        if any(_nested(small, other) for other in kept):
            continue
        kept.append(small)
        count = int(small.sum())
        images = tuple(names[i] for i in np.flatnonzero(small))
        links.append(WeakLink(images=images, points=across, other_images=n - count))
    return links


def find(model: Any, min_points: int) -> tuple[WeakLink, ...]:
    """:func:`weak_links` of ``model`` (a ``pycolmap.Reconstruction``)."""
    names, seen = incidence(model)
    return tuple(weak_links(names, seen, min_points))


def split(model: Any, min_points: int) -> tuple[Any, list[WeakLink]]:
    """``model`` without the smaller side of each of its weak links of fewer than ``min_points`` points
    (the weakest first, found again after each cut), and the links cut; ``model`` itself where there is none."""
    from photogrammetry.sfm import plausible

    cut: list[WeakLink] = []
    while min_points and (found := find(model, min_points)):
        link = found[0]
        reason = f"it hangs on the other {link.other_images} photos by {link.points} 3D points"
        model = plausible.without(model, [plausible.Dropped(name, reason) for name in link.images])
        cut.append(link)
    return model, cut


def warning(link: WeakLink, min_points: int) -> str:
    """What a weak link means and what to do, naming its images."""
    shown = ", ".join(link.images[:8]) + (f" and {len(link.images) - 8} more" if len(link.images) > 8 else "")
    return (f"a weak link in the model: {len(link.images)} images ({shown}) share only {link.points} 3D points with "
            f"the other {link.other_images} (sfm.weak_link_points = {min_points}); their scale and orientation "
            "against the rest hang on those points alone and may be off, and the depths, sizes and mesh there "
            "with them. Take more photos with overlap where the capture turns or jumps there, use matching "
            "that finds more (--preset default or --preset high), or map with more features "
            "(--set features.max_keypoints=...), or take such parts out of the model (--set "
            "sfm.split_weak_link_points=...); --set sfm.weak_link_points=0 silences this check")


def _side(tree: list[tuple[int, int]], a: int, b: int, n: int) -> np.ndarray:
    """The images on ``b``'s side of the tree once its edge to ``a`` is removed, as a boolean mask."""
    neighbours: dict[int, list[int]] = {}
    for u, v in tree:
        if {u, v} != {a, b}:
            neighbours.setdefault(u, []).append(v)
            neighbours.setdefault(v, []).append(u)
    side = np.zeros(n, bool)
    side[b], stack = True, [b]
    while stack:
        for w in neighbours.get(stack.pop(), ()):
            if not side[w]:
                side[w] = True
                stack.append(w)
    return side


def _nested(a: Any, b: Any) -> bool:
    """Whether one side contains the other: cuts of one chain of parts, reported by the weakest."""
    return not (a & ~b).any() or not (b & ~a).any()
