"""Features: detect and describe local features in every prepared image.

Each image is read, resized so that its longest side is ``resize_max`` and given to the
extractor (DISK, ALIKED or SIFT, see :mod:`photogrammetry.features`); keypoints are mapped back
to the prepared image's pixels and those outside the image's mask (``masks`` stage) are dropped (a mask also
steers detection, so the keypoint budget goes to the object). On CUDA, images of one size run
in batches. Images go through ``ctx.map`` (in this process, or on the workers of a Ray cluster),
each image's result a scratch file as soon as it is done, so an interrupted run resumes image by
image; ``features.h5`` (:mod:`photogrammetry.io.features`) is written at the end.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

from photogrammetry.device import resolve_device
from photogrammetry.engine.eta import Cost
from photogrammetry.engine.executor import ItemTask
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError, StageError
from photogrammetry.features import EXTRACTORS, ExtractionImage, ExtractorOptions, extract, load_extractor
from photogrammetry.features.diagnosis import describe, why_no_keypoints
from photogrammetry.features.images import load_for_extraction
from photogrammetry.features.prefetch import prefetch
from photogrammetry.features.weights import WEIGHT_FILES, weights_identity
from photogrammetry.io.features import (FEATURES_FILE, item_key, load_features, load_features_scratch,
                                        save_features_scratch, scratch_intact, write_features)
from photogrammetry.io.ingest import ImageRecord, IngestResult
from photogrammetry.io.masks import MaskSet

SCRATCH = ".features"
"""Folder of per-image scratch results inside the artifact."""


@dataclass(frozen=True, kw_only=True)
class FeaturesConfig(ExtractorOptions):
    """Settings of the features stage: which extractor, at what image size, with the extractors'
    :class:`~photogrammetry.features.ExtractorOptions` (declared there)."""

    extractor: str = field(default="aliked-n16", metadata={"choices": EXTRACTORS})
    """Extractor, from the registry :data:`photogrammetry.features.EXTRACTORS`: ``aliked-n16``,
    ``aliked-n32``, ``disk`` (learned, matched by LightGlue), ``xfeat`` (learned and light, matched by
    LighterGlue: fast on the CPU) or ``sift`` (fast on the CPU)."""
    resize_max: int = 1600
    """Longest image side for extraction, in pixels; 0 uses the prepared images as they are.
    Keypoints are always stored in the prepared images' pixels."""
    resize_min: int = 0
    """Images whose longest side is shorter are upsampled to it for extraction (0: never), as
    COLMAP's SIFT doubles small images: keypoints on small photos are then localised to a
    finer fraction of their pixels. Never beyond ``resize_max``: with ``resize_max`` smaller,
    small images are upsampled to ``resize_max``."""
    batch_size: int = field(default=4, metadata={"cache": False})
    """Images per batch on CUDA (the CPU runs one at a time); does not change the output."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.extractor not in EXTRACTORS:
            raise ConfigError(f"features.extractor: unknown {self.extractor!r}; choose one of: {', '.join(EXTRACTORS)}")
        if self.resize_max < 0 or 0 < self.resize_max < 64:
            raise ConfigError(f"features.resize_max must be 0 (no resizing) or >= 64, got {self.resize_max}")
        if self.resize_min < 0:
            raise ConfigError(f"features.resize_min must be >= 0 (0: never upsample), got {self.resize_min}")
        if self.batch_size < 1:
            raise ConfigError(f"features.batch_size must be >= 1, got {self.batch_size}")


def fingerprint(config: FeaturesConfig, photos: Path) -> dict[str, Any] | None:
    """The weight file a learned extractor will use (name and size), so that other weights give another key."""
    if config.extractor not in WEIGHT_FILES:
        return None
    return weights_identity(config.extractor, config.weights or None)


def scratch_path(out: Path, name: str) -> Path:
    """Scratch file of image ``name``."""
    return out / SCRATCH / f"{item_key(name)}.npz"


def _batches(images: Iterator[tuple[ImageRecord, ExtractionImage]], size: int) -> Iterator[list]:
    """Consecutive images of one extraction size, at most ``size`` at a time."""
    for _, group in groupby(images, key=lambda item: item[1].size):
        batch: list = []
        for item in group:
            batch.append(item)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch


def _run_batch(extractor: Any, batch: list[tuple[ImageRecord, ExtractionImage]], out: Path) -> list[ImageRecord]:
    features = extract(extractor, [image for _, image in batch])
    for (record, _), feats in zip(batch, features, strict=True):
        save_features_scratch(scratch_path(out, record.name), feats)
    return [record for record, _ in batch]


@dataclass
class ExtractTask(ItemTask[ImageRecord, str]):
    """Extract and save the features of images (their scratch files); run locally or on Ray workers."""

    config: FeaturesConfig
    ingest: IngestResult
    masks: MaskSet
    out: Path
    """The stage's (partial) folder: scratch files go to its ``.features/``."""
    device_request: str
    workers: int
    """Threads that read images ahead."""
    threads: int = 1
    """Images extracted at once, each in its own thread (see :func:`image_threads`); 1: one at a time."""

    def chunk(self) -> int:
        return self.config.batch_size

    def setup(self) -> None:
        self._device = resolve_device(self.device_request)
        self._extractor = load_extractor(self.config.extractor, self.config, self._device)

    def _load(self, record: ImageRecord) -> tuple[ImageRecord, ExtractionImage]:
        return record, load_for_extraction(self.ingest.image_path(record), self.masks.mask_path(record.name),
                                          self.config.resize_max, self.config.resize_min)

    def run(self, items: Sequence[ImageRecord]) -> Iterator[str]:
        batch_size = self.config.batch_size if self._device == "cuda" else 1
        loaded = prefetch(self._load, items, workers=self.workers, ahead=2 * batch_size + self.workers + self.threads)
        done = prefetch(lambda batch: _run_batch(self._extractor, batch, self.out), _batches(loaded, batch_size),
                        workers=self.threads, ahead=self.threads)
        for records in done:
            yield from (record.name for record in records)


