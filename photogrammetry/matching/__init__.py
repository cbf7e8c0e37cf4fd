"""Matchers (one registry) and pair selection (another, in :mod:`photogrammetry.matching.pairs`).

Typical use::

    matcher = load_matcher("auto", "aliked-n16", MatcherOptions(device="cuda"))
    matches = matcher.match(matcher.prepare(features0), matcher.prepare(features1))

``prepare`` moves one image's features to the device once, so an image shared by many pairs is
not converted again. Importing this package is cheap: torch and kornia load with a matcher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from photogrammetry.errors import ConfigError
from photogrammetry.features import ExtractorSpec, extractor_spec
from photogrammetry.io.features import Features, Matches
from photogrammetry.matching.lightglue import LightGlueMatcher
from photogrammetry.matching.nearest import NearestNeighbourMatcher


@dataclass(frozen=True, kw_only=True)
class MatcherOptions:
    """How a matcher is built; the ``matches`` stage's config maps onto these."""

    depth_confidence: float = 0.95
    """LightGlue: stop at a layer when this fraction of points is confident (-1: all layers)."""
    width_confidence: float = 0.99
    """LightGlue: prune points confidently unmatchable at this level (-1: no pruning)."""
    filter_threshold: float = 0.5
    """LightGlue: smallest match confidence kept (see the ``matches`` stage's setting)."""
    ratio: float = 0.8
    """Nearest neighbours: largest nearest / second-nearest distance ratio."""
    device: str = "cpu"
    """Torch device, ``cpu`` or ``cuda``."""
    fp16: bool = False
    """Half precision on CUDA (LightGlue's mixed precision); ignored on the CPU."""
    weights: str | None = None
    """Explicit LightGlue weight file or folder (see :mod:`photogrammetry.features.weights`)."""


class Matcher(Protocol):
    """A loaded matcher."""

    def prepare(self, features: Features) -> Any:
        """One image's features in the form :meth:`match` takes, on the device."""

    def match(self, prepared0: Any, prepared1: Any) -> Matches:
        """Matches between two prepared images."""


def _build_lightglue(extractor: ExtractorSpec, options: MatcherOptions) -> Matcher:
    if extractor.lightglue is None:
        raise ConfigError(f"no LightGlue weights exist for {extractor.name} features; use matches.matcher=nn-ratio")
    return LightGlueMatcher(extractor.lightglue, depth_confidence=options.depth_confidence,
                            width_confidence=options.width_confidence, filter_threshold=options.filter_threshold,
                            device=options.device, fp16=options.fp16, weights=options.weights)


def _build_nearest(extractor: ExtractorSpec, options: MatcherOptions) -> Matcher:
    return NearestNeighbourMatcher(ratio=options.ratio, device=options.device)


@dataclass(frozen=True, kw_only=True)
class MatcherSpec:
    """One entry of :data:`MATCHERS`."""

    name: str
    """Registry name, as given to ``matches.matcher``."""
    summary: str
    """One line for help texts."""
    learned: bool
    """Whether it needs pretrained weights."""
    build: Callable[[ExtractorSpec, MatcherOptions], Matcher]
    """``build(extractor, options)`` -> a loaded matcher for that extractor's features."""


MATCHERS: dict[str, MatcherSpec] = {spec.name: spec for spec in (
    MatcherSpec(name="lightglue", summary="LightGlue (kornia) for DISK / ALIKED, adaptive depth and pruning",
                learned=True, build=_build_lightglue),
    MatcherSpec(name="nn-ratio", summary="mutual nearest neighbours with a ratio test (SIFT: RootSIFT)",
                learned=False, build=_build_nearest),
)}
"""All matchers, by name; ``auto`` picks the extractor's own (see :func:`resolve_matcher`)."""


def resolve_matcher(name: str, extractor: str) -> str:
    """The matcher ``name`` stands for with ``extractor``'s features (``auto``: the extractor's choice)."""
    if name == "auto":
        return extractor_spec(extractor).matcher
    if name not in MATCHERS:
        raise ConfigError(f"unknown matcher {name!r}; choose auto or one of: {', '.join(MATCHERS)}")
    return name


def load_matcher(name: str, extractor: str, options: MatcherOptions) -> Matcher:
    """Build matcher ``name`` (or ``auto``) for the features of ``extractor``."""
    return MATCHERS[resolve_matcher(name, extractor)].build(extractor_spec(extractor), options)


__all__ = ["MATCHERS", "Matcher", "MatcherOptions", "MatcherSpec", "load_matcher", "resolve_matcher"]
