"""Which image pairs to match: one registry of pair-selection methods.

Methods: ``exhaustive`` (every pair; small sets), ``sequential`` (each image with the next
``window`` ones in name order, plus loop closure: wrapping around for turntables and orbits, or
retrieval neighbours for videos that revisit a place), ``turntable`` (rings of a turntable: see
:func:`turntable_pairs`), ``retrieval`` (each image with its ``k``
most similar by a VLAD descriptor of its own local features, see
:mod:`photogrammetry.matching.retrieval`, plus neighbours in capture order where names number the
photos or EXIF times order them: :mod:`photogrammetry.matching.sequences`) and ``file`` (pairs
listed in a text file). ``auto`` (see
:func:`auto_choice`) matches every pair while that is no more pairs per image than the method it
would use instead may choose, so the number of pairs grows linearly with the images above that.

Pairs are returned sorted and without repeats, each as ``(name0, name1)`` with ``name0`` before
``name1`` in the image order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from photogrammetry.errors import ConfigError, InputError
from photogrammetry.matching.sequences import CaptureTime, sequences

logger = logging.getLogger(__name__)

Pair = tuple[str, str]
LoopClosure = Literal["none", "wrap", "retrieval"]


@dataclass(frozen=True, kw_only=True)
class PairOptions:
    """How the pair-selection methods choose (each option names the methods it concerns)."""

    window: int = 10
    """Sequential: each image is paired with the next ``window`` images in name order;
    turntable: with the ``window`` views on each side within its ring."""
    loop_closure: LoopClosure = "wrap"
    """Sequential: ``wrap`` also pairs the last images with the first (closed rings: turntables,
    orbits); ``retrieval`` adds each image's ``k`` retrieval neighbours (videos that revisit);
    ``none`` adds nothing."""
    k: int = 10
    """Retrieval: neighbours per image by global descriptor (a pair is kept if either image
    has the other among its ``k``)."""
    retrieval_window: int = 0
    """Retrieval: also pair each image with this many following images in name order."""
    sequence_window: int = 3
    """Retrieval: photos whose names number them (the same name but for its last number, at
    least 3 photos alike: ``IMG_0001.JPG``, ``IMG_0002.JPG``, ...) or whose EXIF capture times order
    them (at least 3 different times of one camera) are taken as a sequence, and each is also
    paired with this many following photos of its sequence in number (time) order (0: none)."""
    vocabulary_size: int = 64
    """Retrieval: visual words of the VLAD vocabulary learnt from the scene's descriptors."""
    max_per_image: int = 0
    """Retrieval and sequential: the most pairs of one image. An image that many others take among
    their ``k`` (one that looks like much of the scene) would otherwise get a pair from each; over
    the bound, its weakest pairs go (the farthest retrieval ranks and sequence steps first). 0: the
    most the method is counted on for: retrieval ``2 (k + retrieval_window + sequence_window)``
    (``sequence_window`` only for photos in a sequence), sequential ``2 window`` (``+ 2 k`` with
    retrieval loop closure)."""
    ring_size: int = 0
    """Turntable: views per ring (the platform's steps per turn); 0: all images are one ring.
    Images are taken in name order, ring after ring."""
    flip_after: int = 0
    """Turntable: number of images taken before the object was flipped over (0: no flip)."""
    cross_window: int = 1
    """Turntable: each view is paired with the views of the ring above and below whose step
    differs by at most this much (modulo the ring)."""
    flip_partners: int = 8
    """Turntable: each view of the first ring after a flip is paired with this many evenly spread
    views of the last ring before it (the flip breaks the step correspondence)."""

    def __post_init__(self) -> None:
        for name in ("window", "k", "retrieval_window", "sequence_window", "ring_size", "flip_after", "cross_window",
                     "flip_partners", "max_per_image"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.vocabulary_size < 1:
            raise ConfigError(f"vocabulary_size must be >= 1, got {self.vocabulary_size}")


@dataclass(frozen=True, kw_only=True)
class PairRequest:
    """What a pair-selection method may use: the images, their features, the options."""

    names: tuple[str, ...]
    """Image names in their order (sorted by name: capture order for videos and turntables)."""
    features: Path | None = None
    """``features.h5``, for retrieval."""
    options: PairOptions = field(default_factory=PairOptions)
    """How to choose."""
    pairs_text: str | None = None
    """File method: the content of the pairs file."""
    pairs_source: str = "pairs file"
    """File method: where the text came from, for messages."""
    times: tuple[CaptureTime | None, ...] = ()
    """Retrieval: each image's camera and EXIF capture time (``None``: unknown; empty: none known),
    for sequences (:func:`~photogrammetry.matching.sequences.timed_sequences`)."""


def canonical(pairs: Iterable[tuple[int, int]], names: Sequence[str]) -> list[Pair]:
    """Index pairs -> sorted unique name pairs, lower index first, no self-pairs."""
    unique = {(min(i, j), max(i, j)) for i, j in pairs if i != j}
    return [(names[i], names[j]) for i, j in sorted(unique)]


def exhaustive_pairs(request: PairRequest) -> list[Pair]:
    """Every pair of images: ``n (n - 1) / 2`` pairs."""
    n = len(request.names)
    return canonical(((i, j) for i in range(n) for j in range(i + 1, n)), request.names)


def window_pairs(n: int, window: int, *, wrap: bool) -> list[tuple[int, int]]:
    """Index pairs ``(i, i + d)`` for ``d`` in ``1..window``, modulo ``n`` when ``wrap``."""
    if window < 1:
        return []
    if wrap:
        return [(i, (i + d) % n) for i in range(n) for d in range(1, min(window, n - 1) + 1)]
    return [(i, i + d) for i in range(n) for d in range(1, window + 1) if i + d < n]


Ranked = list[tuple[int, tuple[int, int]]]
"""Index pairs with their rank, 1 the strongest: a retrieval neighbour's rank, a sequence step's length."""


def ranked_window_pairs(n: int, window: int, *, wrap: bool) -> Ranked:
    """:func:`window_pairs`, each ranked by its step ``d``."""
    return [((j - i) % n if wrap else j - i, (i, j)) for i, j in window_pairs(n, window, wrap=wrap)]


def ranked_retrieval_pairs(request: PairRequest) -> Ranked:
    """Each image with its ``k`` retrieval neighbours, ranked by their rank (1: the most similar)."""
    from photogrammetry.matching.retrieval import retrieval_neighbours

    options = request.options
    near = retrieval_neighbours(_features(request), request.names, options.k, options.vocabulary_size)
    return [(rank + 1, (i, int(near[i, rank]))) for rank in range(near.shape[1]) for i in range(len(near))]


def capped(ranked: Ranked, names: Sequence[str], most: int) -> list[Pair]:
    """The pairs of ``ranked``, strongest first (by rank, then in the given order), each kept while
    neither of its images has ``most`` pairs yet (0: every pair kept)."""
    count = [0] * len(names)
    kept: set[tuple[int, int]] = set()
    for _, (i, j) in sorted(ranked, key=lambda r: r[0]):
        key = (min(i, j), max(i, j))
        if i == j or key in kept or (most and (count[i] >= most or count[j] >= most)):
            continue
        kept.add(key)
        count[i] += 1
        count[j] += 1
    if dropped := len({(min(i, j), max(i, j)) for _, (i, j) in ranked if i != j}) - len(kept):
        logger.info("%d pairs dropped: over %d pairs of one image (pairs.max_per_image)", dropped, most)
    return canonical(kept, names)


def sequential_pairs(request: PairRequest) -> list[Pair]:
    """Each image with the next ``window`` ones, plus loop-closure pairs (at most ``max_per_image`` per image)."""
    options = request.options
    ranked = ranked_window_pairs(len(request.names), options.window, wrap=options.loop_closure == "wrap")
    if options.loop_closure == "retrieval":
        ranked += ranked_retrieval_pairs(request)
    return capped(ranked, request.names, most_per_image("sequential", request.names, options))


def turntable_rings(n: int, ring_size: int, flip_after: int) -> list[list[list[int]]]:
    """Image indices grouped into passes (before / after a flip), each a list of rings in order.

    Images are in capture order: ring after ring, each ring ``ring_size`` consecutive views (the
    last ring of a pass may be shorter); a flip after ``flip_after`` images starts a new pass.
    """
    size = ring_size if ring_size > 0 else max(1, flip_after if 0 < flip_after < n else n)
    bounds = [(0, flip_after), (flip_after, n)] if 0 < flip_after < n else [(0, n)]
    return [[list(range(s, min(s + size, e))) for s in range(a, e, size)] for a, e in bounds]


def _ring_neighbours(ring: list[int], other: list[int], window: int) -> list[tuple[int, int]]:
    """Pairs between two rings: view ``a`` with the views of ``other`` at steps ``a +- window``."""
    pairs = []
    for a, i in enumerate(ring):
        b0 = round(a * len(other) / len(ring))
        pairs += [(i, other[(b0 + d) % len(other)]) for d in range(-window, window + 1)]
    return pairs


def turntable_pairs(request: PairRequest) -> list[Pair]:
    """Ring-aware pairs of a turntable capture.

    Within a ring, view ``i`` with ``i +- 1..window`` modulo the ring's length; between
    neighbouring rings of a pass, views whose steps differ by at most ``cross_window``; across a
    flip, each view of the first ring after it with ``flip_partners`` views spread over the last
    ring before it.
    """
    options = request.options
    pairs: list[tuple[int, int]] = []
    passes = turntable_rings(len(request.names), options.ring_size, options.flip_after)
    for rings in passes:
        for ring in rings:
            pairs += [(ring[i], ring[j]) for i, j in window_pairs(len(ring), options.window, wrap=True)]
        for ring, above in zip(rings, rings[1:]):
            pairs += _ring_neighbours(ring, above, options.cross_window)
    if len(passes) == 2:
        before, after = passes[0][-1], passes[1][0]
        stride = max(1, len(before) // max(1, options.flip_partners))
        pairs += [(i, before[(k * stride + a) % len(before)]) for a, i in enumerate(after)
                  for k in range(min(options.flip_partners, len(before)))]
    return canonical(pairs, request.names)


def ranked_sequence_pairs(names: Sequence[str], window: int, times: Sequence[CaptureTime | None] = ()) -> Ranked:
    """Each photo of a sequence (numbered names, capture times: :func:`~.sequences.sequences`) with
    the next ``window`` of it, ranked by step."""
    pairs = []
    for sequence in sequences(names, times) if window > 0 else []:
        steps = ranked_window_pairs(len(sequence), window, wrap=False)
        pairs += [(d, (sequence[i], sequence[j])) for d, (i, j) in steps]
    return pairs


def retrieval_pairs(request: PairRequest) -> list[Pair]:
    """Each image with its ``k`` nearest images by global descriptor, with the next ``sequence_window``
    of a sequence (numbered names, capture times) and the next ``retrieval_window`` in name order;
    at most ``max_per_image`` pairs per image (a sequence step before a retrieval rank of the same number)."""
    options = request.options
    ranked = ranked_sequence_pairs(request.names, options.sequence_window, request.times)
    ranked += ranked_window_pairs(len(request.names), options.retrieval_window, wrap=False)
    ranked += ranked_retrieval_pairs(request)
    return capped(ranked, request.names, most_per_image("retrieval", request.names, options, request.times))


def parse_pairs_text(text: str, names: Sequence[str], source: str = "pairs file") -> list[Pair]:
    """Pairs from text: one pair a line, the two names separated by a tab or else by white space.

    Blank lines and lines starting with ``#`` are skipped. Names are image names as ingest gives
    them (paths relative to the photo folder); a name that is not an image is an error.
    """
    index = {name: i for i, name in enumerate(names)}
    pairs, unknown = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) != 2:
            raise InputError(f"{source}, line {number}: expected two image names, got {line!r}")
        unknown += [p for p in parts if p not in index]
        pairs.append(tuple(index.get(p, -1) for p in parts))
    if unknown:
        raise InputError(f"{source}: {len(unknown)} names are not images of this run, e.g. "
                         f"{', '.join(repr(u) for u in unknown[:3])}; images are named like {names[0]!r}")
    return canonical(pairs, names)


def file_pairs(request: PairRequest) -> list[Pair]:
    """The pairs listed in the pairs file."""
    if request.pairs_text is None:
        raise ConfigError("pairs.method=file needs pairs.pairs_file=PATH (a text file, one pair of names a line)")
    return parse_pairs_text(request.pairs_text, request.names, request.pairs_source)


def _features(request: PairRequest) -> Path:
    if request.features is None:
        raise ConfigError("retrieval needs the features of the images")
    return request.features


@dataclass(frozen=True, kw_only=True)
class PairMethod:
    """One entry of :data:`PAIR_METHODS`."""

    name: str
    """Registry name, as given to ``pairs.method``."""
    summary: str
    """One line for help texts."""
    select: Callable[[PairRequest], list[Pair]]
    """``select(request)`` -> the pairs."""


PAIR_METHODS: dict[str, PairMethod] = {m.name: m for m in (
    PairMethod(name="exhaustive", summary="every pair (small sets)", select=exhaustive_pairs),
    PairMethod(name="sequential", summary="window in name order, with loop closure", select=sequential_pairs),
    PairMethod(name="turntable", summary="rings of a turntable: neighbours within and across rings and a flip",
               select=turntable_pairs),
    PairMethod(name="retrieval", summary="k nearest by a VLAD descriptor of the local features",
               select=retrieval_pairs),
    PairMethod(name="file", summary="pairs listed in a text file", select=file_pairs),
)}
"""All pair-selection methods, by name; ``auto`` picks one by the number of images (:func:`auto_choice`)."""


@dataclass(frozen=True, kw_only=True)
class AutoChoice:
    """What ``auto`` picked for a set of images, and why (for the log)."""

    method: str
    """``exhaustive``, or the method used instead: ``sequential`` (video frames) or ``retrieval``."""
    images: int
    """Number of images."""
    alternative: str
    """The method used instead of exhaustive above the switch."""
    bound: int
    """Most pairs per image (``2 pairs / images``) ``alternative`` can choose with these options."""
    floor: int
    """``auto_threshold``: exhaustive up to this many images whatever the bound."""

    def reason(self) -> str:
        """One line: the counts the choice was made on."""
        every = self.images - 1
        if self.method == "exhaustive":
            why = (f"<= {self.floor} images (auto_threshold)" if every > self.bound
                   else f"no more than {self.alternative}'s at most {self.bound}")
            return f"every pair: {every} per image, {why}"
        return (f"every pair would be {every} per image, {self.alternative} chooses at most {self.bound} "
                "(k, windows), growing linearly with the images")


def most_per_image(method: str, names: Sequence[str], options: PairOptions,
                   times: Sequence[CaptureTime | None] = ()) -> int:
    """The most pairs of one image that ``sequential`` or ``retrieval`` keeps: ``max_per_image``, or by default

    ``sequential``: ``window`` on each side (and ``k`` retrieval neighbours, counted twice, with
    retrieval loop closure); ``retrieval``: its ``k`` and as many of the images that chose it,
    plus ``2 sequence_window`` where names or capture times make a sequence and ``2 retrieval_window``.
    """
    if options.max_per_image:
        return options.max_per_image
    if method == "sequential":
        return 2 * options.window + (2 * options.k if options.loop_closure == "retrieval" else 0)
    ordered = options.sequence_window > 0 and bool(sequences(names, times))
    return 2 * (options.k + options.retrieval_window + (options.sequence_window if ordered else 0))


def alternative_bound(names: Sequence[str], options: PairOptions, *, frames: bool,
                      times: Sequence[CaptureTime | None] = ()) -> tuple[str, int]:
    """The method ``auto`` uses instead of exhaustive (``sequential`` for video ``frames``, else
    ``retrieval``), and the most pairs of one image it keeps (:func:`most_per_image`)."""
    method = "sequential" if frames else "retrieval"
    return method, most_per_image(method, names, options, times)


def auto_choice(names: Sequence[str], options: PairOptions, *, frames: bool = False, floor: int = 0,
                times: Sequence[CaptureTime | None] = ()) -> AutoChoice:
    """``auto``'s method for ``names``: every pair while that is no more pairs per image (``n - 1``)
    than the method it would use instead can choose (:func:`alternative_bound`), or while there are
    at most ``floor`` images; above, that method (``sequential`` for video ``frames``, else
    ``retrieval``), whose pairs grow linearly with the images where exhaustive ones grow as their square.
    """
    alternative, bound = alternative_bound(names, options, frames=frames, times=times)
    exhaustive = len(names) - 1 <= bound or len(names) <= floor
    return AutoChoice(method="exhaustive" if exhaustive else alternative, images=len(names),
                      alternative=alternative, bound=bound, floor=floor)


def resolve_method(method: str, names: Sequence[str], options: PairOptions, *, frames: bool = False,
                   floor: int = 0, times: Sequence[CaptureTime | None] = ()) -> str:
    """The method ``method`` stands for with images ``names`` (``auto``: see :func:`auto_choice`)."""
    if method == "auto":
        return auto_choice(names, options, frames=frames, floor=floor, times=times).method
    if method not in PAIR_METHODS:
        raise ConfigError(f"unknown pair method {method!r}; choose auto or one of: {', '.join(PAIR_METHODS)}")
    return method


def select_pairs(method: str, request: PairRequest, *, frames: bool = False, floor: int = 0) -> list[Pair]:
    """The pairs of ``request.names`` chosen by ``method`` (or ``auto``, see :func:`auto_choice`)."""
    resolved = resolve_method(method, request.names, request.options, frames=frames, floor=floor, times=request.times)
    return PAIR_METHODS[resolved].select(request)