def image_threads(extractor: str, workers: int) -> int:
    """Images extracted at once: ``workers`` for ``sift`` (OpenCV, on the CPU whatever the device), else 1.

    COLMAP's SIFT extracts an image per core. OpenCV's SIFT runs much of an image on one thread (the
    Gaussian pyramid), so two images at once keep both cores of the 2-core machine busy. Each image's
    keypoints are the same either way."""
    return workers if extractor == "sift" else 1


def run(config: FeaturesConfig, ctx: StageContext, *, ingest: IngestResult, masks: MaskSet) -> dict[str, int | float]:
    """Extract features of every image of ``ingest``, inside its ``masks``, into ``ctx.out/features.h5``."""
    todo = [r for r in ingest.images if not scratch_intact(scratch_path(ctx.out, r.name))]
    if len(todo) < len(ingest.images):
        ctx.log.info("%d of %d images already done", len(ingest.images) - len(todo), len(ingest.images))
    if todo:
        local = ctx.executor.name == "local"
        task = ExtractTask(config=config, ingest=ingest, masks=masks, out=ctx.out, device_request=ctx.device_request,
                           workers=ctx.workers, threads=image_threads(config.extractor, ctx.workers) if local else 1)
        for _ in ctx.map(task, todo, unit="image"):
            pass
    per_image: list[int] = []

    def items() -> Iterator:
        for record in ingest.images:
            feats = load_features_scratch(scratch_path(ctx.out, record.name))
            per_image.append(len(feats.keypoints))
            yield record.name, feats

    write_features(ctx.out / FEATURES_FILE, items(), config.extractor)
    _check_keypoints(ctx, ingest, masks, dict(zip((r.name for r in ingest.images), per_image, strict=True)))
    total = sum(per_image)
    return {"images": len(per_image), "keypoints": total, "mean_keypoints": round(total / max(1, len(per_image)), 1),
            "images_without_keypoints": per_image.count(0)}


def _check_keypoints(ctx: StageContext, ingest: IngestResult, masks: MaskSet, counts: dict[str, int],
                     *, diagnosed: int = 20) -> None:
    """Name the images without keypoints and why (at most ``diagnosed`` of them are read again); a
    :class:`StageError` when fewer than two images have any, since nothing could then be matched."""
    empty = [name for name, n in counts.items() if n == 0]
    if not empty:
        return
    by_name = {r.name: r for r in ingest.images}
    causes = {name: why_no_keypoints(ingest.image_path(by_name[name]), masks.mask_path(name))
              for name in empty[:diagnosed]}
    unexplained = f" ({len(empty) - diagnosed} more not examined)" if len(empty) > diagnosed else ""
    what = f"no keypoints in {len(empty)} of {len(counts)} images{unexplained}: {describe(causes)}"
    if len(counts) - len(empty) < 2:
        raise StageError(f"{what}. Structure from motion needs at least two images with keypoints")
    ctx.log.warning("%s; those images will not be registered", what)


STAGE = StageSpec(
    name="features",
    version=3,  # 3: hloc's layout (groups at image names, (D, N) descriptors, keypoints 0.5 px down)
    config=FeaturesConfig,
    run=run,
    load=load_features,
    requires=("ingest", "masks"),
    fingerprint=fingerprint,
    outputs={"features": FEATURES_FILE},
    cost=Cost(seconds=0.3, count="images"),
    per_item=True,
    summary="Local features: ALIKED / DISK (kornia, learned) or SIFT, per image.",
)
