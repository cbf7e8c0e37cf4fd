"""benchmarks/sfm.py's spread set: the office walk's frames far apart, as benchmarks/room.py takes them."""

from __future__ import annotations

from pathlib import Path

from benchmarks.sets import BenchmarkSet, photo_files
from benchmarks.sfm import SPREAD, spread_set


def test_spread_set_takes_every_third_frame_of_sixty_as_room_does(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(60):
        (frames / f"{150 + 2 * i:05d}.png").write_bytes(b"")
    walk = BenchmarkSet("office", frames, None, "real")
    spread = spread_set(walk, "office-spread-20", 20, tmp_path / "cut")
    names = [p.name for p in photo_files(spread)]
    expected = [0, 3, 6, 9, 12, 16, 19, 22, 25, 28, 31, 34, 37, 40, 43, 47, 50, 53, 56, 59]
    assert names == [f"{150 + 2 * i:05d}.png" for i in expected]
    assert spread.name == "office-spread-20" and SPREAD["office-spread"] == "office"
    assert all((spread.images / n).resolve() == (frames / n).resolve() for n in names)
