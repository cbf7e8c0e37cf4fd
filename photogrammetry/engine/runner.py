"""The engine: decides which stages run, runs them under the workspace lock, records the run."""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photogrammetry._version import __version__
from photogrammetry.engine.device import resolve_device
from photogrammetry.engine.lock import WorkspaceLock
from photogrammetry.engine.plan import plan_keys
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.engine.store import Artifact, ArtifactStore
from photogrammetry.engine.workspace import WORKSPACE_MARKER, RunRecord, write_run_record
from photogrammetry.errors import ConfigError, InputError
from photogrammetry.io.jsonio import to_jsonable

log = logging.getLogger("photogrammetry")


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    """What to compute: the output-affecting part of a run."""

    photos: Path
    """Folder of input photos."""
    workspace: Path
    """Folder holding the cache of artifacts."""
    config: Mapping[str, Any]
    """Resolved settings: stage name -> config dataclass."""
    preset: str | None = None
    """Preset the settings started from (recorded for ``status``)."""
    overrides: tuple[str, ...] = ()
    """``--set`` assignments as given (recorded for ``status``)."""
    until: str | None = None
    """Last stage to run; ``None`` runs all."""
    force: tuple[str, ...] = ()
    """Stages to recompute even when cached; everything after them is recomputed too."""


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How to compute: nothing here changes outputs or keys."""

    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu`` or ``cuda``."""
    workers: int | None = None
    """Worker threads per stage; ``None`` picks from the CPU count."""
    progress: bool | None = None
    """Progress bars: see :attr:`StageContext.progress`."""


@dataclass(frozen=True)
class StageOutcome:
    """What happened to one stage in a run."""

    name: str
    """Stage name."""
    key: str
    """Cache key of its artifact."""
    action: str
    """``ran`` or ``reused``."""
    seconds: float
    """Time the stage took when it ran (0 when reused)."""
    folder: Path
    """Its artifact folder."""
    counts: Mapping[str, Any] = field(default_factory=dict)
    """Counts from the manifest (images, points, ...)."""


@dataclass(frozen=True)
class RunResult:
    """The outcome of :func:`run_pipeline`."""

    workspace: Path
    """The workspace."""
    stages: tuple[StageOutcome, ...]
    """One outcome per stage that was part of the run, in order."""

    def folder(self, stage: str) -> Path:
        """Artifact folder of ``stage``."""
        return next(s.folder for s in self.stages if s.name == stage)

    @property
    def ran(self) -> tuple[str, ...]:
        """Names of the stages that were computed (not reused)."""
        return tuple(s.name for s in self.stages if s.action == "ran")


def select_stages(stages: Sequence[StageSpec], until: str | None, force: Sequence[str]) -> list[StageSpec]:
    """The stages up to ``until``, after checking the stage names given by the user."""
    names = [s.name for s in stages]
    for name in [until, *force]:
        if name is not None and name not in names:
            raise ConfigError(f"unknown stage {name!r}; stages are: {', '.join(names)}")
    return list(stages[: names.index(until) + 1]) if until else list(stages)


def run_pipeline(stages: Sequence[StageSpec], request: RunRequest, options: RunOptions = RunOptions()) -> RunResult:
    """Run ``stages`` for ``request``: reuse cached artifacts, compute the rest, in order."""
    if not request.photos.is_dir():
        raise InputError(f"photo folder {request.photos} does not exist or is not a folder")
    if options.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"unknown device {options.device!r}; use auto, cpu or cuda")
    if options.device == "cuda":
        resolve_device("cuda")  # fail before any stage runs
    selected = select_stages(stages, request.until, request.force)
    workspace = request.workspace
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / WORKSPACE_MARKER).touch()
    with WorkspaceLock(workspace, command="run"):
        store = ArtifactStore(workspace)
        store.empty_trash()
        keys = plan_keys(selected, request.config, request.photos)
        write_run_record(workspace, _run_record(request, keys))
        executor = _Executor(selected, request, options, store, keys)
        outcomes = tuple(executor.run_all())
    if not any(o.action == "ran" for o in outcomes):
        log.info("Nothing to do: all %d stages are up to date in %s", len(outcomes), workspace)
    return RunResult(workspace=workspace, stages=outcomes)


def _run_record(request: RunRequest, keys: Mapping[str, str]) -> RunRecord:
    """What ``status`` needs to know of this run."""
    return RunRecord(photos=str(request.photos.resolve()), preset=request.preset,
                     overrides=tuple(request.overrides), until=request.until,
                     settings=to_jsonable(dict(request.config)), keys=dict(keys))


def _limit_torch_threads(workers: int) -> None:
    """Cap torch's CPU thread pool at ``workers`` (``--workers``), before a stage uses it."""
    import torch

    if torch.get_num_threads() != workers:
        torch.set_num_threads(workers)


class _Executor:
    """Walks the selected stages once, loading upstream results only when a stage must run."""

    def __init__(self, stages: Sequence[StageSpec], request: RunRequest, options: RunOptions,
                 store: ArtifactStore, keys: Mapping[str, str]) -> None:
        self.specs = {s.name: s for s in stages}
        self.order = list(stages)
        self.request, self.options, self.store, self.keys = request, options, store, keys
        self._results: dict[str, Any] = {}

    def run_all(self):
        forcing = False
        for spec in self.order:
            forcing = forcing or spec.name in self.request.force
            key = self.keys[spec.name]
            artifact = None if forcing else self.store.find(spec.name, key)
            if artifact is not None:
                log.info("%s: up to date (%s), reused", spec.name, key)
                yield StageOutcome(spec.name, key, "reused", 0.0, artifact.folder,
                                   artifact.manifest.get("counts", {}))
                continue
            artifact = self._execute(spec, key, fresh=forcing)
            yield StageOutcome(spec.name, key, "ran", artifact.manifest["seconds"], artifact.folder,
                               artifact.manifest["counts"])

    def _result(self, name: str) -> Any:
        if name not in self._results:
            self._results[name] = self.specs[name].load(self.store.folder(name, self.keys[name]))
        return self._results[name]

    def _context(self, spec: StageSpec, out: Path) -> StageContext:
        extra = {"workers": self.options.workers} if self.options.workers else {}
        return StageContext(name=spec.name, out=out, photos=self.request.photos,
                            device_request=self.options.device, progress=self.options.progress, **extra)

    def _execute(self, spec: StageSpec, key: str, *, fresh: bool) -> Artifact:
        upstream = {name: self._result(name) for name in spec.requires}
        if self.options.workers:
            _limit_torch_threads(self.options.workers)
        out = self.store.begin(spec.name, key, fresh=fresh)
        resumed = any(out.iterdir())
        log.info("%s: running (%s)%s", spec.name, key, ", resuming an interrupted run" if resumed else "")
        started, t0 = time.strftime("%Y-%m-%dT%H:%M:%S"), time.perf_counter()
        counts = dict(spec.run(self.request.config[spec.name], self._context(spec, out), **upstream))
        seconds = round(time.perf_counter() - t0, 3)
        manifest = {
            "stage_version": spec.version,
            "package_version": __version__,
            "python": platform.python_version(),
            "settings": to_jsonable(self.request.config[spec.name]),
            "upstream": {u: self.keys[u] for u in spec.requires},
            "started": started,
            "seconds": seconds,
            "counts": counts,
            "outputs": dict(spec.outputs),
        }
        artifact = self.store.commit(spec.name, key, manifest)
        summary = ", ".join(f"{v} {k}" for k, v in counts.items())
        log.info("%s: done in %.1f s%s", spec.name, seconds, f" ({summary})" if summary else "")
        return artifact
