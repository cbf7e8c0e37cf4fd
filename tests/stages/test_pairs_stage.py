"""The pairs stage through the engine: methods, the pairs file in the key, errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

import photogrammetry
from photogrammetry.errors import ConfigError
from photogrammetry.io.features import PairSet, load_pairs
from tests.features.synthetic import plane_views, write_images
from tests.io.photo_factory import encode
from tests.io.video_factory import write_video

FAST = ("features.extractor=sift", "features.max_keypoints=200")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plane") / "photos"
    write_images(folder, plane_views(6, 240, 180, seed=4)[0])
    return folder


def run(photos: Path, workspace: Path, *overrides: str):
    return photogrammetry.run(photos, workspace, overrides=[*FAST, *overrides], until="pairs", device="cpu",
                              workers=2, progress=False)


def pairs_of(result) -> tuple[tuple[str, str], ...]:
    return load_pairs(result.folder("pairs")).pairs


def test_auto_is_exhaustive_for_small_sets(photos: Path, tmp_path: Path) -> None:
    result = run(photos, tmp_path / "ws")
    loaded = load_pairs(result.folder("pairs"))
    assert isinstance(loaded, PairSet) and len(loaded.pairs) == 15
    counts = next(s.counts for s in result.stages if s.name == "pairs")
    assert counts == {"pairs": 15, "method": "exhaustive", "pairs_per_image": 5.0, "most_pairs_per_image": 5}


def test_auto_switches_to_retrieval_where_exhaustive_is_dearer(photos: Path, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """6 photos, k=2: every pair would be 5 per image, retrieval chooses at most 4."""
    caplog.set_level("INFO")
    result = run(photos, tmp_path / "ws", "pairs.k=2", "pairs.sequence_window=0", "pairs.vocabulary_size=8")
    counts = next(s.counts for s in result.stages if s.name == "pairs")
    assert counts["method"] == "retrieval" and 6 <= counts["pairs"] <= 12
    assert counts["pairs_per_image"] <= 4 and counts["most_pairs_per_image"] <= counts["max_pairs_per_image"] == 4
    assert "every pair would be 5 per image, retrieval chooses at most 4" in caplog.text
    assert (f"retrieval: {counts['pairs']} pairs, {counts['pairs_per_image']:.1f} per photo "
            f"(most {counts['most_pairs_per_image']}; pairs.max_per_image 4)") in caplog.text
    floor = run(photos, tmp_path / "ws", "pairs.k=2", "pairs.sequence_window=0", "pairs.vocabulary_size=8",
                "pairs.auto_threshold=6")
    assert next(s.counts for s in floor.stages if s.name == "pairs")["method"] == "exhaustive"


def test_auto_is_sequential_for_video_frames_above_the_switch(tmp_path: Path) -> None:
    frames = [cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) for rgb in plane_views(6, 240, 180, seed=4)[0]]
    video = write_video(tmp_path / "clip.mp4", frames, fps=2)  # at the default 2 frames a second: all six kept
    result = run(video, tmp_path / "ws", "pairs.window=1", "pairs.loop_closure=none",
                 "ingest.video.min_difference=0")
    counts = next(s.counts for s in result.stages if s.name == "pairs")
    assert counts["method"] == "sequential"
    assert pairs_of(result) == tuple((f"clip_{i:06d}.jpg", f"clip_{i + 1:06d}.jpg") for i in range(5))


def test_sequential(photos: Path, tmp_path: Path) -> None:
    result = run(photos, tmp_path / "ws", "pairs.method=sequential", "pairs.window=1", "pairs.loop_closure=wrap")
    assert pairs_of(result) == (("view_000.png", "view_001.png"), ("view_000.png", "view_005.png"),
                                ("view_001.png", "view_002.png"), ("view_002.png", "view_003.png"),
                                ("view_003.png", "view_004.png"), ("view_004.png", "view_005.png"))


def _timed_photos(folder: Path, exif: bool) -> list[str]:
    """Six views of a plane as JPEGs named in no order (``f.jpg`` was taken first); with ``exif``,
    capture times 0.4 s apart (``DateTimeOriginal`` + ``SubSecTimeOriginal``). Names in time order."""
    folder.mkdir(parents=True)
    names = [f"{c}.jpg" for c in "fbdaec"]
    for i, (name, rgb) in enumerate(zip(names, plane_views(6, 240, 180, seed=4)[0], strict=True)):
        time = {"DateTimeOriginal": f"2024:05:01 12:00:{(4 * i) // 10:02d}", "SubsecTimeOriginal": f"{(4 * i) % 10}"}
        (folder / name).write_bytes(encode(rgb[:, :, ::-1].copy(), ".jpg", time if exif else {"Make": "Maker"}))
    return names


def test_exif_capture_times_make_a_sequence(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Photos named in no order: their EXIF times pair each with the next one taken; without times,
    retrieval alone, as before (no sequence)."""
    caplog.set_level("INFO")
    options = ("pairs.k=1", "pairs.sequence_window=1", "pairs.vocabulary_size=8")
    order = _timed_photos(tmp_path / "timed", exif=True)
    timed = run(tmp_path / "timed", tmp_path / "ws", *options)
    assert {tuple(sorted(p)) for p in zip(order, order[1:])} <= set(pairs_of(timed))
    counts = next(s.counts for s in timed.stages if s.name == "pairs")
    assert counts["method"] == "retrieval" and counts["max_pairs_per_image"] == 4  # 2 (k + sequence_window)
    assert "EXIF capture times order 6 photos in 1 sequences: each is paired with its next 1" in caplog.text
    _timed_photos(tmp_path / "untimed", exif=False)
    untimed = run(tmp_path / "untimed", tmp_path / "ws2", *options)
    assert next(s.counts for s in untimed.stages if s.name == "pairs")["max_pairs_per_image"] == 2
    assert pairs_of(untimed) == pairs_of(run(tmp_path / "untimed", tmp_path / "ws2", *options[:1],
                                             "pairs.sequence_window=0", options[2]))


def test_pairs_file_content_is_in_the_key_not_its_path(photos: Path, tmp_path: Path) -> None:
    first = tmp_path / "a.txt"
    first.write_text("view_000.png view_003.png\nview_002.png view_001.png\n")
    result = run(photos, tmp_path / "ws", "pairs.method=file", f"pairs.pairs_file={first}")
    assert pairs_of(result) == (("view_000.png", "view_003.png"), ("view_001.png", "view_002.png"))
    copy = tmp_path / "b.txt"
    copy.write_text(first.read_text())
    assert run(photos, tmp_path / "ws", "pairs.method=file", f"pairs.pairs_file={copy}").ran == ()
    copy.write_text("view_004.png view_005.png\n")
    changed = run(photos, tmp_path / "ws", "pairs.method=file", f"pairs.pairs_file={copy}")
    assert changed.ran == ("pairs",) and pairs_of(changed) == (("view_004.png", "view_005.png"),)


@pytest.mark.parametrize("overrides, error, message", [
    (("pairs.method=file",), ConfigError, "pairs_file"),
    (("pairs.method=file", "pairs.pairs_file=/nonexistent/pairs.txt"), ConfigError,
     "pairs.pairs_file = ./nonexistent/pairs.txt.: no such file"),
    (("pairs.method=vocabtree",), ConfigError, "auto or one of: exhaustive"),
    (("pairs.method=sequential", "pairs.window=0", "pairs.loop_closure=none"), ConfigError, "selected no pairs"),
])
def test_errors(photos: Path, tmp_path: Path, overrides: tuple[str, ...], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        run(photos, tmp_path / "ws", *overrides)
