"""PatchMatch refinement of a depth map with normals: slanted planes spread into weak texture.

Each pixel holds a plane: its depth and its camera-frame normal, seeded from the sweep's depth and
the normals of its confident part (a random plane where the sweep's confidence is low). Pixels whose
sweep confidence reaches ``keep_confidence`` keep their depth; the others are searched again by a
few red-black (checkerboard) iterations, in the manner of Gipuma and ACMH: every pixel of one colour
tests the planes of its neighbours of the other colour (the best-scoring pixel of each of 8 regions:
4 strips along the axes and 4 diagonal wedges, near and far; the ``candidates`` best of those), then
a perturbed and a random plane, and keeps the plane of lowest cost
(:class:`~photogrammetry.mvs.plane_cost.PlaneCost`: ``1 - NCC`` of grey levels warped by the plane).
Weakly textured pixels, whose cost says nothing, are not scored: they take the plane of their
best-scoring region where at least ``fill_support`` regions' planes agree on their depth (a wall
or a table top bounded by the same plane on several sides). Everything runs on the maps' torch
device, in float32; the random numbers are drawn on the CPU (the same maps on every device).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from photogrammetry.errors import ConfigError
from photogrammetry.mvs.planar_prior import PlanarPriorOptions, PriorCost, planar_prior
from photogrammetry.mvs.plane_cost import WORST, PlaneCost


@dataclass(frozen=True, kw_only=True)
class PropagationOptions:
    """PatchMatch refinement of the sweep's depth maps (planes with normals)."""

    enabled: bool = False
    """Refine each view's swept depth by PatchMatch propagation of planes."""
    iterations: int = 3
    """Red-black iterations (each updates every pixel once)."""
    candidates: int = 4
    """Neighbour planes a pixel scores per step: those of the 8 regions' best pixels whose own cost is lowest."""
    fill_iterations: int = 8
    """Red-black iterations of the weakly textured pixels, which take their neighbours' planes unscored
    (cheap: no matching)."""
    flat_std: float = 0.01
    """Weakly textured: the standard deviation of the grey levels (0-1) in the window is below this."""
    fill_support: int = 2
    """Neighbour regions whose planes must agree on a weakly textured pixel's depth before it is filled."""
    fill_agreement: float = 0.01
    """Relative depth difference within which the regions' planes agree."""
    fill_penalty: float = 0.02
    """Cost added at each step a plane spreads into weak texture (nearer planes win)."""
    window_radius: int = 2
    """Window samples to each side of the centre: ``(2 r + 1)^2`` samples."""
    window_step: int = 2
    """Pixels between window samples (a sparse, wider window at the same cost)."""
    best_sources: int = 2
    """Sources whose costs are averaged per plane (the lowest ones)."""
    seed_confidence: float = 0.3
    """Pixels whose sweep confidence is below this start from a random plane."""
    keep_confidence: float = 0.3
    """Pixels whose sweep confidence reaches this keep their swept depth (their planes still spread); the
    filter's ``min_confidence`` by default, so that only depths it would drop are searched again."""
    depth_perturbation: float = 0.05
    """Largest relative depth change of a perturbed plane at the first iteration (halved at each)."""
    normal_perturbation: float = 0.3
    """Largest change of each normal component of a perturbed plane at the first iteration (halved at each)."""
    sigma_colour: float = 0.12
    """Grey-level difference (0-1) at which a window sample's bilateral weight falls to ``e^-1``."""
    sigma_distance: float = 4.0
    """Distance in pixels at which a window sample's bilateral weight falls to ``e^-1``."""
    filled_confidence: float = 0.69
    """Confidence of a refined pixel: ``(1 - cost)`` times this (below the filter's ``high_confidence``,
    such a pixel needs ``min_consistent_views`` agreeing sources)."""
    seed: int = 0
    """Seed of the random planes (the same maps every run)."""
    scales: int = 1
    """PatchMatch levels, coarse to fine (ACMM-style, :mod:`photogrammetry.mvs.pyramid`): with ``k > 1``
    the map is first refined at ``1/2^(k-1)`` of its size, where a window covers more texture and
    averages noise away, and each level's planes start the next level's low-confidence pixels (instead
    of random planes) and give its weakly textured ones their cost; 1: the map's size only."""
    prior: PlanarPriorOptions = field(default_factory=PlanarPriorOptions)
    """A planar prior for weak texture after the iterations (ACMP-style; off by default)."""
    chunk_pixels: int = field(default=32768, metadata={"cache": False})
    """Pixels scored at a time (memory; does not change results)."""

    def __post_init__(self) -> None:
        if self.iterations < 0 or self.window_radius < 1 or self.window_step < 1 or self.best_sources < 1:
            raise ConfigError("propagation needs iterations >= 0, window_radius >= 1, window_step >= 1 and "
                              f"best_sources >= 1, got {self.iterations}, {self.window_radius}, "
                              f"{self.window_step}, {self.best_sources}")
        if self.scales < 1:
            raise ConfigError(f"propagation.scales must be >= 1, got {self.scales}")


