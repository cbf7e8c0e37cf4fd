"""The evaluation report: all metrics of one run, as JSON-ready dict and as a text table."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from photogrammetry.evaluation.depth_metrics import DepthMetrics
from photogrammetry.evaluation.geometry_metrics import GeometryMetrics
from photogrammetry.evaluation.pose_metrics import PoseMetrics
from photogrammetry.evaluation.texture_metrics import TextureMetrics


def _num(value: float | None) -> float | None:
    """A JSON-safe number: ``None`` for missing, NaN and infinite values."""
    return None if value is None or not math.isfinite(value) else float(value)


def _deg_key(threshold: float) -> str:
    """JSON key of an angle threshold, e.g. ``"5deg"``."""
    return f"{threshold:g}deg"


def _pct_key(threshold: float) -> str:
    """JSON key of a relative threshold, e.g. ``"0.5%"`` for 0.005."""
    return f"{threshold * 100:g}%"


def _keyed(values: Mapping[float, float], key: Callable[[float], str]) -> dict[str, float | None]:
    """Values by threshold with JSON keys made by ``key``."""
    return {key(t): _num(v) for t, v in values.items()}


def _poses_dict(m: PoseMetrics) -> dict:
    """JSON-ready pose section."""
    sim = m.alignment
    return {
        "num_gt_images": m.num_gt_images,
        "num_registered": m.num_registered,
        "registered_fraction": _num(m.registered_fraction),
        "num_pairs": m.num_pairs,
        "auc": _keyed(m.auc, _deg_key),
        "rotation_error_median_deg": _num(m.rotation_error_median_deg),
        "center_error_median": _num(m.center_error_median),
        "num_inliers": m.num_inliers,
        "alignment": None if sim is None else {"scale": sim.scale, "R": sim.R.tolist(), "t": sim.t.tolist()},
        "per_image": {
            n: {"rotation_deg": _num(e.rotation_deg), "center_error": _num(e.center_error)}
            for n, e in sorted(m.per_image.items())
        },
    }


def _depth_dict(m: DepthMetrics) -> dict:
    """JSON-ready depth section."""
    return {
        "within": _keyed(m.within, _pct_key),
        "completeness": _num(m.completeness),
        "num_views": m.num_views,
        "per_view": {
            n: {
                "within": _keyed(v.within, _pct_key),
                "completeness": _num(v.completeness),
                "median_error": _num(v.median_error),
                "num_compared": v.num_compared,
                "num_gt_valid": v.num_gt_valid,
            }
            for n, v in sorted(m.per_view.items())
        },
    }


def _geometry_dict(m: GeometryMetrics) -> dict:
    """JSON-ready point cloud or mesh section."""
    return {
        "target": m.target,
        "extent": m.extent,
        "precision": _keyed(m.precision, _pct_key),
        "recall": _keyed(m.recall, _pct_key),
        "fscore": _keyed(m.fscore, _pct_key),
        "accuracy_mean": _num(m.accuracy_mean),
        "accuracy_median": _num(m.accuracy_median),
        "completeness_mean": _num(m.completeness_mean),
        "completeness_median": _num(m.completeness_median),
        "num_points": m.num_points,
        "num_gt_samples": m.num_gt_samples,
        "observed_fraction": _num(m.observed_fraction),
    }


def _texture_dict(m: TextureMetrics) -> dict:
    """JSON-ready texture section."""
    return {
        "psnr": _num(m.psnr),
        "ssim": _num(m.ssim),
        "coverage": _num(m.coverage),
        "num_views": m.num_views,
        "per_view": {
            n: {"psnr": _num(v.psnr), "ssim": _num(v.ssim), "coverage": _num(v.coverage), "num_pixels": v.num_pixels}
            for n, v in sorted(m.per_view.items())
        },
    }


def _fmt(value: float | None, spec: str = ".3f", scale: float = 1.0, unit: str = "") -> str:
    """``value * scale`` formatted with ``spec`` and ``unit``; ``n/a`` when missing."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value * scale:{spec}}{unit}" if math.isfinite(value) else f"{value}{unit}"


def _series(values: Mapping[float, float], spec: str = ".3f", scale: float = 1.0) -> str:
    """Values by threshold as ``a / b / c``."""
    return " / ".join(_fmt(v, spec, scale) for v in values.values())


def _thresholds(values: Mapping[float, float], scale: float = 1.0) -> str:
    """Thresholds as ``1/2/5``, multiplied by ``scale``."""
    return "/".join(f"{t * scale:g}" for t in values)


