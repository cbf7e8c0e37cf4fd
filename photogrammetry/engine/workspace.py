"""The workspace as a whole: the record of the last run, ``status`` and ``clean``."""

from __future__ import annotations

import dataclasses
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photogrammetry.engine.lock import WorkspaceLock, lock_holder
from photogrammetry.engine.plan import plan_keys
from photogrammetry.engine.settings import apply_overrides
from photogrammetry.engine.stage import StageSpec
from photogrammetry.engine.store import PARTIAL_SUFFIX, QUARANTINE, ArtifactStore, folder_size
from photogrammetry.errors import InputError, PhotogrammetryError
from photogrammetry.io.jsonio import read_json, to_jsonable, write_json

RUN_RECORD = "run.json"
WORKSPACE_MARKER = ".photogrammetry-workspace"
"""Empty file that marks a folder as a workspace (ingest never reads photos below one)."""
_KEY_FOLDER = re.compile(rf"^[0-9a-f]{{16}}(?:{re.escape(PARTIAL_SUFFIX)})?$")


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """``run.json``: what the last run asked for, enough for ``status`` to recompute keys."""

    photos: str
    """Absolute path of the photo folder."""
    preset: str | None
    """Preset name (``auto`` recorded as what it resolved to)."""
    preset_reason: str = ""
    """Why ``auto`` ended at that preset (empty where the preset was named)."""
    overrides: tuple[str, ...]
    """``--set`` assignments."""
    until: str | None
    """Last stage asked for."""
    settings: Mapping[str, Any]
    """Resolved settings per stage, as JSON values."""
    keys: Mapping[str, str]
    """Cache key of each stage of that run."""
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))
    """When the run started."""


def write_run_record(workspace: Path, record: RunRecord) -> None:
    write_json(workspace / RUN_RECORD, record)


def read_run_record(workspace: Path) -> RunRecord:
    """The record of the last run, or a clear error when ``workspace`` holds none."""
    path = workspace / RUN_RECORD
    if not workspace.is_dir():
        what = "is a file, not a workspace folder" if workspace.exists() else "does not exist"
        raise InputError(f"{workspace} {what}; give the workspace folder a run was started with (-w)")
    try:
        data = read_json(path)
        data["overrides"] = tuple(data.get("overrides", ()))
        return RunRecord(**data)
    except FileNotFoundError:
        raise InputError(f"{workspace} is not a workspace (no {RUN_RECORD}); run 'photogrammetry run' first") from None
    except (ValueError, TypeError) as e:
        raise InputError(f"{path} is unreadable ({e}); run 'photogrammetry run' again to rewrite it") from None


@dataclass(frozen=True)
class StageStatus:
    """State of one stage's artifact for the settings of the last run."""

    name: str
    """Stage name."""
    state: str
    """``done``, ``damaged`` (files differ in size from its manifest: the next run recomputes it),
    ``running`` (a live run is writing it), ``partial`` (interrupted), ``stale`` (only other settings'
    artifacts) or ``missing``."""
    key: str | None
    """Key for the last run's settings and the current inputs (``None`` if it cannot be derived)."""
    folder: str | None = None
    """Artifact folder when done."""
    seconds: float | None = None
    """Time the stage took."""
    size_bytes: int | None = None
    """Size of the artifact."""
    counts: Mapping[str, Any] = field(default_factory=dict)
    """Counts from the manifest."""
    outputs: Mapping[str, str] = field(default_factory=dict)
    """Main outputs: label -> absolute path."""
    cached_keys: tuple[str, ...] = ()
    """Keys of all finished artifacts of the stage kept in the workspace."""
    problems: tuple[str, ...] = ()
    """For ``damaged``: each file whose size differs from the manifest's (``verify`` also compares checksums)."""


@dataclass(frozen=True)
class WorkspaceStatus:
    """``photogrammetry status``; :meth:`to_dict` is the stable JSON form."""

    workspace: str
    """Workspace folder."""
    photos: str
    """Photo folder of the last run."""
    stages: tuple[StageStatus, ...]
    """One entry per stage of the pipeline, in order."""
    note: str = ""
    """Why keys could not be derived, if so."""
    preset: str | None = None
    """Preset of the last run (``auto`` recorded as what it resolved to)."""
    preset_reason: str = ""
    """Why ``auto`` ended at that preset (empty where the preset was named)."""

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)


def _current_keys(stages: Sequence[StageSpec], record: RunRecord) -> tuple[dict[str, str], str]:
    try:
        config = {s.name: apply_overrides(s, s.config(), record.settings.get(s.name, {}), RUN_RECORD,
                                          legacy=True)
                  for s in stages}
        return plan_keys(stages, config, Path(record.photos)), ""
    except (PhotogrammetryError, OSError) as e:
        return {}, f"cannot derive current keys: {e}"


