"""Why structure from motion could not use the photos, in words a user can act on.

Read from the COLMAP database after geometric verification: whether any pair had raw matches
at all, and how close the best pair came to the verification threshold; and, when mapping found
several models, which photos ended in which and how many feature tracks tie the photos left out to
the chosen model (:func:`tracks_into`): a photo registers only on points the model has
triangulated, that is on tracks it shares with two or more of the model's photos. Where the best
photo outside shares fewer than ``sfm.mapping.abs_pose_min_num_inliers`` of them, no mapper can
join the parts at one scale. Measured on 20 frames of a real hand-held walk (fast preset, SIFT):
one frame of a fast pan over dark cabinets and carpet had no point matched both to an earlier and
to a later frame; the frames past it shared at most 1 track with the 13 before it, and the global
mapper's model of all 20 shrank along the walk; ALIKED + LightGlue (default preset) gives 60 there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from photogrammetry.sfm.options import SfmOptions


def _shown(names: Sequence[str], limit: int = 8) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def no_verified_pairs(database: Path, names: Mapping[int, str], config: SfmOptions) -> str:
    """Why no pair survived geometric verification: no raw match at all, or matches that fit no
    two-view geometry (the best pair named with its matches and inliers), and what to try.

    Args:
        database: The verified COLMAP database.
        names: Image name by image id.
        config: The sfm options (for the thresholds named in the message).
    """
    import pycolmap

    with pycolmap.Database.open(database) as db:
        pair_ids, matches = db.read_all_matches()
        inlier_ids, inliers = db.read_two_view_geometry_num_inliers()
        keypoints = [db.num_keypoints_for_image(i) for i in names]
    raw = {int(p): len(m) for p, m in zip(pair_ids, matches) if len(m)}
    mean_keypoints = sum(keypoints) / max(1, len(keypoints))
    if not raw:
        return (f"no pair of the {len(names)} photos has a single feature match ({mean_keypoints:.0f} keypoints per "
                "photo on average): the photos may show different scenes, be too far apart, or show only "
                "repeated or changing surfaces; try photos taken closer together (each seen in the next with "
                "60-80 % overlap), --set pairs.method=exhaustive, or another extractor "
                "(--set features.extractor=sift)")
    verified = dict(zip(map(int, inlier_ids), map(int, inliers)))
    best = max(raw, key=lambda p: (verified.get(p, 0), raw[p]))
    id0, id1 = pycolmap.pair_id_to_image_pair(best)
    v = config.verification
    return (f"{len(raw)} pairs of photos have feature matches, but none fits one rigid scene (the best, "
            f"{names.get(int(id0), id0)} and {names.get(int(id1), id1)}: {raw[best]} matches, "
            f"{verified.get(best, 0)} consistent; sfm.verification.min_inliers = {v.min_inliers}): the photos may "
            "not overlap, or show moving objects, reflections or repeated patterns; try more photos with "
            f"overlap, a looser --set sfm.verification.max_error (now {v.max_error:g} px), or --preset high")


STILL_PIXELS = 2.0
"""A verified match whose keypoints lie within this many pixels of each other in both photos stands still."""
STILL_SHARE = 0.5
"""Share of still matches over which the photos are taken for a static background's. Measured: the sample
turntable (no masks, ``cpu``) 0.991; temple 0.170; fountain, facade and the office walk at most 0.001."""


def still_share(database: Path, min_inliers: int = 15) -> float:
    """The share of the verified inlier matches (pairs of at least ``min_inliers``) whose keypoints stand
    still between the two photos (within :data:`STILL_PIXELS`): a background that does not move while
    the object turns, as on a turntable. 0 without verified pairs."""
    import numpy as np
    import pycolmap

    with pycolmap.Database.open(database) as db:
        pair_ids, geometries = db.read_two_view_geometries()
        keypoints = {int(im.image_id): db.read_keypoints(im.image_id)[:, :2] for im in db.read_all_images()}
    still = total = 0
    for pair_id, geometry in zip(pair_ids, geometries):
        matches = np.asarray(geometry.inlier_matches, np.int64).reshape(-1, 2)
        if len(matches) < min_inliers:
            continue
        id0, id1 = (int(i) for i in pycolmap.pair_id_to_image_pair(pair_id))
        moved = np.linalg.norm(keypoints[id0][matches[:, 0]] - keypoints[id1][matches[:, 1]], axis=1)
        still += int(np.count_nonzero(moved <= STILL_PIXELS))
        total += len(matches)
    return still / total if total else 0.0


def static_background(share: float) -> str:
    """What a user should do where :func:`still_share` says the photos' matches stand still."""
    return (f"{share:.0%} of the verified feature matches stay at the same pixel from photo to photo: the "
            "background does not move with the object (a turntable, or a camera on a tripod), and structure from "
            "motion can only use what moves. Use --preset turntable (object masks from the static background), or "
            "give masks (--set masks.method=folder --set masks.folder=DIR, white = object)")


