"""What a run checks before it writes anything, and that a refused run writes nothing."""

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from photogrammetry.engine.preflight import check_file_options, check_locations
from photogrammetry.engine.stage import StageSpec
from photogrammetry.errors import ConfigError, InputError
from tests.engine.toy_stages import run_toy

NAMES = ("listing", "square", "total")


def _tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_workspace_equal_to_the_photo_folder_is_refused_and_writes_nothing(numbers: Path) -> None:
    before = _tree(numbers)
    with pytest.raises(InputError, match="is the photo folder"):
        run_toy(numbers, numbers)
    assert _tree(numbers) == before


def test_photo_folder_inside_the_workspace_s_own_folders_is_refused(tmp_path: Path) -> None:
    for inside in ("square", "logs", ".quarantine"):
        with pytest.raises(InputError, match=f"inside {inside}/ of the workspace"):
            check_locations(tmp_path / "ws" / inside / "photos", tmp_path / "ws", NAMES)
    check_locations(tmp_path / "ws" / "my-photos", tmp_path / "ws", NAMES)  # beside the stage folders: fine


def test_workspace_inside_the_photos_must_not_hide_photos(numbers: Path, tmp_path: Path) -> None:
    (numbers / "more").mkdir()
    (numbers / "more" / "n99.txt").write_text("99")
    with pytest.raises(InputError, match="already holds files"):
        run_toy(numbers, numbers / "more")
    assert _tree(numbers / "more") == ["n99.txt"]
    assert run_toy(numbers, numbers / "work").ran == ("listing", "square", "total")  # a new sub-folder is fine


@dataclass(frozen=True, kw_only=True)
class _Group:
    table: str = field(default="", metadata={"path": "file"})
    """A file."""


def _must_say_hello(path: Path) -> None:
    if path.read_text() != "hello":
        raise ValueError("does not say hello")


@dataclass(frozen=True, kw_only=True)
class _Config:
    folder: str = field(default="", metadata={"path": "dir"})
    """A folder."""
    greeting: str = field(default="", metadata={"path": "file", "check": _must_say_hello})
    """A checked file."""
    group: _Group = field(default_factory=_Group)
    """Nested options."""


_SPEC = StageSpec(name="toy", version=1, config=_Config, run=lambda *a, **k: {}, load=lambda f: None)


@pytest.mark.parametrize("kwargs, message", [
    ({"folder": "{tmp}/nowhere"}, "toy.folder = '{tmp}/nowhere': no such folder"),
    ({"folder": "{tmp}/file.txt"}, "toy.folder = '{tmp}/file.txt' is not a folder"),
    ({"greeting": "{tmp}/file.txt"}, "toy.greeting = '{tmp}/file.txt': does not say hello"),
    ({"group": _Group(table="{tmp}")}, "toy.group.table = '{tmp}' is not a file"),
])
def test_file_options_name_the_option(tmp_path: Path, kwargs: dict, message: str) -> None:
    (tmp_path / "file.txt").write_text("bye")
    (tmp_path / "hello.txt").write_text("hello")
    values = {k: (v.format(tmp=tmp_path) if isinstance(v, str) else _Group(table=v.table.format(tmp=tmp_path)))
              for k, v in kwargs.items()}
    with pytest.raises(ConfigError) as raised:
        check_file_options([_SPEC], {"toy": _Config(**values)})
    assert str(raised.value).startswith(message.format(tmp=tmp_path))
    check_file_options([_SPEC], {"toy": _Config(folder=str(tmp_path), greeting=str(tmp_path / "hello.txt"))})