@dataclass(frozen=True)
class Planes:
    """The refined map of one view."""

    depth: np.ndarray
    """(H, W) float32 depth along the camera z axis."""
    normal: np.ndarray
    """(H, W, 3) float32 camera-frame unit normals, facing the camera."""
    cost: np.ndarray
    """(H, W) float32 ``1 - NCC`` of the best sources, in [0, 2]."""


def _regions() -> list[list[tuple[int, int]]]:
    """Offsets (dv, du) of the 8 neighbour regions; each offset has an odd sum (the other colour)."""
    strips = [[(s * k, 0) for k in (1, 3, 5, 7, 9, 11)] for s in (-1, 1)]
    strips += [[(0, s * k) for k in (1, 3, 5, 7, 9, 11)] for s in (-1, 1)]
    wedge = [(1, 2), (2, 1), (2, 3), (3, 2), (1, 4), (4, 1)]
    wedges = [[(sv * a, su * b) for a, b in wedge] for sv in (-1, 1) for su in (-1, 1)]
    return strips + wedges


class _State:
    """Every pixel's plane (flat tensors) and the randomness of the search."""

    def __init__(self, depth: Any, normal: Any, cost: Any, bounds: tuple[float, float], seed: int) -> None:
        import torch

        self.depth, self.normal, self.cost = depth, normal, cost  # (N,), (3, N), (N,)
        self.near, self.far = bounds
        self.generator = torch.Generator().manual_seed(seed)

    def uniform(self, *shape: int) -> Any:
        """Uniform numbers in [0, 1) on the maps' device (drawn on the CPU: the same on every device)."""
        import torch

        return torch.rand(*shape, generator=self.generator).to(self.depth.device)

    def random_depth(self, count: int) -> Any:
        """Depths uniform in inverse depth over the depth range."""
        t = self.uniform(count)
        return 1.0 / (1.0 / self.near + t * (1.0 / self.far - 1.0 / self.near))

    def random_normal(self, ray: Any) -> Any:
        """(3, M) random unit normals facing the rays (3, M), at most 80 degrees from them."""
        import torch

        n = torch.nn.functional.normalize(self.uniform(3, ray.shape[1]) * 2.0 - 1.0, dim=0)
        return _facing(n, ray)


def _facing(normal: Any, ray: Any) -> Any:
    """Unit normals (3, M) turned to face the camera and pulled to within about 80 degrees of the
    reversed rays (3, M): planes seen edge-on match anything."""
    import torch

    normal = torch.nn.functional.normalize(normal, dim=0)
    back = -torch.nn.functional.normalize(ray, dim=0)
    normal = torch.where((normal * back).sum(dim=0) < 0, -normal, normal)
    cos = (normal * back).sum(dim=0)
    return torch.nn.functional.normalize(torch.where(cos < 0.17, normal + 0.3 * back, normal), dim=0)


