"""The ray executor on a two-node Ray cluster started on this machine (a head and a worker node of
one CPU each): the orbit sample scene through features, matches and depth gives the same keys and
the same bytes as a local run, also when a worker process is killed during depth.

The cluster starts once for the module (about 8 s on two cores). The local run uses one torch thread
(``workers=1``), as each Ray worker has one CPU: the depth sweep's float sums, hence the last bits of
its maps, depend on the thread count (with two threads they differ by about 1e-5 relative).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import photogrammetry
from photogrammetry.engine.runner import RunResult
from photogrammetry.errors import ConfigError

ray = pytest.importorskip("ray", reason="the ray executor needs Ray: pip install -e '.[distributed]'")

SCENE = Path(__file__).resolve().parents[2] / "sample_scenes" / "orbit"
VIEWS = [f"view_{i:03d}.jpg" for i in range(8)]
OVERRIDES = ["ingest.max_image_size=320", "features.resize_max=320", "depth.max_image_size=160",
             "depth.cascade.hypotheses=[16, 8]"]


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    if ray.is_initialized():
        ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("orbit") / "photos"
    folder.mkdir()
    for name in VIEWS:
        shutil.copy(SCENE / "images" / name, folder / name)
    return folder


def _run(photos: Path, workspace: Path, **options) -> RunResult:
    return photogrammetry.run(photos, workspace, preset="fast", overrides=OVERRIDES, until="depth", device="cpu",
                              progress=False, **options)


@pytest.fixture(scope="module")
def local(photos: Path) -> RunResult:
    return _run(photos, photos.parent / "local", workers=1)


class _Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def ray_log() -> list[str]:
    """The messages of the run ``on_ray``."""
    return []


@pytest.fixture(scope="module")
def on_ray(local: RunResult, cluster, photos: Path, ray_log: list[str]) -> RunResult:
    logger, handler = logging.getLogger("photogrammetry"), _Messages()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        return _run(photos, photos.parent / "ray", executor="ray", ray_address=cluster.address)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        ray_log.extend(handler.messages)


def _h5_contents(path: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    with h5py.File(path) as f:
        found["/"] = dict(f.attrs)
        f.visititems(lambda name, obj: found.__setitem__(
            name, obj[()] if isinstance(obj, h5py.Dataset) else dict(obj.attrs)))
    return found


def _same(a: object, b: object) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return np.array_equal(a, b)


def _differing_maps(a: RunResult, b: RunResult) -> list[str]:
    """Depth, normal and confidence maps whose bytes differ between the two runs."""
    first, second = a.folder("depth"), b.folder("depth")
    maps = sorted(p.relative_to(first) for kind in ("depth", "normals", "confidence")
                  for p in (first / kind).iterdir())
    assert len(maps) == 3 * len(VIEWS)
    return [str(m) for m in maps if (first / m).read_bytes() != (second / m).read_bytes()]


def test_ray_run_gives_the_local_keys_and_bytes(local: RunResult, on_ray: RunResult):
    assert on_ray.ran == local.ran
    assert [(s.name, s.key) for s in on_ray.stages] == [(s.name, s.key) for s in local.stages]
    for stage, file in (("features", "features.h5"), ("matches", "matches.h5")):
        ours, theirs = _h5_contents(on_ray.folder(stage) / file), _h5_contents(local.folder(stage) / file)
        assert ours.keys() == theirs.keys()
        assert [k for k in ours if not _same(ours[k], theirs[k])] == []
    assert _differing_maps(local, on_ray) == []
    assert not list(on_ray.workspace.glob(".probe-*"))  # the shared-storage check leaves nothing


def test_one_pool_of_workers_serves_every_stage_and_ends_with_the_run(on_ray: RunResult, ray_log: list[str]):
    pools = [set(re.findall(r":(\d+)", m.split(": ", 1)[1])) for m in ray_log if re.match(r"\d+ Ray workers:", m)]
    assert len(pools) == 4 and len(pools[0]) == 2  # features, matches, depth (sweep, filter), on both nodes
    assert all(pool == pools[0] for pool in pools[1:])
    started = [i for i, m in enumerate(ray_log) if m.startswith("started 2 Ray workers in ")]
    features = next(i for i, m in enumerate(ray_log) if re.match(r"stage \d+ of \d+: features: running", m))
    assert len(started) == 1 and started[0] < features  # before the first per-item stage: not in its time
    shares = [m for m in ray_log if m.startswith("Ray workers' share: ")]
    assert len(shares) == 4 and all(m.count(" CPU s") == 2 for m in shares)
    deadline = time.monotonic() + 30  # killed when the run ended (asynchronously)
    while any(_alive(int(pid)) for pid in pools[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(int(pid)) for pid in pools[0])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_node_that_does_not_share_the_workspace_is_refused(cluster, photos: Path, monkeypatch):
    from photogrammetry.engine import ray_executor

    own_disk = photos.parent / "node-disk"
    own_disk.mkdir()

    def probe_on_its_own_disk(driver_file: str, token: str, node_file: str) -> None:
        (own_disk / Path(node_file).name).write_text(token, encoding="utf-8")  # not where the driver looks

    monkeypatch.setattr(ray_executor, "_probe", probe_on_its_own_disk)
    with pytest.raises(ConfigError, match="not shared with every Ray node") as refused:
        _run(photos, photos.parent / "unshared", executor="ray", ray_address=cluster.address)
    assert refused.value.exit_code == 2 and "which this machine does not see" in str(refused.value)


def _kill_a_worker_once_views_are_done(partial: Path, caplog: pytest.LogCaptureFixture, done: threading.Event,
                                       killed: list[int]) -> None:
    """Wait for the depth stage's first finished view (its record), then SIGKILL one of its workers."""
    while not done.is_set():
        workers = [r.getMessage() for r in caplog.records if re.match(r"\d+ Ray workers:", r.getMessage())]
        if workers and any((partial / ".raw-items").glob("*.json")):
            pid = int(workers[-1].split(", ")[0].rsplit(":", 1)[1])
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.005)


