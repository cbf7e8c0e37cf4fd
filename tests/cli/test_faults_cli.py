"""Refused runs write nothing; damaged results are named by file; OS errors are exit 2, not internal errors."""

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import cli, write_photos
from tests.mounts import remount, tmpfs


def _tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    return write_photos(tmp_path / "photos", 4)


def test_workspace_equal_to_the_photo_folder_writes_nothing(photos: Path) -> None:
    before = _tree(photos)
    proc = cli("run", photos, "-w", photos, "--until", "ingest", check=False)
    assert proc.returncode == 2, proc.stderr
    assert "is the photo folder" in proc.stderr and "internal error" not in proc.stderr
    assert _tree(photos) == before  # no marker, lock or logs


def test_photo_folder_inside_a_stage_folder_of_the_workspace_is_refused(tmp_path: Path) -> None:
    photos = write_photos(tmp_path / "ws" / "ingest" / "photos", 2)
    proc = cli("run", photos, "-w", tmp_path / "ws", check=False)
    assert proc.returncode == 2 and "inside ingest/ of the workspace" in proc.stderr
    assert _tree(tmp_path / "ws") == ["ingest", "ingest/photos", "ingest/photos/photo_000.png",
                                      "ingest/photos/photo_001.png"]


def test_input_error_creates_no_workspace(tmp_path: Path) -> None:
    proc = cli("run", tmp_path / "nowhere", "-w", tmp_path / "ws", check=False)
    assert proc.returncode == 2
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("option, content, message", [
    ("depth.weights", "root:x:0:0:root:/root:/bin/bash\n", "depth.weights = '{path}': not a PyTorch weight file"),
    ("features.weights", "not weights", "features.weights = '{path}': not a PyTorch weight file"),
    ("pairs.pairs_file", None, "pairs.pairs_file = '{path}': no such file"),
    ("masks.folder", None, "masks.folder = '{path}': no such folder"),
])
def test_file_options_are_checked_before_the_first_stage(photos: Path, tmp_path: Path, option: str,
                                                         content: str | None, message: str) -> None:
    path = tmp_path / "given"
    if content is not None:
        path.write_text(content)
    proc = cli("run", photos, "-w", tmp_path / "ws", "--set", f"{option}={path}", check=False)
    assert proc.returncode == 2, proc.stderr
    assert message.format(path=path) in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "ws").exists()


def test_verify_names_the_damaged_file_and_run_verify_recomputes_it(photos: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    cli("run", photos, "-w", workspace, "--until", "ingest")
    assert "all 1 cached results are intact" in cli("verify", workspace).stdout
    image = next(workspace.glob("ingest/*/images/photo_002.png"))
    original = image.read_bytes()
    image.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))
    assert cli("run", photos, "-w", workspace, "--until", "ingest").stderr.count("running") == 0  # sizes only
    proc = cli("verify", workspace, check=False)
    key = image.parent.parent.name
    assert proc.returncode == 5 and f"ingest/{key}/images/photo_002.png: checksum differs" in proc.stdout
    rerun = cli("run", photos, "-w", workspace, "--until", "ingest", "--verify")
    assert "damaged and will be recomputed" in rerun.stderr and "ingest: running" in rerun.stderr
    assert image.read_bytes() == original
    assert cli("verify", workspace).returncode == 0
    assert len(list((workspace / ".quarantine").iterdir())) == 1  # kept for inspection until clean
    cli("clean", workspace)
    assert not (workspace / ".quarantine").exists()


def test_read_only_workspace_is_exit_2_not_an_internal_error(photos: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt") as mnt:
        cli("run", photos, "-w", mnt / "ws", "--until", "ingest")
        remount(mnt, "ro")
        try:
            proc = cli("run", photos, "-w", mnt / "ws", "--until", "ingest", "--set", "ingest.jpeg_quality=90",
                       check=False)
            status = cli("status", mnt / "ws", "--json", check=False)
        finally:
            remount(mnt, "rw")
    assert proc.returncode == 2, proc.stderr
    assert "read-only file system" in proc.stderr and "internal error" not in proc.stderr
    assert json.loads(status.stdout)["stages"][0]["state"] == "done"


def test_truncated_features_file_is_recomputed_to_the_same_bytes(photos: Path, tmp_path: Path, caplog) -> None:
    import logging

    import photogrammetry

    first = photogrammetry.run(photos, tmp_path / "ws", preset="fast", until="features", progress=False)
    h5 = first.folder("features") / "features.h5"
    original = h5.read_bytes()
    h5.write_bytes(original[: len(original) // 2])
    with caplog.at_level(logging.WARNING, logger="photogrammetry"):
        again = photogrammetry.run(photos, tmp_path / "ws", preset="fast", until="features", progress=False)
    assert again.ran == ("features",)
    assert f"features/{first.stages[-1].key}/features.h5: " in caplog.text and "expected" in caplog.text
    assert h5.read_bytes() == original


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux) to make writes fail")
def test_a_log_file_that_cannot_be_written_warns_once(tmp_path: Path, capsys) -> None:
    import logging

    from photogrammetry import cli as cli_module

    cli_module._setup_logging(0, tmp_path / "logs" / "run.log")
    handler = next(h for h in logging.getLogger("photogrammetry").handlers if isinstance(h, cli_module._LogFile))
    handler.stream = open("/dev/full", "w", encoding="utf-8")  # every flush fails with ENOSPC
    try:
        for i in range(3):
            logging.getLogger("photogrammetry.test").info("line %d", i)
    finally:
        logging.getLogger("photogrammetry").handlers.clear()
    err = capsys.readouterr().err
    assert err.count("warning: cannot write the log file") == 1 and "Logging error" not in err
