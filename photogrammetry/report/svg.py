"""Hand-made SVG charts: scatter plots, histograms, bars and a matrix, with no script.

Tooltips are SVG ``<title>`` elements, which browsers show on hover without JavaScript.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from photogrammetry.report.page import esc

_VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float64)


def colour(value: float) -> str:
    """``#rrggbb`` of ``value`` in [0, 1] on a viridis-like scale."""
    x = float(np.clip(value, 0.0, 1.0)) * (len(_VIRIDIS) - 1)
    i = min(int(x), len(_VIRIDIS) - 2)
    rgb = _VIRIDIS[i] + (x - i) * (_VIRIDIS[i + 1] - _VIRIDIS[i])
    return "#" + "".join(f"{int(round(c)):02x}" for c in rgb)


def _svg(width: int, height: int, content: str, label: str) -> str:
    return (f'<svg width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(label)}">{content}</svg>')


def scatter(points: np.ndarray, point_colours: np.ndarray | None, markers: np.ndarray, marker_labels: Sequence[str],
            *, title: str, axes: tuple[str, str], size: int = 320) -> str:
    """A 2D scatter of ``points`` (small dots) and ``markers`` (cameras: red triangles with a tooltip).

    Args:
        points: (N, 2) coordinates (x right, y up).
        point_colours: (N, 3) uint8 RGB, or ``None`` for grey.
        markers: (M, 2) coordinates of the cameras.
        marker_labels: M tooltips.
        title: Caption drawn in the chart.
        axes: Names of the horizontal and vertical axes.
        size: Width and height in pixels.
    """
    both = np.concatenate([points.reshape(-1, 2), markers.reshape(-1, 2)])
    if len(both) == 0:
        return _svg(size, size, f'<text x="8" y="16">{esc(title)}: nothing to show</text>', title)
    low, high = both.min(axis=0), both.max(axis=0)
    span = float(max(high - low)) or 1.0
    margin = 18
    scale = (size - 2 * margin) / span
    centre = (low + high) / 2

    def to_px(xy: np.ndarray) -> np.ndarray:
        return np.stack([size / 2 + (xy[:, 0] - centre[0]) * scale, size / 2 - (xy[:, 1] - centre[1]) * scale], 1)

    parts = []
    for k, (x, y) in enumerate(to_px(points.reshape(-1, 2))):
        fill = "#888" if point_colours is None else "#%02x%02x%02x" % tuple(int(c) for c in point_colours[k])
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.2" fill="{fill}"/>')
    for (x, y), label in zip(to_px(markers.reshape(-1, 2)), marker_labels):
        parts.append(f'<path d="M{x:.1f} {y - 4:.1f}l4 7h-8z" fill="#d22" stroke="#600" stroke-width=".5">'
                     f"<title>{esc(label)}</title></path>")
    parts.append(f'<text x="6" y="14">{esc(title)}</text>'
                 f'<text x="{size - 6}" y="{size - 6}" text-anchor="end">{esc(axes[0])} &#8594;</text>'
                 f'<text x="6" y="{size - 6}">{esc(axes[1])} &#8593;</text>')
    return _svg(size, size, "".join(parts), title)


def histogram(values: np.ndarray, bins: np.ndarray, *, title: str, xlabel: str, width: int = 420,
              height: int = 220) -> str:
    """A histogram of ``values`` over the bin edges ``bins`` (the last bin holds everything above)."""
    values = np.asarray(values, dtype=np.float64)
    counts, _ = np.histogram(np.minimum(values, bins[-1] - 1e-12 * max(1.0, abs(bins[-1]))), bins=bins)
    left, bottom, top = 40, height - 30, 22
    bar = (width - left - 10) / len(counts)
    peak = max(int(counts.max()), 1) if len(counts) else 1
    parts = [f'<text x="{left}" y="14">{esc(title)} ({len(values)} values)</text>',
             f'<line x1="{left}" y1="{bottom}" x2="{width - 10}" y2="{bottom}" stroke="#444"/>',
             f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{peak}</text>']
    for i, count in enumerate(counts):
        h = (bottom - top) * count / peak
        parts.append(f'<rect x="{left + i * bar + 1:.1f}" y="{bottom - h:.1f}" width="{max(bar - 2, 1):.1f}" '
                     f'height="{h:.1f}" fill="#3b6ea5"><title>{bins[i]:.3g} to {bins[i + 1]:.3g}: {count}</title>'
                     "</rect>")
    for i in range(0, len(bins), max(1, len(bins) // 6)):
        parts.append(f'<text x="{left + i * bar:.1f}" y="{bottom + 14}" text-anchor="middle">{bins[i]:.3g}</text>')
    parts.append(f'<text x="{width - 10}" y="{height - 2}" text-anchor="end">{esc(xlabel)}</text>')
    return _svg(width, height, "".join(parts), title)


def bars(labels: Sequence[str], values: Sequence[float], *, title: str, unit: str, width: int = 520) -> str:
    """Horizontal bars, one per label (e.g. seconds per stage)."""
    row, left, top = 18, 90, 22
    height = top + row * len(labels) + 8
    peak = max(max(values, default=0.0), 1e-9)
    parts = [f'<text x="6" y="14">{esc(title)}</text>']
    for i, (label, value) in enumerate(zip(labels, values)):
        y = top + i * row
        w = (width - left - 80) * value / peak
        parts.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{esc(label)}</text>'
                     f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 5}" fill="#3b6ea5"/>'
                     f'<text x="{left + w + 4:.1f}" y="{y + 12}">{value:.3g} {esc(unit)}</text>')
    return _svg(width, height, "".join(parts), title)


def matrix(names: Sequence[str], counts: np.ndarray, *, title: str, cell: int = 0) -> str:
    """A symmetric matrix of counts as coloured cells (log scale; empty where 0), names as tooltips.

    Args:
        names: N row and column names.
        counts: (N, N) counts; negative means "pair not tried" (drawn light grey).
        title: Caption drawn above.
        cell: Cell size in pixels (0: chosen from N).
    """
    n = len(names)
    cell = cell or max(3, min(24, 480 // max(n, 1)))
    offset, top = 40, 24
    size = max(offset + cell * n + 10, 400)
    peak = np.log1p(max(float(counts.max()), 1.0)) if n else 1.0
    parts = [f'<text x="6" y="14">{esc(title)} (darkest: 0 matches, yellow: {int(counts.max()) if n else 0})</text>']
    for i in range(n):
        for j in range(n):
            value = counts[i, j]
            if value < 0:
                fill = "#f3f3f3"
            elif value == 0:
                fill = "#ffffff"
            else:
                fill = colour(np.log1p(value) / peak)
            tip = f"{names[i]} - {names[j]}: " + ("not paired" if value < 0 else f"{int(value)} matches")
            parts.append(f'<rect x="{offset + j * cell}" y="{top + i * cell}" width="{cell}" height="{cell}" '
                         f'fill="{fill}" stroke="#eee" stroke-width=".3"><title>{esc(tip)}</title></rect>')
    step = max(1, n // 12)
    for i in range(0, n, step):
        parts.append(f'<text x="{offset - 3}" y="{top + i * cell + cell / 2 + 4:.1f}" text-anchor="end">{i}</text>')
    return _svg(size, top + cell * n + 10, "".join(parts), title)
