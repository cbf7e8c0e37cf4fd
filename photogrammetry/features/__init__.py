"""Local feature extractors: the one registry of them, and extraction with keypoints mapped back.

Typical use::

    extractor = load_extractor("aliked-n16", ExtractorOptions(max_keypoints=2048), device="cuda")
    images = [load_for_extraction(path, None, resize_max=1600) for path in paths]
    features = extract(extractor, images)  # one Features per image, in the prepared images' pixels

Importing this package is cheap: torch and kornia are imported when an extractor is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from photogrammetry.errors import ConfigError
from photogrammetry.features import learned, sift, xfeat
from photogrammetry.features.base import Extractor, ExtractorOptions
from photogrammetry.features.images import ExtractionImage, inside_mask, load_for_extraction, rescale_keypoints
from photogrammetry.io.features import Features


@dataclass(frozen=True, kw_only=True)
class ExtractorSpec:
    """One entry of :data:`EXTRACTORS`."""

    name: str
    """Registry name, as given to ``features.extractor``."""
    summary: str
    """One line for help texts."""
    descriptor_dim: int
    """Length of a descriptor."""
    matcher: str
    """The matcher ``matches.matcher = "auto"`` picks for these features."""
    lightglue: str | None
    """LightGlue weights trained for these features (``disk``, ``aliked``, ``xfeat``: LighterGlue), if any."""
    build: Callable[[str, ExtractorOptions, str], Extractor]
    """``build(name, options)`` -> a loaded extractor (imports torch when it needs it)."""


EXTRACTORS: dict[str, ExtractorSpec] = {spec.name: spec for spec in (
    ExtractorSpec(name="aliked-n16", summary="ALIKED-N16 (kornia), learned, for LightGlue", descriptor_dim=128,
                  matcher="lightglue", lightglue="aliked", build=learned.build_aliked),
    ExtractorSpec(name="aliked-n32", summary="ALIKED-N32 (kornia), more descriptor samples", descriptor_dim=128,
                  matcher="lightglue", lightglue="aliked", build=learned.build_aliked),
    ExtractorSpec(name="disk", summary="DISK depth model (kornia), learned, for LightGlue", descriptor_dim=128,
                  matcher="lightglue", lightglue="disk", build=learned.build_disk),
    ExtractorSpec(name="sift", summary="SIFT (OpenCV), fast on the CPU, matched by nearest neighbours",
                  descriptor_dim=128, matcher="nn-ratio", lightglue=None, build=sift.build_sift),
    ExtractorSpec(name="xfeat", summary="XFeat (kornia), learned and light: fast on the CPU, for LighterGlue",
                  descriptor_dim=64, matcher="lightglue", lightglue="xfeat", build=xfeat.build_xfeat),
)}
"""All extractors, by name: the choices of ``features.extractor``."""


def extractor_spec(name: str) -> ExtractorSpec:
    """The registry entry called ``name``, or an error listing the choices."""
    if name not in EXTRACTORS:
        raise ConfigError(f"unknown extractor {name!r}; choose one of: {', '.join(EXTRACTORS)}")
    return EXTRACTORS[name]


def load_extractor(name: str, options: ExtractorOptions, device: str = "cpu") -> Extractor:
    """Build the extractor called ``name`` on torch ``device`` with its weights (found locally, never downloaded)."""
    return extractor_spec(name).build(name, options, device)


def to_prepared_image(features: Features, image: ExtractionImage) -> Features:
    """Features in the prepared image's pixels, without those outside its mask."""
    keypoints = rescale_keypoints(features.keypoints, image.size, image.original_size)
    keep = np.ones(len(keypoints), bool)
    if image.mask is not None:
        keep = inside_mask(features.keypoints, image.mask)
    return Features(keypoints[keep], features.scores[keep], features.descriptors[keep], image.original_size)


def extract(extractor: Extractor, images: Sequence[ExtractionImage]) -> list[Features]:
    """Features of ``images`` (all of one extraction size), in their prepared images' pixels."""
    if len({image.size for image in images}) > 1:
        raise ValueError("a batch must hold images of one size")
    return [to_prepared_image(f, image) for f, image in zip(extractor.extract(images), images, strict=True)]


__all__ = [
    "EXTRACTORS",
    "ExtractionImage",
    "Extractor",
    "ExtractorOptions",
    "ExtractorSpec",
    "extract",
    "extractor_spec",
    "load_extractor",
    "load_for_extraction",
    "to_prepared_image",
]
