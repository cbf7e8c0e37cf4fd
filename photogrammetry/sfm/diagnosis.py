"""Why structure from motion could not use the photos, in words a user can act on.

Read from the COLMAP database after geometric verification: whether any pair had raw matches
at all, and how close the best pair came to the verification threshold; and, when mapping found
several models, which photos ended in which.
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


def several_models(models: Sequence[Any], all_names: Sequence[str]) -> str:
    """``the photos form 2 separate models: model 0 (chosen, 12 photos: ...), model 1 (...)``, the
    photos in none, and what to try to join them; ``models`` are ``pycolmap.Reconstruction``."""
    parts, placed = [], set()
    for i, model in enumerate(models):
        names = sorted(model.image(j).name for j in model.reg_image_ids())
        placed.update(names)
        chosen = "chosen, " if i == 0 else ""
        parts.append(f"model {i} ({chosen}{len(names)} photos: {_shown(names)})")
    rest = sorted(set(all_names) - placed)
    outside = f"; in none: {_shown(rest)}" if rest else ""
    return (f"the photos form {len(models)} separate models that share too few matches to be joined: "
            f"{'; '.join(parts)}{outside}. Only model 0 goes on to the next stages; to join them, add photos "
            "that bridge the parts, or try --set sfm.mapping.mapper=global or --preset high "
            "(every model is kept under models/)")
