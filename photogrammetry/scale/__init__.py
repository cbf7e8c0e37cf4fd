"""Metric scale of a reconstruction: from a turntable's platform or camera distance, markers or two points.

See :mod:`photogrammetry.scale.methods` for the registry of methods,
:mod:`photogrammetry.scale.estimate` for their estimates and :mod:`photogrammetry.scale.markers`
for ArUco / ChArUco targets. The ``scale`` stage applies the estimate to the SfM model.
"""

from __future__ import annotations

from photogrammetry.scale.estimate import ScaleEstimate, marker_scale, platform_scale, points_scale, radius_scale
from photogrammetry.scale.markers import TargetSpec
from photogrammetry.scale.methods import SCALE_METHODS, ScaleMethod, ScaleRequest, scale_method

__all__ = ["SCALE_METHODS", "ScaleEstimate", "ScaleMethod", "ScaleRequest", "TargetSpec", "marker_scale",
           "platform_scale", "points_scale", "radius_scale", "scale_method"]
