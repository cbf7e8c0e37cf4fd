"""A planar prior for weak texture, in the manner of ACMP (Xu and Tao, "Planar Prior Assisted PatchMatch MVS").

After the PatchMatch iterations, the reliable pixels of a view (kept from the sweep, textured, with a
photometric cost below ``max_cost``; the cheapest of each ``cell`` x ``cell`` block) are triangulated in the image
(Delaunay). Each triangle's three 3D points span a plane; every pixel inside it gets that plane as
its prior (depth interpolated linearly in inverse depth, which is exact for a plane seen in
perspective, and the triangle's normal). Long triangles and those seen nearly edge-on (across a
depth jump) give none. The low-confidence pixels are then searched again with a cost that adds
``weight * (1 - L)`` to the photometric one, ``L = exp(-r^2 / 2 sigma_depth^2 - a^2 / 2 sigma_angle^2)``
the likelihood of a plane of relative depth difference ``r`` and normal angle ``a`` to the prior:
where the photometric cost is flat (weak texture) the prior decides; where it is sharp (texture), it
does. The weight falls as ``texture_std / std`` where the window's grey levels vary more than
``texture_std``. Weakly textured pixels that are not scored at all (``flat_std``) take the prior plane.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from photogrammetry.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class PlanarPriorOptions:
    """The planar prior of the PatchMatch refinement (ACMP-style; off by default)."""

    enabled: bool = False
    """Search the low-confidence pixels again with a cost that favours the plane of a triangulation of
    the reliable pixels; weakly textured pixels take that plane."""
    iterations: int = 2
    """Red-black PatchMatch iterations of the search with the prior."""
    cell: int = 8
    """The cheapest reliable pixel of each block of ``cell`` x ``cell`` pixels is a triangulation vertex."""
    max_cost: float = 0.3
    """Reliable: a textured pixel whose swept depth was kept, with a photometric cost ``1 - NCC`` below
    this and a sweep confidence of at least ``vertex_confidence``. Searched pixels are never vertices:
    in weak texture a search finds planes of low cost in the noise."""
    vertex_confidence: float = 0.7
    """Sweep confidence a vertex needs (a real office view, ncc: 78 % of the vertices within 5 % of
    the sensor at 0.3, 92 % at 0.7; priors of low-confidence pixels right 33 % and 55 %)."""
    max_edge: float = 0.25
    """Triangles with an edge longer than this fraction of the map's longer side give no prior."""
    min_cos: float = 0.17
    """Triangles whose plane makes an angle with the viewing ray of cosine below this (seen nearly
    edge-on: a triangle across a depth jump) give no prior."""
    weight: float = 0.6
    """Cost added for a plane that the prior rules out (the photometric cost lies in [0, 2])."""
    sigma_depth: float = 0.02
    """Relative depth difference to the prior at which the likelihood falls to ``e^-0.5``."""
    sigma_angle: float = 10.0
    """Angle in degrees between a plane's normal and the prior's at which the likelihood falls to ``e^-0.5``."""
    texture_std: float = 0.03
    """Grey-level standard deviation (0-1) of the window up to which the prior has its full weight
    (then ``weight * texture_std / std``)."""

    def __post_init__(self) -> None:
        if self.iterations < 0 or self.cell < 1 or self.max_edge <= 0 or self.weight < 0 \
                or self.sigma_depth <= 0 or self.sigma_angle <= 0 or self.texture_std <= 0:
            raise ConfigError("propagation.prior needs iterations >= 0, cell >= 1 and max_edge, sigma_depth, "
                              f"sigma_angle, texture_std > 0, weight >= 0; got {self}")


@dataclass(frozen=True)
class Prior:
    """Per-pixel prior planes of one view (flat tensors on the maps' device)."""

    depth: Any
    """(N,) prior depth, 0 where there is none."""
    normal: Any
    """(3, N) prior unit normal in the camera frame, facing the camera."""
    cost: Any
    """(N,) the largest photometric cost of the triangle's vertices."""


