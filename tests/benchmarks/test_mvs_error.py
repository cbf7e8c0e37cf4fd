"""The per-pixel error breakdown's measuring parts (benchmarks/mvs_error.py) on a synthetic pair."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.mvs_error import best_shift, cost_near, features, peak, within
from photogrammetry.mvs.cost import MatchCost
from photogrammetry.mvs.methods import method_spec
from photogrammetry.mvs.scene import MVSView

FOCAL, BASELINE, DEPTH = 100.0, 0.1, 2.0  # disparity f B / z = 5 px


def _pair(tmp_path: Path, extra: int) -> tuple[MVSView, MVSView]:
    """A textured plane at DEPTH seen by a reference and a source BASELINE to its right, the source's
    photo moved ``extra`` more pixels to the left than the cameras say."""
    rng = np.random.default_rng(0)
    wide = cv2.GaussianBlur(rng.uniform(0, 255, (48, 96)).astype(np.float32), (0, 0), 1.2)
    ref, src = wide[:, 10:74], wide[:, 15 + extra:79 + extra]  # src[:, x] = ref[:, x + 5 + extra]
    K = np.array([[FOCAL, 0, 32.0], [0, FOCAL, 24.0], [0, 0, 1]])
    views = []
    for name, image, t in (("ref", ref, np.zeros(3)), ("src", src, np.array([-BASELINE, 0, 0]))):
        path = tmp_path / f"{name}.png"
        cv2.imwrite(str(path), np.repeat(image[..., None], 3, -1).clip(0, 255).astype(np.uint8))
        views.append(MVSView(name=name, image_path=path, mask_path=None, K=K, R=np.eye(3), t=t, width=64, height=48))
    return views[0], views[1]


def _setup(tmp_path: Path, extra: int):
    ref, src = _pair(tmp_path, extra)
    extractor = method_spec("ncc").build(None, "cpu", False)
    return ref, src, features(extractor, [ref, src]), MatchCost(similarity="ncc", window_radius=2)


def test_peak_finds_a_parabola_vertex() -> None:
    offsets = np.linspace(-0.08, 0.08, 33)
    volume = -((offsets[:, None, None] - np.array([[[0.013, -0.05, 0.2]]])) ** 2)  # the last one outside
    found = peak(volume, offsets)
    assert found[0, 0] == pytest.approx(0.013, abs=1e-6) and found[0, 1] == pytest.approx(-0.05, abs=1e-6)
    assert np.isnan(found[0, 2])
    assert within(np.array([0.005, 0.015, 0.03, 0.1])) == [0.25, 0.5, 0.75]


def test_cost_optimum_at_the_true_depth(tmp_path: Path) -> None:
    ref, src, feats, cost = _setup(tmp_path, 0)
    offsets = np.linspace(-0.2, 0.2, 41)
    volume = cost_near(ref, [src], feats, cost, np.full((48, 64), DEPTH, np.float32), offsets)[0]
    inner = peak(volume, offsets)[8:-8, 8:-20]  # away from the edges (the source sees less on its right)
    assert np.median(np.abs(inner)) < 0.005


def test_a_misregistered_source_is_found(tmp_path: Path) -> None:
    """The source photo one pixel off: its own optimum moves by 1/5 of the depth (1 px of 5 px disparity)
    and the shift that best aligns it is that pixel."""
    ref, src, feats, cost = _setup(tmp_path, 1)
    depth = np.full((48, 64), DEPTH, np.float32)
    mask = np.zeros((48, 64), bool)
    mask[8:-8, 8:-20] = True
    shift = best_shift(ref, src, feats, cost, depth, mask)
    assert shift == pytest.approx([-1.0, 0.0], abs=0.13)
    offsets = np.linspace(-0.3, 0.3, 61)
    off = peak(cost_near(ref, [src], feats, cost, depth, offsets)[0], offsets)[mask]
    fixed = peak(cost_near(ref, [src], feats, cost, depth, offsets, np.array([shift]))[0], offsets)[mask]
    assert abs(np.nanmedian(off)) > 0.1 and abs(np.nanmedian(fixed)) < 0.01
