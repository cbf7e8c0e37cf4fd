"""Depth, normal and confidence maps of every view of a scene, in two resumable passes.

Pass 1 sweeps each view against its sources (:mod:`photogrammetry.mvs.cascade`), refines the
map by PatchMatch propagation when asked (:mod:`photogrammetry.mvs.propagation`, over scales by
:mod:`photogrammetry.mvs.pyramid`) and keeps the raw depth and confidence in scratch files
(``.raw/``), recording each finished view so that an interrupted run resumes view by view. When
asked, a geometric-consistency pass then searches each view again against its sources' raw maps
(:mod:`photogrammetry.mvs.geometric`; ``.raw/*.geo-*``, resumable alike). Pass 2 filters every raw
map against its sources' raw maps, or more views' (``filtering.num_sources``;
:mod:`photogrammetry.mvs.filtering`), derives normals and writes the artifact's maps
(:mod:`photogrammetry.io.depth`). Each pass is an item task over the views (:class:`_ViewTask`),
run here or by an executor's workers (``map_views``).
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from photogrammetry.io.items import ItemStore
from photogrammetry.device import resolve_device, torch_threads
from photogrammetry.features.prefetch import prefetch
from photogrammetry.errors import InputError
from photogrammetry.io.depth import DepthSummary, DepthView, load_array, save_array, save_maps
from photogrammetry.mvs.cascade import FeatureBank, estimate_depth
from photogrammetry.mvs.cost import MatchCost
from photogrammetry.mvs.filtering import filter_depth
from photogrammetry.mvs.geometric import refine_geometric
from photogrammetry.mvs.geometry import normals_from_depth
from photogrammetry.mvs.methods import method_spec
from photogrammetry.mvs.scene import MVSScene, MVSView, fit_size
from photogrammetry.mvs.options import MVSOptions
from photogrammetry.mvs.pyramid import propagate
from photogrammetry.mvs.selection import depth_range, select_sources

Track = Callable[[Iterable[Any]], Iterator[Any]]
"""Wraps an iterable with progress reporting (``StageContext.track`` or ``iter``)."""

MapViews = Callable[["_ViewTask", list[str]], Iterable[Any]]
"""Runs a pass (:class:`ViewSweep`, :class:`GeometricPass`, :class:`FilterPass`) on view names,
yielding each view's result as it finishes, in any order (``StageContext.map``)."""

logger = logging.getLogger(__name__)

CACHE_RUN = 5
"""The feature cache holds the views that any run of this many consecutive views needs (:func:`cache_views`)..."""

CACHE_PER_SOURCE = 3
"""... and at most this many views per source of a view (12 for 4 sources): in a denser orbit a view's
sources lie more views apart, and the first bound grew with the photo count (10, 13 and 20 views at 25,
100 and 200 photos of the benchmark's orbits, 5.8 MB each at 320 px). With the cache's plan (the views
the next :data:`PLAN_VIEWS` views use, the one used last dropped first), a worker sweeping the 200 views
in order computes 218 views' features instead of 210 (493 with 10 views and no plan)."""

PLAN_VIEWS = 8
"""Views ahead, in the scene's order, whose sources the feature cache's plan lists (:meth:`FeatureBank.plan`)."""


def working_views(scene: MVSScene, max_image_size: int) -> dict[str, MVSView]:
    """The scene's views with intrinsics at the size of their depth maps."""
    return {n: v.resized(*fit_size(v.width, v.height, max_image_size)) for n, v in scene.views.items()}


