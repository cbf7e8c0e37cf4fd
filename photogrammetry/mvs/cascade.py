"""Coarse-to-fine plane sweep of one reference view against its sources.

Level 0 sweeps fronto-parallel planes evenly spaced in inverse depth over the view's whole
depth range, at the coarsest resolution. Each finer level doubles the resolution and sweeps
per-pixel hypotheses around the upsampled previous estimate, ``search_radius`` previous
intervals to each side. Every level's aggregated volume is regularised by semi-global
aggregation (:mod:`photogrammetry.mvs.regularize`), or by the method's learned regulariser where it
has one (:mod:`photogrammetry.mvs.volume_net`), then each pixel takes its best hypothesis,
refined with a parabola through its neighbours' costs (sub-hypothesis precision). Warping and
scoring run over tiles of rows and chunks of hypotheses under a memory budget; what stays whole
is the aggregated (D, H, W) volume of one level and the aggregation's path costs, about
``5 * D * H * W`` floats (0.3 GB for a 1600x1200 level of 8 hypotheses).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from photogrammetry.errors import ConfigError
from photogrammetry.mvs.cost import INVALID, MatchCost, aggregate_sources, similarity, winner_take_all
from photogrammetry.mvs.geometry import pixel_grid, project, relative_projection, sample
from photogrammetry.mvs.regularize import SGMOptions, semi_global
from photogrammetry.mvs.scene import MVSView

WARP_ELEMENTS = 2**22
"""Most float32 elements of the source features warped at once on the CPU (16 MB): a chunk of
hypotheses shrinks to fit it, under the memory budget. A larger chunk is no faster on the CPU, and
the sweep's working memory, allocated and freed at every view, fragments the heap in proportion (a
200-view orbit at 320 px in one process: peak resident memory 1025 MB with chunks of up to the
budget's 256 MB, 762 MB with these, at 6 % fewer CPU seconds). The maps differ from larger chunks'
in the last bits only: torch adds the channels of odd-width rows in an order that depends on where a
chunk ends (up to 7e-7 relative on one view of a 50-view orbit at 319 px; ``tests/mvs/test_cascade.py``)."""

Regularizer = Callable[[Any, int], Any]
"""A learned regulariser: ``(volume (D, H, W), max_elements) -> volume`` (:mod:`photogrammetry.mvs.volume_net`)."""


@dataclass(frozen=True, kw_only=True)
class CascadeOptions:
    """How one depth map is searched."""

    hypotheses: tuple[int, ...] = (48, 16, 8)
    """Depth hypotheses per level, coarse to fine; level ``k`` of ``L`` works at scale ``2^(k - L + 1)``
    (each level doubles the resolution)."""
    search_radius: float = 2.0
    """Finer levels search this many previous-level intervals to each side of the upsampled estimate."""
    memory_budget_mb: int = field(default=2048, metadata={"cache": False})
    """Working memory of one sweep; tiles and hypothesis chunks shrink to fit it (does not change results)."""
    sgm: SGMOptions = field(default_factory=SGMOptions)
    """Semi-global regularisation of the levels' cost volumes (smooth surfaces win over isolated matches
    in weak texture)."""
    sgm_levels: int = 0
    """Regularise only this many of the coarsest levels (0: all; fewer is faster and less complete: on
    the orbit scene one level keeps 0.68 of the pixels, all three 0.74)."""
    learned_levels: int = 1
    """A method with a learned regulariser (``lite-reg``) runs it on this many of the coarsest levels
    (0: all) instead of the semi-global aggregation, which the finer levels keep (on office frames
    0-7, sensor pixels within 5 %: 0.081 with 1, 0.079 with all, 0.059 with both on every level)."""

    def __post_init__(self) -> None:
        if not self.hypotheses or min(self.hypotheses) < 2:
            raise ConfigError(f"hypotheses needs at least one level of >= 2, got {self.hypotheses}")


@dataclass(frozen=True)
class DepthEstimate:
    """The result of one view, at the finest level's size."""

    depth: np.ndarray
    """(H, W) float32 depth along the camera z axis (never 0: filtering decides validity)."""
    confidence: np.ndarray
    """(H, W) float32 in [0, 1]: the coarsest level's probability mass of the winner times its similarity
    (that sweep covers the whole depth range; on real photos it ranks right from wrong depths, where
    the finer levels' similarities do not: a learned one is as high on wrong depths as on right ones)."""



