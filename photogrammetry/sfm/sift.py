"""Extra SIFT correspondences from COLMAP, added to a database that holds our features.

Learned features miss what SIFT finds and the reverse: SIFT is rotation invariant (a photo
rolled by 180 degrees without EXIF orientation still matches) and COLMAP's SIFT upsamples small
images (first octave -1), so it finds more points on 640 x 480 photos. With
``sfm.sift.assist`` COLMAP extracts SIFT on the ingest images into a scratch database,
matches the pairs already in ours (mutual nearest neighbours, ratio 0.8, no verification),
and appends them: each image's SIFT keypoints follow its own ones, and SIFT matches are
offset to match. Geometric verification then sees both kinds of matches together.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from photogrammetry.sfm.colmap import colmap_errors

log = logging.getLogger("photogrammetry.sfm")

_HINT = "try --set sfm.sift.assist=false"


def _extract_and_match(scratch: Path, images: Path, names: list[str], pairs: list[tuple[str, str]],
                       max_features: int, num_threads: int, masks: Path | None = None) -> None:
    """COLMAP SIFT features of ``names`` and raw matches of ``pairs`` into the database ``scratch``;
    with ``masks``, a folder of ``<image name>.png`` (non-zero = object), no feature outside them."""
    import pycolmap

    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = num_threads
    extraction.sift.max_num_features = max_features
    reader = pycolmap.ImageReaderOptions()
    if masks is not None:
        reader.mask_path = str(masks)
    pycolmap.extract_features(scratch, images, image_names=names, camera_mode=pycolmap.CameraMode.PER_IMAGE,
                              reader_options=reader, extraction_options=extraction, device=pycolmap.Device.cpu)
    pair_list = scratch.with_suffix(".pairs.txt")
    pair_list.write_text("".join(f"{a} {b}\n" for a, b in pairs), encoding="utf-8")
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = num_threads
    matching.skip_geometric_verification = True
    pycolmap.match_image_pairs(scratch, matching_options=matching,
                               pairing_options=pycolmap.ImportedPairingOptions(match_list_path=str(pair_list)),
                               device=pycolmap.Device.cpu)


def add_sift_matches(database: Path, images: Path, *, max_features: int, num_threads: int,
                     masks: Path | None = None) -> tuple[int, dict[int, int]]:
    """Append COLMAP SIFT keypoints and raw matches to every image and matched pair of ``database``.

    Args:
        database: Our database, with keypoints and raw matches, not yet verified.
        images: Folder where each image is found under its name.
        max_features: Most SIFT features per image.
        num_threads: Threads COLMAP may use.
        masks: Folder holding a mask ``<image name>.png`` for every image, or ``None``.

    Returns:
        The number of SIFT matches added (0 when an image name holds whitespace, which COLMAP's
        pair lists cannot express; a warning says so), and per image id that got SIFT keypoints
        the index of its first one (the count of its own keypoints before them).
    """
    import pycolmap

    scratch = database.with_name(".sift.db")
    scratch.unlink(missing_ok=True)
    with colmap_errors("SIFT extraction and matching", _HINT), pycolmap.Database.open(database) as db:
        ours = {im.name: im.image_id for im in db.read_all_images()}
        pair_ids, _ = db.read_all_matches()
        pairs = [tuple(pycolmap.pair_id_to_image_pair(p)) for p in pair_ids]
        by_id = {i: n for n, i in ours.items()}
        if any(len(name.split()) != 1 for name in ours):
            log.warning("image names with spaces: COLMAP SIFT matches are not added (rename the photos to use them)")
            return 0, {}
        _extract_and_match(scratch, images, sorted(ours), [(by_id[a], by_id[b]) for a, b in pairs],
                           max_features, num_threads, masks)
        with pycolmap.Database.open(scratch) as sift:
            return _merge(db, sift, ours)


def _merge(db, sift, ours: dict[str, int]) -> tuple[int, dict[int, int]]:
    """Append ``sift``'s keypoints and matches to ``db`` (image ids mapped by name); the matches
    added and the index of each image's first SIFT keypoint."""
    import pycolmap

    theirs = {im.image_id: ours[im.name] for im in sift.read_all_images() if im.name in ours}
    offsets = {}
    for sift_id, our_id in theirs.items():
        own = db.read_keypoints(our_id)[:, :2]
        offsets[our_id] = len(own)
        extra = sift.read_keypoints(sift_id)[:, :2]
        db.update_keypoints(our_id, np.ascontiguousarray(np.concatenate([own, extra]), dtype=np.float32))
    added = 0
    pair_ids, matches = sift.read_all_matches()
    for pair_id, m in zip(pair_ids, matches):
        a, b = (theirs[i] for i in pycolmap.pair_id_to_image_pair(pair_id))
        merged = np.asarray(m, np.int64) + [offsets[a], offsets[b]]
        if db.exists_matches(a, b):  # pycolmap reads and writes pairs in the order asked
            merged = np.concatenate([db.read_matches(a, b).astype(np.int64), merged])
            db.delete_matches(a, b)
        db.write_matches(a, b, np.ascontiguousarray(merged, dtype=np.uint32))
        added += len(m)
    return added, offsets