def _stage_status(store: ArtifactStore, spec: StageSpec, key: str | None) -> StageStatus:
    cached = tuple(store.keys(spec.name))
    artifact = store.find(spec.name, key) if key else None
    if artifact is None:
        partial = key is not None and store.partial_folder(spec.name, key).is_dir()
        state = "partial" if partial else "stale" if cached else "missing"
        return StageStatus(spec.name, state, key, cached_keys=cached)
    m = artifact.manifest
    outputs = {label: str(artifact.folder / rel) for label, rel in m.get("outputs", {}).items()}
    problems = tuple(store.problems(artifact, checksums=False))
    return StageStatus(spec.name, "damaged" if problems else "done", key, str(artifact.folder), m.get("seconds"),
                       m.get("size_bytes"), m.get("counts", {}), outputs, cached, problems)


def workspace_status(stages: Sequence[StageSpec], workspace: Path) -> WorkspaceStatus:
    """Each stage's state for the last run's settings, with keys recomputed from current inputs."""
    record = read_run_record(workspace)
    keys, note = _current_keys(stages, record)
    store = ArtifactStore(workspace)
    entries = tuple(_stage_status(store, s, keys.get(s.name)) for s in stages)
    owner = lock_holder(workspace)
    if owner is not None:
        entries = _mark_running(entries)
        who = f"PID {owner.get('pid', '?')} on host {owner.get('host', '?')}, since {owner.get('since', '?')}"
        note = "; ".join(filter(None, [f"a {owner.get('command', 'run')} is in progress ({who})", note]))
    return WorkspaceStatus(str(workspace), record.photos, entries, note, record.preset, record.preset_reason)


def _mark_running(entries: tuple[StageStatus, ...]) -> tuple[StageStatus, ...]:
    """While a live process holds the workspace: its first ``partial`` stage is the one it is writing."""
    first = next((i for i, e in enumerate(entries) if e.state == "partial"), None)
    if first is None:
        return entries
    return entries[:first] + (dataclasses.replace(entries[first], state="running"),) + entries[first + 1:]


@dataclass(frozen=True)
class CleanReport:
    """What ``clean`` removed."""

    removed: tuple[str, ...]
    """Removed artifact folders, relative to the workspace."""
    freed_bytes: int
    """Space given back."""


def _is_stage_folder(folder: Path, stage_names: set[str]) -> bool:
    if not folder.is_dir() or folder.name.startswith("."):
        return False
    children = list(folder.iterdir())
    return folder.name in stage_names or (bool(children) and all(_KEY_FOLDER.match(c.name) for c in children))


def clean_workspace(stages: Sequence[StageSpec], workspace: Path, *, keep_latest: bool = False) -> CleanReport:
    """Delete cached artifacts; with ``keep_latest``, keep those of the last run."""
    if not (workspace / WORKSPACE_MARKER).is_file():
        raise InputError(f"{workspace} is not a photogrammetry workspace; nothing was deleted")
    keep = dict(read_run_record(workspace).keys) if keep_latest else {}
    removed, freed = [], 0
    with WorkspaceLock(workspace, command="clean"):
        store = ArtifactStore(workspace)
        store.empty_trash()
        quarantine = workspace / QUARANTINE
        if quarantine.is_dir():
            freed += folder_size(quarantine)
            removed += [f"{QUARANTINE}/{p.name}" for p in sorted(quarantine.iterdir())]
            shutil.rmtree(quarantine)
        names = {s.name for s in stages}
        for stage_dir in sorted(p for p in workspace.iterdir() if _is_stage_folder(p, names)):
            for child in sorted(stage_dir.iterdir()):
                if keep.get(stage_dir.name) == child.name and store.find(stage_dir.name, child.name):
                    continue
                freed += folder_size(child) if child.is_dir() else child.stat().st_size
                removed.append(f"{stage_dir.name}/{child.name}")
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            if not any(stage_dir.iterdir()):
                stage_dir.rmdir()
    return CleanReport(tuple(removed), freed)



@dataclass(frozen=True)
class ArtifactCheck:
    """The verification of one finished artifact."""

    stage: str
    """Stage name."""
    key: str
    """Cache key."""
    files: int
    """Number of files its manifest lists."""
    problems: tuple[str, ...]
    """What is wrong, one entry per file (path relative to the workspace); empty when intact."""


def verify_workspace(stages: Sequence[StageSpec], workspace: Path) -> tuple[ArtifactCheck, ...]:
    """Compare every file of every finished artifact of ``workspace`` with its manifest (sizes and
    checksums). Reads only: damaged artifacts are moved aside by the next ``run``."""
    if not (workspace / WORKSPACE_MARKER).is_file():
        raise InputError(f"{workspace} is not a photogrammetry workspace (no {WORKSPACE_MARKER})")
    store = ArtifactStore(workspace)
    checks = []
    for spec in stages:
        for key in store.keys(spec.name):
            artifact = store.find(spec.name, key)
            files = artifact.manifest.get("files")
            checks.append(ArtifactCheck(spec.name, key, len(files) if isinstance(files, dict) else 0,
                                        tuple(store.problems(artifact, checksums=True))))
    return tuple(checks)