def _learned(options: CascadeOptions, level: int, regularizer: Regularizer | None) -> Regularizer | None:
    """The learned regulariser of cascade level ``level``, or ``None``."""
    return regularizer if options.learned_levels <= 0 or level < options.learned_levels else None


def _aggregation(options: CascadeOptions, level: int) -> SGMOptions | None:
    """The semi-global aggregation of cascade level ``level``, or ``None`` where winner takes all."""
    sgm = options.sgm
    return sgm if sgm.enabled and (options.sgm_levels <= 0 or level < options.sgm_levels) else None


def level_sizes(width: int, height: int, levels: int) -> list[tuple[int, int]]:
    """``(width, height)`` of each level, coarse to fine; the finest is the given size."""
    return [(max(1, round(width / 2 ** (levels - 1 - k))), max(1, round(height / 2 ** (levels - 1 - k))))
            for k in range(levels)]


class FeatureBank:
    """Feature maps ``(C, H, W)`` of views at every level, computed on first use, a few views kept.

    A reference view and its sources are used together, and neighbouring views share sources: an
    executor hands a worker runs of consecutive views, so a few views' maps serve the next views.
    Keeping every view a worker touches would grow its memory with the photo count. Over a bound,
    the view dropped is the one that the :meth:`plan` (the views the next items will use, in order)
    uses last or not at all, the least recently used among those (without a plan: the least
    recently used).
    Threads may share a bank: a view's maps are computed once, by the first thread that asks.

    Args:
        extractor: images ``(1, 3, H, W)`` -> maps ``(1, C, H, W)``.
        load: view name -> ``(H, W, 3)`` uint8 RGB at the finest level's size.
        levels: number of levels.
        device: torch device of the maps.
        max_bytes: the cache keeps the most recently used views' maps within this size.
        max_views: ... and at most this many views (``None``: no bound but ``max_bytes``).
    """

    def __init__(self, extractor: Callable[[Any], Any], load: Callable[[str], np.ndarray], levels: int,
                 device: str, max_bytes: int, max_views: int | None = None) -> None:
        self.extractor, self.load, self.levels, self.device = extractor, load, levels, device
        self.max_bytes, self.max_views = max_bytes, max_views
        self._cache: OrderedDict[str, list[Any]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._computing: dict[str, threading.Lock] = {}
        self._next_use: dict[str, int] = {}
        """View -> its rank in the plan (the order in which the next items first use them)."""
        self.computed = 0
        """Views whose maps were computed (a view evicted and needed again counts again)."""

    def plan(self, names: Sequence[str]) -> None:
        """The views the next items will use, in order of use (it only decides what to drop)."""
        order: dict[str, int] = {}
        for name in names:
            order.setdefault(name, len(order))
        with self._lock:
            self._next_use = order

    def get(self, name: str, level: int) -> Any:
        """Features of view ``name`` at ``level``."""
        with self._lock:
            computing = self._computing.setdefault(name, threading.Lock())
        with computing:  # another thread computing this view's maps finishes first
            with self._lock:
                maps = self._cache.get(name)
                if maps is not None:
                    self._cache.move_to_end(name)
                    return maps[level]
            maps = self._compute(name)
            with self._lock:
                self._cache[name] = maps
                self._bytes += _size(maps)
                self.computed += 1
                self._evict()
            return maps[level]

    def _compute(self, name: str) -> list[Any]:
        import cv2
        import torch

        rgb = self.load(name)
        height, width = rgb.shape[:2]
        maps = []
        for w, h in level_sizes(width, height, self.levels):
            image = rgb if (w, h) == (width, height) else cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
            batch = torch.from_numpy(image).to(self.device).permute(2, 0, 1)[None].float().div_(255.0)
            maps.append(self.extractor(batch)[0])
        return maps

    def _evict(self) -> None:
        """Drop views while over either bound (the newest view stays): those the plan uses last or
        not at all, the least recently used first."""
        while len(self._cache) > 1 and (self._bytes > self.max_bytes or
                                        (self.max_views is not None and len(self._cache) > self.max_views)):
            older = list(self._cache)[:-1]  # least recently used first
            unplanned = len(self._next_use)
            victim = max(older, key=lambda n: self._next_use.get(n, unplanned))  # the first of equals
            self._bytes -= _size(self._cache.pop(victim))


def _size(maps: list[Any]) -> int:
    return sum(t.numel() * t.element_size() for t in maps)


@dataclass(frozen=True)
class _Level:
    """Hypotheses of one level: inverse depth ``start - i * interval`` for ``i < count``."""

    start: Any
    """(H, W) inverse depth of hypothesis 0 (or a (1, 1) tensor for planes)."""
    interval: float
    """Inverse-depth step between hypotheses."""
    count: int
    """Number of hypotheses."""


def _first_level(near: float, far: float, count: int, device: str) -> _Level:
    import torch

    interval = (1.0 / near - 1.0 / far) / max(count - 1, 1)
    return _Level(torch.full((1, 1), 1.0 / near, device=device), interval, count)


def _next_level(previous_inv: Any, previous: _Level, count: int, radius: float, near: float, far: float,
                size: tuple[int, int]) -> _Level:
    """Per-pixel hypotheses around the previous estimate (H', W') upsampled to ``size``."""
    import torch.nn.functional as F

    inv = F.interpolate(previous_inv[None, None], size=(size[1], size[0]), mode="bilinear", align_corners=False)[0, 0]
    interval = 2.0 * radius * previous.interval / max(count - 1, 1)
    half = 0.5 * (count - 1) * interval
    start = (inv + half).clamp(min=1.0 / far + 2 * half, max=1.0 / near)
    return _Level(start, interval, count)


class Sweep:
    """One reference view's search at one level against its sources' features.

    Sources whose feature maps share a size (the usual case) are warped and scored together,
    as one batch.
    """

    def __init__(self, ref: MVSView, sources: Sequence[MVSView], ref_feat: Any, src_feats: Sequence[Any],
                 cost: MatchCost, memory_budget_mb: int, kind: str | None = None) -> None:
        import torch

        self.ref_feat, self.cost, self.budget_mb = ref_feat, cost, memory_budget_mb
        self.kind = kind or cost.similarity
        self.height, self.width = ref_feat.shape[-2:]
        device = ref_feat.device
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, feat in enumerate(src_feats):
            groups.setdefault(tuple(feat.shape), []).append(i)
        self.groups = []
        for members in groups.values():
            A, b = zip(*(relative_projection(ref, sources[i]) for i in members), strict=True)
            feats = torch.stack([src_feats[i] for i in members])
            if device.type == "cpu":  # a sample's channels in one cache line: grid_sample 3x faster, same values
                feats = feats.contiguous(memory_format=torch.channels_last)
            self.groups.append((feats,
                                torch.as_tensor(np.stack(A), dtype=torch.float32, device=device),
                                torch.as_tensor(np.stack(b), dtype=torch.float32, device=device)))
        self.num_sources = len(src_feats)

    def run(self, level: _Level, sgm: SGMOptions | None = None,
            regularizer: Regularizer | None = None) -> tuple[Any, Any, Any]:
        """Fractional winner index, score and confidence, each (H, W).

        The aggregated volume is built tile by tile, regularised by the learned ``regularizer`` (in
        its own tiles) and then as a whole by ``sgm`` when given (its scanlines cross tiles), then
        its winners are taken.
        """
        import torch

        channels = self.ref_feat.shape[0]
        budget = self.budget_mb * 2**20 // 4  # float32 elements
        per_row = self.width * level.count * (self.num_sources + 4)
        rows = int(max(1, min(self.height, budget // 2 // max(per_row, 1))))
        warp = budget // 8 if self.ref_feat.is_cuda else min(budget // 8, WARP_ELEMENTS)
        warp //= channels
        volume = torch.cat([self._tile(level, r0, min(r0 + rows, self.height), warp)
                            for r0 in range(0, self.height, rows)], dim=1)
        if regularizer is not None:
            volume = regularizer(volume, budget)
        if sgm is not None:
            volume = semi_global(volume, sgm)
        won = winner_take_all(volume, self.cost.temperature)
        return won.index, won.score, won.confidence

    def _tile(self, level: _Level, r0: int, r1: int, warp_budget: int) -> Any:
        import torch

        rad = self.cost.radius(self.kind)
        h0, h1 = max(0, r0 - rad), min(self.height, r1 + rad)
        pixels = pixel_grid(self.height, self.width, rows=(h0, h1), device=self.ref_feat.device)
        start = level.start if level.start.numel() == 1 else level.start[h0:h1].reshape(1, -1)
        steps = torch.arange(level.count, device=pixels.device, dtype=torch.float32)[:, None]
        depth = 1.0 / (start - steps * level.interval).clamp(min=1e-9)  # (D, n) or (D, 1)
        ref = self.ref_feat[:, h0:h1]
        scores = torch.cat([self._group_scores(ref, pixels, group, depth, warp_budget) for group in self.groups])
        return aggregate_sources(scores[:, :, r0 - h0: r1 - h0], self.cost.best_sources)

    def _group_scores(self, ref: Any, pixels: Any, group: tuple[Any, Any, Any], depth: Any, budget: int) -> Any:
        """(S, D, h, W) similarities of a batch of S sources, a chunk of hypotheses at a time."""
        import torch

        feats, A, b = group
        rows, count = ref.shape[1], feats.shape[0]
        chunk = max(1, budget // (pixels.shape[1] * count))
        out = []
        for d0 in range(0, depth.shape[0], chunk):
            uv, z = project(A, b, pixels, depth[d0: d0 + chunk])
            warped, inside = sample(feats, uv)
            warped = warped.reshape(count, feats.shape[1], -1, rows, self.width)
            score = similarity(ref, warped, self.kind, self.cost.window_radius, self.cost.grey_channel,
                               overwrite=True, ncc_radius=self.cost.radius("ncc"), ncc_weight=self.cost.ncc_weight)
            valid = ((z > 0) & inside).reshape(count, -1, rows, self.width)
            out.append(torch.where(valid, score, INVALID))
        return torch.cat(out, dim=1)


def estimate_depth(ref: MVSView, sources: Sequence[MVSView], depth_range: tuple[float, float],
                   bank: FeatureBank, cost: MatchCost, options: CascadeOptions,
                   regularizer: Regularizer | None = None) -> DepthEstimate:
    """Depth and confidence of ``ref`` (at its own size) from its sources.

    Args:
        ref: The reference view, intrinsics at the finest level's size.
        sources: Its source views, same convention.
        depth_range: ``(near, far)`` depths searched.
        bank: Feature maps of all views.
        cost: How hypotheses are scored.
        options: Search settings.
        regularizer: The method's learned regulariser of the volumes, if it has one.
    """
    import torch
    import torch.nn.functional as F

    near, far = depth_range
    sizes = level_sizes(ref.width, ref.height, len(options.hypotheses))
    inv = first = level = None
    with torch.inference_mode():
        for k, (count, size) in enumerate(zip(options.hypotheses, sizes, strict=True)):
            level = (_first_level(near, far, count, bank.device) if k == 0 else
                     _next_level(inv, level, count, options.search_radius, near, far, size))
            kind = cost.refine_similarity if k > 0 and cost.refine_similarity else cost.similarity
            feats = [bank.get(s.name, k) for s in sources]  # a source of another size keeps its own
            scaled = [s.resized(f.shape[-1], f.shape[-2]) for s, f in zip(sources, feats, strict=True)]
            sweep = Sweep(ref.resized(*size), scaled, bank.get(ref.name, k), feats, cost, options.memory_budget_mb,
                          kind)
            learned = _learned(options, k, regularizer)
            index, score, confidence = sweep.run(level, None if learned else _aggregation(options, k), learned)
            inv = level.start - index * level.interval
            if k == 0:  # the sweep over the whole range: how sharp and how high its peak is
                first = confidence * score.clamp(0.0, 1.0)  # a learned regulariser's score may pass 1
        confidence = F.interpolate(first[None, None], size=inv.shape, mode="bilinear", align_corners=False)[0, 0]
        depth = (1.0 / inv.clamp(min=1e-9)).float().cpu().numpy()
    return DepthEstimate(depth=depth, confidence=confidence.float().cpu().numpy().astype(np.float32))
