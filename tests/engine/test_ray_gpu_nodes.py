"""The ray executor's GPU path on a CPU machine: a two-node Ray cluster whose worker node declares one
GPU (a logical resource: Ray schedules by it, CUDA is not there). With ``device="auto"`` the pool is
one actor per GPU, placed on the GPU node and given GPU 0, as on a real GPU cluster; torch finds no
CUDA in it, so it runs on the CPU and gives the local run's bytes. A user's first GPU cluster run
is then not the first run of this scheduling code."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

import photogrammetry

ray = pytest.importorskip("ray", reason="the ray executor needs Ray: pip install -e '.[distributed]'")

SCENE = Path(__file__).resolve().parents[2] / "sample_scenes" / "orbit"
OVERRIDES = ["ingest.max_image_size=320", "features.resize_max=320"]


@pytest.fixture(scope="module")
def gpu_cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1, num_gpus=1)
    cluster.wait_for_nodes()
    yield cluster
    if ray.is_initialized():
        ray.shutdown()
    cluster.shutdown()


def _features(path: Path) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return found


def test_actors_take_the_gpus_of_the_cluster_and_give_the_local_bytes(gpu_cluster, tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        shutil.copy(SCENE / "images" / f"view_{i:03d}.jpg", photos)
    options = dict(preset="fast", overrides=OVERRIDES, until="features", device="auto", progress=False)
    local = photogrammetry.run(photos, tmp_path / "local", workers=1, **options)
    caplog.set_level(logging.INFO, logger="photogrammetry")
    on_ray = photogrammetry.run(photos, tmp_path / "ray", executor="ray", ray_address=gpu_cluster.address, **options)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Ray: 2 nodes, 2 CPUs, 1 GPUs") for m in messages)
    started = [m for m in messages if m.startswith("started ") and " Ray workers in " in m]
    assert len(started) == 1 and started[0].startswith("started 1 Ray workers")  # one per GPU, not per CPU
    place = started[0].rsplit(": ", 1)[1]
    assert [m for m in messages if m.startswith("Ray workers' GPUs: ")] == [f"Ray workers' GPUs: {place} GPU 0"]
    assert [(s.name, s.key) for s in on_ray.stages] == [(s.name, s.key) for s in local.stages]
    ours, theirs = (_features(r.folder("features") / "features.h5") for r in (on_ray, local))
    assert ours.keys() == theirs.keys() and all(np.array_equal(ours[k], theirs[k]) for k in ours)
