"""The command line on the real pipeline: exit codes, messages, status JSON, kill -9 of ingest."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from photogrammetry.engine.lock import WorkspaceLock
from tests.engine.test_resume import artifacts


def cli(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "photogrammetry", *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


def write_photos(folder: Path, count: int, size: tuple[int, int] = (160, 120), seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        image = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"photo_{i:03d}.png"), image)
    return folder


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    return write_photos(tmp_path / "photos", 4)


def test_run_status_clean(photos: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    first = cli("run", photos, "-w", workspace, "--preset", "fast", "--until", "ingest")
    assert "stage 1 of 1: ingest: running (" in first.stderr and "time left unknown" in first.stderr
    second = cli("run", photos, "-w", workspace, "--preset", "fast", "--until", "ingest")
    assert "Nothing to do" in second.stderr and "stage 1 of 1: ingest: up to date (" in second.stderr
    status = json.loads(cli("status", workspace, "--json").stdout)
    ingest = status["stages"][0]
    assert (ingest["name"], ingest["state"], ingest["counts"]["images"]) == ("ingest", "done", 4)
    assert Path(ingest["outputs"]["images"]).is_dir()
    assert "ingest" in cli("status", workspace).stdout
    assert "removed 1 artifact folder" in cli("clean", workspace).stdout
    assert json.loads(cli("status", workspace, "--json").stdout)["stages"][0]["state"] == "missing"
    assert list((workspace / "logs").glob("run-*.log"))


def test_locked_workspace_exits_3(photos: Path, tmp_path: Path) -> None:
    with WorkspaceLock(tmp_path / "ws"):
        proc = cli("run", photos, "-w", tmp_path / "ws", check=False)
    assert proc.returncode == 3
    assert "is in use by PID" in proc.stderr and "Traceback" not in proc.stderr


def test_kill_during_ingest_then_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    photos = write_photos(tmp_path / "photos", 40, size=(900, 700), seed=1)
    cli("run", photos, "-w", tmp_path / "reference", "--workers", "1", "--until", "ingest")
    workspace = tmp_path / "ws"
    proc = subprocess.Popen([sys.executable, "-m", "photogrammetry", "run", str(photos), "-w", str(workspace),
                             "--workers", "1", "--until", "ingest"], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not [p for p in workspace.glob("ingest/*.partial/images/*") if not p.name.startswith(".")]:
        assert proc.poll() is None and time.monotonic() < deadline, "ingest ended before it could be killed"
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    status = json.loads(cli("status", workspace, "--json").stdout)
    assert status["stages"][0]["state"] == "partial"
    rerun = cli("run", photos, "-w", workspace, "--until", "ingest")
    assert "resuming an interrupted run" in rerun.stderr
    assert artifacts(workspace) == artifacts(tmp_path / "reference")


def test_options_lists_every_option_of_a_stage_with_default_type_choices_and_doc() -> None:
    from photogrammetry.engine.options import leaves
    from photogrammetry.stages import depth

    out = cli("options", "depth").stdout
    assert out.startswith("[depth] ")
    for option in leaves(depth.DepthConfig()):
        assert f"\ndepth.{option.path} = " in out, option.path
    assert 'depth.method = "lite-ncc"  (str; one of "lite", ' in out and '"ncc"' in out
    assert "depth.cascade.hypotheses = [48, 16, 8]  (tuple[int, ...])\n    Depth hypotheses per level" in out
    assert "depth.cascade.memory_budget_mb = 2048  (int; not in the cache key)" in out
    assert "depth.cascade.sgm.enabled = true  (bool)" in out


def test_options_of_sfm_show_its_nested_groups_with_their_docs() -> None:
    from photogrammetry.engine.options import leaves
    from photogrammetry.stages import sfm

    out = cli("options", "sfm").stdout
    for option in leaves(sfm.SfmConfig()):
        assert f"\nsfm.{option.path} = " in out and option.doc, option.path
    assert "sfm.verification.max_trials = 2000  (int)\n    Most RANSAC iterations per pair" in out
    assert 'sfm.mapping.mapper = "auto"  (str; one of "auto", "incremental", "global")' in out
    assert "sfm.refinement.distortion_free_px = 4.0  (float)\n    Refined distortion" in out
    assert "sfm.calibration = \"\"  (str; not in the cache key)" in out


def test_options_without_a_stage_covers_all_stages_and_rejects_unknown_ones() -> None:
    from photogrammetry.stages import stage_names

    out = cli("options").stdout
    assert [line.split("]")[0][1:] for line in out.splitlines() if line.startswith("[")] == list(stage_names())
    assert 'texture.atlas = "charts"  (str; one of "charts", "open3d")' in out
    assert cli("options", "dpeth", check=False).returncode == 2


def test_run_without_a_preset_on_the_cpu_logs_and_records_the_cpu_preset(photos: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    proc = cli("run", photos, "-w", workspace, "--device", "cpu", "--until", "ingest")
    assert "preset auto: no GPU, so 'cpu'" in proc.stderr and "--preset default for ALIKED + LightGlue" in proc.stderr
    log_file = next((workspace / "logs").glob("run-*.log"))
    assert "preset auto: no GPU, so 'cpu'" in log_file.read_text()
    record = json.loads((workspace / "run.json").read_text())
    assert record["preset"] == "cpu" and record["settings"]["features"]["extractor"] == "sift"
    assert "preset:    cpu\n" in cli("status", workspace).stdout
    named = cli("run", photos, "-w", workspace, "--device", "cpu", "--until", "ingest", "--preset", "default")
    assert "preset auto" not in named.stderr
    off = cli("run", photos, "-w", workspace, "--device", "cpu", "--until", "ingest", "--no-escalate")
    assert "preset auto: no GPU, so 'cpu'" in off.stderr