def _region_picks(state: _State, width: int, height: int, index: Any) -> tuple[Any, Any]:
    """Per pixel of ``index`` (M,), the lowest-cost neighbour of each of the 8 regions: flat indices
    (M, 8) and their costs (M, 8) (inf where a region lies outside the image)."""
    import torch

    picks, costs = [], []
    for offsets in _regions():
        off = torch.as_tensor(offsets, device=index.device)
        v = torch.div(index, width, rounding_mode="floor")[:, None] + off[:, 0]
        u = (index % width)[:, None] + off[:, 1]
        inside = (v >= 0) & (v < height) & (u >= 0) & (u < width)
        neighbour = v.clamp(0, height - 1) * width + u.clamp(0, width - 1)
        cost = torch.where(inside, state.cost[neighbour], float("inf"))
        best = cost.min(dim=1, keepdim=True)
        picks.append(neighbour.gather(1, best.indices)[:, 0])
        costs.append(best.values[:, 0])
    return torch.stack(picks, dim=1), torch.stack(costs, dim=1)


def _neighbour_plane(state: _State, cost_fn: PlaneCost, index: Any, pick: Any, usable: Any) -> tuple[Any, Any]:
    """The planes of pixels ``pick`` (M,) as depth (M,) at pixels ``index`` and normal (3, M); depth -1
    where not ``usable`` or seen edge-on."""
    import torch

    normal = state.normal[:, pick]
    plane = state.depth[pick] * (normal * cost_fn.rays(pick)).sum(dim=0)
    along = (normal * cost_fn.rays(index)).sum(dim=0)
    depth = torch.where((along < -1e-9) & usable, plane / along.where(along < -1e-9, -1.0), -1.0)
    return depth, normal


def _try(state: _State, cost_fn: PlaneCost, index: Any, depth: Any, normal: Any) -> None:
    """Score candidate planes at ``index`` and keep those better than the current ones."""
    import torch

    usable = (depth >= state.near) & (depth <= state.far)
    cost = torch.where(usable, cost_fn(index, depth.where(usable, state.near), normal), float("inf"))
    _accept(state, index, depth, normal, cost)


def _accept(state: _State, index: Any, depth: Any, normal: Any, cost: Any) -> None:
    """Planes (depth (M,), normal (3, M)) of cost (M,) replace the current ones at ``index`` where cheaper."""
    better = (cost < state.cost[index]) & (depth >= state.near) & (depth <= state.far)
    chosen = index[better]
    state.depth[chosen], state.normal[:, chosen], state.cost[chosen] = depth[better], normal[:, better], cost[better]


def _half_step(state: _State, cost_fn: PlaneCost, index: Any, scale: float, options: PropagationOptions) -> None:
    """Pixels ``index`` (one colour, textured) try their neighbours' planes, then perturbed and random ones."""
    picks, costs = _region_picks(state, cost_fn.width, cost_fn.height, index)
    order = costs.argsort(dim=1)[:, :options.candidates]  # the regions' best planes, the best first
    for k in range(order.shape[1]):
        rank = order[:, k: k + 1]
        pick, usable = picks.gather(1, rank)[:, 0], costs.gather(1, rank)[:, 0].isfinite()
        _try(state, cost_fn, index, *_neighbour_plane(state, cost_fn, index, pick, usable))
    ray, count = cost_fn.rays(index), index.shape[0]
    depth, normal = state.depth[index], state.normal[:, index]
    shift = (state.uniform(count) * 2.0 - 1.0) * options.depth_perturbation * scale
    tilted = _facing(normal + (state.uniform(3, count) * 2.0 - 1.0) * options.normal_perturbation * scale, ray)
    _try(state, cost_fn, index, depth * (1.0 + shift), tilted)
    _try(state, cost_fn, index, state.random_depth(count), state.random_normal(ray))


