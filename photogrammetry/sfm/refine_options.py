"""The options of the final refinement of the chosen model, apart from the module that uses them
(:mod:`photogrammetry.sfm.refine`, :mod:`photogrammetry.sfm.precision`), so that
:mod:`photogrammetry.sfm.options` can nest them without importing it."""

from __future__ import annotations

from dataclasses import dataclass

from photogrammetry.errors import ConfigError
from photogrammetry.sfm.option_checks import at_least_one, fraction


@dataclass(frozen=True, kw_only=True)
class RefinementOptions:
    """The final refinement of the chosen model (:mod:`photogrammetry.sfm.refine`,
    :mod:`photogrammetry.sfm.precision`)."""

    enabled: bool = True
    """Complete and merge tracks, re-triangulate and run a robust global bundle adjustment on
    the chosen model."""
    distortion_min_gain: float = 0.03
    """Smallest relative drop of the mean reprojection error for which ``refine_extra_params``
    ``final`` keeps refined distortion that moves the image corners by more than
    ``distortion_free_px`` (0.03: 3 %)."""
    distortion_min_gain_forward: float = 0.10
    """``distortion_min_gain`` where the cameras move mostly straight ahead (a walk, a video: forward
    motion at least :data:`~photogrammetry.sfm.intrinsics.FORWARD_MOTION`), where radial distortion and
    the focal length trade off and distortion fitted to noise moves the focal length. Measured on the
    office walk (undistorted frames, fast preset): k = 0.066 lowered the error by 6.5 % and moved the
    focal length from 498 px (held) to 551 px (true 495.5)."""
    distortion_free_px: float = 4.0
    """Refined distortion that moves the image corners by at most this many pixels is kept by
    ``refine_extra_params`` ``final`` without the error test (the office walk's default-preset
    models: 1.7-2.1 px, where the free fit is the better one), except where the cameras move mostly
    straight ahead: there ``distortion_max_focal_change`` decides."""
    distortion_max_focal_change: float = 0.02
    """Where the cameras move mostly straight ahead, refined distortion that does not lower the
    reprojection error by ``distortion_min_gain_forward`` may move the focal length by at most this
    fraction from the fit with it held: beyond, it is scaled down to move it this far and held there.
    On such a walk the error cannot tell a distortion from a focal length (real office frames, ``cpu``,
    20 frames: free fits 2.7-4.6 % from the held ones on the undistorted frames, the truth between them;
    a real 4-6 px distortion warped in lowered the error by -0.2 to 0.2 %, the held fits 3.3-3.7 % short,
    the free ones 1.2-2.6 % long), so the focal length ends at most this far from the held fit's, towards
    the free one's, whichever is true (0.02: issue 24's target; see :mod:`photogrammetry.sfm.refine`)."""
    principal_point_min_images: int = 8
    """Registered images a camera needs before its principal point is refined."""
    max_principal_point_offset: float = 0.1
    """A refined principal point farther than this fraction of the image size from the centre
    is rejected (the refinement is redone with it fixed)."""
    principal_point_min_offset: float = 0.003
    """A refined principal point nearer than this fraction of the image size to the centre is
    not kept: so small a shift is within what feature bias alone causes (ALIKED moved the
    centred one of the orbit scene by 0.8 px of 640 and tilted every camera by 0.06 degrees),
    while real lenses that need it are off by more (temple 2-3 %, fountain 1 %)."""
    principal_point_min_gain: float = 0.005
    """Smallest relative drop of the mean reprojection error for which a refined principal point is
    kept (0.005: 0.5 %). Measured: temple and fountain (true points 6-17 px off centre) 1.2-1.6 %;
    the turntable sample scene (centred) 0.05 %, where the BIC test alone let a point through that
    turned every camera by 4.7 degrees."""
    sift_adjustment: bool = True
    """With ``sift.assist``: adjust the cameras once more on the SIFT points alone, which are
    located more precisely than learned ones, then re-triangulate every point (see
    :mod:`photogrammetry.sfm.precision`)."""
    sift_min_points: int = 100
    """Images with fewer SIFT points keep their learned points in that last adjustment."""
    function_tolerance: float = 1e-6
    """The bundle adjustments of the final refinement stop where an iteration lowers the cost by less
    than this fraction of it (Ceres' ``function_tolerance``; 0: after at most 100 iterations). On the
    temple (16 views, 2,000 points) they ran all 100 at 0, each 2.0 s; at 1e-6 0.55 s, cameras within
    0.0005 degrees of those (at 1e-4: 0.04 degrees)."""

    def __post_init__(self) -> None:
        at_least_one(self, ("principal_point_min_images", "sift_min_points"))
        fraction(self, ("max_principal_point_offset", "principal_point_min_offset"))
        for name in ("distortion_min_gain", "distortion_min_gain_forward", "distortion_free_px",
                     "distortion_max_focal_change",
                     "principal_point_min_gain", "function_tolerance"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
