"""Matches: match the local features of every selected pair.

``auto`` picks LightGlue for DISK and ALIKED features (LighterGlue for XFeat) and mutual nearest
neighbours with a ratio test for SIFT (registry: :data:`photogrammetry.matching.MATCHERS`). Each image's features are
moved to the device once and kept in a bounded cache while pairs that use it run (at most the
images of any :data:`CACHE_RUN` consecutive pairs, so its memory does not grow with the photo
count, and at most ``cache_images``); features are
read ahead in a worker thread. Pairs go through ``ctx.map`` in chunks (in this process, or on
the workers of a Ray cluster, each with its own cache). Each pair's result is a scratch file as
soon as it is done, so an interrupted run resumes pair by pair; ``matches.h5``
(:mod:`photogrammetry.io.features`) is written at the end.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from photogrammetry.device import blas_threads, resolve_device, torch_threads
from photogrammetry.engine.eta import Cost
from photogrammetry.engine.executor import ItemTask
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError, StageError
from photogrammetry.features import EXTRACTORS
from photogrammetry.features.prefetch import prefetch
from photogrammetry.features.weights import weights_identity
from photogrammetry.io.features import (MATCHES_FILE, FeatureFile, FeatureSet, Matches, PairSet, item_key,
                                        load_matches, load_matches_scratch, pair_name, save_matches_scratch,
                                        scratch_intact, write_matches)
from photogrammetry.matching import MATCHERS, MatcherOptions, load_matcher, resolve_matcher

SCRATCH = ".matches"
"""Folder of per-pair scratch results inside the artifact."""

CACHE_RUN = 64
"""The feature cache holds the images that any run of this many consecutive pairs needs (:func:`cache_size`)."""

KEEP_PAIRS = 5_000
"""Most pairs whose matches a local run keeps in memory for ``matches.h5`` (the rest are read back from
their scratch files): 60 MB at 1,000 matches a pair."""


@dataclass(frozen=True, kw_only=True)
class MatchesConfig(MatcherOptions):
    """Settings of the matches stage: which matcher, with the matchers'
    :class:`~photogrammetry.matching.MatcherOptions` (declared there)."""

    matcher: str = field(default="auto", metadata={"choices": ("auto", *MATCHERS)})
    """``auto`` (LightGlue for DISK / ALIKED / XFeat, ``nn-ratio`` for SIFT) or one of
    :data:`~photogrammetry.matching.MATCHERS`: ``lightglue``, ``nn-ratio``."""
    cache_images: int = field(default=512, metadata={"cache": False})
    """Most images whose features are kept on the device between pairs (bounds memory); a worker
    keeps fewer, those that any 64 consecutive pairs name."""

    KEY_NAMES: ClassVar[dict[str, str]] = {name: name for name in (
        "depth_confidence", "width_confidence", "filter_threshold", "ratio", "fp16", "matcher")}
    """The options of stage version 2 before ``min_similarity``: it enters the cache key only when
    changed, so that existing caches stay valid."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.matcher != "auto" and self.matcher not in MATCHERS:
            raise ConfigError(f"matches.matcher: unknown {self.matcher!r}; choose auto or one of: "
                              + ", ".join(MATCHERS))
        if self.cache_images < 2:
            raise ConfigError(f"matches.cache_images must be >= 2, got {self.cache_images}")


def fingerprint(config: MatchesConfig, photos: Path) -> list[dict[str, Any]] | None:
    """The LightGlue weight files that may be used (name and size), so that other weights give another key."""
    if config.matcher == "nn-ratio":
        return None
    families = sorted({spec.lightglue for spec in EXTRACTORS.values() if spec.lightglue is not None})
    return [weights_identity(f"lightglue-{family}", config.weights or None) for family in families]


def scratch_path(out: Path, name0: str, name1: str) -> Path:
    """Scratch file of pair ``(name0, name1)``."""
    return out / SCRATCH / f"{item_key(pair_name(name0, name1))}.npz"


