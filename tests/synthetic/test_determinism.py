"""Same spec, same bytes: in one process, in a fresh process, and against the committed sample scenes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from photogrammetry.synthetic import SAMPLE_SCENES, render_sample_scene, render_scene

from .conftest import SMALL_SPECS

REPO = Path(__file__).resolve().parents[2]
SAMPLES_DIR = REPO / "sample_scenes"


def _digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _assert_same_files(expected: Path, actual: Path) -> None:
    """Both folders hold the same file names with the same bytes."""
    want, got = _digests(expected), _digests(actual)
    assert sorted(want) == sorted(got), f"file lists differ: {sorted(set(want) ^ set(got))}"
    differing = [name for name in want if want[name] != got[name]]
    assert not differing, f"files differ from {expected}: {differing}"


def test_rendering_twice_gives_identical_bytes(small_scenes: dict[str, Path], tmp_path: Path) -> None:
    """A second render of a small scene in this process reproduces every file."""
    again = render_scene(SMALL_SPECS["turntable"], tmp_path / "turntable")
    _assert_same_files(small_scenes["turntable"], again)


def test_a_fresh_process_gives_identical_bytes(small_scenes: dict[str, Path], tmp_path: Path) -> None:
    """A render in a new interpreter (fresh hash seeds, caches, thread pools) reproduces every file."""
    code = (
        "import sys; from pathlib import Path; from photogrammetry.synthetic import render_scene; "
        "from tests.synthetic.conftest import SMALL_SPECS; render_scene(SMALL_SPECS['facade'], Path(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "facade")], cwd=REPO, check=True)
    _assert_same_files(small_scenes["facade"], tmp_path / "facade")


def test_a_committed_sample_scene_regenerates_bit_for_bit(tmp_path: Path) -> None:
    """``render_sample_scene('facade', ...)`` reproduces ``sample_scenes/facade`` byte for byte."""
    committed = SAMPLES_DIR / "facade"
    assert (committed / "gt" / "scene.json").is_file(), f"{committed} is missing"
    _assert_same_files(committed, render_sample_scene("facade", tmp_path / "facade"))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SAMPLE_SCENES))
def test_every_committed_sample_scene_regenerates_bit_for_bit(name: str, tmp_path: Path) -> None:
    """Every committed sample scene is reproduced byte for byte and stays under 5 MB."""
    committed = SAMPLES_DIR / name
    assert sum(p.stat().st_size for p in committed.rglob("*") if p.is_file()) < 5_000_000
    _assert_same_files(committed, render_sample_scene(name, tmp_path / name))


def test_an_unknown_sample_scene_is_refused(tmp_path: Path) -> None:
    """Unknown names raise a ValueError naming the choices, and write nothing."""
    with pytest.raises(ValueError, match="turntable"):
        render_sample_scene("no-such-scene", tmp_path / "x")
    assert not (tmp_path / "x").exists()