def _vertices(cost: np.ndarray, reliable: np.ndarray, width: int, cell: int) -> np.ndarray:
    """Flat indices of the cheapest reliable pixel of each ``cell`` x ``cell`` block."""
    index = np.flatnonzero(reliable)
    index = index[np.argsort(cost[index], kind="stable")]
    blocks = (index // width // cell) * (width // cell + 1) + (index % width) // cell
    return np.sort(index[np.unique(blocks, return_index=True)[1]])


def planar_prior(depth: Any, cost: Any, reliable: Any, K_inv: np.ndarray, shape: tuple[int, int],
                 options: PlanarPriorOptions) -> Prior | None:
    """The prior planes of a view from its reliable pixels; ``None`` when fewer than 3 vertices.

    Args:
        depth: (N,) depth tensor of the view's planes (flat, row-major over ``shape``).
        cost: (N,) photometric cost of those planes.
        reliable: (N,) bool tensor of the pixels that may be vertices.
        K_inv: (3, 3) inverse intrinsics at the map's size.
        shape: ``(H, W)`` of the map.
        options: Vertex selection and triangle limits.
    """
    import torch
    from scipy.spatial import Delaunay, QhullError

    height, width = shape
    d, c = depth.cpu().numpy().astype(np.float64), cost.cpu().numpy()
    vertex = _vertices(c, reliable.cpu().numpy(), width, options.cell)
    if vertex.size < 3:
        return None
    uv = np.stack([vertex % width + 0.5, vertex // width + 0.5], axis=1)
    try:
        tri = Delaunay(uv)
    except QhullError:  # all vertices on a line
        return None
    points = (np.c_[uv, np.ones(len(uv))] @ K_inv.T) * d[vertex, None]  # (V, 3) camera frame
    a, b, e = (points[tri.simplices[:, k]] for k in range(3))
    normal = np.cross(b - a, e - a)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    centre = (a + b + e) / 3.0
    cos = np.abs((normal * centre).sum(axis=1)) / np.linalg.norm(centre, axis=1)
    normal = np.where(((normal * centre).sum(axis=1) > 0)[:, None], -normal, normal)  # facing the camera
    corners = uv[tri.simplices]  # (T, 3, 2)
    edge = np.linalg.norm(corners - np.roll(corners, 1, axis=1), axis=2).max(axis=1)
    usable = (edge <= options.max_edge * max(height, width)) & (cos >= options.min_cos)
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    pixels = np.stack([u.ravel(), v.ravel()], axis=1)
    simplex = tri.find_simplex(pixels)
    inside = simplex >= 0
    inside[inside] = usable[simplex[inside]]
    s = simplex[inside]
    T = tri.transform[s]  # barycentric coordinates: T[:, :2] @ (x - T[:, 2])
    bary = np.einsum("nij,nj->ni", T[:, :2], pixels[inside] - T[:, 2])
    bary = np.c_[bary, 1.0 - bary.sum(axis=1)]
    prior_depth = np.zeros(height * width)
    prior_depth[inside] = 1.0 / (bary * (1.0 / d[vertex][tri.simplices[s]])).sum(axis=1)
    prior_normal = np.zeros((3, height * width))
    prior_normal[:, inside] = normal[s].T
    prior_cost = np.zeros(height * width)
    prior_cost[inside] = c[vertex][tri.simplices[s]].max(axis=1)
    f32 = dict(dtype=torch.float32, device=depth.device)
    return Prior(depth=torch.as_tensor(prior_depth, **f32), normal=torch.as_tensor(prior_normal, **f32),
                 cost=torch.as_tensor(prior_cost, **f32))


class PriorCost:
    """A plane cost (:class:`~photogrammetry.mvs.plane_cost.PlaneCost`) plus the prior's term.

    Args:
        base: The photometric cost of the view's planes.
        prior: The view's prior planes.
        options: Weight and likelihood widths.
    """

    def __init__(self, base: Any, prior: Prior, options: PlanarPriorOptions) -> None:
        self.base, self.prior, self.options = base, prior, options
        self.width, self.height, self.ref_std = base.width, base.height, base.ref_std
        self.weight = options.weight * (options.texture_std / base.ref_std.clamp(min=1e-6)).clamp(max=1.0)

    def rays(self, index: Any) -> Any:
        """(3, M) rays through the centres of flat pixel indices (M,)."""
        return self.base.rays(index)

    def term(self, index: Any, depth: Any, normal: Any) -> Any:
        """(M,) the prior's cost of planes ``depth`` (M,), ``normal`` (3, M) at ``index`` (M,); 0 where none."""
        import torch

        o, prior = self.options, self.prior.depth[index]
        has = prior > 0
        relative = depth / prior.where(has, 1.0) - 1.0
        angle = torch.arccos((normal * self.prior.normal[:, index]).sum(dim=0).clamp(-1.0, 1.0))
        likelihood = torch.exp(-0.5 * (relative / o.sigma_depth) ** 2 - 0.5 * (angle / np.radians(o.sigma_angle)) ** 2)
        return torch.where(has, self.weight[index] * (1.0 - likelihood), 0.0)

    def __call__(self, index: Any, depth: Any, normal: Any) -> Any:
        """(M,) photometric cost plus the prior's term."""
        return self.base(index, depth, normal) + self.term(index, depth, normal)
