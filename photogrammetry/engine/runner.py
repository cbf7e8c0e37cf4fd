"""The engine: decides which stages run, runs them under the workspace lock, records the run."""

from __future__ import annotations

import logging
import os
import platform
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photogrammetry._version import __version__
from photogrammetry.device import resolve_device
from photogrammetry.engine.eta import Estimator, format_left, manifest_rate, manifest_units_per_photo
from photogrammetry.engine.executor import ItemExecutor, LocalExecutor, check_executor
from photogrammetry.engine.lock import WorkspaceLock
from photogrammetry.engine.plan import plan_keys
from photogrammetry.engine.preflight import check_file_options, check_locations, check_writable
from photogrammetry.engine.progress import Left
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.engine.store import Artifact, ArtifactStore
from photogrammetry.engine.workspace import WORKSPACE_MARKER, RunRecord, write_run_record
from photogrammetry.errors import ConfigError, InputError, resource_error
from photogrammetry.io.jsonio import to_jsonable

log = logging.getLogger("photogrammetry")


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    """What to compute: the output-affecting part of a run."""

    photos: Path
    """Folder of input photos, or one input file (a video)."""
    workspace: Path
    """Folder holding the cache of artifacts."""
    config: Mapping[str, Any]
    """Resolved settings: stage name -> config dataclass."""
    preset: str | None = None
    """Preset the settings started from (recorded for ``status``)."""
    preset_reason: str = ""
    """Why ``auto`` ended at that preset, where it was not named (recorded for ``status``)."""
    overrides: tuple[str, ...] = ()
    """``--set`` assignments as given (recorded for ``status``)."""
    until: str | None = None
    """Last stage to run; ``None`` runs all."""
    force: tuple[str, ...] = ()
    """Stages to recompute even when cached; everything after them is recomputed too."""


MAX_WORKERS = 256
"""Most worker threads per stage ``--workers`` may ask for (more only fail to start)."""


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How to compute: nothing here changes outputs or keys."""

    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu`` or ``cuda``."""
    workers: int | None = None
    """Worker threads per stage, 1 to :data:`MAX_WORKERS`; ``None`` picks from the CPU count. With
    ``executor="ray"``: Ray actors per stage (``None``: one per CPU, or per GPU, of the cluster); Ray
    started here gets this many CPUs."""
    progress: bool | None = None
    """Progress bars: see :attr:`StageContext.progress`."""
    verify: bool = False
    """Compare the checksums of every cached artifact the run meets, not only of those it reads."""
    executor: str = "local"
    """Where per-item work runs: ``local`` (this process) or ``ray`` (a Ray cluster, whose actors
    ask for a GPU each unless ``device`` is ``cpu``; see :mod:`photogrammetry.engine.executor`)."""
    ray_address: str | None = None
    """``ray`` only: ``auto`` or ``HOST:PORT`` of a running cluster; ``None`` starts Ray on this machine."""
    on_start: Callable[[Path], None] | None = None
    """Called with the workspace once every check has passed and the workspace is held (the CLI
    opens its log file there); nothing is written before."""


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


def check_request(stages: Sequence[StageSpec], request: RunRequest, options: RunOptions) -> list[StageSpec]:
    """Every check that can fail before a stage runs; it writes nothing. Returns the stages to walk."""
    if not request.photos.exists():  # a file (a video) is the ingest stage's to accept or refuse
        raise InputError(f"PHOTOS {request.photos} does not exist; give a folder of photos or a video file")
    if options.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"unknown device {options.device!r}; use auto, cpu or cuda")
    if options.workers is not None and not 1 <= options.workers <= MAX_WORKERS:
        raise ConfigError(f"--workers {options.workers}: give 1 to {MAX_WORKERS} threads per stage (this machine "
                          f"has {os.cpu_count()} CPU cores)")
    check_executor(options.executor, options.ray_address)
    selected = select_stages(stages, request.until, request.force)
    check_locations(request.photos, request.workspace, [s.name for s in stages])
    check_file_options(selected, request.config)
    plan_keys(selected, request.config, request.photos)  # reads the inputs: fails on unusable ones
    check_writable(request.workspace)
    if options.device == "cuda" and options.executor == "local":  # on Ray, the cluster's nodes are asked
        resolve_device("cuda")
    return selected



