"""Text tables of benchmark results: accuracy side by side, then time and memory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _get(metrics: dict | None, *path: str) -> Any:
    for key in path:
        if not isinstance(metrics, dict) or metrics.get(key) is None:
            return None
        metrics = metrics[key]
    return metrics


def fmt(value: float | None, spec: str = ".2f") -> str:
    """``value`` formatted by ``spec``, ``-`` when there is none."""
    return "-" if value is None else format(value, spec)


def _accuracy_row(r) -> list[str]:
    m = r.metrics
    poses = _get(m, "poses")
    reg = f"{_get(poses, 'num_registered')}/{_get(poses, 'num_gt_images')}" if poses else (
        str(r.registered) if r.registered is not None else "-")
    auc = " ".join(fmt(_get(poses, "auc", k)) for k in ("1deg", "2deg", "5deg", "10deg"))
    return [r.set, r.method, reg, auc if poses else "-", fmt(_get(poses, "rotation_error_median_deg"), ".3f"),
            fmt(_get(poses, "center_error_median"), ".4f"), fmt(_get(m, "depth", "within", "1%"), ".3f"),
            fmt(_get(m, "points", "fscore", "1%"), ".3f"), fmt(_get(m, "mesh", "fscore", "1%"), ".3f"),
            fmt(_get(m, "texture", "psnr"), ".1f")]


def _time_row(r) -> list[str]:
    steps = ", ".join(f"{k} {v:.1f}" for k, v in r.steps.items())
    return [r.set, r.method, f"{r.seconds:.1f}", f"{r.peak_rss_mb:.0f}", steps or "-", (r.error or "")[:60]]


def print_markdown(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print ``rows`` under ``header`` as a Markdown table, columns padded to their widest cell."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def print_tables(results: Sequence) -> None:
    """Print the accuracy table and the time/memory table (Markdown)."""
    print_markdown(["set", "method", "registered", "AUC@1/2/5/10", "rot med (deg)", "centre med (rel)",
            "depth <=1%", "points F@1%", "mesh F@1%", "PSNR (dB)"], [_accuracy_row(r) for r in results])
    print()
    print_markdown(["set", "method", "wall (s)", "peak RSS (MB)", "seconds per stage", "error"],
           [_time_row(r) for r in results])
