"""A full disk and a read-only workspace: a clear ResourceError (exit 2), then an identical resume."""

import errno
import json
import os
from pathlib import Path

import pytest

from photogrammetry.errors import ResourceError, resource_error
from tests.engine.toy_stages import run_toy
from tests.mounts import fill, remount, tmpfs


def _outputs(result) -> dict[str, bytes]:
    return {name: (result.folder(name) / rel).read_bytes()
            for name, rel in (("listing", "files.json"), ("total", "total.json"))}


def test_full_disk_is_reported_with_the_free_space_then_resumes(numbers: Path, tmp_path: Path) -> None:
    reference = _outputs(run_toy(numbers, tmp_path / "reference"))
    with tmpfs(tmp_path / "mnt", "1m") as mnt:
        filler = fill(mnt, 40_000)  # room for the listing, not for all the squares (4 kB per file)
        with pytest.raises(ResourceError, match=r"no space left on the device \(.*MB free\)") as raised:
            run_toy(numbers, mnt / "ws")
        assert str(raised.value).startswith("square stage: ")
        assert "choose a workspace on another disk" in str(raised.value)
        assert not list((mnt / "ws").rglob(".*.tmp-*"))  # no temporary file left by the failed write
        filler.unlink()
        resumed = run_toy(numbers, mnt / "ws")
        assert _outputs(resumed) == reference
        assert not (mnt / "ws" / ".trash").exists()


def test_read_only_workspace_is_refused_before_any_stage(numbers: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt") as mnt:
        first = run_toy(numbers, mnt / "ws")
        total = json.loads((first.folder("total") / "total.json").read_text())
        remount(mnt, "ro")
        try:
            with pytest.raises(ResourceError, match="read-only file system"):
                run_toy(numbers, mnt / "ws", "total.offset=1")
            with pytest.raises(ResourceError, match="read-only file system"):
                run_toy(numbers, mnt / "new-ws")
            assert not (mnt / "new-ws").exists()
        finally:
            remount(mnt, "rw")
        assert json.loads((first.folder("total") / "total.json").read_text()) == total


@pytest.mark.parametrize("code, words", [
    (errno.EROFS, "read-only file system"),
    (errno.ENOSPC, "no space left on the device (about 3.1 MB needed, "),
    (errno.EACCES, "permission denied; check the permissions"),
    (errno.ENAMETOOLONG, "path too long (its longest name has 8 bytes, the whole path 12); use a shorter"),
    (errno.EMFILE, "too many open files; raise the limit (ulimit -n"),
])
def test_os_errors_become_resource_errors_naming_the_path(tmp_path: Path, code: int, words: str) -> None:
    error = resource_error(OSError(code, os.strerror(code), "/ws/file.bin"), needed_bytes=3_100_000)
    assert isinstance(error, ResourceError) and error.exit_code == 2
    assert str(error).startswith("/ws/file.bin: ") and words in str(error)


def test_other_os_errors_are_not_mapped() -> None:
    assert resource_error(OSError(errno.EIO, "I/O error")) is None


def test_path_too_long_is_refused_before_anything_is_written(numbers: Path, tmp_path: Path) -> None:
    with pytest.raises(ResourceError, match="path too long"):
        run_toy(numbers, tmp_path / ("w" * 300) / "ws")


def test_force_leaves_no_trash_folder(numbers: Path, tmp_path: Path) -> None:
    run_toy(numbers, tmp_path / "ws")
    run_toy(numbers, tmp_path / "ws", force=("square",))
    assert not (tmp_path / "ws" / ".trash").exists()
