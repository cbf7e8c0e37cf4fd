"""The options of :mod:`photogrammetry.sfm.plumb` (``sfm.plumb``), apart from it so that
:mod:`photogrammetry.sfm.options` can nest them without importing OpenCV."""

from __future__ import annotations

from dataclasses import dataclass

from photogrammetry.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class PlumbOptions:
    """``sfm.plumb``: radial distortion measured from straight edges in the photos (a plumb-line fit)."""

    enabled: bool = True
    """Measure it where the final adjustment's choice between the distortion held and free needs it (a walk
    straight ahead whose free fit moves the focal length by more than ``refinement.distortion_max_focal_change``
    and does not lower the reprojection error by ``refinement.distortion_min_gain_forward``)."""
    max_photos: int = 40
    """Most photos of a camera searched (evenly spread in name order)."""
    max_image_px: int = 1200
    """Photos are searched for line segments at most this large (longest side, pixels)."""
    min_segment: float = 0.02
    """Shortest line segment used, as a fraction of the image diagonal."""
    max_angle_deg: float = 4.0
    """Most a segment may turn from the one it continues, degrees (same contrast polarity)."""
    max_gap: float = 0.05
    """Longest gap between a segment and the one it continues, as a fraction of the image diagonal."""
    max_offset_px: float = 1.5
    """Farthest a segment's start may lie beside the line of the one it continues, pixels."""
    min_span: float = 0.15
    """Shortest straight scene edge used (a chain of segments, or one), as a fraction of the image diagonal."""
    edge_step_px: float = 2.0
    """Spacing of the points located along each edge, pixels."""
    edge_reach_px: float = 3.0
    """How far to either side of its segment each edge point is looked for, pixels."""
    max_bend: float = 0.04
    """Chains that stray farther than this fraction of their length from their straight line (in the
    photo) are left out: curved things, not straight edges bent by a lens."""
    max_corner_shift: float = 0.2
    """The search range: distortion moving the farthest image corner by at most this fraction of its
    distance from the principal point, either way."""
    noise_px: float = 0.5
    """Scale of an edge's residual: with ``x`` its points' mean squared distance from their straight line over
    ``noise_px^2``, an edge counts as ``x / (1 + x)`` (Geman-McClure), at most 1, so edges that no distortion
    makes straight (curved things) weigh little. Office frames 0-59 in thirds, warped by 0, +-0.05 and +-0.15,
    against ``log(1 + x)``: 14 of 15 measured against 12, the bootstrap sd 0.2-1.2 % against 0.2-1.6 %."""
    min_lines: int = 20
    """Fewest chains (over every photo) for a measurement."""
    min_photos: int = 3
    """Fewest photos with chains for a measurement."""
    max_sd: float = 0.01
    """Largest standard deviation (bootstrap over photos) of the corner shift for a measurement (0.01: 1 %
    of the corner's distance from the principal point, 3 px on 540 x 360)."""
    bootstrap: int = 200
    """Bootstrap resamples of the photos for the standard deviation."""
    agree_sd: float = 2.5
    """The lines exclude a fit's distortion (:meth:`~photogrammetry.sfm.plumb.PlumbFit.excludes`) where it lies
    more than this many standard deviations from theirs."""
    min_sd: float = 0.01
    """The least standard deviation :meth:`~photogrammetry.sfm.plumb.PlumbFit.excludes` counts with: the
    bootstrap sees only the photos' scatter, not a bias (office frames 0-19, as they are and warped by ``k1`` =
    +-0.05 and +-0.15: 0.6-1.1 % more at the corners than the warp put in, the bootstrap said 0.2-0.3 %), so
    the lines rule a fit out only beyond 2.5 % at the corners (8 px on 540 x 360). At 0.005: on the office
    frames as they are (``fast``, 13 frames registered) the lines said +1.7 +- 0.6 %, ruled the held fit out and
    kept the free one, 3.4-3.9 % long (held and scaled: 0.1-0.4 %)."""

    def __post_init__(self) -> None:
        positive = ("max_photos", "max_image_px", "min_segment", "max_angle_deg", "max_gap", "max_offset_px",
                    "min_span", "edge_step_px", "edge_reach_px", "max_bend", "max_corner_shift", "noise_px",
                    "min_lines", "min_photos", "max_sd", "bootstrap", "agree_sd", "min_sd")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"sfm.plumb.{name} must be > 0, got {getattr(self, name)}")
        if self.max_corner_shift >= 0.5:
            raise ConfigError(f"sfm.plumb.max_corner_shift must be < 0.5, got {self.max_corner_shift}")
