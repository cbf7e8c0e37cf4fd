"""PatchMatch propagation: it finds slanted planes from random seeds and fills weak texture."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from photogrammetry.engine.stage import output_affecting_settings
from photogrammetry.errors import ConfigError
from photogrammetry.mvs.geometry import normals_from_depth
from photogrammetry.mvs.plane_cost import PlaneCost
from photogrammetry.mvs.propagation import PropagationOptions, refine_planes
from photogrammetry.stages.depth import DepthConfig
from tests.mvs.conftest import look_at, plane_depth

NORMAL = np.array([0.0, 0.25, 1.0]) / np.linalg.norm([0.0, 0.25, 1.0])
"""The world plane ``NORMAL . X = 0``: slanted, facing the cameras above it."""


def texture(points: np.ndarray, weak: bool) -> np.ndarray:
    """Grey levels in [0, 1] of world points (..., 3): a random pattern on the plane; with ``weak``,
    a disc in the middle of almost uniform grey (left empty by a sweep, as a white wall)."""
    rng = np.random.default_rng(3)
    x, y = points[..., 0], points[..., 1]
    grey = 0.5 + sum(0.08 * np.sin(f[0] * x + f[1] * y + p) for f, p in zip(rng.normal(0, 9, (12, 2)),
                                                                             rng.uniform(0, 6.3, 12)))
    if weak:
        disc = np.hypot(x, y) < 1.2
        grey = np.where(disc, 0.5 + 0.02 * (grey - 0.5), grey)
    return np.clip(grey, 0, 1).astype(np.float32)


def world_points(view) -> np.ndarray:
    """(H, W, 3) points of the plane seen through the pixels of ``view``."""
    depth = plane_depth(view, NORMAL, 0.0)
    u, v = np.meshgrid(np.arange(view.width) + 0.5, np.arange(view.height) + 0.5)
    cam = np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(view.K).T * depth[..., None]
    return (cam - view.t) @ view.R


def render(view, weak: bool) -> np.ndarray:
    """(H, W) grey image of the textured plane seen by ``view``."""
    return texture(world_points(view), weak)


def views(weak: bool = False):
    """A reference 80x60 view above the plane and 3 sources around it; grey images; the true depth."""
    K = np.array([[70.0, 0, 40], [0, 70.0, 30], [0, 0, 1]])
    centres = [(0, -1.0, 4), (0.6, -1.0, 4), (-0.6, -0.9, 4.1), (0, -0.4, 4)]
    cams = [look_at(c, (0, 0, 0), K, (80, 60), f"v{i}") for i, c in enumerate(centres)]
    greys = [torch.from_numpy(render(c, weak)) for c in cams]
    return cams, greys, plane_depth(cams[0], NORMAL, 0.0)


def camera_normal(view) -> np.ndarray:
    """The plane's normal in the reference camera's frame, facing it."""
    n = view.R @ NORMAL
    return -n if n[2] > 0 else n


def test_the_true_plane_costs_least():
    cams, greys, truth = views()
    cost = PlaneCost(cams[0], cams[1:], greys[0], greys[1:], PropagationOptions())
    index = torch.arange(truth.size)
    normal = torch.as_tensor(np.repeat(camera_normal(cams[0])[:, None], truth.size, 1), dtype=torch.float32)
    depth = torch.from_numpy(truth.reshape(-1))
    right = cost(index, depth, normal).reshape(truth.shape)
    wrong = cost(index, depth * 1.05, normal).reshape(truth.shape)
    inner = (slice(8, -8), slice(8, -8))
    assert np.median(right[inner].numpy()) < 0.05
    assert (right[inner] < wrong[inner]).float().mean() > 0.9


def refine(weak: bool, depth: np.ndarray, confidence: np.ndarray, **options):
    cams, greys, truth = views(weak)
    opts = PropagationOptions(**options)
    cost = PlaneCost(cams[0], cams[1:], greys[0], greys[1:], opts)
    normal = normals_from_depth(np.where(confidence >= opts.keep_confidence, depth, 0.0), cams[0].K)
    planes = refine_planes(cost, torch.from_numpy(depth), torch.from_numpy(normal), torch.from_numpy(confidence),
                           (2.0, 8.0), opts)
    return cams, truth, planes


def test_random_planes_converge_to_the_slanted_plane():
    _, truth, planes = refine(False, np.full((60, 80), 4.0, np.float32), np.zeros((60, 80), np.float32),
                              iterations=4)
    cams = views()[0]
    inner = (slice(6, -6), slice(6, -6))
    error = np.abs(planes.depth / truth - 1)[inner]
    angle = np.degrees(np.arccos(np.clip(planes.normal[inner] @ camera_normal(cams[0]), -1, 1)))
    assert np.mean(error < 0.01) > 0.9
    assert np.median(angle) < 5


def test_planes_fill_a_weakly_textured_hole_within_one_percent():
    cams, _, truth = views(weak=True)
    hole = np.hypot(*world_points(cams[0])[..., :2].transpose(2, 0, 1)) < 1.1  # inside the weak disc
    assert 0.05 < hole.mean() < 0.3
    swept = np.where(hole, 5.0, truth).astype(np.float32)  # the sweep's guess in the hole is wrong
    confidence = np.where(hole, 0.05, 0.9).astype(np.float32)
    _, _, planes = refine(True, swept, confidence, iterations=2)
    error = np.abs(planes.depth / truth - 1)
    assert np.mean(np.abs(swept / truth - 1)[hole] < 0.01) == 0
    assert np.mean(error[hole] < 0.01) > 0.85  # the rest at the rim, where windows straddle both textures
    assert np.all(planes.depth[~hole] == swept[~hole])  # confident depths are kept


def test_chunks_bound_memory_without_changing_the_planes():
    depth, confidence = np.full((60, 80), 4.0, np.float32), np.zeros((60, 80), np.float32)
    whole = refine(False, depth, confidence, iterations=1)[2]
    chunked = refine(False, depth, confidence, iterations=1, chunk_pixels=257)[2]  # a GPU's batches, smaller
    assert np.allclose(whole.depth, chunked.depth, rtol=1e-5) and np.allclose(whole.cost, chunked.cost, atol=1e-5)


def test_options_are_checked_and_stay_out_of_the_key_until_used():
    with pytest.raises(ConfigError, match="propagation"):
        PropagationOptions(window_radius=0)
    assert not any(k.startswith("propagation") for k in output_affecting_settings(DepthConfig()))
    config = DepthConfig(propagation=PropagationOptions(enabled=True, chunk_pixels=10))
    assert output_affecting_settings(config)["propagation.enabled"] is True
    assert "propagation.chunk_pixels" not in output_affecting_settings(config)
