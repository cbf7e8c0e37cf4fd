"""The ``ray`` executor: a stage's items on the actors of a Ray cluster (see :mod:`.executor`).

A run keeps one pool of actors, one per worker process (one per CPU of the cluster, or one per GPU
when the cluster has GPUs and the device is not ``cpu``; ``--workers`` caps the count), started
before the first stage that maps items (:meth:`RayExecutor.start`, outside the stage's time) and
killed when the run ends: the processes start and import torch once per run, not once per stage.
For each stage, an actor loads the stage's :class:`~photogrammetry.engine.executor.ItemTask`
(unpickled once, its ``setup`` run once: the network is loaded once per actor and stage), takes
chunks of items from the driver as it finishes them, so fast actors take more (each from its own
run of consecutive items first, whose inputs overlap: see :class:`Shares`), and drops the task
when the stage ends (an idle actor holds no network, and gives the freed memory back to the
system). An actor's process has two allocation arenas, and trims its heap when it has grown over
the chunks, so that its memory does not grow with the items it has done (:mod:`.memory`). Each
actor holds :data:`IN_FLIGHT` chunks at once, so that the next one waits in its queue while it
runs one, instead of the actor waiting for the driver between chunks. When the stage ends, the
driver logs each actor's items, busy seconds and CPU seconds.
Actors write the items' files and records straight into the stage's ``.partial`` folder in the
workspace, which every node must see at the same path: that is checked when the executor starts.
When an actor dies (its process killed, its node lost), the chunk it held goes back to the queue
for the others (a later stage starts a new actor in its place); its half-written files are never
taken for done, since an item counts only once its atomic, checksummed record is in place. When
every actor of a stage is gone, the stage fails, and the next run resumes from the records.

Without an address, Ray is started on this machine with ``workers`` CPUs (default: all), and
stopped at the end of the run.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from photogrammetry.engine.executor import ItemTask, R, T
from photogrammetry.engine.memory import ACTOR_ENV, Trimmer, trim
from photogrammetry.errors import ConfigError, PhotogrammetryError, StageError

log = logging.getLogger("photogrammetry")

IN_FLIGHT = 2
"""Chunks an actor holds at once: one running, the next queued (see the module's docstring)."""


class Worker:
    """One actor of the run's pool: loads a stage's task (set up once), runs it on chunks of items, drops it."""

    def __init__(self) -> None:
        """Torch and OpenCV get as many threads as the actor has CPUs (OpenCV would take every core
        of the machine), as a local run gets ``--workers``: the order of float sums, hence the last
        bits of depth maps, depends on torch's."""
        import cv2
        import torch

        cpus = max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
        torch.set_num_threads(cpus)
        cv2.setNumThreads(cpus)
        self.task: ItemTask | None = None
        self.trimmer = Trimmer()
        """Gives the heap's freed memory back when the process grows over the items (:mod:`.memory`)."""
        self.usage = {"items": 0, "busy": 0.0, "cpu": 0.0}
        """The loaded task's items, and the seconds and CPU seconds of this process in ``load`` and ``run``."""

    def place(self) -> str:
        """Where this actor runs (host and process), for the log; an actor that answers is up."""
        return f"{socket.gethostname()}:{os.getpid()}"

    def gpus(self) -> list[str]:
        """The IDs of the GPUs Ray gave this actor (none when it asked for none)."""
        return [str(gpu) for gpu in ray.get_gpu_ids()]

    def load(self, task: ItemTask) -> str:
        """Drop the previous stage's task, set ``task`` up; :meth:`place`."""
        self.unload()
        t0, c0 = time.perf_counter(), time.process_time()
        task.setup()
        self.task, self.trimmer = task, Trimmer()
        self.usage = {"items": 0, "busy": time.perf_counter() - t0, "cpu": time.process_time() - c0}
        return self.place()

    def run(self, items: Sequence[Any]) -> tuple[list[Any], dict[str, float]]:
        """The loaded task's results of ``items``, and :attr:`usage` since it was loaded."""
        assert self.task is not None, "run before load"
        t0, c0 = time.perf_counter(), time.process_time()
        results = list(self.task.run(items))
        self.trimmer.item_done()
        usage = self.usage
        usage["items"] += len(results)
        usage["busy"] += time.perf_counter() - t0
        usage["cpu"] += time.process_time() - c0
        return results, dict(usage)

    def unload(self) -> None:
        """Free the task's network and caches (the stage is over), and give that memory back."""
        self.task = None
        gc.collect()
        trim()


def _probe(driver_file: str, token: str, node_file: str) -> str | None:
    """On one node: read the driver's probe file and write this node's; ``None``, else what failed."""
    try:
        if Path(driver_file).read_text(encoding="utf-8") != token:
            return f"{driver_file} holds something else there"
        Path(node_file).write_text(token, encoding="utf-8")
    except OSError as e:
        return f"{type(e).__name__}: {e}"
    return None


def check_shared_workspace(workspace: Path) -> None:
    """Every alive node reads a file the driver wrote in ``workspace`` and writes one the driver reads.

    Raises:
        ConfigError: A node cannot read or write there, or the driver cannot see what it wrote.
    """
    token = uuid.uuid4().hex
    driver_file = workspace.resolve() / f".probe-{token}"
    driver_file.write_text(token, encoding="utf-8")
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    probe = ray.remote(num_cpus=0)(_probe)
    files = {n["NodeID"]: driver_file.with_name(f"{driver_file.name}-{n['NodeID'][:12]}") for n in nodes}
    refs = {n["NodeID"]: probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
            .remote(str(driver_file), token, str(files[n["NodeID"]])) for n in nodes}
    problems = []
    try:
        for node in nodes:
            failed = ray.get(refs[node["NodeID"]])
            path = files[node["NodeID"]]
            if failed is None and not (path.is_file() and path.read_text(encoding="utf-8") == token):
                failed = f"it wrote {path.name}, which this machine does not see"
            if failed is not None:
                problems.append(f"node {node.get('NodeManagerAddress')} ({node['NodeID'][:12]}): {failed}")
    finally:
        for path in [driver_file, *files.values()]:
            path.unlink(missing_ok=True)
    if problems:
        raise ConfigError(f"the workspace {workspace} is not shared with every Ray node: {'; '.join(problems)}. "
                          "Put it on storage that every node mounts at the same path (NFS, a cluster file system)")


def start_ray(address: str | None, workers: int | None) -> None:
    """Connect to the cluster at ``address``, or start Ray here with ``workers`` CPUs (``None``: all)."""
    if address is None:
        ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False)
        return
    try:
        ray.init(address=address)
    except ConnectionError as e:
        raise ConfigError(f"--ray-address {address}: no Ray cluster found there ({e}); "
                          "start one with 'ray start --head' or give its HOST:PORT") from e


