"""The sfm stage's messages: its summary as log lines and warnings, and the short forms ``status`` shows
(:mod:`photogrammetry.stages.sfm`)."""

from __future__ import annotations

import logging

from photogrammetry.io.sfm import CameraInfo, SfmSummary, WeakLink
from photogrammetry.sfm import intrinsics, links, sanity
from photogrammetry.sfm.options import SfmOptions


def describe_focal(camera: CameraInfo, distortion: bool) -> str:
    """``camera 1: 498.4 px (estimated, sd 0.4 %; 511.0 px (+2.5 %) with the lens distortion free)``: the
    other distortion fit where it differs by 0.1 % or more (``distortion``: the kept fit refined it), and what
    the photos' straight lines said of the lens where they were asked
    (:func:`~photogrammetry.sfm.intrinsics.lens_lines`)."""
    sd = "" if camera.focal_sd_px is None else f", sd {100 * camera.focal_sd_px / camera.focal_px:.1f} %"
    prior = f" from {camera.focal_prior_px:.1f}" if camera.focal_prior_px and camera.focal_source != "estimated" else ""
    notes = [note for note in (intrinsics.other_fit(camera, distortion, 0.001), intrinsics.lens_lines(camera)) if note]
    return f"camera {camera.camera_id}: {camera.focal_px:.1f} px ({camera.focal_source}{prior}{sd}" + "".join(
        f"; {note}" for note in notes) + ")"


def describe_links(weak: tuple[WeakLink, ...] | None) -> str:
    """``0`` or ``2 (7 images by 34 points, ...)``, for ``status``."""
    if not weak:
        return "0"
    return f"{len(weak)} ({', '.join(f'{len(w.images)} images by {w.points} points' for w in weak)})"


FOCAL_WARNINGS_SHOWN = 2
"""Cameras whose poorly constrained focal length gets a warning of its own; beyond, one more warning
names the others (photos without EXIF from many cameras, each its own: one warning, not one a photo)."""


def focal_warnings(summary: SfmSummary, config: SfmOptions) -> list[str]:
    """The warnings of :func:`~photogrammetry.sfm.intrinsics.focal_warning`, the first
    :data:`FOCAL_WARNINGS_SHOWN` in full and the other cameras' in one line."""
    warned = [(camera, text) for camera in summary.cameras
              if (text := intrinsics.focal_warning(camera, config.focal_warn_sd, summary.forward_motion,
                                                   summary.distortion_refined))]
    shown = [text for _, text in warned[:FOCAL_WARNINGS_SHOWN]]
    rest = [camera for camera, _ in warned[FOCAL_WARNINGS_SHOWN:]]
    if rest:
        listed = "; ".join(describe_focal(camera, summary.distortion_refined) for camera in rest)
        shown.append(f"the focal lengths of {len(rest)} more camera(s) are poorly constrained too ({listed}); "
                     "what to do is in the warnings above")
    return shown


def log_summary(log: logging.Logger, summary: SfmSummary, config: SfmOptions) -> None:
    """What the sfm stage found, for people: each camera's focal length, the warnings (focal lengths poorly
    constrained, photos left out, weak links, a pose check failed), the mapping attempts and the models."""
    for camera in summary.cameras:
        log.info("focal length, %s", describe_focal(camera, summary.distortion_refined))
    for warning in focal_warnings(summary, config):
        log.warning("%s", warning)
    for attempt in summary.attempts:
        log.info("mapping attempt: %s", attempt)
    for i, m in enumerate(summary.models):
        log.info("model %d%s: %d images, %d points, reprojection error %.2f px", i,
                     " (chosen)" if i == 0 else "", m.num_images, m.num_points, m.mean_reprojection_error)
    if summary.unregistered:
        shown = ", ".join(summary.unregistered[:10]) + (" ..." if len(summary.unregistered) > 10 else "")
        log.warning("%d image(s) not in the chosen model: %s", len(summary.unregistered), shown)
    for link in summary.weak_links or ():
        log.warning("%s", links.warning(link, config.weak_link_points))
    if summary.pose_check and not summary.pose_check.passed:
        log.warning("%s", sanity.warning(summary.pose_check))
