"""Geometric consistency: a second PatchMatch pass that makes each view's depth agree with its sources'.

After every view has a depth map (pass 1: the sweep, refined by photometric propagation when asked),
each view is searched again by PatchMatch (:func:`~photogrammetry.mvs.propagation.refine_planes`) from
its pass-1 planes, every pixel this time, with a plane's cost per source raised by a geometric term,
as in COLMAP's ``geom_consistency`` and ACMM: the plane's depth at the pixel is projected into the
source, the source's pass-1 depth there (read bilinearly, only where its four pixels have one) is
projected back, and ``weight * min(error, max_error_px)`` is added for the forward-backward
reprojection error in pixels (``max_error_px`` where the source has no depth there). Depths that
several views see alike win over isolated matches, and weakly textured pixels take the depth their
sources agree on. The consistency filter then reads the maps of this pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from photogrammetry.errors import ConfigError
from photogrammetry.mvs.filtering import bilinear_depth
from photogrammetry.mvs.geometry import relative_projection
from photogrammetry.mvs.plane_cost import WORST, PlaneCost
from photogrammetry.mvs.propagation import PropagationOptions, refine_planes
from photogrammetry.mvs.scene import MVSView


@dataclass(frozen=True, kw_only=True)
class GeometricOptions:
    """The geometric-consistency pass (window and search settings are those of ``propagation``)."""

    enabled: bool = False
    """Search every view again with a cost that adds the disagreement with its sources' depth maps."""
    iterations: int = 2
    """Red-black PatchMatch iterations of the pass (each updates every pixel once)."""
    weight: float = 0.2
    """Cost added per pixel of forward-backward reprojection error through a source (the photometric
    cost ``1 - NCC`` lies in [0, 2])."""
    max_error_px: float = 3.0
    """Reprojection errors are capped at this many pixels (a source that sees something else there, or
    has no depth, costs ``weight * max_error_px``)."""
    changed: float = 0.01
    """A pixel whose depth moves by more than this relative amount gets the confidence of its new plane
    (``propagation.filled_confidence * (1 - photometric cost)``); the others the larger of that and
    their pass-1 confidence."""

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.weight < 0 or self.max_error_px <= 0 or self.changed < 0:
            raise ConfigError("geometric needs iterations >= 1, weight >= 0, max_error_px > 0 and changed >= 0, "
                              f"got {self.iterations}, {self.weight}, {self.max_error_px}, {self.changed}")


class GeometricCost(PlaneCost):
    """:class:`PlaneCost` plus, per source, the capped forward-backward reprojection error through the
    source's depth map.

    Args:
        ref, sources, ref_grey, src_greys, options: as :class:`PlaneCost`.
        src_depths: (H', W') depth tensors of the sources at their views' sizes (0 = none).
        geometric: weight and cap of the term.
    """

    def __init__(self, ref: MVSView, sources: Sequence[MVSView], ref_grey: Any, src_greys: Sequence[Any],
                 src_depths: Sequence[Any], options: Any, geometric: GeometricOptions) -> None:
        import torch

        super().__init__(ref, sources, ref_grey, src_greys, options)
        self.src_depths, self.geometric = list(src_depths), geometric
        back = [relative_projection(s, ref) for s in sources]
        f32 = dict(dtype=torch.float32, device=ref_grey.device)
        self.A_back = torch.as_tensor(np.stack([a for a, _ in back]), **f32)  # (S, 3, 3)
        self.b_back = torch.as_tensor(np.stack([b for _, b in back]), **f32)  # (S, 3)
        self.with_term = True
        """Add the geometric term (``False``: the photometric cost alone)."""

    def reprojection_error(self, index: Any, depth: Any) -> Any:
        """(S, M) forward-backward error in pixels of depths (M,) at pixels ``index`` (M,), capped at
        ``max_error_px`` (the cap where a source has no depth or the point falls outside it)."""
        import torch

        cap = self.geometric.max_error_px
        u = (index % self.width).float() + 0.5
        v = torch.div(index, self.width, rounding_mode="floor").float() + 0.5
        pixel = torch.stack([u, v, torch.ones_like(u)])  # (3, M)
        errors = []
        for s, src_depth in enumerate(self.src_depths):
            q = depth * (self.A[s] @ pixel) + self.b[s][:, None]  # (3, M) in the source
            uv = (q[:2] / q[2].clamp(min=1e-9)).T  # (M, 2)
            d_src = bilinear_depth(src_depth, uv)
            r = d_src * (self.A_back[s] @ torch.cat([uv.T, torch.ones_like(u)[None]])) + self.b_back[s][:, None]
            back = r[:2] / r[2].clamp(min=1e-9)
            error = (back - pixel[:2]).norm(dim=0)
            ok = (q[2] > 0) & (d_src > 0) & (r[2] > 0)
            errors.append(torch.where(ok, error.clamp(max=cap), cap))
        return torch.stack(errors)

    def adjust(self, index: Any, depth: Any, costs: Any) -> Any:
        """The photometric costs plus ``weight`` times the reprojection errors (below :data:`WORST`:
        a plane that no source sees stays unscored)."""
        import torch

        if not self.with_term:
            return costs
        term = self.geometric.weight * self.reprojection_error(index, depth)
        return torch.where(costs < WORST, (costs + term).clamp(max=WORST - 1e-3), costs)