def _fill_step(state: _State, cost_fn: PlaneCost, index: Any, options: PropagationOptions) -> None:
    """Pixels ``index`` (one colour, weakly textured: their own cost says nothing) take the plane of
    their best-scoring neighbour region where at least ``fill_support`` regions' planes give the same
    depth there (within ``fill_agreement``), with its cost plus ``fill_penalty``: planes spread from
    where they were matched into surfaces bounded by the same plane on several sides."""
    import torch

    picks, costs = _region_picks(state, cost_fn.width, cost_fn.height, index)
    depths = torch.stack([_neighbour_plane(state, cost_fn, index, picks[:, r], costs[:, r].isfinite())[0]
                          for r in range(picks.shape[1])], dim=1)  # (M, 8)
    costs = torch.where(depths > 0, costs, float("inf"))
    best = costs.min(dim=1, keepdim=True)
    depth = depths.gather(1, best.indices)
    support = ((depths / depth - 1).abs() <= options.fill_agreement) & costs.isfinite()
    pick = picks.gather(1, best.indices)[:, 0]
    normal = state.normal[:, pick]
    ok = (support.sum(dim=1) >= options.fill_support) & best.values[:, 0].isfinite()
    _accept(state, index, depth[:, 0], normal, torch.where(ok, best.values[:, 0] + options.fill_penalty, WORST))


def refine_planes(cost_fn: PlaneCost, depth: Any, normal: Any, confidence: Any, bounds: tuple[float, float],
                  options: PropagationOptions, init: Planes | None = None) -> Planes:
    """PatchMatch from a swept map.

    Args:
        cost_fn: The scoring of planes of the reference view.
        depth: (H, W) swept depth tensor.
        normal: (H, W, 3) camera-frame normals of that depth (0 where undefined).
        confidence: (H, W) sweep confidence; below ``options.seed_confidence`` the plane starts random.
        bounds: ``(near, far)`` depth range.
        options: Search settings.
        init: Planes of a coarser level at this size (:mod:`photogrammetry.mvs.pyramid`): they replace
            the random planes, and such a pixel's plane costs at most its coarse cost plus
            ``fill_penalty`` (a plane must score better here to replace it); the other searched pixels
            try them as a candidate.
    """
    import torch

    height, width = depth.shape
    index = torch.arange(height * width, device=depth.device)
    coarse = None if init is None else _CoarsePlanes(init, cost_fn, index, bounds)
    state, seeded = _seed(cost_fn, depth, normal, confidence, bounds, options, coarse)
    flat = cost_fn.ref_std < options.flat_std
    v, u = torch.div(index, width, rounding_mode="floor"), index % width
    free = confidence.reshape(-1) < options.keep_confidence
    state.cost = torch.where(free & flat, WORST, state.cost)  # a weak pixel's own cost says nothing
    if coarse is not None:
        coarse.start(state, cost_fn, index, free, seeded, options)
    colours = [((u + v) % 2 == c) & free for c in (0, 1)]
    for iteration in range(max(options.iterations, options.fill_iterations)):
        for colour in colours:
            if iteration < options.iterations:
                _half_step(state, cost_fn, index[colour & ~flat], 0.5**iteration, options)
            if iteration < options.fill_iterations:
                _fill_step(state, cost_fn, index[colour & flat], options)
    if options.prior.enabled:
        _prior_pass(state, cost_fn, confidence.reshape(-1), free, flat, options)
    return Planes(depth=state.depth.reshape(height, width).cpu().numpy(),
                  normal=state.normal.T.reshape(height, width, 3).cpu().numpy(),
                  cost=state.cost.reshape(height, width).cpu().numpy())


