"""A full disk and a read-only workspace: a clear ResourceError (exit 2), then an identical resume."""

import json
from pathlib import Path

import pytest

from photogrammetry.errors import ResourceError
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
