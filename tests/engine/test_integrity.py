"""Damaged cached results are found, reported by file, moved aside and recomputed, never used."""

import json
import logging
from pathlib import Path

import pytest

from photogrammetry.engine.runner import RunOptions, RunRequest, run_pipeline
from photogrammetry.engine.settings import resolve_config
from photogrammetry.engine.store import QUARANTINE, ArtifactStore
from tests.engine.toy_stages import TOY, run_toy


def _total(result) -> int:
    return json.loads((result.folder("total") / "total.json").read_text())["total"]


def _run_verify(photos: Path, workspace: Path, *overrides: str):
    config = resolve_config(TOY, preset=None, overrides=overrides)
    request = RunRequest(photos=photos, workspace=workspace, config=config, overrides=overrides)
    return run_pipeline(TOY, request, RunOptions(device="cpu", progress=False, verify=True))


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))


def _quarantined(workspace: Path) -> list[str]:
    folder = workspace / QUARANTINE
    return sorted(p.name.split("-")[0] for p in folder.iterdir()) if folder.is_dir() else []


def test_manifest_lists_every_file_with_size_and_checksum(numbers: Path, tmp_path: Path) -> None:
    result = run_toy(numbers, tmp_path / "ws")
    manifest = json.loads((result.folder("square") / "manifest.json").read_text())
    assert sorted(manifest["files"]) == sorted(f"values/n{i:02d}.txt.out" for i in range(1, 21))
    entry = manifest["files"]["values/n03.txt.out"]
    assert entry["size"] == 1 and len(entry["blake2b"]) == 32
    assert manifest["size_bytes"] == sum(e["size"] for e in manifest["files"].values())


def test_truncated_file_is_found_by_size_and_recomputed(numbers: Path, tmp_path: Path, caplog) -> None:
    first = run_toy(numbers, tmp_path / "ws")
    damaged = first.folder("square") / "values" / "n12.txt.out"  # holds "144"
    damaged.write_text("1")
    with caplog.at_level(logging.WARNING, logger="photogrammetry"):
        second = run_toy(numbers, tmp_path / "ws")
    assert second.ran == ("square",)  # total keeps its result: its key does not depend on outputs
    assert f"square/{first.stages[1].key}/values/n12.txt.out: 3 B expected, 1 B found" in caplog.text
    assert damaged.read_text() == "144"
    assert _total(second) == _total(first)
    assert _quarantined(tmp_path / "ws") == ["square"]


def test_deleted_file_is_found_and_recomputed(numbers: Path, tmp_path: Path, caplog) -> None:
    first = run_toy(numbers, tmp_path / "ws")
    (first.folder("total") / "total.json").unlink()
    with caplog.at_level(logging.WARNING, logger="photogrammetry"):
        second = run_toy(numbers, tmp_path / "ws")
    assert second.ran == ("total",)
    assert "total.json: missing" in caplog.text
    assert _total(second) == _total(first)


def test_same_size_change_of_a_file_read_is_found_by_checksum(numbers: Path, tmp_path: Path, caplog) -> None:
    first = run_toy(numbers, tmp_path / "ws")
    _flip_byte(first.folder("square") / "values" / "n12.txt.out")  # "144" -> "044": same size
    with caplog.at_level(logging.WARNING, logger="photogrammetry"):
        changed = run_toy(numbers, tmp_path / "ws", "total.offset=1")  # total runs and reads square
    assert changed.ran == ("square", "total")
    assert "n12.txt.out: checksum differs" in caplog.text
    assert _total(changed) == _total(first) + 1


def test_same_size_change_of_a_file_not_read_needs_verify(numbers: Path, tmp_path: Path, caplog) -> None:
    first = run_toy(numbers, tmp_path / "ws")
    total = first.folder("total") / "total.json"
    before = total.read_bytes()
    _flip_byte(total)
    assert run_toy(numbers, tmp_path / "ws").ran == ()  # sizes only: the change is not seen
    with caplog.at_level(logging.WARNING, logger="photogrammetry"):
        verified = _run_verify(numbers, tmp_path / "ws")
    assert verified.ran == ("total",)
    assert "total.json: checksum differs" in caplog.text
    assert total.read_bytes() == before


def test_damaged_input_of_an_input_is_recomputed_in_turn(numbers: Path, tmp_path: Path) -> None:
    first = run_toy(numbers, tmp_path / "ws")
    _flip_byte(first.folder("listing") / "files.json")  # '[' -> 'Z': square would fail to read it
    _flip_byte(first.folder("square") / "values" / "n01.txt.out")
    changed = run_toy(numbers, tmp_path / "ws", "total.offset=2")
    assert changed.ran == ("listing", "square", "total")
    assert _total(changed) == _total(first) + 2