def pass_options(propagation: PropagationOptions, geometric: GeometricOptions) -> PropagationOptions:
    """The search settings of the pass: ``propagation``'s window and perturbations, the pixels searched
    from their pass-1 planes (no random seeds, no unscored filling: the geometric term scores weak
    texture)."""
    return replace(propagation, iterations=geometric.iterations, fill_iterations=0, flat_std=0.0,
                   seed_confidence=0.0, keep_confidence=float("inf"))


def refine_geometric(ref: MVSView, sources: Sequence[MVSView], greys: Sequence[np.ndarray], depth: np.ndarray,
                     confidence: np.ndarray, src_depths: Sequence[np.ndarray], bounds: tuple[float, float],
                     propagation: PropagationOptions, geometric: GeometricOptions,
                     device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """A view's pass-1 map searched again against its sources' pass-1 maps.

    Args:
        ref: The reference view (intrinsics at the map's size).
        sources: Its source views.
        greys: (H, W) uint8 grey images of ``ref`` then of each source, at their views' sizes.
        depth: (H, W) pass-1 depth of ``ref``.
        confidence: (H, W) its confidence in [0, 1].
        src_depths: pass-1 depth of each source, at its view's size.
        bounds: ``(near, far)`` depth range.
        propagation: Window and search settings.
        geometric: The geometric term and the iterations.
        device: torch device.

    Returns:
        Depth (H, W) float32 and confidence (H, W) float32: ``propagation.filled_confidence * (1 - cost)``
        with the photometric cost of the new plane, where the depth moved by more than
        ``geometric.changed``; elsewhere the larger of that and the pass-1 confidence.
    """
    import torch

    from photogrammetry.mvs.geometry import normals_from_depth

    tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(device)  # noqa: E731
    options = pass_options(propagation, geometric)
    with torch.inference_mode():
        greys_t = [tensor(g).div_(255.0) for g in greys]
        cost_fn = GeometricCost(ref, sources, greys_t[0], greys_t[1:], [tensor(d) for d in src_depths], options,
                                geometric)
        normal = normals_from_depth(depth, ref.K, 2)
        planes = refine_planes(cost_fn, tensor(depth), tensor(normal), tensor(confidence), bounds, options)
        cost_fn.with_term = False
        index = torch.arange(depth.size, device=device)
        photometric = cost_fn(index, tensor(planes.depth).reshape(-1), tensor(planes.normal).reshape(-1, 3).T)
    moved = np.abs(planes.depth / np.maximum(depth, 1e-12) - 1.0) > geometric.changed
    score = propagation.filled_confidence * np.clip(1.0 - photometric.reshape(depth.shape).cpu().numpy(), 0.0, 1.0)
    return planes.depth, np.where(moved, score, np.maximum(confidence, score)).astype(np.float32)
