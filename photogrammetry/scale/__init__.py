"""Metric scale of a reconstruction: from a turntable's platform or camera distance, markers or two points.

See :mod:`photogrammetry.scale.estimate` for the methods and :mod:`photogrammetry.scale.markers`
for ArUco / ChArUco targets. The ``scale`` stage applies the estimate to the SfM model.
"""

from __future__ import annotations

from photogrammetry.scale.estimate import ScaleEstimate, marker_scale, platform_scale, points_scale, radius_scale
from photogrammetry.scale.markers import TargetSpec

SCALE_METHODS: dict[str, str] = {
    "none": "no metric scale: the model stays in SfM units",
    "platform": "radius of the turntable's platform (scale.radius_mm), found among the sparse points",
    "radius": "horizontal distance from the camera's lens to the turntable's axis (scale.radius_mm)",
    "marker": "ArUco markers or a ChArUco board of known size on the platform (scale.marker.marker_mm)",
    "points": "two points marked in the photos, a known distance apart (scale.points_file, scale.distance_mm)",
}
"""Scale methods by name, with a one-line summary each."""

__all__ = ["SCALE_METHODS", "ScaleEstimate", "TargetSpec", "marker_scale", "platform_scale", "points_scale",
           "radius_scale"]
