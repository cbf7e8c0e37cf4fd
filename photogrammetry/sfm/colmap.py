"""Calling pycolmap safely: quiet logs, errors turned into :class:`StageError`, image folders.

pycolmap reports failures in two ways: Python exceptions (``RuntimeError``, ``ValueError``)
for bad arguments or I/O, and glog ``CHECK`` failures that abort the whole process. The
second kind is avoided by validating inputs before the call (see
:func:`photogrammetry.sfm.database.write_database`); the first is converted here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from photogrammetry.errors import StageError
from photogrammetry.io.ingest import IngestResult

if TYPE_CHECKING:
    import pycolmap

T = TypeVar("T")
R = TypeVar("R")


@contextlib.contextmanager
def quiet_colmap(min_level: int = 1) -> Iterator[None]:
    """Hide COLMAP's log lines below ``min_level`` (0 info, 1 warning, 2 error) for a while."""
    import pycolmap

    previous = pycolmap.logging.minloglevel
    pycolmap.logging.minloglevel = max(previous, min_level)
    try:
        yield
    finally:
        pycolmap.logging.minloglevel = previous


@contextlib.contextmanager
def colmap_errors(what: str, hint: str) -> Iterator[None]:
    """Turn pycolmap's exceptions inside the block into a :class:`StageError` saying what to try.

    Args:
        what: The step that failed, e.g. ``"incremental mapping"``.
        hint: What the user can do about it.
    """
    try:
        yield
    except (RuntimeError, ValueError, TypeError, OSError) as err:
        raise StageError(f"{what} failed in COLMAP ({type(err).__name__}: {err}); {hint}") from err


def image_folder(ingest: IngestResult, scratch: Path) -> Path:
    """A folder where each ingest image is found under its name, as COLMAP looks images up.

    The ingest's ``images/`` folder when every file is stored under its image name (the usual
    case); otherwise ``scratch`` filled with symbolic links ``<name> -> <file>``.
    """
    if all(im.file == f"images/{im.name}" for im in ingest.images):
        return ingest.root / "images"
    for im in ingest.images:
        link = scratch / im.name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            os.symlink(ingest.image_path(im).resolve(), link)
    return scratch


def threads_for(num_threads: int) -> int:
    """The threads COLMAP's ``num_threads`` means (-1 or 0: one per CPU)."""
    return num_threads if num_threads > 0 else os.cpu_count() or 1


def map_threads(fn: Callable[[T], R], jobs: Sequence[T], num_threads: int) -> list[R]:
    """``[fn(job) for job in jobs]`` on up to ``num_threads`` threads (:func:`threads_for`), in order.

    For pycolmap calls that release the GIL and take their random seed from their options, such as
    ``estimate_two_view_geometry``: the results are those of the loop, in the same order."""
    threads = min(threads_for(num_threads), len(jobs))
    if threads <= 1:
        return [fn(job) for job in jobs]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, jobs))


def keypoint_positions(db: pycolmap.Database, image_id: int) -> np.ndarray:
    """``(N, 2)`` float64 positions of an image's keypoints in the open database ``db``."""
    return np.asarray(db.read_keypoints(image_id))[:, :2].astype(np.float64)


def estimate_pairs(db: pycolmap.Database, jobs: Sequence[tuple[int, int, np.ndarray]],
                   estimate: Callable[[Any, np.ndarray, Any, np.ndarray, np.ndarray], R], num_threads: int) -> list[R]:
    """``estimate(camera1, keypoints1, camera2, keypoints2, matches)`` for each ``(image_id1, image_id2, matches)``
    of ``jobs`` in the open database ``db``, on up to ``num_threads`` threads (:func:`map_threads`), in order;
    each image's camera and keypoints (``(N, 2)`` float64 positions) are read once."""
    cameras = {c.camera_id: c for c in db.read_all_cameras()}
    camera_of = {im.image_id: im.camera_id for im in db.read_all_images()}
    keypoints = {i: keypoint_positions(db, i) for i in sorted({i for id1, id2, _ in jobs for i in (id1, id2)})}

    def one(job: tuple[int, int, np.ndarray]) -> R:
        id1, id2, matches = job
        return estimate(cameras[camera_of[id1]], keypoints[id1], cameras[camera_of[id2]], keypoints[id2], matches)

    return map_threads(one, jobs, num_threads)