def test_manifest_without_file_list_is_adopted_not_recomputed(numbers: Path, tmp_path: Path, caplog) -> None:
    """A result of an older version (no file list) is listed as it is and checked from then on."""
    first = run_toy(numbers, tmp_path / "ws")
    manifest_path = first.folder("total") / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    listed = manifest.pop("files")
    manifest_path.write_text(json.dumps(manifest))
    with caplog.at_level(logging.INFO, logger="photogrammetry"):
        assert run_toy(numbers, tmp_path / "ws").ran == ()
    assert "listed now" in caplog.text
    assert json.loads(manifest_path.read_text())["files"] == listed
    _flip_byte(next(p for p in first.folder("total").rglob("*") if p.is_file() and p.name != "manifest.json"))
    assert _run_verify(numbers, tmp_path / "ws").ran == ("total",)


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_store_reports_each_kind_of_damage(numbers: Path, tmp_path: Path, damage: str) -> None:
    result = run_toy(numbers, tmp_path / "ws")
    store = ArtifactStore(tmp_path / "ws")
    artifact = store.find("square", result.stages[1].key)
    assert store.problems(artifact, checksums=True) == []
    path = artifact.folder / "values" / "n20.txt.out"
    {"truncate": lambda: path.write_text("40"), "flip": lambda: _flip_byte(path), "delete": path.unlink}[damage]()
    problems = store.problems(artifact, checksums=True)
    assert len(problems) == 1 and problems[0].startswith(f"square/{artifact.key}/values/n20.txt.out: ")
    assert store.problems(artifact, checksums=False) == ([] if damage == "flip" else problems)


def test_resume_redoes_kept_items_whose_files_are_damaged(numbers: Path, tmp_path: Path, caplog) -> None:
    from tests.engine.test_resume import _kill_when, _start, artifacts

    run_toy(numbers, tmp_path / "reference")
    workspace = tmp_path / "ws"
    proc = _start(numbers, workspace, "square.delay=0.05")
    _kill_when(proc, lambda: len(list(workspace.glob("square/*.partial/.items/*.json"))) >= 8)
    values = next(workspace.glob("square/*.partial/values"))
    (values / "n05.txt.out").write_text("2")  # "25" cut short
    _flip_byte(values / "n07.txt.out")  # "49" -> "59": same size
    (values / "n03.txt.out").unlink()
    with caplog.at_level(logging.WARNING):
        resumed = run_toy(numbers, workspace)
    assert resumed.ran == ("square", "total")
    assert "redoing n05.txt" in caplog.text and "redoing n07.txt" in caplog.text and "redoing n03.txt" in caplog.text
    assert artifacts(workspace) == artifacts(tmp_path / "reference")


def test_item_store_checks_the_files_of_a_record(tmp_path: Path) -> None:
    from photogrammetry.io.items import ItemStore

    (tmp_path / "out" / "data").mkdir(parents=True)
    (tmp_path / "out" / "data" / "a.bin").write_bytes(b"abcdef")
    ItemStore(tmp_path / "out" / ".items").put("a", {"n": 1}, files=["data/a.bin"])
    assert ItemStore(tmp_path / "out" / ".items").get("a") == {"n": 1}
    (tmp_path / "out" / "data" / "a.bin").write_bytes(b"abcdeF")
    assert ItemStore(tmp_path / "out" / ".items").get("a") is None


def test_status_shows_a_truncated_result_as_damaged(numbers: Path, tmp_path: Path) -> None:
    from photogrammetry.engine.workspace import workspace_status

    first = run_toy(numbers, tmp_path / "ws")
    (first.folder("square") / "values" / "n10.txt.out").write_text("1")
    stages = {s.name: s for s in workspace_status(TOY, tmp_path / "ws").stages}
    assert (stages["listing"].state, stages["square"].state, stages["total"].state) == ("done", "damaged", "done")
    assert stages["square"].problems == (f"square/{first.stages[1].key}/values/n10.txt.out: 3 B expected, 1 B found",)


def test_item_store_takes_files_relative_to_its_root_or_below_it_in_a_relative_workspace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from photogrammetry.io.items import ItemStore

    monkeypatch.chdir(tmp_path)  # a workspace given as a relative path, as on the command line
    store = ItemStore(Path("ws") / "depth" / "k.partial" / ".items")
    (store.root / "raw").mkdir(parents=True)
    (store.root / "raw" / "a.npy").write_bytes(b"1234")
    (store.root / "raw" / "b.npy").write_bytes(b"5678")
    store.put("a", 1, files=["raw/a.npy", store.root / "raw" / "b.npy"])
    record = json.loads(next(store.folder.iterdir()).read_text())
    assert sorted(record["files"]) == ["raw/a.npy", "raw/b.npy"]
    assert ItemStore(store.folder).get("a") == 1
