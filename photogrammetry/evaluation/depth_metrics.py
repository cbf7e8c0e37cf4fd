"""Depth-map accuracy and completeness against ground-truth depth.

Estimated depth maps are compared pixel by pixel with GT depth of the same view rendered (or
resampled) at the estimate's resolution, after multiplying them by the Sim3 scale that maps
the estimate's units to GT units.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from photogrammetry.errors import InputError
from photogrammetry.evaluation.ground_truth import GroundTruth
from photogrammetry.evaluation.raycast import MeshRaycaster, gt_depth_map, gt_raycaster

logger = logging.getLogger(__name__)

DEPTH_SUFFIXES = (".npy", ".geometric.bin", ".photometric.bin")
"""Depth files found by :func:`find_depth_maps`, by preference: NumPy, then COLMAP arrays."""


@dataclass(frozen=True, kw_only=True)
class DepthEvalConfig:
    """Settings of the depth-map evaluation."""

    thresholds: tuple[float, ...] = (0.005, 0.01, 0.02)
    """Absolute depth error thresholds, relative to the scene extent."""


@dataclass(frozen=True, kw_only=True)
class DepthViewMetrics:
    """Depth accuracy of one view."""

    within: dict[float, float]
    """Fraction of compared pixels whose error is within each threshold (``nan`` if none)."""
    completeness: float
    """Fraction of GT-valid pixels with a valid estimate."""
    num_compared: int
    """Pixels valid in both the estimate and the GT."""
    num_gt_valid: int
    """Pixels with GT depth."""
    median_error: float
    """Median absolute depth error over compared pixels, relative to the scene extent."""


@dataclass(frozen=True, kw_only=True)
class DepthMetrics:
    """Depth accuracy over all evaluated views (pixel-weighted)."""

    within: dict[float, float]
    """Fraction of all compared pixels within each threshold."""
    completeness: float
    """Fraction of all GT-valid pixels with a valid estimate."""
    num_views: int
    """Views evaluated."""
    per_view: dict[str, DepthViewMetrics] = field(default_factory=dict)
    """Metrics of each view."""


def read_colmap_array(path: Path) -> np.ndarray:
    """Read a COLMAP dense array: ``width&height&channels&`` then float32, x fastest, then y, then channel.

    Returns:
        (H, W) or (H, W, C) float32.
    """
    data = Path(path).read_bytes()
    parts = data.split(b"&", 3)
    try:
        width, height, channels = (int(p) for p in parts[:3])
        array = np.frombuffer(parts[3], dtype="<f4", count=width * height * channels)
    except (ValueError, IndexError) as err:
        raise InputError(f"{path}: not a COLMAP dense array ({err})") from err
    return array.reshape((width, height, channels), order="F").transpose(1, 0, 2).squeeze(axis=2)


def read_depth_map(path: Path) -> np.ndarray:
    """Read an estimated depth map (``.npy`` or COLMAP ``.bin``). Returns (H, W) float32."""
    path = Path(path)
    if path.suffix == ".npy":
        depth = np.load(path, allow_pickle=False)
    elif path.suffix == ".bin":
        depth = read_colmap_array(path)
    else:
        raise InputError(f"{path}: unknown depth-map format (expected .npy or COLMAP .bin)")
    if depth.ndim != 2:
        raise InputError(f"{path}: depth map must be 2-D, got shape {depth.shape}")
    return depth.astype(np.float32, copy=False)


def find_depth_maps(folder: Path, names: Sequence[str]) -> dict[str, Path]:
    """Depth files of a folder for the given image names.

    A view ``a/b.jpg`` matches ``a/b.jpg.npy``, ``a/b.npy``, ``a/b.jpg.geometric.bin`` or
    ``a/b.jpg.photometric.bin``, first match wins.
    """
    found = {}
    for name in names:
        candidates = [folder / f"{name}{suffix}" for suffix in DEPTH_SUFFIXES]
        candidates.insert(1, (folder / name).with_suffix(".npy"))
        match = next((c for c in candidates if c.is_file()), None)
        if match is not None:
            found[name] = match
    return found


def depth_view_metrics(
    estimate: np.ndarray, truth: np.ndarray, *, extent: float, thresholds: Sequence[float]
) -> DepthViewMetrics:
    """Compare one depth map with the GT at the same resolution.

    Args:
        estimate: (H, W) depth in GT units; 0 or non-finite = invalid.
        truth: (H, W) GT depth; 0 or non-finite = unknown.
        extent: scene extent, GT units.
        thresholds: error thresholds relative to ``extent``.
    """
    if estimate.shape != truth.shape:
        raise ValueError(f"depth shapes differ: {estimate.shape} vs {truth.shape}")
    valid_est = np.isfinite(estimate) & (estimate > 0)
    valid_gt = np.isfinite(truth) & (truth > 0)
    both = valid_est & valid_gt
    errors = np.abs(estimate[both] - truth[both]) / extent
    num = int(both.sum())
    return DepthViewMetrics(
        within={t: float(np.mean(errors <= t)) if num else float("nan") for t in thresholds},
        completeness=float(num / valid_gt.sum()) if valid_gt.any() else float("nan"),
        num_compared=num,
        num_gt_valid=int(valid_gt.sum()),
        median_error=float(np.median(errors)) if num else float("nan"),
    )


def _aggregate(per_view: dict[str, DepthViewMetrics], thresholds: Sequence[float]) -> DepthMetrics:
    """Pixel-weighted totals of per-view metrics."""
    compared = sum(m.num_compared for m in per_view.values())
    gt_valid = sum(m.num_gt_valid for m in per_view.values())
    within = {
        t: sum(m.within[t] * m.num_compared for m in per_view.values() if m.num_compared) / compared
        if compared
        else float("nan")
        for t in thresholds
    }
    return DepthMetrics(
        within=within,
        completeness=compared / gt_valid if gt_valid else float("nan"),
        num_views=len(per_view),
        per_view=per_view,
    )


def evaluate_depth(
    depth_maps: Mapping[str, np.ndarray | Path],
    gt: GroundTruth,
    *,
    scale: float = 1.0,
    config: DepthEvalConfig | None = None,
    raycaster: MeshRaycaster | None = None,
) -> DepthMetrics | None:
    """Evaluate estimated depth maps against GT depth.

    Args:
        depth_maps: by image name, (H, W) float depth arrays or files (:func:`read_depth_map`),
            each at any resolution of its view.
        gt: the ground truth (depth PNGs, or a mesh to render depth from).
        scale: factor from the estimate's depth units to GT units (the Sim3 scale).
        config: settings (default: :class:`DepthEvalConfig`).
        raycaster: a prepared raycaster over the GT mesh, reused across calls.

    Returns:
        The metrics, or ``None`` when no view could be compared (no GT depth, no match).
    """
    config = config or DepthEvalConfig()
    needs_mesh = any(gt.views[n].depth_path is None for n in depth_maps if n in gt.views)
    raycaster = raycaster or (gt_raycaster(gt) if needs_mesh else None)
    per_view = {}
    for name in sorted(depth_maps):
        if name not in gt.views:
            logger.warning("depth map of %r has no GT view; skipped", name)
            continue
        source = depth_maps[name]
        depth = read_depth_map(source) if isinstance(source, (str, Path)) else np.asarray(source, np.float32)
        truth = gt_depth_map(gt, name, width=depth.shape[1], height=depth.shape[0], raycaster=raycaster)
        if truth is None:
            logger.warning("no GT depth for %r (no depth PNG, no mesh); skipped", name)
            continue
        per_view[name] = depth_view_metrics(depth * scale, truth, extent=gt.extent, thresholds=config.thresholds)
    return _aggregate(per_view, config.thresholds) if per_view else None
