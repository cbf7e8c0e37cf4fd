"""The planar prior: exact planes from a triangulation, and weak texture filled where the search fails."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from photogrammetry.engine.stage import output_affecting_settings
from photogrammetry.errors import ConfigError
from photogrammetry.mvs.geometry import normals_from_depth
from photogrammetry.mvs.planar_prior import PlanarPriorOptions, planar_prior
from photogrammetry.mvs.plane_cost import PlaneCost
from photogrammetry.mvs.propagation import PropagationOptions, refine_planes
from photogrammetry.stages.depth import DepthConfig
from tests.mvs.test_propagation import camera_normal, texture, views, world_points


def noisy_greys(cams) -> list[torch.Tensor]:
    """Grey images of the plane with a weakly textured disc that each camera sees with its own noise
    (grey-level standard deviation 0.03: enough texture to be scored, nothing to match)."""
    rng = np.random.default_rng(5)
    greys = []
    for cam in cams:
        points = world_points(cam)
        disc = np.hypot(points[..., 0], points[..., 1]) < 1.2
        grey = texture(points, weak=True) + disc * rng.normal(0, 0.03, disc.shape)
        greys.append(torch.from_numpy(np.clip(grey, 0, 1).astype(np.float32)))
    return greys


def refine_hole(prior: bool):
    """The disc's depth (wrong from the sweep, low confidence) refined with or without the prior;
    chunks of 257 pixels, as a GPU's batches."""
    cams, _, truth = views(weak=True)
    greys = noisy_greys(cams)
    hole = np.hypot(*world_points(cams[0])[..., :2].transpose(2, 0, 1)) < 1.1
    swept = np.where(hole, 5.0, truth).astype(np.float32)
    confidence = np.where(hole, 0.05, 0.9).astype(np.float32)
    options = PropagationOptions(iterations=2, chunk_pixels=257,
                                 prior=PlanarPriorOptions(enabled=prior, max_edge=0.6))  # a 80x60 map
    cost = PlaneCost(cams[0], cams[1:], greys[0], greys[1:], options)
    normal = normals_from_depth(np.where(confidence >= options.keep_confidence, swept, 0.0), cams[0].K)
    planes = refine_planes(cost, torch.from_numpy(swept), torch.from_numpy(normal), torch.from_numpy(confidence),
                           (2.0, 8.0), options)
    return hole, swept, truth, planes


def test_the_prior_fills_a_noisy_weak_disc_within_one_percent_and_the_search_alone_does_not():
    hole, swept, truth, without = refine_hole(prior=False)
    *_, with_prior = refine_hole(prior=True)
    assert 0.05 < hole.mean() < 0.3
    within = [np.mean(np.abs(p.depth / truth - 1)[hole] < 0.01) for p in (without, with_prior)]
    assert within[0] < 0.5 and within[1] > 0.95, within
    assert np.all(with_prior.depth[~hole] == swept[~hole])  # confident depths are kept


def test_a_triangulated_plane_is_its_own_prior_and_edge_on_triangles_give_none():
    cams, _, truth = views()
    K_inv = np.linalg.inv(cams[0].K)
    depth = torch.from_numpy(truth.reshape(-1))
    cost = torch.zeros_like(depth)
    reliable = torch.zeros(truth.size, dtype=torch.bool)
    reliable[torch.arange(0, truth.size, 7)] = True
    prior = planar_prior(depth, cost, reliable, K_inv, truth.shape, PlanarPriorOptions(max_edge=1.0))
    has = prior.depth.numpy() > 0
    assert has.mean() > 0.8
    assert np.allclose(prior.depth.numpy()[has], truth.reshape(-1)[has], rtol=1e-4)
    angle = np.degrees(np.arccos(np.clip(prior.normal.numpy()[:, has].T @ camera_normal(cams[0]), -1, 1)))
    assert angle.max() < 0.1
    step = torch.where(torch.arange(truth.size) % 80 < 40, depth, depth * 3)  # a depth jump at the middle
    jump = planar_prior(step, cost, reliable, K_inv, truth.shape, PlanarPriorOptions(max_edge=1.0))
    columns = np.nonzero(jump.depth.numpy().reshape(truth.shape).any(axis=0))[0]
    assert not np.isin([39, 40], columns).all()  # no prior across the jump


def test_prior_options_are_checked_and_stay_out_of_the_key_until_used():
    with pytest.raises(ConfigError, match="prior"):
        PlanarPriorOptions(cell=0)
    assert not any("prior" in k for k in output_affecting_settings(DepthConfig()))
    config = DepthConfig(propagation=PropagationOptions(enabled=True, prior=PlanarPriorOptions(enabled=True)))
    assert output_affecting_settings(config)["propagation.prior.enabled"] is True
