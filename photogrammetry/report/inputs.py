"""What the report reads: the workspace's stages (state, time, counts, settings, folders) and its options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, kw_only=True)
class ReportOptions:
    """How much the report shows; none of it changes a result."""

    max_points: int = 4000
    """Sparse points drawn in each of the three views (a random subset when there are more)."""
    max_observations: int = 200_000
    """Observations whose reprojection error is shown, and points whose track length is (whole images in
    a random order until this many; a random subset of the points): large models would take minutes."""
    max_depth_views: int = 12
    """Views whose depth and confidence maps are shown (evenly spaced over the views)."""
    thumbnail_size: int = 200
    """Longest side of each thumbnail, pixels."""
    render_size: tuple[int, int] = (360, 270)
    """Width and height of each rendered view of the model and the fused cloud, pixels."""
    max_matrix_images: int = 120
    """Photos shown in the match matrix (the first ones by name when there are more)."""


@dataclass(frozen=True, kw_only=True)
class StageRecord:
    """One stage as the workspace's status reports it."""

    name: str
    """Stage name."""
    state: str
    """``done``, ``damaged``, ``partial``, ``stale`` or ``missing``."""
    seconds: float | None = None
    """Time the stage took."""
    counts: Mapping[str, Any] = field(default_factory=dict)
    """Counts from its manifest."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Its settings in the last run."""
    folder: Path | None = None
    """Its artifact folder when done."""


@dataclass(frozen=True, kw_only=True)
class ReportInputs:
    """Everything the report is made from."""

    workspace: Path
    """The workspace folder."""
    photos: str
    """Photo folder of the last run."""
    stages: tuple[StageRecord, ...]
    """Every stage of the pipeline, in order."""
    preset: str | None = None
    """Preset of the last run."""
    preset_reason: str = ""
    """Why ``auto`` ended at that preset, where it escalated (empty otherwise)."""

    def record(self, stage: str) -> StageRecord | None:
        """The record of ``stage``, ``None`` for a stage the pipeline does not have."""
        return next((s for s in self.stages if s.name == stage), None)

    def why_missing(self, stage: str) -> str:
        """Why ``stage``'s artifact is not there, for a "not computed" note."""
        record = self.record(stage)
        state = record.state if record is not None else "missing"
        return {"partial": f"the {stage} stage was interrupted", "stale": f"the {stage} stage has not run with "
                "the last run's settings", "damaged": f"the {stage} stage's files are damaged (the next run "
                "recomputes them)", "done": ""}.get(state, f"the {stage} stage has not run")

    def folder(self, stage: str) -> Path | None:
        """The artifact folder of ``stage`` when it is done, else ``None``."""
        record = self.record(stage)
        return record.folder if record is not None and record.state == "done" else None
