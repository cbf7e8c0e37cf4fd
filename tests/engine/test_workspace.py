"""status and clean over the toy pipeline."""

import os
import shutil
from pathlib import Path

import pytest

from photogrammetry.engine.lock import WorkspaceLock
from photogrammetry.engine.workspace import clean_workspace, workspace_status
from photogrammetry.errors import InputError
from tests.engine.toy_stages import TOY, run_toy


def _states(workspace: Path) -> dict[str, str]:
    return {s.name: s.state for s in workspace_status(TOY, workspace).stages}


def test_status_after_a_full_run(numbers: Path, tmp_path: Path) -> None:
    result = run_toy(numbers, tmp_path / "ws")
    status = workspace_status(TOY, tmp_path / "ws")
    assert [s.state for s in status.stages] == ["done"] * 3
    total = status.stages[2]
    assert total.key == result.folder("total").name
    assert total.outputs == {"total": str(result.folder("total") / "total.json")}
    assert total.counts == {"values": 20} and total.size_bytes > 0 and total.seconds >= 0
    assert set(status.to_dict()) == {"workspace", "photos", "stages", "note", "preset", "preset_reason"}


def test_status_missing_stale_and_partial(numbers: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    run_toy(numbers, workspace, until="square")
    assert _states(workspace) == {"listing": "done", "square": "done", "total": "missing"}
    (numbers / "n01.txt").write_text("7")  # inputs changed since: every stage is stale
    assert _states(workspace) == {"listing": "stale", "square": "stale", "total": "missing"}
    run_toy(numbers, workspace, until="listing")
    key = workspace_status(TOY, workspace).stages[1].key
    (workspace / "square" / f"{key}.partial").mkdir()
    assert _states(workspace)["square"] == "partial"


def test_status_calls_the_stage_a_live_run_writes_running_not_partial(numbers: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    run_toy(numbers, workspace, until="listing")
    key = workspace_status(TOY, workspace).stages[1].key
    (workspace / "square" / f"{key}.partial").mkdir(parents=True)
    with WorkspaceLock(workspace):  # a live run (this process) holds the workspace
        status = workspace_status(TOY, workspace)
    assert [s.state for s in status.stages] == ["done", "running", "missing"]
    assert f"a run is in progress (PID {os.getpid()}" in status.note
    assert _states(workspace)["square"] == "partial"  # released: interrupted
    assert workspace_status(TOY, workspace).note == ""


def test_status_of_a_folder_that_is_no_workspace(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a workspace"):
        workspace_status(TOY, tmp_path)


@pytest.mark.parametrize("kind, message", [("file", "is a file, not a workspace folder"),
                                           ("missing", "does not exist")])
def test_status_of_a_file_or_nothing_is_an_input_error(tmp_path: Path, kind: str, message: str) -> None:
    path = tmp_path / "given"
    if kind == "file":
        path.write_text("not a workspace")
    with pytest.raises(InputError, match=f"{path} {message}"):
        workspace_status(TOY, path)


def test_clean_keep_latest_keeps_only_the_last_run(numbers: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    run_toy(numbers, workspace, "square.power=3")
    latest = run_toy(numbers, workspace)
    report = clean_workspace(TOY, workspace, keep_latest=True)
    assert sorted(r.split("/")[0] for r in report.removed) == ["square", "total"]
    assert report.freed_bytes > 0
    assert _states(workspace) == {"listing": "done", "square": "done", "total": "done"}
    assert run_toy(numbers, workspace).ran == ()
    assert latest.folder("total").is_dir()


def test_clean_removes_all_artifacts_but_not_other_files(numbers: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    run_toy(numbers, workspace)
    (workspace / "notes").mkdir()
    (workspace / "notes" / "mine.txt").write_text("keep me")
    clean_workspace(TOY, workspace)
    assert _states(workspace) == {"listing": "missing", "square": "missing", "total": "missing"}
    assert (workspace / "notes" / "mine.txt").read_text() == "keep me"


def test_clean_refuses_a_folder_that_is_no_workspace(numbers: Path) -> None:
    copy = numbers.parent / "copy"
    shutil.copytree(numbers, copy)
    with pytest.raises(InputError, match="not a photogrammetry workspace"):
        clean_workspace(TOY, copy)
    assert len(list(copy.iterdir())) == 20