class DeviceCache:
    """Prepared features of the most recently used images, at most ``capacity`` of them."""

    def __init__(self, load: Callable[[str], Any], capacity: int) -> None:
        self._load, self._capacity = load, capacity
        self._items: OrderedDict[str, Any] = OrderedDict()

    def get(self, name: str) -> Any:
        """The prepared features of ``name``, loaded on first use."""
        if name in self._items:
            self._items.move_to_end(name)
            return self._items[name]
        value = self._items[name] = self._load(name)
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)
        return value


@dataclass
class MatchTask(ItemTask[tuple[str, str], tuple[str, str]]):
    """Match pairs and save their scratch files; run locally or on Ray workers."""

    config: MatchesConfig
    matcher: str
    """Resolved matcher name."""
    extractor: str
    """The features' extractor."""
    features: Path
    """``features.h5``."""
    out: Path
    """The stage's (partial) folder: scratch files go to its ``.matches/``."""
    device_request: str
    threads: int = 1
    """Pairs matched at once, each in its own thread with torch's CPU ops and numpy's BLAS on one thread
    (see :func:`pair_threads`); 1: one pair at a time, torch's ops and the BLAS on all their threads."""
    cache_images: int = 2
    """Images whose prepared features a worker keeps (:func:`cache_size`)."""
    keep: int = 0
    """Pairs whose matches are also kept in :attr:`kept` (a local run, in this process: the stage writes
    ``matches.h5`` without reading their scratch files back; office-60: 0.3 CPU s); 0 on Ray workers."""

    def chunk(self) -> int:
        return 16

    def setup(self) -> None:
        self._matcher = load_matcher(self.matcher, self.extractor, self.config, resolve_device(self.device_request))
        self._file: FeatureFile | None = None
        self._cache = DeviceCache(lambda n: self._matcher.prepare(self._file.read(n)), self.cache_images)
        self.kept: dict[tuple[str, str], Matches] = {}

    def run(self, items: Sequence[tuple[str, str]]) -> Iterator[tuple[str, str]]:
        def read(pair: tuple[str, str]) -> tuple[tuple[str, str], Any, Any]:
            return pair, self._cache.get(pair[0]), self._cache.get(pair[1])

        def match(loaded: tuple[tuple[str, str], Any, Any]) -> tuple[str, str]:
            (name0, name1), a, b = loaded
            found = self._matcher.match(a, b)
            save_matches_scratch(scratch_path(self.out, name0, name1), found)
            if len(self.kept) < self.keep:
                self.kept[name0, name1] = found
            return name0, name1

        one = 1 if self.threads > 1 else None
        torch_one = one if getattr(self._matcher, "uses_torch", True) else None  # else torch is never imported
        # numpy's products on one thread always, not only beside other matching threads: OpenBLAS's sums
        # differ in the last bit with its thread count, so a one-thread local run and a Ray actor (one
        # thread) would otherwise give other similarities, and at the ratio test's edge other matches
        with FeatureFile(self.features) as self._file, torch_threads(torch_one), blas_threads(1):
            loaded = prefetch(read, items, workers=1, ahead=8)
            yield from prefetch(match, loaded, workers=self.threads, ahead=2 * self.threads)


def cache_size(pairs: Sequence[tuple[str, str]], limit: int, run: int = CACHE_RUN) -> int:
    """Images whose features a matching worker keeps: the most that any ``run`` consecutive pairs of
    ``pairs`` name, at most ``limit`` (``matches.cache_images``). An executor hands a worker runs of
    consecutive pairs (sorted by their first image, whose neighbours they share), so the cache serves
    them, and its size follows the pairs per image, not the photo count."""
    named: dict[str, int] = {}  # image -> its pairs in the window of the last ``run`` pairs
    most = 0
    for i, pair in enumerate(pairs):
        for name in pair:
            named[name] = named.get(name, 0) + 1
        for name in pairs[i - run] if i >= run else ():
            named[name] -= 1
            if not named[name]:
                del named[name]
        most = max(most, len(named))
    return max(2, min(limit, most))


