"""Where a stage's per-item work runs: in this process (``local``, the default) or on a Ray cluster (``ray``).

A stage hands its per-item work (features per image, matches per pair, depth per view) to
:meth:`StageContext.map <photogrammetry.engine.stage.StageContext.map>` as an :class:`ItemTask`: a
picklable object whose :meth:`~ItemTask.setup` loads what every item needs (a network) once per
worker, and whose :meth:`~ItemTask.run` processes items in order, writing each item's files and its
record (atomic, checksummed) straight into the stage's ``.partial`` folder and yielding a small
result per item as it finishes. An executor maps the task over the items and yields those results
as items finish, in any order; the stage then assembles its artifact from the records, exactly as
it does when it resumes. Which executor runs, where and with how many workers never enters a cache
key: outputs are the same.

Ray is an optional dependency, imported only when ``ray`` is chosen
(:mod:`photogrammetry.engine.ray_executor`, started by the runner).
"""

from __future__ import annotations

import importlib
import socket
from collections.abc import Iterator, Sequence
from typing import Protocol, TypeVar

from photogrammetry.engine.memory import Trimmer, trim
from photogrammetry.errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("local", "ray")
"""Names accepted by ``--executor``."""

INSTALL_HINT = "pip install 'photogrammetry[distributed]'"
"""How to install what ``--executor ray`` needs."""


class ItemTask(Protocol[T, R]):
    """A stage's work on one item, sent to every worker (it must pickle: plain settings and paths).

    The same object runs locally and on a Ray worker: there it is unpickled once per worker,
    :meth:`setup` runs once, then :meth:`run` gets the items in chunks of :meth:`chunk` items.
    A protocol: library code (below the engine) may define tasks with these three methods
    without importing the engine; stages may subclass it for the defaults.
    """

    def chunk(self) -> int:
        """Items sent to a remote worker at a time: more for items that take milliseconds, or a
        CUDA batch."""
        return 1

    def setup(self) -> None:
        """Load what every item needs (a network, on the worker's device); called once per worker."""

    def run(self, items: Sequence[T]) -> Iterator[R]:
        """Process ``items`` in order: write each item's files and record into the stage's folder,
        then yield a small, picklable result for it."""


class ItemExecutor(Protocol):
    """Maps an :class:`ItemTask` over items (see the module's docstring)."""

    name: str

    def start(self) -> None:
        """Start the workers, if they are not up yet; the runner calls it before a stage that maps
        items (:attr:`StageSpec.per_item <photogrammetry.engine.stage.StageSpec.per_item>`), so
        that their start-up is not counted in the stage's time."""

    def map(self, task: ItemTask[T, R], items: Sequence[T]) -> Iterator[R]:
        """The task's result of every item, yielded as items finish (in any order)."""

    def close(self) -> None:
        """Release the workers (once, at the end of a run)."""


class LocalExecutor:
    """Everything in this process: the task's own threads, prefetching and CUDA batching, as before."""

    name = "local"

    def start(self) -> None:
        pass

    def map(self, task: ItemTask[T, R], items: Sequence[T]) -> Iterator[R]:
        """The task's results in order; the heap memory that is free goes back to the system when the
        process has grown over the items (:class:`~photogrammetry.engine.memory.Trimmer`) and once
        they are done (:func:`~photogrammetry.engine.memory.trim`)."""
        if not items:
            return
        task.setup()
        trimmer = Trimmer()
        for result in task.run(items):
            trimmer.item_done()
            yield result
        trim()

    def close(self) -> None:
        pass


def check_executor(kind: str, address: str | None) -> None:
    """Refuse an unknown executor ``kind``, a Ray ``address`` without Ray, or ``ray`` where Ray is not installed.

    Raises:
        ConfigError: With what to do (for a missing Ray: how to install it).
    """
    if kind not in EXECUTORS:
        raise ConfigError(f"unknown executor {kind!r}; use one of: {', '.join(EXECUTORS)}")
    if kind == "local" and address is not None:
        raise ConfigError("--ray-address is for --executor ray; add --executor ray or drop the address")
    if kind == "ray":
        try:
            importlib.import_module("ray")
        except ImportError as e:
            raise ConfigError(f"--executor ray needs Ray, which is not installed here: {INSTALL_HINT}") from e
        if address not in (None, "auto"):
            _check_reachable(address)


def _check_reachable(address: str) -> None:
    """A ``ConfigError`` unless something answers at ``HOST:PORT`` within seconds (Ray itself would
    retry for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--ray-address {address!r}: give auto or HOST:PORT of the cluster's head "
                          "(as printed by 'ray start --head')")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise ConfigError(f"--ray-address {address}: nothing answers there ({e.strerror or e}); start the "
                          "cluster with 'ray start --head' on that machine, or check the address") from e

