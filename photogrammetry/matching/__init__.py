"""Matchers (one registry) and pair selection (another, in :mod:`photogrammetry.matching.pairs`).

Typical use::

    matcher = load_matcher("auto", "aliked-n16", MatcherOptions(), device="cuda")
    matches = matcher.match(matcher.prepare(features0), matcher.prepare(features1))

``prepare`` moves one image's features to the device once, so an image shared by many pairs is
not converted again. Importing this package is cheap: torch and kornia load with a matcher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from photogrammetry.errors import ConfigError
from photogrammetry.features import ExtractorSpec, extractor_spec
from photogrammetry.features.weights import check_checkpoint
from photogrammetry.io.features import Features, Matches
from photogrammetry.matching.lightglue import LightGlueMatcher
from photogrammetry.matching.nearest import NearestNeighbourMatcher


@dataclass(frozen=True, kw_only=True)
class MatcherOptions:
    """How a matcher is built (the device is given to :func:`load_matcher`)."""

    depth_confidence: float = 0.95
    """LightGlue: stop after the layer where this fraction of points is confident; -1 runs all layers."""
    width_confidence: float = 0.99
    """LightGlue: drop points confidently unmatchable at this level after each layer; -1 keeps all."""
    filter_threshold: float = 0.5
    """LightGlue: smallest match confidence kept. LightGlue's own default, 0.1, lets through
    consistent false matches between views of repeated or symmetric structure from different
    sides, which pass RANSAC: on the Middlebury temple ring, 60 of 99 verified pairs were such
    (median inlier confidence 0.11-0.31, against 0.38-1.0 for true pairs) and the default preset's
    AUC@5 varied from 0.26 to 0.81 with the mapper's seed; at 0.5, one false pair is left and three
    seeds give 0.86 (0.3: 0.81 and 0.92). Orbit, facade, fountain and sacre_coeur register the
    same images with equal or lower errors."""
    ratio: float = 0.8
    """``nn-ratio``: largest nearest / second-nearest descriptor distance ratio (1 disables the test)."""
    min_similarity: float = -1.0
    """``nn-ratio``: a match's descriptors must have a cosine similarity above this (unit descriptors;
    RootSIFT for SIFT); -1 disables the test. XFeat's authors match by mutual nearest neighbours above 0.82."""
    fp16: bool = True
    """LightGlue's mixed precision on CUDA; the CPU always uses float32. Part of the key."""
    weights: str = field(default="", metadata={"cache": False, "path": "any", "check": check_checkpoint})
    """LightGlue weight file or folder; empty: found as described in
    :mod:`photogrammetry.features.weights`. Which files exist enters the key by name and size."""

    def __post_init__(self) -> None:
        if not 0.0 < self.ratio <= 1.0:
            raise ConfigError(f"ratio must be within (0, 1], got {self.ratio}")
        if not -1.0 <= self.min_similarity < 1.0:
            raise ConfigError(f"min_similarity must be within [-1, 1), got {self.min_similarity}")
        if not 0.0 <= self.filter_threshold < 1.0:
            raise ConfigError(f"filter_threshold must be within [0, 1), got {self.filter_threshold}")


class Matcher(Protocol):
    """A loaded matcher."""

    def prepare(self, features: Features) -> Any:
        """One image's features in the form :meth:`match` takes, on the device."""

    def match(self, prepared0: Any, prepared1: Any) -> Matches:
        """Matches between two prepared images."""


def _build_lightglue(extractor: ExtractorSpec, options: MatcherOptions, device: str) -> Matcher:
    if extractor.lightglue is None:
        raise ConfigError(f"no LightGlue weights exist for {extractor.name} features; use matches.matcher=nn-ratio")
    return LightGlueMatcher(extractor.lightglue, depth_confidence=options.depth_confidence,
                            width_confidence=options.width_confidence, filter_threshold=options.filter_threshold,
                            device=device, fp16=options.fp16, weights=options.weights or None)


def _build_nearest(extractor: ExtractorSpec, options: MatcherOptions, device: str) -> Matcher:
    return NearestNeighbourMatcher(ratio=options.ratio, min_similarity=options.min_similarity, device=device)


@dataclass(frozen=True, kw_only=True)
class MatcherSpec:
    """One entry of :data:`MATCHERS`."""

    name: str
    """Registry name, as given to ``matches.matcher``."""
    summary: str
    """One line for help texts."""
    learned: bool
    """Whether it needs pretrained weights."""
    build: Callable[[ExtractorSpec, MatcherOptions, str], Matcher]
    """``build(extractor, options)`` -> a loaded matcher for that extractor's features."""


MATCHERS: dict[str, MatcherSpec] = {spec.name: spec for spec in (
    MatcherSpec(name="lightglue", summary="LightGlue (kornia) for DISK / ALIKED, LighterGlue for XFeat; adaptive",
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


def load_matcher(name: str, extractor: str, options: MatcherOptions, device: str = "cpu") -> Matcher:
    """Build matcher ``name`` (or ``auto``) for the features of ``extractor`` on torch ``device``."""
    return MATCHERS[resolve_matcher(name, extractor)].build(extractor_spec(extractor), options, device)


__all__ = ["MATCHERS", "Matcher", "MatcherOptions", "MatcherSpec", "load_matcher", "resolve_matcher"]
