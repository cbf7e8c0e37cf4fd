"""The geometric-consistency pass: its reprojection term, and weak texture fixed by the sources' depths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from photogrammetry.engine.stage import output_affecting_settings
from photogrammetry.errors import ConfigError
from photogrammetry.mvs.geometric import GeometricCost, GeometricOptions, refine_geometric
from photogrammetry.mvs.propagation import PropagationOptions
from photogrammetry.stages.depth import DepthConfig
from tests.mvs.conftest import plane_depth
from tests.mvs.test_propagation import NORMAL, views, world_points


def source_depths(cams):
    return [plane_depth(c, NORMAL, 0.0).astype(np.float32) for c in cams[1:]]


def test_reprojection_error_is_zero_at_the_true_depth_and_capped_elsewhere():
    cams, greys, truth = views()
    geometric = GeometricOptions(max_error_px=3.0)
    sources = source_depths(cams)
    sources[1][:] = 0.0  # a source without depth costs the cap
    cost = GeometricCost(cams[0], cams[1:], greys[0], greys[1:], [torch.from_numpy(d) for d in sources],
                         PropagationOptions(), geometric)
    index = torch.arange(truth.size)
    right = cost.reprojection_error(index, torch.from_numpy(truth.reshape(-1))).reshape(3, *truth.shape).numpy()
    wrong = cost.reprojection_error(index, torch.from_numpy(truth.reshape(-1) * 1.1)).reshape(3, *truth.shape)
    inner = (slice(8, -8), slice(8, -8))
    assert np.median(right[0][inner]) < 0.05 and np.median(right[2][inner]) < 0.05
    assert np.all(right[1] == 3.0)
    assert np.median(wrong[0][inner].numpy()) > 0.5 and float(wrong.max()) <= 3.0  # 10 % off: about 1 px


def test_weak_texture_takes_the_depth_its_sources_agree_on():
    cams, greys, truth = views(weak=True)
    hole = np.hypot(*world_points(cams[0])[..., :2].transpose(2, 0, 1)) < 1.1  # inside the weak disc
    first = np.where(hole, truth * np.where(np.arange(80) % 2, 1.08, 0.93), truth).astype(np.float32)
    confidence = np.where(hole, 0.1, 0.9).astype(np.float32)
    grey_u8 = [(g.numpy() * 255).round().astype(np.uint8) for g in greys]
    options = PropagationOptions()
    depth, conf = refine_geometric(cams[0], cams[1:], grey_u8, first, confidence, source_depths(cams), (2.0, 8.0),
                                   options, GeometricOptions(iterations=3))
    error = np.abs(depth / truth - 1)
    assert np.mean(np.abs(first / truth - 1)[hole] < 0.01) == 0
    assert np.mean(error[hole] < 0.01) > 0.85
    inner = np.zeros_like(hole)
    inner[8:-8, 8:-8] = True  # what the sources see (in the corners, no plane can be scored)
    assert np.mean(error[~hole & inner] < 0.01) > 0.97  # right depths stay right
    moved = hole & (error < 0.01)
    assert np.all(conf[moved] <= options.filled_confidence) and np.all(conf[~hole & (error < 0.005)] >= 0.9 - 1e-3)


def test_without_the_term_weak_texture_stays_wrong():
    """The same search without the geometric term (weight 0) cannot tell the depths in the disc apart."""
    cams, greys, truth = views(weak=True)
    hole = np.hypot(*world_points(cams[0])[..., :2].transpose(2, 0, 1)) < 1.1
    first = np.where(hole, truth * np.where(np.arange(80) % 2, 1.08, 0.93), truth).astype(np.float32)
    grey_u8 = [(g.numpy() * 255).round().astype(np.uint8) for g in greys]
    depth, _ = refine_geometric(cams[0], cams[1:], grey_u8, first, np.full_like(first, 0.5), source_depths(cams),
                                (2.0, 8.0), PropagationOptions(), GeometricOptions(iterations=3, weight=0.0))
    assert np.mean(np.abs(depth / truth - 1)[hole] < 0.01) < 0.7


def test_options_are_checked_and_stay_out_of_the_key_until_used():
    with pytest.raises(ConfigError, match="geometric"):
        GeometricOptions(iterations=0)
    assert not any(k.startswith("geometric") for k in output_affecting_settings(DepthConfig()))
    config = DepthConfig(geometric=GeometricOptions(enabled=True))
    assert output_affecting_settings(config)["geometric.enabled"] is True

