"""Whether a retry's model keeps the scale of the model it replaces, image by image.

A mapping retry (the lens distortion held, the global mapper, the mapping after more pairs are
verified, guided matching's) is kept where it registers more images. More images do not make a sound
model: on the real office walk (60 frames, ``cpu`` with ``sfm.mapping.join_tracks``) the retry with
the distortion held registered all 60 in four runs of six, with frames 00150-00186 at 0.74-0.82 of the median depth ratio against the true cameras
and the rest at 0.92-1.11 (AUC@5 0.29 against 0.50-0.56 where it was not taken). The 48 frames that the
model it replaced held, 00174-00268, were in it: the break shows on them, without ground truth.

:func:`scale_change` compares the two models on the images both registered: for each, the depth of the
points both models triangulated at the same keypoints, the retry's over the replaced model's (the
median per image). One similarity between the models gives every image the same ratio; a break in
scale along a walk gives the images on one side of it another. The largest departure of an image's
ratio from their median is the change (``sfm.mapping.retry_max_scale_change``).

The second focal pass is not held to the first's scale: the first only finds the focal length and can
be the broken one (office walk, first 40 frames: the first pass's 28 frames 24.7 % off the true
cameras' scale, the second pass's 40 refused against them; :mod:`~photogrammetry.sfm.focal_pass`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pycolmap

log = logging.getLogger("photogrammetry.sfm")

MIN_POINTS = 5
"""Points both models triangulated at an image's keypoints for the image to take part."""


@dataclass(frozen=True)
class ScaleChange:
    """How the scale of one model departs from another's, image by image."""

    change: float
    """The largest ``|ratio / median - 1|`` over the shared images."""
    image: str
    """The image where it is largest."""
    images: int
    """Shared images that took part (at least :data:`MIN_POINTS` points each)."""


def shared_depth_ratios(old: pycolmap.Reconstruction, a: pycolmap.Image, new: pycolmap.Reconstruction,
                        b: pycolmap.Image) -> list[float]:
    """The depth in ``new`` (image ``b``) over the depth in ``old`` (image ``a``, the same photo) of each
    point that both models triangulated at one of the photo's keypoints, where both lie in front (the keypoints
    that ``a`` holds: ``b`` may hold more after them, :mod:`~photogrammetry.sfm.learned_bridge`)."""
    pose_a, pose_b = a.cam_from_world(), b.cam_from_world()
    found = []
    # not strict: the learned bridge appends keypoints after an image's own (the first ones stay the same)
    for pa, pb in zip(a.points2D, b.points2D):
        if pa.has_point3D() and pb.has_point3D():
            za = (pose_a * old.point3D(pa.point3D_id).xyz)[2]
            zb = (pose_b * new.point3D(pb.point3D_id).xyz)[2]
            if za > 0 and zb > 0:
                found.append(float(zb / za))
    return found


def depth_ratios(old: pycolmap.Reconstruction, new: pycolmap.Reconstruction) -> dict[str, float]:
    """For each image both models registered: the median, over its keypoints that observe a 3D point in
    both, of the point's depth in ``new`` over its depth in ``old`` (images with fewer than
    :data:`MIN_POINTS` such keypoints left out), by image name."""
    ours = {old.image(i).name: int(i) for i in old.reg_image_ids()}
    ratios = {}
    for j in new.reg_image_ids():
        b = new.image(j)
        if b.name not in ours:
            continue
        found = shared_depth_ratios(old, old.image(ours[b.name]), new, b)
        if len(found) >= MIN_POINTS:
            ratios[b.name] = float(np.median(found))
    return ratios


def scale_change(old: pycolmap.Reconstruction, new: pycolmap.Reconstruction) -> ScaleChange | None:
    """How far ``new``'s scale departs from ``old``'s on the images both registered (see the module
    docstring); ``None`` with fewer than 3 shared images to compare."""
    ratios = depth_ratios(old, new)
    if len(ratios) < 3:
        return None
    names = sorted(ratios)
    values = np.array([ratios[n] for n in names])
    departures = np.abs(values / np.median(values) - 1.0)
    worst = int(np.argmax(departures))
    return ScaleChange(float(departures[worst]), names[worst], len(names))


def keeps_scale(old: pycolmap.Reconstruction, new: pycolmap.Reconstruction, limit: float, retry: str) -> bool:
    """Whether ``retry``'s model ``new``, which registered more images, may replace ``old``: its scale
    departs from ``old``'s by at most ``limit`` on every shared image (or there are too few to tell).
    Logged either way."""
    found = scale_change(old, new)
    if found is None:
        log.info("%s registered %d images (%d before): too few shared images to compare their scale", retry,
                 new.num_reg_images(), old.num_reg_images())
        return True
    kept = found.change <= limit
    log.log(logging.INFO if kept else logging.WARNING,
            "%s registered %d images (%d before); on the %d images both hold its scale departs by up to %.1f %% "
            "(at %s) from the model it would replace: %s (sfm.mapping.retry_max_scale_change = %g)", retry,
            new.num_reg_images(), old.num_reg_images(), found.images, 100 * found.change, found.image,
            "kept" if kept else "not used, a break in scale", limit)
    return kept
