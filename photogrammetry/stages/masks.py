"""Masks: which pixels of each photo show the object, for every later stage.

Methods are the registry :data:`photogrammetry.masking.MASK_METHODS`
(:mod:`photogrammetry.masking.methods`): ``ingest`` (the photos'
alpha channels, the default), ``folder`` (the user's masks), ``background`` (estimated from a
fixed camera's sequence: turntables) or ``none``. Writes ``masks/<image name>.png`` (255 =
object) and ``masks.json`` (:class:`~photogrammetry.io.masks.MaskSet`). Features are detected
only inside the masks, and the undistort stage warps them for depth, fusion, mesh and texture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from photogrammetry.engine.eta import Cost
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError
from photogrammetry.io.ingest import IngestResult
from photogrammetry.io.masks import load_mask_set, read_mask, save_mask_set
from photogrammetry.masking import MASK_METHODS, MaskRequest, mask_method
from photogrammetry.masking.background import BackgroundOptions


@dataclass(frozen=True, kw_only=True)
class MasksConfig:
    """Settings of the masks stage."""

    method: str = field(default="ingest", metadata={"choices": tuple(MASK_METHODS)})
    """One of :data:`~photogrammetry.masking.MASK_METHODS`: ``ingest`` (alpha channels),
    ``folder`` (``masks.folder``), ``background`` (turntables: static background) or ``none``."""
    folder: str = field(default="", metadata={"cache": False, "path": "dir"})
    """Folder method: where the user's masks are (``<name>.png``, ``<stem>.png`` or
    ``<stem>_mask.png``, white = object). Their content, not the path, enters the key."""
    background: BackgroundOptions = field(default_factory=BackgroundOptions)
    """Background method: how the static background and the object are told apart."""

    KEY_NAMES: ClassVar[dict[str, str]] = {
        "method": "method", **{f"background.{name}": name for name in (
            "work_size", "tolerance", "stable_fraction", "threshold", "min_area", "grabcut_iterations")}}
    """The flat names these options had in the cache key before they were nested (stage version 1)."""

    def __post_init__(self) -> None:
        if mask_method(self.method).needs_folder and not self.folder:
            raise ConfigError("masks.method=folder needs masks.folder=PATH (a folder of <image name>.png masks)")


def fingerprint(config: MasksConfig, photos: Path) -> dict[str, Any] | None:
    """The user's mask files' content (folder method only)."""
    if not mask_method(config.method).needs_folder:
        return None
    from photogrammetry.masking.folder import folder_fingerprint

    return folder_fingerprint(Path(config.folder).expanduser())


def run(config: MasksConfig, ctx: StageContext, *, ingest: IngestResult) -> dict[str, Any]:
    """Write the masks of ``ingest``'s images into ``ctx.out``."""
    files = mask_method(config.method).make(MaskRequest(ingest=ingest, out=ctx.out, settings=config, log=ctx.log,
                                                        track=ctx.track))
    save_mask_set(ctx.out, config.method, files)
    coverage = [float(read_mask(ctx.out / rel).mean()) for rel in files.values() if rel]
    ctx.log.info("%s: %d of %d images masked", config.method, len(coverage), len(files))
    return {"images": len(files), "masked": len(coverage), "method": config.method,
            "mean_coverage": round(float(np.mean(coverage)), 4) if coverage else 0.0}


STAGE = StageSpec(
    name="masks",
    version=1,
    config=MasksConfig,
    run=run,
    load=load_mask_set,
    requires=("ingest",),
    fingerprint=fingerprint,
    outputs={"masks": "masks"},
    cost=Cost(seconds=0.01, count="images", method="method", method_seconds={"background": 1.0}),
    summary="Object masks: from alpha channels, a folder, or a turntable's static background.",
)
