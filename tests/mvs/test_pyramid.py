"""PatchMatch over scales: coarse planes fill noisy weak texture that the full size alone cannot match."""

from __future__ import annotations

import numpy as np
import pytest

from photogrammetry.engine.stage import output_affecting_settings
from photogrammetry.errors import ConfigError
from photogrammetry.mvs.propagation import Planes, PropagationOptions
from photogrammetry.mvs.pyramid import propagate, scaled, upsample_planes
from photogrammetry.stages.depth import DepthConfig
from tests.mvs.conftest import look_at, plane_depth
from tests.mvs.test_propagation import NORMAL, camera_normal, world_points


def grey(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(H, W) uint8 grey levels of world points (H, W, 3): fine texture, and a disc of broad, faint
    blotches under strong noise of its own in each view (a dim wall: nothing to match in a small window)."""
    pattern = np.random.default_rng(3)
    x, y = points[..., 0], points[..., 1]
    fine = 0.5 + sum(0.08 * np.sin(f[0] * x + f[1] * y + p) for f, p in zip(pattern.normal(0, 9, (12, 2)),
                                                                            pattern.uniform(0, 6.3, 12)))
    broad = 0.5 + sum(0.05 * np.sin(f[0] * x + f[1] * y + p) for f, p in zip(pattern.normal(0, 5, (6, 2)),
                                                                             pattern.uniform(0, 6.3, 6)))
    disc = np.hypot(x, y) < 1.2
    values = np.where(disc, broad + rng.normal(0, 0.05, disc.shape), fine)
    return np.round(np.clip(values, 0, 1) * 255).astype(np.uint8)


def scene():
    """A reference 160x120 view above the slanted plane, 3 sources, their grey images; the true depth
    and the weak disc's pixels in the reference."""
    K = np.array([[140.0, 0, 80], [0, 140.0, 60], [0, 0, 1]])
    centres = [(0, -1.0, 4), (0.6, -1.0, 4), (-0.6, -0.9, 4.1), (0, -0.4, 4)]
    cams = [look_at(c, (0, 0, 0), K, (160, 120), f"v{i}") for i, c in enumerate(centres)]
    rng = np.random.default_rng(5)
    greys = [grey(world_points(c), rng) for c in cams]
    hole = np.hypot(*world_points(cams[0])[..., :2].transpose(2, 0, 1)) < 1.1
    return cams, greys, plane_depth(cams[0], NORMAL, 0.0), hole


def test_coarse_scales_fill_a_noisy_weak_disc_that_the_full_size_leaves_wrong():
    cams, greys, truth, hole = scene()
    assert 0.1 < hole.mean() < 0.3
    swept = np.where(hole, 5.0, truth).astype(np.float32)  # the sweep's guess in the disc is wrong
    confidence = np.where(hole, 0.05, 0.9).astype(np.float32)
    results = {}
    for scales in (1, 3):
        depth, conf = propagate(cams[0], cams[1:], greys, swept, confidence, (2.0, 8.0),
                                PropagationOptions(enabled=True, scales=scales))
        error = np.abs(depth / truth - 1)[hole]
        results[scales] = (np.mean(error < 0.01), np.mean(error < 0.05), np.mean((error < 0.05) & (conf[hole] >= 0.3)))
        assert np.all(depth[~hole] == swept[~hole]) and np.all(conf[~hole] == confidence[~hole])  # kept
    assert results[1][1] < 0.75 and results[3][1] > 0.95, results  # within 5 %
    assert results[3][0] > 0.6 and results[3][0] > results[1][0] + 0.3, results  # within 1 %
    assert results[3][2] > 0.95, results  # and confident enough for the filter to check them


def test_upsampled_planes_give_the_plane_along_the_finer_rays():
    cams = scene()[0]
    fine = cams[0]
    coarse = scaled(fine, 4)
    assert (coarse.width, coarse.height) == (40, 30)
    normal = np.broadcast_to(camera_normal(fine), (30, 40, 3)).astype(np.float32)
    planes = Planes(depth=plane_depth(coarse, NORMAL, 0.0), normal=normal, cost=np.full((30, 40), 0.2, np.float32))
    up = upsample_planes(planes, coarse, fine)
    assert up.depth.shape == (120, 160) and np.all(up.cost == np.float32(0.2))
    assert np.allclose(up.depth, plane_depth(fine, NORMAL, 0.0), rtol=1e-5)
    nearest = upsample_planes(Planes(depth=planes.depth, normal=np.zeros_like(normal), cost=planes.cost), coarse, fine)
    assert np.array_equal(nearest.depth[::4, ::4], planes.depth)  # edge-on: the coarse pixel's depth


def test_scales_are_checked_and_enter_the_key_when_set():
    with pytest.raises(ConfigError, match="scales"):
        PropagationOptions(scales=0)
    config = DepthConfig(propagation=PropagationOptions(enabled=True, scales=2))
    assert output_affecting_settings(config)["propagation.scales"] == 2
