"""Registered images a model cannot stand behind: a camera whose parameters are implausible, or an
image that observes no 3D point.

COLMAP's incremental mapper filters such frames (``IncrementalMapperOptions.min_focal_length_ratio``,
``max_focal_length_ratio``, ``max_extra_param``: a focal length under 0.1 or over 10 times the longest
side, a distortion parameter beyond 1), but its models still hold some. Measured on 10 landmark photos
from 10 cameras without EXIF (``hloc_sacre_coeur``, ``cpu`` preset): the light first pass gave four
cameras focal lengths of 28,900-2,565,000 px on 675-1083 px photos, which the second pass took as
priors, and its model kept one image registered at -159,744 px with no 3D point, which the depth stage
then could not bound and the export wrote as a camera. Such images are taken out of the model
(:func:`without_implausible`) and such focal lengths are no prior (:func:`plausible_camera`). The bounds
are COLMAP's for the focal length; the distortion is bounded by how far it moves the image corners
(:data:`MAX_CORNER_SHIFT`).
"""

from __future__ import annotations

import copy
import functools
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pycolmap


@dataclass(frozen=True)
class Dropped:
    """An image taken out of a model, and why."""

    name: str
    reason: str


MAX_CORNER_SHIFT = 0.25
"""Most a plausible camera's distortion moves an image corner, as a fraction of the image diagonal
(COLMAP's test bounds the distortion parameters themselves, which holds narrow fields, where the
same parameter moves the corners by far less, to a tighter bound in pixels)."""


@functools.cache
def _focal_ratios() -> tuple[float, float]:
    """COLMAP's bounds of a focal length over the longest side (the incremental mapper's defaults)."""
    import pycolmap

    options = pycolmap.IncrementalMapperOptions()
    return options.min_focal_length_ratio, options.max_focal_length_ratio


def implausible(camera: pycolmap.Camera) -> str | None:
    """Why ``camera``'s parameters are implausible, or ``None``: a parameter not finite, a focal length
    outside COLMAP's bounds (the incremental mapper's ``min_focal_length_ratio`` and
    ``max_focal_length_ratio`` times the longest side), or distortion that moves a corner by more than
    :data:`MAX_CORNER_SHIFT` of the diagonal."""
    import numpy as np

    from photogrammetry.sfm.distortion import corner_shift_px

    size = f"for a {camera.width} x {camera.height} photo"
    if not np.all(np.isfinite(camera.params)):
        return f"parameters not finite {size}"
    focal, longest = float(camera.mean_focal_length()), max(camera.width, camera.height)
    low, high = _focal_ratios()
    if not low * longest <= focal <= high * longest:
        return f"focal length {focal:.1f} px {size}"
    shift, diagonal = corner_shift_px(camera), float(np.hypot(camera.width, camera.height))
    if not shift <= MAX_CORNER_SHIFT * diagonal:
        return f"lens distortion moving the corners by {shift:.0f} px {size}"
    return None


def plausible_camera(camera: pycolmap.Camera) -> bool:
    """Whether ``camera``'s parameters are plausible (:func:`implausible`)."""
    return implausible(camera) is None


def implausible_images(model: pycolmap.Reconstruction) -> list[Dropped]:
    """The registered images of ``model`` whose camera is implausible (:func:`implausible`) or
    that observe no 3D point, in image id order."""
    dropped = []
    for image_id in sorted(model.reg_image_ids()):
        image = model.image(image_id)
        why = implausible(model.camera(image.camera_id))
        if why is not None:
            dropped.append(Dropped(image.name, f"its camera came out implausible ({why})"))
        elif image.num_points3D == 0:
            dropped.append(Dropped(image.name, "it observes no 3D point"))
    return dropped


def without_implausible(model: pycolmap.Reconstruction) -> tuple[pycolmap.Reconstruction, list[Dropped]]:
    """``model`` without the images of :func:`implausible_images` (their observations go, and points
    left with fewer than two with them), and what was dropped; ``model`` itself where there are none, or
    where dropping them would leave fewer than two images.

    The images' frames are deregistered and the model written and read back, which leaves them out as
    COLMAP's mappers do (pycolmap's covariance estimation fails on a frame without a pose)."""
    dropped = implausible_images(model)
    if not dropped or model.num_reg_images() - len(dropped) < 2:
        return model, []
    return without(model, dropped), dropped


def without(model: pycolmap.Reconstruction, dropped: list[Dropped]) -> pycolmap.Reconstruction:
    """A copy of ``model`` without the images ``dropped`` (see :func:`without_implausible`)."""
    import pycolmap

    work = copy.deepcopy(model)
    names = {d.name for d in dropped}
    for frame_id in sorted({work.image(i).frame_id for i in work.reg_image_ids() if work.image(i).name in names}):
        work.deregister_frame(frame_id)
    with tempfile.TemporaryDirectory(prefix="plausible-") as folder:
        work.write(folder)
        return pycolmap.Reconstruction(folder)


def describe(dropped: list[Dropped]) -> str:
    """The warning for images taken out of the model, naming each and why."""
    shown = "; ".join(f"{d.name}: {d.reason}" for d in dropped)
    return (f"{len(dropped)} image(s) taken out of the model, which could not place them ({shown}). More photos "
            "between them and the others, or the photos as the camera wrote them (with EXIF focal lengths), "
            "let them register")