def run_pipeline(stages: Sequence[StageSpec], request: RunRequest, options: RunOptions = RunOptions(), *,
                 stop: Callable[[StageOutcome], bool] | None = None) -> RunResult:
    """Run ``stages`` for ``request``: reuse cached artifacts, compute the rest, in order.

    ``stop``: called with each stage's outcome once it is done or reused; where it returns true, the run
    ends there (the result holds the stages up to that one).

    Raises:
        InputError, ConfigError: Before anything is written (see :func:`check_request`).
        ResourceError: The system refused a write (read-only, no space, permissions, ...).
    """
    workspace = request.workspace
    try:
        selected = check_request(stages, request, options)
        workspace.mkdir(parents=True, exist_ok=True)
        (workspace / WORKSPACE_MARKER).touch()
        with WorkspaceLock(workspace, command="run"):
            if options.on_start is not None:
                options.on_start(workspace)
            store = ArtifactStore(workspace)
            store.empty_trash()
            keys = plan_keys(selected, request.config, request.photos)
            write_run_record(workspace, _run_record(request, keys))
            items = make_executor(options, workspace)
            outcomes: list[StageOutcome] = []
            try:
                for outcome in _Executor(selected, request, options, store, keys, items).run_all():
                    outcomes.append(outcome)
                    if stop is not None and stop(outcome):
                        break
            finally:
                items.close()
    except OSError as e:
        mapped = resource_error(e, where=workspace)
        if mapped is None:
            raise
        raise mapped from e
    if not any(o.action == "ran" for o in outcomes) and len(outcomes) == len(selected):
        log.info("Nothing to do: all %d stages are up to date in %s", len(outcomes), workspace)
    return RunResult(workspace=workspace, stages=tuple(outcomes))


def make_executor(options: RunOptions, workspace: Path) -> ItemExecutor:
    """The executor ``options`` ask for, started (Ray: connected, the workspace checked on every node).

    Raises:
        ConfigError: See :func:`~photogrammetry.engine.executor.check_executor`; or a Ray node
            cannot see the workspace.
    """
    check_executor(options.executor, options.ray_address)
    if options.executor == "local":
        return LocalExecutor()
    from photogrammetry.engine.ray_executor import RayExecutor

    return RayExecutor(workspace, address=options.ray_address, workers=options.workers, device=options.device)


def _run_record(request: RunRequest, keys: Mapping[str, str]) -> RunRecord:
    """What ``status`` needs to know of this run."""
    return RunRecord(photos=str(request.photos.resolve()), preset=request.preset,
                     preset_reason=request.preset_reason, overrides=tuple(request.overrides), until=request.until,
                     settings=to_jsonable(dict(request.config)), keys=dict(keys))


def _limit_torch_threads(workers: int) -> None:
    """Cap torch's CPU thread pool at ``workers`` (``--workers``), before a stage uses it."""
    import torch

    if torch.get_num_threads() != workers:
        torch.set_num_threads(workers)


