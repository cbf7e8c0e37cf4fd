"""A COLMAP database built from our artifacts: cameras, images, keypoints and raw matches.

Image ids are 1-based in the order of the ingest's (sorted) image list; camera ids follow the
ingest's camera groups when intrinsics are shared, else one camera per image in image order.
Keypoints are written as ``(N, 2)`` positions in COLMAP's pixel convention, the one
:class:`~photogrammetry.io.features.FeatureFile` reads them in (``features.h5`` holds hloc's, 0.5 px
less), so they are copied unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from photogrammetry.errors import InputError
from photogrammetry.io.features import FeatureFile, MatchFile
from photogrammetry.io.ingest import IngestResult

if TYPE_CHECKING:
    import pycolmap

CAMERA_MODELS = ("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV")
"""Camera models the sfm stage accepts (perspective models whose initial distortion is zero)."""

DEFAULT_FOCAL_FACTOR = 1.2
"""Focal length guess without a prior, times the longest image side (COLMAP's default)."""


@dataclass(frozen=True, kw_only=True)
class DatabaseStats:
    """What went into a database."""

    images: int
    """Images written."""
    cameras: int
    """Cameras written."""
    keypoints: int
    """Keypoints over all images."""
    pairs: int
    """Image pairs with at least one raw match."""
    matches: int
    """Raw matches over all pairs."""


def camera_params(model: str, width: int, height: int, focal: float | None) -> np.ndarray:
    """Initial parameters of a camera: focal (prior or guess), centred principal point, no distortion.

    Args:
        model: One of :data:`CAMERA_MODELS`.
        width: Image width in pixels.
        height: Image height in pixels.
        focal: Focal length prior in pixels, ``None`` for COLMAP's guess.

    Returns:
        ``(P,)`` float64 parameters in COLMAP's order for ``model``.
    """
    f = focal if focal else DEFAULT_FOCAL_FACTOR * max(width, height)
    cx, cy = width / 2.0, height / 2.0
    params = {
        "SIMPLE_PINHOLE": [f, cx, cy],
        "PINHOLE": [f, f, cx, cy],
        "SIMPLE_RADIAL": [f, cx, cy, 0.0],
        "RADIAL": [f, cx, cy, 0.0, 0.0],
        "OPENCV": [f, f, cx, cy, 0.0, 0.0, 0.0, 0.0],
    }
    if model not in params:
        raise ValueError(f"unsupported camera model {model!r}; use one of {', '.join(CAMERA_MODELS)}")
    return np.asarray(params[model], dtype=np.float64)


def make_camera(camera_id: int, model: str, width: int, height: int, focal: float | None) -> pycolmap.Camera:
    """A pycolmap camera with :func:`camera_params`; a given focal is marked as a prior."""
    import pycolmap

    camera = pycolmap.Camera.create_from_model_name(camera_id, model, 1.0, width, height)
    camera.params = camera_params(model, width, height, focal)
    camera.has_prior_focal_length = bool(focal)
    return camera


def assign_cameras(ingest: IngestResult, model: str, *, shared: bool) -> tuple[list[pycolmap.Camera], dict[str, int]]:
    """Cameras to write and the camera id of each image name.

    With ``shared``, one camera per ingest camera group (with the group's focal prior);
    otherwise one camera per image (with the image's own prior).
    """
    if shared:
        cameras = [make_camera(g.camera_id, model, g.width, g.height, g.focal_px) for g in ingest.cameras]
        return cameras, {im.name: im.camera_id for im in ingest.images}
    cameras = [make_camera(i, model, im.width, im.height, im.focal_px) for i, im in enumerate(ingest.images, 1)]
    return cameras, {im.name: i for i, im in enumerate(ingest.images, 1)}


def collect_matches(matches_path: Path, image_ids: dict[str, int]) -> dict[tuple[int, int], np.ndarray]:
    """Raw matches by image-id pair ``(id0 < id1)``, with pairs stored in both orders merged.

    Returns:
        ``(M, 2)`` uint32 keypoint indices per pair, columns in the order of the pair's ids.
    """
    merged: dict[tuple[int, int], list[np.ndarray]] = {}
    with MatchFile(matches_path) as f:
        for name0, name1, found in f.items():
            if name0 not in image_ids or name1 not in image_ids or name0 == name1:
                continue
            m = found.indices
            if len(m) == 0:
                continue
            id0, id1 = image_ids[name0], image_ids[name1]
            if id0 > id1:
                id0, id1, m = id1, id0, m[:, ::-1]
            merged.setdefault((id0, id1), []).append(np.asarray(m, dtype=np.uint32))
    return {pair: np.unique(np.concatenate(parts), axis=0) for pair, parts in merged.items()}


def _check_matches(pair: tuple[int, int], m: np.ndarray, counts: dict[int, int]) -> None:
    if len(m) and (m[:, 0].max() >= counts[pair[0]] or m[:, 1].max() >= counts[pair[1]]):
        raise InputError(f"matches of image ids {pair} index keypoints that do not exist; "
                         "the features and matches artifacts do not belong together (rerun with --force matches)")


def write_database(path: Path, ingest: IngestResult, features_path: Path, matches_path: Path, *,
                   camera_model: str, shared_intrinsics: bool) -> DatabaseStats:
    """Create the COLMAP database ``path`` (replacing any) from the ingest, features and matches.

    Args:
        path: Database file to create.
        ingest: The ingest result (images, camera groups, focal priors).
        features_path: ``features.h5`` (see :mod:`photogrammetry.io.features`).
        matches_path: ``matches.h5``.
        camera_model: One of :data:`CAMERA_MODELS`.
        shared_intrinsics: One camera per camera group instead of one per image.

    Returns:
        Counts of what was written.
    """
    import pycolmap

    path.unlink(missing_ok=True)
    cameras, camera_of = assign_cameras(ingest, camera_model, shared=shared_intrinsics)
    image_ids = {im.name: i for i, im in enumerate(ingest.images, 1)}
    counts: dict[int, int] = {}
    with pycolmap.Database.open(path) as db, FeatureFile(features_path) as features:
        for camera in cameras:
            db.write_camera(camera, use_camera_id=True)
        for name, image_id in image_ids.items():
            if name not in features:
                raise InputError(f"image {name} has no features in {features_path}; rerun with --force features")
            keypoints = features.read(name, descriptors=False).keypoints
            db.write_image(pycolmap.Image(name=name, camera_id=camera_of[name], image_id=image_id), use_image_id=True)
            db.write_keypoints(image_id, np.ascontiguousarray(keypoints, dtype=np.float32))
            counts[image_id] = len(keypoints)
        matches = collect_matches(matches_path, image_ids)
        for pair, m in matches.items():
            _check_matches(pair, m, counts)
            db.write_matches(pair[0], pair[1], np.ascontiguousarray(m))
    return DatabaseStats(images=len(image_ids), cameras=len(cameras), keypoints=sum(counts.values()),
                         pairs=len(matches), matches=sum(len(m) for m in matches.values()))


def compact(database: Path) -> None:
    """Rewrite ``database`` from its SQL dump: the same rows give the same bytes on every run.

    Verification and mapping update the database in an order that varies between runs (worker
    threads), which leaves the same rows in other pages. On the facade sample three runs gave three
    different files with identical SQL dumps; SQLite's ``VACUUM`` made those equal but not a database
    whose rows were deleted and rewritten, which a reload from the dump does. The page size, the
    ``user_version`` (COLMAP's) and the WAL journal mode are kept.
    """
    import sqlite3

    canonical = database.with_name(f".{database.name}.canonical")  # a dot name: scratch if left behind
    canonical.unlink(missing_ok=True)
    source, target = sqlite3.connect(database), sqlite3.connect(canonical, isolation_level=None)
    try:
        (page_size,), (user_version,), (journal,) = (source.execute(f"PRAGMA {name}").fetchone()
                                                      for name in ("page_size", "user_version", "journal_mode"))
        target.execute(f"PRAGMA page_size = {int(page_size)}")
        for statement in source.iterdump():  # its own BEGIN and COMMIT
            target.execute(statement)
        target.execute(f"PRAGMA user_version = {int(user_version)}")
        if journal == "wal":
            target.execute("PRAGMA journal_mode = WAL")
    finally:
        source.close()
        target.close()
    canonical.replace(database)


def pairs_of(database: Path) -> Iterable[tuple[int, int, int]]:
    """Verified pairs of a database as ``(image_id0, image_id1, num_inliers)``."""
    import pycolmap

    with pycolmap.Database.open(database) as db:
        pair_ids, inliers = db.read_two_view_geometry_num_inliers()
    for pair_id, n in zip(pair_ids, inliers):
        id0, id1 = pycolmap.pair_id_to_image_pair(pair_id)
        yield int(id0), int(id1), int(n)


def connected_images(database: Path, min_inliers: int) -> int:
    """Images in at least one verified pair of ``database`` with ``min_inliers`` inliers or more."""
    return len({i for a, b, n in pairs_of(database) if n >= min_inliers for i in (a, b)})
