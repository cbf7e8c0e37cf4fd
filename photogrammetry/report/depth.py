"""Section "Depth maps": each view's photo, depth map and confidence map as coloured thumbnails."""

from __future__ import annotations

import numpy as np

from photogrammetry.io.depth import load_array, load_depth
from photogrammetry.report.inputs import ReportInputs, ReportOptions
from photogrammetry.report.page import Section, esc, figure, jpeg_uri, not_computed, png_uri
from photogrammetry.report.thumbs import confidence_image, depth_image, photo


def depth_section(inputs: ReportInputs, options: ReportOptions) -> Section:
    """Up to ``options.max_depth_views`` views, evenly spaced: photo, depth (turbo), confidence (viridis)."""
    folder = inputs.folder("depth")
    if folder is None:
        return Section("depth", "Depth maps", not_computed("the depth maps", inputs.why_missing("depth")))
    result = load_depth(folder)
    views = result.summary.views
    if not views:
        return Section("depth", "Depth maps", "<p>The depth stage made no maps.</p>")
    shown = sorted({int(i) for i in np.linspace(0, len(views) - 1, min(len(views), options.max_depth_views))})
    units = result.summary.units or "model units"
    rows = [f"<p>{len(views)} views ({esc(result.summary.method)}), {len(shown)} shown. Depth: blue near, red far, "
            f"black where filtering removed it. Confidence: dark 0, yellow 1.</p>"]
    size = options.thumbnail_size
    for index in shown:
        view = views[index]
        depth = load_array(result.depth_path(view.name))
        coloured, (near, far) = depth_image(depth, size)
        figures = []
        picture = photo(result.image_path(view), size)
        if picture is not None:
            figures.append(figure(jpeg_uri(picture), view.name))
        figures.append(figure(png_uri(coloured), f"depth {near:.3g} to {far:.3g} {units}, "
                                                 f"{100 * view.kept:.0f} % kept"))
        confidence_path = result.confidence_path(view.name)
        if confidence_path.is_file():
            confidence = load_array(confidence_path).astype(np.float32)
            figures.append(figure(png_uri(confidence_image(confidence, size)),
                                  f"confidence, mean {float(confidence.mean()):.2f}"))
        rows.append(f"<div>{''.join(figures)}</div>")
    return Section("depth", "Depth maps", "".join(rows))
