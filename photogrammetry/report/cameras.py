"""Section "Cameras and sparse points": the model seen from the top, the front and the side.

The points and cameras are drawn in the exported model's frame (Y up, as in the GLB) when the
export stage has run, so "top" looks down; before that, in the reconstruction's frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pycolmap

from photogrammetry.io.export import load_export_result
from photogrammetry.io.scale import load_scale
from photogrammetry.io.sfm import load_sfm
from photogrammetry.report import svg
from photogrammetry.report.inputs import ReportInputs, ReportOptions
from photogrammetry.report.page import Section, esc, not_computed

VIEWS = (("top", (0, 2), (1.0, -1.0), ("x", "-z")), ("front", (0, 1), (1.0, 1.0), ("x", "y (up)")),
         ("side", (2, 1), (-1.0, 1.0), ("-z", "y (up)")))
"""Name, the two axes of the GLB frame drawn (right, up), their signs, and their labels."""


def sparse_model(inputs: ReportInputs) -> tuple[Path, str] | None:
    """The sparse model to show (the scale stage's when done, else the sfm stage's) and where it came from."""
    if (folder := inputs.folder("scale")) is not None:
        return load_scale(folder).model, "scale"
    if (folder := inputs.folder("sfm")) is not None:
        return load_sfm(folder).model, "sfm"
    return None


def _frame(inputs: ReportInputs, source: str) -> tuple[np.ndarray, str]:
    """(4, 4) transform from the model's frame into the frame drawn, and its name."""
    folder = inputs.folder("export")
    if folder is None or source != "scale":
        return np.eye(4), "the reconstruction's frame (no export yet: up is arbitrary)"
    return np.asarray(load_export_result(folder).info.glb_from_world, dtype=np.float64), "the GLB's frame (Y up)"


def _apply(matrix: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    return xyz @ matrix[:3, :3].T + matrix[:3, 3] if len(xyz) else xyz.reshape(0, 3)


def cameras_section(inputs: ReportInputs, options: ReportOptions) -> Section:
    """Cameras (red) and sparse points (their colours) from three sides."""
    found = sparse_model(inputs)
    if found is None:
        return Section("cameras", "Cameras and sparse points",
                       not_computed("the sparse model", inputs.why_missing("sfm")))
    model, source = found
    rec = pycolmap.Reconstruction(str(model))
    transform, frame = _frame(inputs, source)
    ids = list(rec.points3D)
    if len(ids) > options.max_points:
        ids = sorted(np.random.default_rng(0).choice(ids, options.max_points, replace=False).tolist())
    points = _apply(transform, np.array([rec.points3D[i].xyz for i in ids]).reshape(-1, 3))
    colours = np.array([rec.points3D[i].color for i in ids], dtype=np.uint8).reshape(-1, 3)
    images = sorted(rec.images.values(), key=lambda im: im.name)
    images = [im for im in images if im.has_pose]
    centres = _apply(transform, np.array([im.projection_center() for im in images]).reshape(-1, 3))
    labels = [im.name for im in images]
    charts = []
    for name, (a, b), (sa, sb), axes in VIEWS:
        flip = np.array([sa, sb])
        charts.append(svg.scatter(points[:, [a, b]] * flip, colours, centres[:, [a, b]] * flip, labels,
                                  title=name, axes=axes))
    note = (f"<p>{len(images)} cameras and {rec.num_points3D()} points ({len(ids)} drawn) of the {esc(source)} "
            f"stage's model, in {esc(frame)}. Hover a camera for its photo.</p>")
    return Section("cameras", "Cameras and sparse points", note + "".join(charts))
