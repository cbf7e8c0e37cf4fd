"""Metric scale of a reconstruction: from the turntable's radius, markers or two marked points.

See :mod:`photogrammetry.scale.estimate` for the methods and :mod:`photogrammetry.scale.markers`
for ArUco / ChArUco targets. The ``scale`` stage applies the estimate to the SfM model.
"""

from __future__ import annotations

from photogrammetry.scale.estimate import ScaleEstimate, marker_scale, points_scale, radius_scale
from photogrammetry.scale.markers import TargetSpec

SCALE_METHODS: dict[str, str] = {
    "none": "no metric scale: the model stays in SfM units",
    "radius": "horizontal distance from the camera to the turntable's axis (scale.radius_mm)",
    "marker": "ArUco markers or a ChArUco board of known size on the platform (scale.marker_mm)",
    "points": "two points marked in the photos, a known distance apart (scale.points_file, scale.distance_mm)",
}
"""Scale methods by name, with a one-line summary each."""

__all__ = ["SCALE_METHODS", "ScaleEstimate", "TargetSpec", "marker_scale", "points_scale", "radius_scale"]