Row = tuple[str, str, str]


def _pose_rows(p: PoseMetrics) -> list[Row]:
    """Table rows of the pose section."""
    registered = f"{p.num_registered}/{p.num_gt_images} ({_fmt(p.registered_fraction, '.1f', 100)} %)"
    return [
        ("poses", "registered", registered),
        ("poses", f"AUC @ {_thresholds(p.auc)} deg", _series(p.auc)),
        ("poses", "rotation error, median", _fmt(p.rotation_error_median_deg, ".3f", unit=" deg")),
        ("poses", "centre error, median", _fmt(p.center_error_median, ".3f", 100, " % of extent")),
    ]


def _depth_rows(d: DepthMetrics) -> list[Row]:
    """Table rows of the depth section."""
    return [
        ("depth", f"within {_thresholds(d.within, 100)} % of extent", _series(d.within)),
        ("depth", f"completeness ({d.num_views} views)", _fmt(d.completeness)),
    ]


def _geometry_rows(section: str, g: GeometryMetrics) -> list[Row]:
    """Table rows of a point cloud or mesh section."""
    medians = f"{_fmt(g.accuracy_median, '.3f', 100)} / {_fmt(g.completeness_median, '.3f', 100)} %"
    of = f"% of {g.target} extent {g.extent:.4g}"
    return [
        (section, f"precision @ {_thresholds(g.precision, 100)} {of}", _series(g.precision)),
        (section, f"recall @ {_thresholds(g.recall, 100)} {of}", _series(g.recall)),
        (section, f"F-score @ {_thresholds(g.fscore, 100)} {of}", _series(g.fscore)),
        (section, "accuracy / completeness, median", medians),
        (section, "GT surface observed (recall counts it)", _fmt(g.observed_fraction)),
    ]


def _texture_rows(t: TextureMetrics) -> list[Row]:
    """Table rows of the texture section."""
    return [
        ("texture", f"PSNR / SSIM ({t.num_views} views)", f"{_fmt(t.psnr, '.2f', unit=' dB')} / {_fmt(t.ssim)}"),
        ("texture", "coverage", _fmt(t.coverage)),
    ]


@dataclass(frozen=True, kw_only=True, eq=False)
class EvalReport:
    """All metrics of one evaluation; a section is ``None`` when its input was absent."""

    gt_kind: str
    """Kind of the ground truth (format or scene kind)."""
    extent: float
    """Scene extent in GT units; relative errors and thresholds refer to it."""
    holdout: tuple[str, ...] = ()
    """Views held out of the reconstruction (texture is evaluated there)."""
    poses: PoseMetrics | None = None
    """Camera pose metrics."""
    depth: DepthMetrics | None = None
    """Depth-map metrics."""
    points: GeometryMetrics | None = None
    """Dense point cloud against the GT mesh."""
    mesh: GeometryMetrics | None = None
    """Reconstructed mesh against the GT mesh."""
    texture: TextureMetrics | None = None
    """Textured mesh rendered into GT views."""

    def to_dict(self) -> dict:
        """JSON-ready dict with stable keys; missing sections and non-finite numbers are ``None``."""
        return {
            "gt_kind": self.gt_kind,
            "extent": self.extent,
            "holdout": list(self.holdout),
            "poses": None if self.poses is None else _poses_dict(self.poses),
            "depth": None if self.depth is None else _depth_dict(self.depth),
            "points": None if self.points is None else _geometry_dict(self.points),
            "mesh": None if self.mesh is None else _geometry_dict(self.mesh),
            "texture": None if self.texture is None else _texture_dict(self.texture),
        }

    def _rows(self) -> list[Row]:
        """(section, metric, value) rows of the table."""
        rows = _pose_rows(self.poses) if self.poses is not None else []
        rows += _depth_rows(self.depth) if self.depth is not None else []
        rows += _geometry_rows("points", self.points) if self.points is not None else []
        rows += _geometry_rows("mesh", self.mesh) if self.mesh is not None else []
        rows += _texture_rows(self.texture) if self.texture is not None else []
        return rows

    def format_table(self) -> str:
        """A human-readable table of the headline metrics."""
        rows = [("section", "metric", "value")] + self._rows()
        widths = [max(len(r[i]) for r in rows) for i in range(2)]
        lines = [f"Ground truth: {self.gt_kind}, extent {self.extent:.4g}, {len(self.holdout)} held-out views"]
        lines += [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}" for a, b, c in rows]
        if len(rows) == 1:
            lines.append("(no estimate inputs to evaluate)")
        return "\n".join(lines)
