"""Sections "Stages" (time, counts and settings of each) and "Scale and units"."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from photogrammetry.io.export import load_export_result
from photogrammetry.io.scale import load_scale
from photogrammetry.report import svg
from photogrammetry.report.inputs import ReportInputs
from photogrammetry.report.page import Markup, Section, esc, not_computed, table

_UNITS = {"metres": "metres (the scale is known)", "sfm": "the reconstruction's arbitrary units (no scale)",
          "normalised": "normalised: the largest side of the model's box is the size asked for (no scale)"}


def _settings(settings: Mapping[str, Any]) -> Markup:
    if not settings:
        return Markup("-")
    lines = "<br>".join(f"<code>{esc(k)} = {esc(json.dumps(v, ensure_ascii=False))}</code>"
                        for k, v in _flatten(settings))
    return Markup(f"<details><summary>{len(list(_flatten(settings)))} settings</summary>{lines}</details>")


def _flatten(settings: Mapping[str, Any], prefix: str = ""):
    for key, value in settings.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def stages_section(inputs: ReportInputs) -> Section:
    """Per stage: state, time, counts and settings, and the times as bars."""
    rows = []
    for s in inputs.stages:
        state = Markup(f'<span class="{"ok" if s.state == "done" else "bad"}">{esc(s.state)}</span>')
        counts = ", ".join(f"{k}={v}" for k, v in s.counts.items()) or "-"
        rows.append((s.name, state, None if s.seconds is None else round(s.seconds, 1), counts,
                     _settings(s.settings)))
    timed = [(s.name, s.seconds) for s in inputs.stages if s.seconds is not None]
    total = sum(t for _, t in timed)
    chart = svg.bars([n for n, _ in timed], [t for _, t in timed], title=f"Time per stage (total {total:.1f} s)",
                     unit="s") if timed else not_computed("stage times", "no stage has finished")
    body = chart + table(("stage", "state", "seconds", "counts", "settings"), rows, numeric=(2,))
    return Section("stages", "Stages", body)


def scale_section(inputs: ReportInputs) -> Section:
    """The scale method and its result, and the units, frame and size of the exported files."""
    parts = []
    folder = inputs.folder("scale")
    if folder is None:
        parts.append(not_computed("the scale", inputs.why_missing("scale")))
    else:
        info = load_scale(folder).info
        uncertainty = "-" if info.relative_uncertainty is None else f"{100 * info.relative_uncertainty:.2g} %"
        parts.append(table(("method", "units", "metres per SfM unit", "uncertainty (1 sd)", "measurements"),
                           [(info.method, _UNITS.get(info.units, info.units), info.scale, uncertainty,
                             info.samples)]))
    folder = inputs.folder("export")
    if folder is None:
        parts.append(not_computed("the exported files", inputs.why_missing("export")))
    else:
        info = load_export_result(folder).info
        size = " x ".join(f"{v:.3g}" for v in info.size)
        parts.append("<p>Exported files (" + esc(", ".join(sorted(info.files))) + "): units "
                     f"<b>{esc(_UNITS.get(info.units, info.units))}</b>; {info.up_axis.upper()} up in OBJ/PLY and "
                     f"cameras, Y up in the GLB (up found from: {esc(info.up_source)}); box {esc(size)} "
                     f"(x, up, z); {info.triangles} triangles; {info.scale:.4g} model units per reconstruction "
                     "unit.</p>")
    return Section("scale", "Scale and units", "".join(parts))
