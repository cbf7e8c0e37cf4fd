"""The executor seam without a cluster: ``--executor ray`` where Ray is missing, and local runs
never importing Ray (the Ray cluster itself: ``test_ray_executor.py``)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from photogrammetry.cli import main
from photogrammetry.engine.executor import INSTALL_HINT, LocalExecutor
from photogrammetry.engine.runner import RunOptions, make_executor
from photogrammetry.errors import ConfigError

ORBIT = Path(__file__).resolve().parents[2] / "sample_scenes" / "orbit" / "images"


def test_executor_ray_without_ray_says_how_to_install_it_and_exits_2(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where Ray is not installed
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(ORBIT / "view_000.jpg", photos)
    result = CliRunner().invoke(main, ["run", str(photos), "-w", str(tmp_path / "ws"), "--executor", "ray"])
    assert result.exit_code == 2, result.output
    assert INSTALL_HINT in result.output and "Traceback" not in result.output
    assert not (tmp_path / "ws").exists()  # refused before anything was written


def test_an_address_without_the_ray_executor_is_refused(tmp_path: Path):
    with pytest.raises(ConfigError, match="--executor ray"):
        make_executor(RunOptions(executor="local", ray_address="auto"), tmp_path)
    with pytest.raises(ConfigError, match="unknown executor"):
        make_executor(RunOptions(executor="dask"), tmp_path)


def test_a_ray_address_where_nothing_answers_is_refused_at_once(tmp_path: Path):
    pytest.importorskip("ray")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match=f"127.0.0.1:{port}: nothing answers there"):
        make_executor(RunOptions(executor="ray", ray_address=f"127.0.0.1:{port}"), tmp_path)
    assert time.monotonic() - t0 < 6
    with pytest.raises(ConfigError, match="HOST:PORT"):
        make_executor(RunOptions(executor="ray", ray_address="head-node"), tmp_path)


def test_local_executor_sets_up_once_and_runs_every_item_in_order():
    class Task:
        setups = 0

        def chunk(self) -> int:
            return 1

        def setup(self) -> None:
            self.setups += 1

        def run(self, items):
            yield from (item * 2 for item in items)

    task = Task()
    assert list(LocalExecutor().map(task, [1, 2, 3])) == [2, 4, 6] and task.setups == 1
    assert list(LocalExecutor().map(task, [])) == [] and task.setups == 1


def test_a_local_run_never_imports_ray(tmp_path: Path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("view_000.jpg", "view_001.jpg", "view_002.jpg"):
        shutil.copy(ORBIT / name, photos)
    script = (f"import sys, photogrammetry; photogrammetry.run({str(photos)!r}, {str(tmp_path / 'ws')!r}, "
              "preset='fast', until='matches', overrides=['ingest.max_image_size=320'], device='cpu', workers=1, "
              "progress=False); print('ray' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"
