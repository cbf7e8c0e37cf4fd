"""How wide a camera sees, and where its field is too narrow for lens distortion to be told from the focal length.

A radial distortion term moves a point at normalised radius ``r`` (pixels from the principal point over the
focal length) by ``k r^2`` of its radius. Through a long lens ``r`` stays small at the corners (3,000 px on
640 x 480: 0.13; 1,520 px: 0.26), so ``k`` has to grow as ``1 / r^2`` to move the corners by a pixel, while
the perspective cues that fix the focal length shrink with the field too: the two trade off. Measured on real
photos through a longer lens (``benchmarks/focal.py --sets temple-z3``, the temple's centre third, 4,570 px on
640 x 480, ``r`` 0.087): with the distortion refined the mapper broke into pieces (``fast``: 5, 3 and 2 views,
13 of 16 with the held retry), and the final adjustment kept ``k1`` -0.63 (1.75 px at the corners, under
``refinement.distortion_free_px``) with the focal length +5.0 % off; held throughout, 16 of 16 and +2.3 %.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pycolmap


def half_field(width: float, height: float, focal: float) -> float:
    """The tangent of half the diagonal field of view: the image corners' normalised radius (from the centre)."""
    return math.hypot(width, height) / 2.0 / focal


def _narrow(cameras: Iterable[Any], limit: float) -> bool:
    cameras = list(cameras)
    return bool(cameras) and limit > 0 and all(
        half_field(c.width, c.height, c.mean_focal_length()) < limit for c in cameras)


def narrow_database(database: Path, limit: float) -> bool:
    """Whether every camera of the database has a focal prior (EXIF, the user's, or a first pass's) at which
    it sees a narrower field than ``limit`` (:func:`half_field`); false where any has none (its focal length
    is still to be found: a light pass's start)."""
    import pycolmap

    with pycolmap.Database.open(database) as db:
        cameras = db.read_all_cameras()
    return all(c.has_prior_focal_length for c in cameras) and _narrow(cameras, limit)


def narrow_model(model: pycolmap.Reconstruction, limit: float) -> bool:
    """Whether every camera of ``model`` sees a narrower field than ``limit`` (:func:`half_field`)."""
    return _narrow(model.cameras.values(), limit)