def pair_threads(matcher: str, device: str, workers: int) -> int:
    """Pairs matched at once: ``workers`` for ``nn-ratio`` on the CPU, else 1.

    Its pairs take tens of milliseconds, too short for torch's own threads: on the 2-core machine
    shared with other jobs, a matrix product and top-k split over two threads took twice the wall
    time and twice the CPU time of one thread (the threads wait on each other), and two pairs on
    one thread each matched as fast as one pair on two threads with the machine idle. The matches
    are the same either way."""
    return workers if matcher == "nn-ratio" and device == "cpu" else 1


def _match_missing(config: MatchesConfig, ctx: StageContext, features: FeatureSet,
                   todo: list) -> dict[tuple[str, str], Matches]:
    """Match the pairs of ``todo``, writing each pair's scratch file as it is done; the matches a local run
    kept in memory (:attr:`MatchTask.keep`), by pair."""
    name = resolve_matcher(config.matcher, features.extractor)
    where = ctx.device if ctx.executor.name == "local" else f"{ctx.executor.name} workers"
    ctx.log.info("matching %d pairs with %s on %s", len(todo), name, where)
    with FeatureFile(features.path) as ff:
        missing = sorted({n for pair in todo for n in pair if n not in ff})
    if missing:
        raise StageError(f"pairs name images without features, e.g. {missing[:3]}; rerun with --force pairs")
    local = ctx.executor.name == "local"
    task = MatchTask(config=config, matcher=name, extractor=features.extractor, features=features.path, out=ctx.out,
                     device_request=ctx.device_request,
                     threads=pair_threads(name, ctx.device, ctx.workers) if local else 1,
                     cache_images=cache_size(todo, config.cache_images), keep=KEEP_PAIRS if local else 0)
    for _ in ctx.map(task, todo, unit="pair"):
        pass
    return getattr(task, "kept", {})


def run(config: MatchesConfig, ctx: StageContext, *, features: FeatureSet, pairs: PairSet) -> dict[str, Any]:
    """Match every pair of ``pairs`` into ``ctx.out/matches.h5``."""
    todo = [p for p in pairs.pairs if not scratch_intact(scratch_path(ctx.out, *p))]
    if len(todo) < len(pairs.pairs):
        ctx.log.info("%d of %d pairs already done", len(pairs.pairs) - len(todo), len(pairs.pairs))
    kept = _match_missing(config, ctx, features, todo) if todo else {}
    per_pair: list[int] = []
    with FeatureFile(features.path) as ff:
        num_keypoints = {n: ff.num_keypoints(n) for n in sorted({n for pair in pairs.pairs for n in pair})}

    def items() -> Iterator:
        for name0, name1 in pairs.pairs:
            matches = kept.pop((name0, name1), None)
            if matches is None:
                matches = load_matches_scratch(scratch_path(ctx.out, name0, name1))
            per_pair.append(len(matches.indices))
            yield name0, name1, matches

    try:
        write_matches(ctx.out / MATCHES_FILE, items(), num_keypoints)
    except ValueError as e:
        raise StageError(f"matches: cannot write hloc's layout: {e}") from None
    total = sum(per_pair)
    return {"pairs": len(per_pair), "matches": total, "mean_matches": round(total / max(1, len(per_pair)), 1),
            "pairs_without_matches": per_pair.count(0)}


STAGE = StageSpec(
    name="matches",
    version=2,  # 2: hloc's layout (matches0 under name0/name1)
    config=MatchesConfig,
    run=run,
    load=load_matches,
    requires=("features", "pairs"),
    fingerprint=fingerprint,
    outputs={"matches": MATCHES_FILE},
    cost=Cost(unit="pair", seconds=0.1, per_photo=5.5, count="pairs", units_from="pairs.pairs"),
    per_item=True,
    summary="Match features of each pair: LightGlue (DISK / ALIKED) or mutual NN + ratio (SIFT).",
)