class _Executor:
    """Walks the selected stages once, loading upstream results only when a stage must run."""

    def __init__(self, stages: Sequence[StageSpec], request: RunRequest, options: RunOptions,
                 store: ArtifactStore, keys: Mapping[str, str], items: ItemExecutor) -> None:
        self.items = items
        """Runs the stages' per-item work (:meth:`StageContext.map`)."""
        self.specs = {s.name: s for s in stages}
        self.order = list(stages)
        self.request, self.options, self.store, self.keys = request, options, store, keys
        self._results: dict[str, Any] = {}
        self.forced: set[str] = set()
        """Stages recomputed by ``force`` (and those after them): their partial folders start afresh."""
        self.eta = Estimator({})
        """Estimates of the time left, refined as stages finish."""

    def _size_estimate(self, name: str) -> int | None:
        """Size of the largest finished artifact of the stage in the workspace (other settings), if any."""
        sizes = [a.manifest.get("size_bytes") or 0 for key in self.store.keys(name)
                 if (a := self.store.find(name, key)) is not None]
        return max(sizes) if sizes and max(sizes) > 0 else None

    def _warn_if_short_of_space(self, name: str, out: Path) -> None:
        """Warn before a stage runs when less space is free than its earlier results took."""
        needed = self._size_estimate(name)
        free = shutil.disk_usage(out).free
        if needed and free < needed:
            log.warning("%s: %.1f MB free on the workspace's disk, and this stage's earlier results took up to "
                        "%.1f MB; it may run out of space", name, free / 1e6, needed / 1e6)

    def _checked(self, name: str, *, checksums: bool) -> Artifact | None:
        """The stage's finished artifact if its files are intact; a damaged one is moved aside."""
        artifact = self.store.find(name, self.keys[name])
        if artifact is None:
            return None
        if not isinstance(artifact.manifest.get("files"), dict):
            artifact = self.store.adopt(artifact)
            log.info("%s: cached result written before results listed their files: its %d files are listed now "
                     "and checked from now on", name, len(artifact.manifest["files"]))
        problems = self.store.problems(artifact, checksums=checksums)
        if not problems:
            return artifact
        moved = self.store.quarantine(artifact.folder)
        log.warning("%s: the cached result is damaged and will be recomputed: %s (moved to %s)", name,
                    "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else ""),
                    moved.relative_to(self.store.workspace))
        return None

    def plan(self) -> dict[str, Artifact | None]:
        """The artifact each stage reuses (``None``: it runs).

        Sizes of every cached file are compared; checksums of those the run will read (the
        inputs of the stages that run), or of all with ``verify``. A damaged input makes its
        stage run too, whose own inputs are then checked in turn.
        """
        found: dict[str, Artifact | None] = {}
        for spec in self.order:
            if spec.name in self.request.force or self.forced:
                self.forced.add(spec.name)
            found[spec.name] = None if self.forced else self._checked(spec.name, checksums=self.options.verify)
        checked: set[str] = set()
        while True:
            needed = {u for s in self.order if found[s.name] is None for u in s.requires} - checked
            if not needed:
                return found
            for name in sorted(needed):
                checked.add(name)
                if found[name] is not None and not self.options.verify:
                    found[name] = self._checked(name, checksums=True)

    def _estimator(self) -> Estimator:
        """Estimates from the stages' costs and their finished results in the workspace (earlier runs):
        seconds and units of work per photo."""
        rates: dict[str, list[float]] = {}
        per_photo: dict[str, list[float]] = {}
        for spec in self.order:
            for key in self.store.keys(spec.name) if spec.cost is not None else ():
                if (artifact := self.store.find(spec.name, key)) is None:
                    continue
                for found, value in ((rates, manifest_rate(spec.cost, artifact.manifest)),
                                     (per_photo, manifest_units_per_photo(spec.cost, artifact.manifest))):
                    if value is not None:
                        found.setdefault(spec.name, []).append(value)
        costs = {s.name: s.cost.of(self.request.config.get(s.name)) for s in self.order if s.cost is not None}
        return Estimator(costs, rates, per_photo)

    def _left(self, stage: str, later: Sequence[str]) -> Left:
        """The run's time left, given the seconds left in ``stage`` (else its estimate less its time so far)."""
        t0 = time.perf_counter()

        def left(stage_left: float | None) -> str:
            after = self.eta.remaining(later)
            if stage_left is None:
                estimate = self.eta.estimate(stage)
                stage_left = None if estimate is None else max(estimate - (time.perf_counter() - t0), 0.0)
            return format_left(None if after is None or stage_left is None else after + stage_left)
        return left

    def run_all(self):
        found = self.plan()
        self.eta = self._estimator()
        for number, spec in enumerate(self.order, 1):
            key = self.keys[spec.name]
            artifact = found[spec.name]
            heading = f"stage {number} of {len(self.order)}: {spec.name}"
            if artifact is not None:
                log.info("%s: up to date (%s), reused", heading, key)
                self.eta.observe(spec.name, artifact.manifest.get("counts", {}))
                yield StageOutcome(spec.name, key, "reused", 0.0, artifact.folder,
                                   artifact.manifest.get("counts", {}))
                continue
            later = [s.name for s in self.order[number:] if found[s.name] is None]
            artifact = self._execute(spec, key, fresh=spec.name in self.forced, heading=heading,
                                     left=self._left(spec.name, later))
            yield StageOutcome(spec.name, key, "ran", artifact.manifest["seconds"], artifact.folder,
                               artifact.manifest["counts"])

    def _result(self, name: str) -> Any:
        if name not in self._results:
            self._results[name] = self.specs[name].load(self.store.folder(name, self.keys[name]))
        return self._results[name]

    def _context(self, spec: StageSpec, out: Path, left: Left) -> StageContext:
        extra = {"workers": self.options.workers} if self.options.workers else {}
        return StageContext(name=spec.name, out=out, photos=self.request.photos, left=left,
                            device_request=self.options.device, progress=self.options.progress,
                            executor=self.items, **extra)

    def _execute(self, spec: StageSpec, key: str, *, fresh: bool, heading: str, left: Left) -> Artifact:
        upstream = {name: self._result(name) for name in spec.requires}
        if self.options.workers:
            _limit_torch_threads(self.options.workers)
        if spec.per_item:
            self.items.start()
        out = self.store.begin(spec.name, key, fresh=fresh)
        self._warn_if_short_of_space(spec.name, out)
        resumed = any(out.iterdir())
        log.info("%s: running (%s)%s, %s", heading, key, ", resuming an interrupted run" if resumed else "",
                 left(None))
        started, t0 = time.strftime("%Y-%m-%dT%H:%M:%S"), time.perf_counter()
        try:
            counts = dict(spec.run(self.request.config[spec.name], self._context(spec, out, left), **upstream))
        except OSError as e:
            mapped = resource_error(e, where=out, needed_bytes=self._size_estimate(spec.name),
                                    context=f"{spec.name} stage: ")
            if mapped is None:
                raise
            raise mapped from e
        seconds = round(time.perf_counter() - t0, 3)
        self.eta.observe(spec.name, counts, seconds)
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
        if (work := self.eta.work(spec.name)) is not None:
            manifest["work"] = work
        artifact = self.store.commit(spec.name, key, manifest)
        summary = ", ".join(f"{v} {k}" for k, v in counts.items())
        log.info("%s: done in %.1f s%s", spec.name, seconds, f" ({summary})" if summary else "")
        return artifact