def read_image(view: MVSView) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a view's image at the view's size (area-averaged when smaller)."""
    bgr = cv2.imread(str(view.image_path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"cannot read image {view.image_path}; rerun the undistort stage (--force undistort)")
    if bgr.shape[:2] != (view.height, view.width):
        smaller = view.width < bgr.shape[1]
        bgr = cv2.resize(bgr, (view.width, view.height), interpolation=cv2.INTER_AREA if smaller else cv2.INTER_LINEAR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_mask(view: MVSView) -> np.ndarray | None:
    """(H, W) bool object mask at the view's size, or ``None`` when the view has none."""
    if view.mask_path is None:
        return None
    grey = cv2.imread(str(view.mask_path), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise InputError(f"cannot read mask {view.mask_path}")
    return cv2.resize(grey, (view.width, view.height), interpolation=cv2.INTER_NEAREST) > 127


def match_cost(options: MVSOptions, extractor: Any) -> MatchCost:
    """The cost of ``options.method``, with the network's learned temperature when it has one."""
    method = method_spec(options.method)
    return MatchCost(similarity=method.similarity, refine_similarity=method.refine_similarity,
                     grey_channel=method.grey_channel, window_radius=options.window_radius or method.window_radius,
                     ncc_radius=options.ncc_radius or method.ncc_radius, ncc_weight=options.ncc_weight,
                     temperature=getattr(extractor, "temperature", None) or method.temperature,
                     best_sources=options.best_sources)


def cache_views(names: Sequence[str], sources: dict[str, list[str]], run: int = CACHE_RUN) -> int:
    """Views whose feature maps a worker keeps: the most that any ``run`` consecutive views of
    ``names`` and their sources are, but no more than :data:`CACHE_PER_SOURCE` per source (plus the
    views beyond :data:`CACHE_RUN` in ``run``: those swept at once). An executor hands a worker runs
    of consecutive views, whose sources overlap; so the cache serves them, and its size is bounded by
    the number of sources, not by the photo count."""
    needed = max((len({n for name in names[i:i + run] for n in (name, *sources[name])})
                  for i in range(max(1, len(names) - run + 1))), default=1)
    most = max((len(s) for s in sources.values()), default=0)
    return max(1, min(needed, CACHE_PER_SOURCE * most + run - CACHE_RUN))


def view_threads(workers: int, local: bool) -> int:
    """Views a worker sweeps at once on the CPU: ``workers`` in this process, 1 on a cluster's
    workers (each has its own share of cores).

    One view on all threads splits every op between them, and they wait on each other at each op's
    end: on the 2-core machine shared with other jobs, one temple view (640x480, 4 sources) took
    twice the CPU time on two threads as on one, and no less wall time. Views on one thread each
    do not wait on each other, and give the maps of one thread: the same for any ``workers``.
    """
    return max(1, workers) if local else 1


def _raw_path(out: Path, name: str, kind: str) -> Path:
    return out / ".raw" / f"{name}.{kind}.npy"


@dataclass
class _ViewTask(ABC):
    """Work on some views as an item task (:class:`photogrammetry.engine.executor.ItemTask`):
    picklable, set up once per worker, then run on view names; each view's maps (and, for the
    resumable passes, its record) go to ``out`` as it finishes, and its result is yielded."""

    scene: MVSScene
    views: dict[str, MVSView]
    """The scene's views at the size of their depth maps."""
    sources: dict[str, list[str]]
    options: MVSOptions
    out: Path
    device: str
    """``cpu``, ``cuda``, or ``auto`` (CUDA where the worker has it)."""
    items: ItemStore
    threads: int = 1
    """Views computed at once on the CPU, each in its own thread with torch's ops on one thread
    (:func:`view_threads`); 1: one view at a time, torch's ops on all its threads."""

    def chunk(self) -> int:
        return 1

    def setup(self) -> None:
        self._device = resolve_device(self.device)
        self._grey = lru_cache(maxsize=16)(lambda n: cv2.cvtColor(read_image(self.views[n]), cv2.COLOR_RGB2GRAY))

    def _parallel(self) -> int:
        """Views at once here: :attr:`threads` on the CPU, else 1."""
        return self.threads if self._device == "cpu" else 1

    def run(self, names: Iterable[str]) -> Iterator[Any]:
        parallel = self._parallel()
        if parallel <= 1:
            yield from map(self._view, names)
            return
        with torch_threads(1):
            yield from prefetch(self._view, names, workers=parallel, ahead=parallel)

    @abstractmethod
    def _view(self, name: str) -> Any:
        """Process view ``name``; its result (the resumable passes: its name)."""

    def _save(self, name: str, prefix: str, depth: np.ndarray, confidence: np.ndarray, record: dict) -> None:
        """The view's raw ``{prefix}depth`` and ``{prefix}confidence`` maps, then its record."""
        files = [_raw_path(self.out, name, prefix + "depth"), _raw_path(self.out, name, prefix + "confidence")]
        save_array(files[0], depth)
        save_array(files[1], confidence.astype(np.float16))
        self.items.put(name, record, files=files)


@dataclass
class ViewSweep(_ViewTask):
    """Pass 1 for some views (the network and its feature cache set up once per worker)."""

    def setup(self) -> None:
        super().setup()
        extractor = method_spec(self.options.method).build(self.options.weights or None, self._device,
                                                           self.options.fp16)
        self._cost = match_cost(self.options, extractor)
        self._regularizer = getattr(extractor, "regularizer", None)
        parallel = self._parallel()
        self._bank = FeatureBank(extractor, lambda n: read_image(self.views[n]), len(self.options.cascade.hypotheses),
                                 self._device, self.options.feature_cache_mb * 2**20,
                                 cache_views(self.scene.names, self.sources, CACHE_RUN + parallel - 1))
        cascade = self.options.cascade  # the views at once share the working memory (their maps stay the same)
        self._cascade = replace(cascade, memory_budget_mb=max(1, cascade.memory_budget_mb // parallel))
        self._order = {name: i for i, name in enumerate(self.scene.names)}

    def _view(self, name: str) -> str:
        scene, views = self.scene, self.views
        bounds = depth_range(scene, scene.views[name], self.options.selection)
        view = views[name]
        if bounds is None:
            logger.warning("view %s: no sparse point lies in front of it, so its depth cannot be bounded; "
                           "it gets no depth map", name)
        near, far = bounds or (0.0, 0.0)
        if self.sources[name] and bounds is not None:
            sources = [views[s] for s in self.sources[name]]
            ahead = scene.names[self._order[name]:self._order[name] + PLAN_VIEWS]
            self._bank.plan([n for view_name in ahead for n in (*self.sources[view_name], view_name)])
            estimate = estimate_depth(view, sources, (near, far), self._bank, self._cost, self._cascade,
                                      self._regularizer)
            depth, confidence = estimate.depth, estimate.confidence
            if self.options.propagation.enabled:
                greys = [self._grey(v.name) for v in (view, *sources)]
                depth, confidence = propagate(view, sources, greys, depth, confidence, (near, far),
                                              self.options.propagation, self._device)
        else:  # no usable source: nothing can be measured
            depth = confidence = np.zeros((view.height, view.width), np.float32)
        self._save(name, "", depth, confidence, {"depth_range": [near, far]})
        return name


@dataclass
class GeometricPass(_ViewTask):
    """The geometric-consistency pass for some views: each view's raw map searched again against its
    sources' raw maps, into ``geo-`` maps."""

    def setup(self) -> None:
        super().setup()
        self._depth = lru_cache(maxsize=16)(lambda n: load_array(_raw_path(self.out, n, "depth")))

    def _view(self, name: str) -> str:
        view, out, sources = self.views[name], self.out, self.sources[name]
        depth = self._depth(name)
        confidence = load_array(_raw_path(out, name, "confidence")).astype(np.float32)
        bounds = depth_range(self.scene, self.scene.views[name], self.options.selection)
        if sources and bounds is not None and (depth > 0).any():
            depth, confidence = refine_geometric(
                view, [self.views[s] for s in sources], [self._grey(n) for n in (name, *sources)], depth,
                confidence, [self._depth(s) for s in sources], bounds, self.options.propagation,
                self.options.geometric, self._device)
        self._save(name, "geo-", depth, confidence, {})
        return name


@dataclass
class FilterPass(_ViewTask):
    """Pass 2 for some views: each view's raw map (the geometric pass's when it ran) filtered against
    its sources' raw maps, its normals derived, the artifact's maps written; yields each view's
    :class:`DepthView`. ``items`` holds pass 1's records (read: the depth ranges). It records
    nothing: an interrupted stage filters every view again."""

    checked: dict[str, list[str]] = field(default_factory=dict)
    """The views each map is checked against (:func:`checked_views`); a view not in it: its sources."""

    def setup(self) -> None:
        super().setup()
        self._prefix = "geo-" if self.options.geometric.enabled else ""
        self._raw = lru_cache(maxsize=16)(lambda n: load_array(_raw_path(self.out, n, self._prefix + "depth")))

    def _view(self, name: str) -> DepthView:
        view, options, sources = self.views[name], self.options, self.sources[name]
        confidence = load_array(_raw_path(self.out, name, self._prefix + "confidence")).astype(np.float32)
        mask = read_mask(view) if options.use_masks else None
        checked = [(self.views[s], self._raw(s)) for s in self.checked.get(name, sources)]
        kept = filter_depth(view, self._raw(name), confidence, mask, checked, options.filtering, self._device,
                            grey=self._grey(name)).depth
        normals = normals_from_depth(kept, view.K, options.normal_smoothing)
        save_maps(self.out, name, kept, normals, confidence)
        return depth_record(view, self.items.get(name)["depth_range"], sources, kept, mask is not None, self.out)


def _in_process(task: _ViewTask, names: list[str]) -> Iterator[str]:
    task.setup()
    yield from task.run(names)


def sweep_all(scene: MVSScene, views: dict[str, MVSView], sources: dict[str, list[str]], options: MVSOptions,
              out: Path, *, device: str, items: ItemStore, track: Track = iter,
              map_views: MapViews | None = None, threads: int = 1) -> None:
    """Pass 1: raw depth and confidence of every view not yet done, into ``out/.raw/``; the views
    go through ``map_views`` (with its own progress) when given, else through ``track`` here;
    ``threads`` views at once on the CPU (:attr:`_ViewTask.threads`)."""
    task = ViewSweep(scene=scene, views=views, sources=sources, options=options, out=out, device=device, items=items,
                     threads=threads)
    _run_views(task, [n for n in scene.names if items.get(n) is None], track, map_views)


def _run_views(task: _ViewTask, todo: list[str], track: Track, map_views: MapViews | None) -> list[Any]:
    """``task``'s results of the views ``todo``, in any order: through ``map_views`` when given,
    else here through ``track``."""
    if not todo:
        return []
    return list(map_views(task, todo) if map_views is not None else track(_in_process(task, todo)))


def geometric_all(scene: MVSScene, views: dict[str, MVSView], sources: dict[str, list[str]], options: MVSOptions,
                  out: Path, *, device: str, items: ItemStore, track: Track = iter,
                  map_views: MapViews | None = None, threads: int = 1) -> None:
    """The geometric-consistency pass of every view not yet done (after pass 1 of every view), into
    ``out/.raw/*.geo-*``; through ``map_views`` when given, else through ``track`` here."""
    task = GeometricPass(scene=scene, views=views, sources=sources, options=options, out=out, device=device,
                         items=items, threads=threads)
    _run_views(task, [n for n in scene.names if items.get(n) is None], track, map_views)


def checked_views(scene: MVSScene, sources: dict[str, list[str]], options: MVSOptions) -> dict[str, list[str]]:
    """The views each map is checked against: ``options.filtering.num_sources`` best by the selection's
    score when set, else the sweep's ``sources``."""
    count = options.filtering.num_sources
    return select_sources(scene, replace(options.selection, num_sources=count)) if count else sources


def filter_all(scene: MVSScene, views: dict[str, MVSView], sources: dict[str, list[str]], options: MVSOptions,
               out: Path, *, device: str, items: ItemStore, track: Track = iter,
               map_views: MapViews | None = None, threads: int = 1) -> list[DepthView]:
    """Pass 2: filtered depth, normals and confidence of every view into ``out``; their records (with the
    sweep's ``sources``), in the scene's order. Each raw map is checked against those of
    :func:`checked_views`; the raw maps are those of the geometric pass when ``options.geometric.enabled``.
    Through ``map_views`` when given, else here through ``track``; on the CPU ``threads`` views at
    once, each on one torch thread (the same maps for any ``threads``)."""
    task = FilterPass(scene=scene, views=views, sources=sources, options=options, out=out, device=device,
                      items=items, threads=threads, checked=checked_views(scene, sources, options))
    records = {record.name: record for record in _run_views(task, list(scene.names), track, map_views)}
    return [records[name] for name in scene.names]


def depth_record(view: MVSView, depth_range: list[float], sources: list[str], kept: np.ndarray,
                 masked: bool, root: Path) -> DepthView:
    """The ``depth.json`` record of a view whose filtered depth is ``kept`` (H, W); the image path
    is relative to the artifact folder ``root`` (so a moved workspace keeps working)."""
    image = os.path.relpath(view.image_path.resolve(), root.resolve())
    return DepthView(name=view.name, image=Path(image).as_posix(), width=view.width, height=view.height,
                     K=tuple(map(tuple, view.K.tolist())), R=tuple(map(tuple, view.R.tolist())),
                     t=tuple(view.t.tolist()), depth_range=(float(depth_range[0]), float(depth_range[1])),
                     sources=tuple(sources), kept=float((kept > 0).mean()),
                     mask=str(view.mask_path) if masked else None)


def compute_depth(scene: MVSScene, options: MVSOptions, out: Path, *, device: str = "cpu",
                  items: ItemStore | None = None, track: Track = iter, map_views: MapViews | None = None,
                  sweep_device: str | None = None, geometric_items: ItemStore | None = None,
                  threads: int = 1) -> DepthSummary:
    """Depth, normal and confidence maps of every view of ``scene`` into ``out``.

    Args:
        scene: Undistorted views, poses and sparse points.
        options: Method and settings.
        out: Folder to write into (see :mod:`photogrammetry.io.depth`); ``out/.raw`` is scratch.
        device: torch device.
        items: Records of the views already swept (resume); default: ``out/.raw-items``.
        track: Progress wrapper of the per-view loops.
        map_views: Runs the passes over the views elsewhere, e.g. on a Ray cluster; default: here,
            in order.
        sweep_device: Device of the passes (``auto`` picks per worker); default: ``device``.
        geometric_items: Records of the views the geometric pass has done; default: ``out/.geo-items``.
        threads: Views swept at once on the CPU, each on one torch thread (:func:`view_threads`).

    Returns:
        The summary to store as ``depth.json``.
    """
    method = method_spec(options.method)
    items = items or ItemStore(out / ".raw-items")
    views = working_views(scene, options.max_image_size)
    sources = select_sources(scene, options.selection)
    sweep_all(scene, views, sources, options, out, device=sweep_device or device, items=items, track=track,
              map_views=map_views, threads=threads)
    if options.geometric.enabled:
        geometric_all(scene, views, sources, options, out, device=sweep_device or device,
                      items=geometric_items or ItemStore(out / ".geo-items"), track=track, map_views=map_views,
                      threads=threads)
    records = filter_all(scene, views, sources, options, out, device=sweep_device or device, items=items, track=track,
                         map_views=map_views, threads=threads)
    return DepthSummary(method=method.name, learned=method.learned, views=tuple(records))