def test_a_worker_killed_during_depth_changes_nothing(local: RunResult, on_ray: RunResult, cluster,
                                                      caplog: pytest.LogCaptureFixture):
    workspace = on_ray.workspace.parent / "ray-killed"
    shutil.copytree(on_ray.workspace, workspace)
    partial = workspace / "depth" / f"{on_ray.stages[-1].key}.partial"
    done, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_a_worker_once_views_are_done, args=(partial, caplog, done, killed))
    caplog.set_level(logging.DEBUG, logger="photogrammetry")
    killer.start()
    try:
        result = _run(on_ray.workspace.parent / "photos", workspace, force=("depth",), executor="ray",
                      ray_address=cluster.address)
    finally:
        done.set()
        killer.join()
    assert killed, "the depth stage finished before a worker could be killed"
    messages = [r.getMessage() for r in caplog.records]
    lost = next(i for i, m in enumerate(messages) if re.match(rf"the Ray worker \S+:{killed[0]} was lost", m))
    for view in messages[lost].rsplit(": ", 1)[1].split(", "):  # done again elsewhere (it may have been done)
        assert any(m.startswith("done on ") and view in m.split(": ", 1)[1].split(", ") for m in messages[lost:])
    assert result.ran == ("depth",)
    assert [s.key for s in result.stages] == [s.key for s in local.stages]
    assert _differing_maps(local, result) == []


def test_the_workers_start_with_two_malloc_arenas(cluster, tmp_path: Path):
    """Their processes' environment, where glibc reads it (see photogrammetry.engine.memory)."""
    from photogrammetry.engine.ray_executor import RayExecutor

    executor = RayExecutor(tmp_path, address=cluster.address, workers=1, device="cpu")
    try:
        executor.start()
        pid = int(ray.get(executor._pool[0].place.remote()).rpartition(":")[2])
        assert b"MALLOC_ARENA_MAX=2" in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    finally:
        executor.close()


def test_each_actor_takes_consecutive_chunks_then_the_longest_runs_tail():
    from photogrammetry.engine.ray_executor import Shares

    shares = Shares([[i] for i in range(10)], 2)
    assert len(shares) == 10
    assert [shares.next(0) for _ in range(5)] == [[0], [1], [2], [3], [4]]  # its own run, in order
    assert shares.next(1) == [5]
    assert shares.next(0) == [9]  # its run is done: the last chunk of the longest run left
    shares.give_back([5])  # actor 1 was lost holding it
    assert shares.next(0) == [5]
    assert [shares.next(0) for _ in range(3)] == [[8], [7], [6]]
    assert len(shares) == 0