def _prior_pass(state: _State, cost_fn: PlaneCost, confidence: Any, free: Any, flat: Any,
                options: PropagationOptions) -> None:
    """The planar prior (:mod:`photogrammetry.mvs.planar_prior`) from the reliable planes: free weakly
    textured pixels take the prior plane (cost: its vertices' worst plus ``fill_penalty``); the free
    textured ones try it, then search again with the prior's term added to their cost."""
    import torch

    reliable = ~flat & ~free & (confidence >= options.prior.vertex_confidence) & \
        (state.cost < options.prior.max_cost)
    prior = planar_prior(state.depth, state.cost, reliable, cost_fn.K_inv.cpu().numpy().astype(np.float64),
                         (cost_fn.height, cost_fn.width), options.prior)
    if prior is None:
        return
    index = torch.arange(state.depth.numel(), device=state.depth.device)
    has = (prior.depth >= state.near) & (prior.depth <= state.far)
    weak = index[free & flat & has]
    state.depth[weak], state.normal[:, weak] = prior.depth[weak], prior.normal[:, weak]
    state.cost[weak] = prior.cost[weak] + options.fill_penalty
    cost = PriorCost(cost_fn, prior, options.prior)
    search = index[free & ~flat & has]
    state.cost[search] = cost(search, state.depth[search], state.normal[:, search])
    _try(state, cost, search, prior.depth[search], prior.normal[:, search])
    v, u = torch.div(index, cost_fn.width, rounding_mode="floor"), index % cost_fn.width
    for iteration in range(options.prior.iterations):
        for c in (0, 1):
            _half_step(state, cost, index[((u + v) % 2 == c) & free & ~flat], 0.5 ** (options.iterations + iteration),
                       options)


class _CoarsePlanes:
    """The planes of a coarser level at this level's pixels, as flat tensors."""

    def __init__(self, init: Planes, cost_fn: PlaneCost, index: Any, bounds: tuple[float, float]) -> None:
        import torch

        device = index.device
        self.depth = torch.from_numpy(init.depth).to(device).reshape(-1).clamp(*bounds)
        self.normal = _facing(torch.from_numpy(init.normal).to(device).reshape(-1, 3).T, cost_fn.rays(index))
        self.cost = torch.from_numpy(init.cost).to(device).reshape(-1)

    def start(self, state: _State, cost_fn: PlaneCost, index: Any, free: Any, seeded: Any,
              options: PropagationOptions) -> None:
        """Where the coarse planes seeded the free pixels, their cost plus ``fill_penalty`` stands until a
        plane scores better here (a noisy window scores anything alike); the other free pixels try them."""
        import torch

        floor = (self.cost + options.fill_penalty).clamp(max=WORST)
        state.cost = torch.where(free & seeded, torch.minimum(state.cost, floor), state.cost)
        other = index[free & ~seeded]
        _try(state, cost_fn, other, self.depth[other], self.normal[:, other])


def _seed(cost_fn: PlaneCost, depth: Any, normal: Any, confidence: Any, bounds: tuple[float, float],
          options: PropagationOptions, coarse: _CoarsePlanes | None = None) -> tuple[_State, Any]:
    """The first planes: the sweep's depth and normals, where its confidence is low those of ``coarse``
    or random ones; scored. Also which pixels were seeded so (N,) bool."""
    import torch

    index = torch.arange(depth.numel(), device=depth.device)
    ray = cost_fn.rays(index)
    state = _State(depth.reshape(-1).clamp(*bounds), normal.reshape(-1, 3).T.contiguous(), None, bounds,
                   options.seed)
    weak = (confidence.reshape(-1) < options.seed_confidence) | (state.normal.abs().sum(dim=0) == 0)
    if coarse is None:
        other_depth, other_normal = state.random_depth(index.shape[0]), state.random_normal(ray)
    else:
        other_depth, other_normal = coarse.depth, coarse.normal
    state.depth = torch.where(weak, other_depth, state.depth)
    state.normal = torch.where(weak, other_normal, _facing(state.normal, ray))
    state.cost = cost_fn(index, state.depth, state.normal)
    return state, weak
