"""The report as a whole: every section in order, written as one self-contained HTML file."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from photogrammetry.errors import PhotogrammetryError
from photogrammetry.io.jsonio import write_bytes_atomic
from photogrammetry.report.cameras import cameras_section
from photogrammetry.report.depth import depth_section
from photogrammetry.report.inputs import ReportInputs, ReportOptions
from photogrammetry.report.matches import matches_section
from photogrammetry.report.page import Section, esc, page
from photogrammetry.report.registration import registration_section
from photogrammetry.report.renders import renders_section
from photogrammetry.report.sparse import sparse_section
from photogrammetry.report.summary import scale_section, stages_section

log = logging.getLogger(__name__)

REPORT_FILE = "report.html"
"""Name of the report in the output folder."""

SECTIONS: tuple[tuple[str, str, Callable[[ReportInputs, ReportOptions], Section]], ...] = (
    ("stages", "Stages", lambda i, o: stages_section(i)),
    ("scale", "Scale and units", lambda i, o: scale_section(i)),
    ("views", "Model views", renders_section),
    ("cameras", "Cameras and sparse points", cameras_section),
    ("photos", "Photos", registration_section),
    ("sparse", "Sparse model", sparse_section),
    ("matches", "Pairs and matches", matches_section),
    ("depth", "Depth maps", depth_section),
)
"""Anchor, title and builder of each section, in the order shown."""


@dataclass(frozen=True)
class ReportFile:
    """What :func:`write_report` wrote."""

    path: Path
    """The HTML file."""
    size_bytes: int
    """Its size."""
    seconds: float
    """Time taken to build it."""
    failed: tuple[str, ...]
    """Sections whose artifacts could not be read (each says why in the report)."""


def _build_section(anchor: str, title: str, builder: Callable[[ReportInputs, ReportOptions], Section],
                   inputs: ReportInputs, options: ReportOptions) -> tuple[Section, bool]:
    """The section, or one that says why its artifacts could not be read (a damaged file)."""
    try:
        return builder(inputs, options), True
    except (OSError, ValueError, KeyError, RuntimeError, PhotogrammetryError) as e:
        log.warning("report: section %r left out: %s: %s", title, type(e).__name__, e)
        return Section(anchor, title, f'<p class="bad">Could not be read: {esc(type(e).__name__)}: {esc(e)}. '
                                      "'photogrammetry verify' checks the workspace's files.</p>"), False


def build_report(inputs: ReportInputs, options: ReportOptions | None = None) -> tuple[str, tuple[str, ...]]:
    """The report's HTML and the titles of the sections that could not be read."""
    options = options or ReportOptions()
    built = [_build_section(anchor, title, builder, inputs, options) for anchor, title, builder in SECTIONS]
    subtitle = (f"Workspace <code>{esc(inputs.workspace)}</code>, photos <code>{esc(inputs.photos)}</code>"
                + (f", preset <code>{esc(inputs.preset)}</code>" if inputs.preset else "")
                + (f" ({esc(inputs.preset_reason)})" if inputs.preset_reason else "")
                + f". Made {esc(time.strftime('%Y-%m-%d %H:%M:%S'))}; sections whose stage has not run say "
                "&quot;not computed&quot;.")
    html = page("Photogrammetry report", subtitle, [section for section, _ in built])
    return html, tuple(section.title for section, ok in built if not ok)


def write_report(inputs: ReportInputs, path: Path, options: ReportOptions | None = None) -> ReportFile:
    """Build the report and write it to ``path`` atomically."""
    start = time.perf_counter()
    html, failed = build_report(inputs, options)
    data = html.encode("utf-8")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(Path(path), data)
    return ReportFile(Path(path), len(data), time.perf_counter() - start, failed)
