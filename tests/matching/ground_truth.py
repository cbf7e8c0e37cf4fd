"""Ground truth of the sample scenes for match and retrieval tests: cameras, depth, true overlap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from photogrammetry.matching.epipolar import CalibratedView

ROOT = Path(__file__).resolve().parents[2]


def sample_scene(name: str) -> Path:
    """``sample_scenes/<name>``, or skip the test when it has not been rendered."""
    folder = ROOT / "sample_scenes" / name
    if not (folder / "gt" / "scene.json").is_file():
        pytest.skip(f"sample scene {name} is absent; render it with `photogrammetry sample-scene {name}`")
    return folder


def load(scene: Path):
    """The scene's :class:`~photogrammetry.evaluation.GroundTruth`."""
    from photogrammetry.evaluation import load_ground_truth

    return load_ground_truth(scene)


def calibrated_views(gt) -> dict[str, CalibratedView]:
    """Ground-truth cameras by image name (the sample scenes are used at their own size)."""
    return {name: CalibratedView(K=v.camera.K, R=v.pose.R, t=v.pose.t) for name, v in gt.views.items()}


def depth(gt, name: str) -> np.ndarray:
    """``(H, W)`` ground-truth depth of a view; 0 where no rigid surface is."""
    from photogrammetry.evaluation.ground_truth import read_depth_png

    return read_depth_png(gt.views[name].depth_path, gt.depth_scale)


def overlap(gt, a: str, b: str, depth_a: np.ndarray, depth_b: np.ndarray, step: int = 8) -> float:
    """Fraction of view ``a``'s surface pixels (every ``step``-th) that view ``b`` sees too.

    A pixel with depth is back-projected with ``a``'s camera and projected into ``b``; it counts
    when it lands inside ``b`` and ``b``'s depth there agrees within 2 %.
    """
    va, vb = gt.views[a], gt.views[b]
    height, width = depth_a.shape
    rows, cols = np.mgrid[0:height:step, 0:width:step]
    z = depth_a[rows, cols]
    ok = z > 0
    pixels = np.stack([cols[ok] + 0.5, rows[ok] + 0.5, np.ones(ok.sum())])
    world = va.pose.R.T @ (np.linalg.inv(va.camera.K) @ pixels * z[ok] - va.pose.t[:, None])
    in_b = vb.pose.R @ world + vb.pose.t[:, None]
    projected = vb.camera.K @ in_b
    u, v = projected[0] / projected[2], projected[1] / projected[2]
    inside = (in_b[2] > 0) & (u >= 0) & (u < width) & (v >= 0) & (v < height)
    seen = depth_b[np.clip(v.astype(int), 0, height - 1), np.clip(u.astype(int), 0, width - 1)]
    agree = inside & (np.abs(seen - in_b[2]) < 0.02 * in_b[2])
    return float(agree.sum() / max(1, ok.sum()))


def overlap_matrix(gt, names: list[str]) -> np.ndarray:
    """``(N, N)`` symmetric true overlap: the smaller of the two directions' :func:`overlap`."""
    depths = {n: depth(gt, n) for n in names}
    m = np.zeros((len(names), len(names)))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i != j:
                m[i, j] = overlap(gt, a, b, depths[a], depths[b])
    return np.minimum(m, m.T)