@contextmanager
def ray_session(address: str | None, workers: int | None) -> Iterator[None]:
    """Ray started (or connected to, see :func:`start_ray`) once for several runs, each of whose
    :class:`RayExecutor` then finds it up and leaves it so; stopped (disconnected) at the end. Where
    Ray is up already, nothing."""
    if ray.is_initialized():
        yield
        return
    start_ray(address, workers)
    try:
        yield
    finally:
        ray.shutdown()


class RayExecutor:
    """Maps items over actors of a Ray cluster; see the module's docstring."""

    name = "ray"

    def __init__(self, workspace: Path, *, address: str | None, workers: int | None, device: str) -> None:
        """Connect to the cluster at ``address`` (``None``: start Ray here with ``workers`` CPUs) and
        check that every node shares ``workspace``; ``workers`` caps the actors per stage, and
        ``device`` (``auto``, ``cpu``, ``cuda``) says whether they ask for GPUs."""
        self.workers, self.device = workers, device
        self._pool: list[Any] = []
        """The run's actors, started before the first stage that maps items (:meth:`start`)."""
        self._started = not ray.is_initialized()
        if self._started:
            start_ray(address, workers)
        resources = ray.cluster_resources()
        log.info("Ray: %d nodes, %g CPUs, %g GPUs", len([n for n in ray.nodes() if n.get("Alive")]),
                 resources.get("CPU", 0), resources.get("GPU", 0))
        try:
            if device == "cuda" and not resources.get("GPU"):
                raise ConfigError("--device cuda was asked for, but no node of the Ray cluster has a GPU; "
                                  "use --device cpu or auto")
            check_shared_workspace(workspace)
        except BaseException:
            self.close()
            raise

    def _actors(self, chunks: int | None = None) -> tuple[dict[str, Any], int]:
        """Options of each actor and how many to start for ``chunks`` chunks of work (``None``: as many
        as the cluster and ``workers`` allow)."""
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 0))
        if gpus and self.device != "cpu":
            options, capacity = {"num_cpus": 1, "num_gpus": 1}, gpus
        else:
            options, capacity = {"num_cpus": 1}, cpus
        options["runtime_env"] = {"env_vars": ACTOR_ENV}  # set as its process starts (see .memory)
        return options, max(1, min(chunks or capacity, self.workers or capacity, capacity or 1))

    def start(self) -> None:
        """Start the pool's actors that are not up (all, before the first stage; those lost since) and
        wait until each answers; log how long that took."""
        self._grow(*self._actors())

    def _grow(self, options: dict[str, Any], count: int) -> None:
        """Start actors until the pool has ``count``, and wait until each is up (a lost one leaves the pool)."""
        if len(self._pool) >= count:
            return
        t0 = time.perf_counter()
        new = [ray.remote(Worker).options(**options).remote() for _ in range(count - len(self._pool))]
        self._pool.extend(new)
        places, gpus = [], []
        for actor, refs in [(a, (a.place.remote(), a.gpus.remote())) for a in new]:
            try:
                place, held = ray.get(list(refs))
            except ray.exceptions.RayActorError as e:
                log.warning("a Ray worker was lost as it started (%s)", str(e).splitlines()[0])
                self._drop(actor)
                continue
            places.append(place)
            gpus += [f"{place} GPU {', '.join(held)}"] if held else []
        log.info("started %d Ray workers in %.1f s: %s", len(places), time.perf_counter() - t0, ", ".join(places))
        if gpus:
            log.info("Ray workers' GPUs: %s", "; ".join(gpus))

    def map(self, task: ItemTask[T, R], items: Sequence[T]) -> Iterator[R]:
        size = max(1, task.chunk())
        chunks = [list(items[i:i + size]) for i in range(0, len(items), size)]
        if not chunks:
            return
        options, count = self._actors(len(chunks))
        self._grow(options, count)  # without start(), or actors lost in an earlier stage
        workers = self._load(self._pool[:count], ray.put(task))
        log.info("%d Ray workers: %s", len(workers), ", ".join(place for _, place in workers))
        usage: dict[str, dict[str, float]] = {}
        try:
            yield from self._dispatch(workers, Shares(chunks, max(1, len(workers))), usage)
        finally:
            for actor in self._pool:
                actor.unload.remote()  # queued after the actor's last chunk
        log.info("Ray workers' share: %s", "; ".join(
            f"{place} {u['items']:.0f} items, busy {u['busy']:.1f} s, {u['cpu']:.1f} CPU s" for place, u in usage.items()))

    def _load(self, actors: list[Any], task: Any) -> list[tuple[Any, str]]:
        """Each actor that loaded ``task``, with where it runs; a lost one leaves the pool, a task's
        own error is raised."""
        workers = []
        for actor, ref in [(a, a.load.remote(task)) for a in actors]:
            try:
                workers.append((actor, ray.get(ref)))
            except ray.exceptions.RayTaskError as e:
                raise _cause(e) from None
            except ray.exceptions.RayActorError as e:
                log.warning("a Ray worker was lost while it loaded its task (%s)", str(e).splitlines()[0])
                self._drop(actor)
        return workers

    def _dispatch(self, workers: list[tuple[Any, str]], chunks: Shares,
                  usage: dict[str, dict[str, float]]) -> Iterator[Any]:
        """Hand out chunks to actors with a free slot (:data:`IN_FLIGHT` each) until all are done
        (actor ``i`` takes share ``i``); a lost actor's chunks go back to the queue. ``usage``: each
        actor's, as its last chunk reported it."""
        idle = [(i, actor, place) for _ in range(IN_FLIGHT) for i, (actor, place) in reversed(list(enumerate(workers)))]
        running: dict[Any, tuple[int, Any, str, list[Any]]] = {}
        while chunks or running:
            while chunks and idle:
                i, actor, place = idle.pop()
                chunk = chunks.next(i)
                running[actor.run.remote(chunk)] = (i, actor, place, chunk)
            if not running:
                raise StageError(f"every Ray worker of this stage was lost, {len(chunks)} chunks of items left; "
                                 "run the same command again: it resumes from the finished items")
            (ref,), _ = ray.wait(list(running), num_returns=1)
            i, actor, place, chunk = running.pop(ref)
            try:
                results, usage[place] = ray.get(ref)
            except ray.exceptions.RayActorError as e:
                log.warning("the Ray worker %s was lost (%s); its items go to the others: %s", place,
                            str(e).splitlines()[0], _labels(chunk))
                chunks.give_back(chunk)
                idle = [slot for slot in idle if slot[1] is not actor]
                self._drop(actor)
                continue
            except ray.exceptions.RayTaskError as e:
                raise _cause(e) from None
            log.debug("done on %s: %s", place, _labels(chunk))
            idle.append((i, actor, place))
            yield from results

    def _drop(self, actor: Any) -> None:
        """Kill ``actor`` (lost, or the run is over) and take it out of the pool (once)."""
        if any(a is actor for a in self._pool):
            ray.kill(actor)
            self._pool = [a for a in self._pool if a is not actor]

    def close(self) -> None:
        if ray.is_initialized():
            for actor in list(self._pool):
                self._drop(actor)
        if self._started and ray.is_initialized():
            ray.shutdown()