def tracks_into(database: Path, model: Any) -> dict[str, int]:
    """For each photo outside ``model`` (a ``pycolmap.Reconstruction``) in a verified pair of
    ``database``: the feature tracks (chains of verified matches) it shares with at least two of the
    model's photos, the most 2D-3D correspondences registering it to the model could use."""
    import numpy as np
    import pycolmap
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    with pycolmap.Database.open(database) as db:
        names = {int(im.image_id): im.name for im in db.read_all_images()}
        counts = {i: db.num_keypoints_for_image(i) for i in names}
        pair_ids, geometries = db.read_two_view_geometries()
    offset, start = {}, 0
    for i in sorted(names):
        offset[i], start = start, start + counts[i]
    rows, cols = [], []
    for pair_id, geometry in zip(pair_ids, geometries):
        matches = np.asarray(geometry.inlier_matches, np.int64).reshape(-1, 2)
        id0, id1 = (int(i) for i in pycolmap.pair_id_to_image_pair(pair_id))
        rows.append(matches[:, 0] + offset[id0])
        cols.append(matches[:, 1] + offset[id1])
    if not rows:
        return {}
    rows_all, cols_all = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(rows_all)), (rows_all, cols_all)), shape=(start, start))
    _, track = connected_components(graph, directed=False)
    image_of = np.repeat(np.array(sorted(names)), [counts[i] for i in sorted(names)])
    matched = np.unique(np.concatenate([rows_all, cols_all]))
    tracks, images = np.unique(np.stack([track[matched], image_of[matched]], 1), axis=0).T  # each track's images
    inside = {n for n in (model.image(i).name for i in model.reg_image_ids())}
    in_model = np.array([names[int(i)] in inside for i in images])
    model_views = np.bincount(tracks[in_model], minlength=len(track))
    shared = {}
    for i in np.unique(images[~in_model]):
        mine = tracks[(images == i)]
        shared[names[int(i)]] = int(np.count_nonzero(model_views[mine] >= 2))
    return shared


def several_models(models: Sequence[Any], all_names: Sequence[str], shared: Mapping[str, int] | None = None,
                   min_inliers: int = 15) -> str:
    """``the photos form 2 separate models: model 0 (chosen, 12 photos: ...), model 1 (...)``, the
    photos in none, and what to try to join them; ``models`` are ``pycolmap.Reconstruction``.
    ``shared``: :func:`tracks_into` the chosen model; where no photo outside shares
    ``min_inliers`` tracks with it (``sfm.mapping.abs_pose_min_num_inliers``), the message says
    that no mapper can join them and asks for matching that finds more (the global mapper would
    register them at a scale nothing fixes)."""
    parts, placed = [], set()
    for i, model in enumerate(models):
        names = sorted(model.image(j).name for j in model.reg_image_ids())
        placed.update(names)
        chosen = "chosen, " if i == 0 else ""
        parts.append(f"model {i} ({chosen}{len(names)} photos: {_shown(names)})")
    rest = sorted(set(all_names) - placed)
    outside = f"; in none: {_shown(rest)}" if rest else ""
    text = (f"the photos form {len(models)} separate models that share too few matches to be joined: "
            f"{'; '.join(parts)}{outside}. Only model 0 goes on to the next stages")
    if shared:
        best = max(sorted(shared), key=shared.__getitem__)
        if shared[best] < min_inliers:
            return (f"{text}. The {len(shared)} photos outside it share at most {shared[best]} feature tracks with "
                    f"two or more of its photos ({best}; registering a photo needs "
                    f"sfm.mapping.abs_pose_min_num_inliers = {min_inliers}): too few features match across the "
                    "photos where it ends (motion blur, little texture, a fast turn), so no mapper can join the "
                    "parts at one scale. Use matching that finds more (--preset default or --preset high), or "
                    "add photos between the parts (every model is kept under models/)")
    return (f"{text}; to join them, add photos that bridge the parts, or try --set sfm.mapping.mapper=global or "
            "--preset high (every model is kept under models/)")
