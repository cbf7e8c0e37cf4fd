"""What a stage is, for the engine: a spec with a config class, an entry function and a loader.

A stage lives in one module of :mod:`photogrammetry.stages` and exposes ``STAGE =
StageSpec(...)``. Its entry function has the signature::

    run(config: MyConfig, ctx: StageContext, **upstream) -> Mapping[str, int | float | str]

where ``upstream`` holds, for each name in ``requires``, the typed result that upstream
stage's ``load`` returned for its artifact folder. The entry function writes its artifact into
``ctx.out`` and returns counts for the manifest (e.g. ``{"images": 24}``). Stages never call
each other; the engine decides what runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from photogrammetry.device import resolve_device
from photogrammetry.engine.eta import Cost
from photogrammetry.engine.executor import ItemExecutor, ItemTask, LocalExecutor
from photogrammetry.engine.options import key_names, leaves, lookup
from photogrammetry.engine.progress import Heartbeat, Left, track
from photogrammetry.io.items import ItemStore

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, kw_only=True)
class StageSpec:
    """Everything the engine needs to know about one stage."""

    name: str
    """Stage name, used for folders, ``--until``/``--force`` and presets' table names."""
    version: int
    """Bump when the stage's output changes for the same settings; it is part of the key."""
    config: type
    """Frozen dataclass of the stage's settings; every field has a default."""
    run: Callable[..., Mapping[str, Any]]
    """Entry function ``run(config, ctx, **upstream) -> counts``."""
    load: Callable[[Path], Any]
    """Reads a finished artifact folder into the stage's typed result."""
    requires: tuple[str, ...] = ()
    """Names of the upstream stages whose results ``run`` receives as keyword arguments."""
    fingerprint: Callable[[Any, Path], Any] | None = None
    """For stages that read outside inputs: ``fingerprint(config, photos)`` -> JSON-able
    description of those inputs (paths, sizes, mtimes); it becomes part of the key."""
    outputs: Mapping[str, str] = field(default_factory=dict)
    """Main outputs as ``label -> path relative to the artifact folder`` (shown by status)."""
    summary: str = ""
    """One line for ``--help`` and logs."""
    cost: Cost | None = None
    """How long the stage takes, for the run's estimate of the time left (``None``: no time)."""
    per_item: bool = False
    """Its work goes through :meth:`StageContext.map`: the runner starts the executor's workers
    before the stage (:meth:`ItemExecutor.start <photogrammetry.engine.executor.ItemExecutor.start>`),
    outside its time."""


def output_affecting_settings(config: Any) -> dict[str, Any]:
    """The settings of a stage config that enter its cache key, flat: dotted path -> value.

    A field declared with ``field(metadata={"cache": False})`` changes how a stage runs
    (batch size, tiling) but not what it writes, and is left out of the key (with everything
    below it, for a group). Options of nested groups enter under their dotted path
    (``cascade.hypotheses``), top-level ones under their name.

    A config class whose options were once flat fields may declare ``KEY_NAMES``, a class
    variable mapping dotted paths to the flat names they had: those enter under the old name, and
    options that are not listed (added since) enter only when they differ from the config's
    default, so that the keys of existing caches stay the same. Options out of the key may be
    listed too (run records of earlier versions are read through the same table). Drop the table
    when the stage's version is next bumped.
    """
    names = key_names(type(config))
    default = type(config)() if names is not None else None
    settings = {}
    for option in leaves(config):
        if not option.cache:
            continue
        if names is None:
            settings[option.path] = option.value
        elif option.path in names:
            settings[names[option.path]] = option.value
        elif option.value != lookup(default, option.path):
            settings[option.path] = option.value
    return settings


@dataclass(frozen=True, kw_only=True)
class StageContext:
    """Where and how a stage runs. Nothing here enters the cache key."""

    name: str
    """Name of the running stage (for log lines and progress bars)."""
    out: Path
    """Folder the stage writes its artifact into (a ``.partial`` folder until committed)."""
    photos: Path
    """The input photo folder of the run."""
    device_request: str = "cpu"
    """Device asked for: ``auto``, ``cpu`` or ``cuda`` (see :attr:`device`)."""
    workers: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))
    """Worker threads a stage may use."""
    progress: bool | None = None
    """``True``: progress bars; ``False``: plain log lines; ``None``: bars when stderr is a terminal."""
    left: Left | None = None
    """The run's time left as words, given the seconds left in this stage (shown by progress lines)."""
    executor: ItemExecutor = field(default_factory=LocalExecutor)
    """Where :meth:`map` runs per-item work: this process, or a Ray cluster."""

    @property
    def device(self) -> str:
        """Torch device to use, ``cpu`` or ``cuda``; resolved on first use (it imports torch)."""
        return resolve_device(self.device_request)

    @property
    def log(self) -> logging.Logger:
        """Logger named after the stage."""
        return logging.getLogger(f"photogrammetry.{self.name}")

    def items(self, kind: str = "items") -> ItemStore:
        """Per-item records inside ``out`` that survive an interruption (deleted at commit)."""
        return ItemStore(self.out / f".{kind}")

    def track(self, iterable: Iterable[T], *, total: int | None = None, unit: str = "item") -> Iterator[T]:
        """Iterate with a progress bar (terminal) or periodic log lines (otherwise)."""
        return track(iterable, desc=self.name, total=total, unit=unit, enabled=self.progress, log=self.log,
                     left=self.left)

    def map(self, task: ItemTask[T, R], items: Sequence[T], *, unit: str = "item") -> Iterator[R]:
        """The task's result of every item, as items finish, run by :attr:`executor`, with progress."""
        return self.track(self.executor.map(task, items), total=len(items), unit=unit)

    def heartbeat(self, step: str) -> Heartbeat:
        """A context manager that logs ``<stage>: <step>, 40s elapsed`` every 10 s while a long step runs.

        For steps with no loop to :meth:`track` (Poisson, bundle adjustment); call the returned
        object's ``step(name)`` (or hand it to a library as a callback) as the next step starts.
        """
        return Heartbeat(self.name, step, log=self.log, left=self.left)