class Shares:
    """The chunks of a stage, in order, cut into one run of consecutive chunks per actor: actor ``i``
    takes its run's chunks from the front; once its run is done, it takes the last chunk of the
    longest run left (so a slow actor does not hold the stage up). Neighbouring items share inputs
    (the source views of neighbouring views, the photos of neighbouring pairs), which an actor's
    caches then serve, instead of every actor computing them for items dealt out in turn."""

    def __init__(self, chunks: list[list[Any]], actors: int) -> None:
        bounds = [len(chunks) * i // actors for i in range(actors + 1)]
        self.runs = [deque(chunks[a:b]) for a, b in zip(bounds, bounds[1:])]
        self.returned: deque[list[Any]] = deque()
        """Chunks of lost actors, handed out first."""

    def __len__(self) -> int:
        return len(self.returned) + sum(map(len, self.runs))

    def next(self, actor: int) -> list[Any]:
        """The next chunk for actor ``actor`` (there is one: check ``len`` first)."""
        if self.returned:
            return self.returned.popleft()
        if self.runs[actor]:
            return self.runs[actor].popleft()
        return max(self.runs, key=len).pop()

    def give_back(self, chunk: list[Any]) -> None:
        """A chunk whose actor was lost: the next idle actor takes it."""
        self.returned.append(chunk)


def _labels(chunk: list[Any]) -> str:
    """The items of a chunk by name, for the log."""
    return ", ".join(str(getattr(item, "name", item)) for item in chunk)


def _cause(error: Any) -> BaseException:
    """The error a task raised, when it is one for the user (its message then reads as in a local run)."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, PhotogrammetryError) else error
