"""The run's report: one self-contained HTML file (inline SVG charts, base64 pictures, no script, no
network) made from a workspace's artifacts, with a "not computed" note for each stage that has not run.

One module per section: :mod:`~.summary` (stages, scale and units), :mod:`~.renders` (the textured
model and the fused cloud from a few viewpoints), :mod:`~.cameras` (cameras and sparse points from
three sides), :mod:`~.registration` (photos, registered or not and why), :mod:`~.sparse`
(reprojection errors, track lengths), :mod:`~.matches` (the pair matrix), :mod:`~.depth` (depth and
confidence maps); :mod:`~.page` and :mod:`~.svg` draw them, :mod:`~.build` puts them together.
"""

from photogrammetry.report.build import REPORT_FILE, ReportFile, build_report, write_report
from photogrammetry.report.inputs import ReportInputs, ReportOptions, StageRecord

__all__ = ["REPORT_FILE", "ReportFile", "ReportInputs", "ReportOptions", "StageRecord", "build_report",
           "write_report"]
