"""Ingest over whole photo folders: camera groups, duplicates, too few photos, names, caching."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from photogrammetry.errors import InputError


def _groups(result) -> list[tuple[str, ...]]:
    return [c.images for c in result.cameras]


def test_cameras_split_by_size_and_body(write_photo, ingest) -> None:
    write_photo("a.jpg", size=(64, 48), seed=1, exif={"Make": "Maker", "Model": "One"})
    write_photo("b.jpg", size=(64, 48), seed=2, exif={"Make": "Maker", "Model": "One"})
    write_photo("c.jpg", size=(64, 48), seed=3, exif={"Make": "Maker", "Model": "Two"})
    write_photo("d.jpg", size=(80, 60), seed=4, exif={"Make": "Maker", "Model": "One"})
    _, result = ingest()
    assert _groups(result) == [("a.jpg", "b.jpg"), ("c.jpg",), ("d.jpg",)]
    assert [(c.camera_id, c.width, c.height, c.model) for c in result.cameras] == [
        (1, 64, 48, "One"), (2, 64, 48, "Two"), (3, 80, 60, "One")]
    assert [i.camera_id for i in result.images] == [1, 1, 2, 3]


def test_camera_prior_comes_from_members_that_have_one(write_photo, ingest) -> None:
    write_photo("a.jpg", size=(320, 240), seed=1)
    write_photo("b.jpg", size=(320, 240), seed=2, exif={"FocalLengthIn35mmFilm": 35})
    _, result = ingest()
    (camera,) = result.cameras
    assert camera.focal_source == "exif_35mm" and camera.focal_px == result.images[1].focal_px


def test_single_camera_needs_one_size(write_photo, ingest) -> None:
    write_photo("a.jpg", size=(64, 48), seed=1)
    write_photo("b.jpg", size=(80, 60), seed=2)
    with pytest.raises(InputError, match="camera_grouping=single"):
        ingest("camera_grouping='single'")


def test_per_image_and_per_folder_grouping(write_photo, ingest) -> None:
    for seed, rel in enumerate(("left/1.jpg", "left/2.jpg", "right/1.jpg", "right/2.jpg")):
        write_photo(rel, seed=seed)
    _, auto = ingest()
    assert _groups(auto) == [("left/1.jpg", "left/2.jpg", "right/1.jpg", "right/2.jpg")]
    _, per_folder = ingest("camera_grouping='per_folder'")
    assert _groups(per_folder) == [("left/1.jpg", "left/2.jpg"), ("right/1.jpg", "right/2.jpg")]
    _, per_image = ingest("camera_grouping='per_image'")
    assert len(per_image.cameras) == 4 and [i.camera_id for i in per_image.images] == [1, 2, 3, 4]


@pytest.mark.parametrize("drop", [True, False])
def test_duplicates_are_reported_and_dropped(photos_dir, write_photo, ingest, drop: bool) -> None:
    write_photo("a.jpg", seed=1)
    write_photo("c.jpg", seed=2)
    (photos_dir / "b.jpg").write_bytes((photos_dir / "a.jpg").read_bytes())
    _, result = ingest(f"drop_duplicates={str(drop).lower()}")
    report = json.loads((result.root / "report.json").read_text())
    assert report["duplicates"] == [["a.jpg", "b.jpg"]]
    expected = ["a.jpg", "c.jpg"] if drop else ["a.jpg", "b.jpg", "c.jpg"]
    assert [i.name for i in result.images] == expected
    assert sorted(p.name for p in (result.root / "images").iterdir()) == expected


def test_fewer_than_two_usable_photos_is_an_input_error(photos_dir, write_photo, ingest) -> None:
    write_photo("only.jpg")
    (photos_dir / "notes.txt").write_text("not a photo")
    with pytest.raises(InputError, match=r"1 usable photo\(s\) out of 2 files; at least 2") as error:
        ingest()
    assert "notes.txt" in str(error.value)


def test_cli_reports_too_few_photos_in_one_line(tmp_path: Path, write_photo, photos_dir) -> None:
    write_photo("only.jpg")
    done = subprocess.run([sys.executable, "-m", "photogrammetry", "run", str(photos_dir), "-w",
                           str(tmp_path / "ws"), "--until", "ingest"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("error:") and "1 usable photo" in errors[0]
    assert done.stderr.strip().splitlines()[-1].strip() == errors[0].strip()


def test_names_with_spaces_and_non_ascii(write_photo, ingest) -> None:
    names = ["Bild Ä 1.jpg", "sub ördner/写真 3.jpg", "写真 2.png"]
    written = {name: write_photo(name, seed=i) for i, name in enumerate(names)}
    _, result = ingest()
    listed = json.loads((result.root / "images.json").read_text(encoding="utf-8"))
    assert [r["name"] for r in listed] == sorted(names)
    for image in result.images:
        pixels = cv2.imdecode(np.fromfile(result.image_path(image), np.uint8), cv2.IMREAD_COLOR)
        assert pixels.shape == written[image.name].shape


def test_workspace_inside_the_photo_folder_is_not_read(photos_dir, write_photo, ingest) -> None:
    for i in range(3):
        write_photo(f"p{i}.jpg", seed=i)
    first, result = ingest(workspace=photos_dir / "work")
    second, again = ingest(workspace=photos_dir / "work")
    assert len(result.images) == len(again.images) == 3 and not result.report.skipped
    assert first.ran == ("ingest",) and second.ran == ()


def test_photo_folder_that_is_a_workspace_is_refused(photos_dir, write_photo, ingest) -> None:
    write_photo("a.jpg", seed=1)
    write_photo("b.jpg", seed=2)
    with pytest.raises(InputError, match="is the photo folder"):
        ingest(workspace=photos_dir)
    assert sorted(p.name for p in photos_dir.iterdir()) == ["a.jpg", "b.jpg"]  # no marker, lock or log


def test_photo_folder_marked_as_a_workspace_is_refused(tmp_path: Path, photos_dir, write_photo, ingest) -> None:
    write_photo("a.jpg", seed=1)
    write_photo("b.jpg", seed=2)
    (photos_dir / ".photogrammetry-workspace").touch()
    with pytest.raises(InputError, match="marked as a workspace"):
        ingest(workspace=tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def test_two_runs_give_identical_artifacts(tmp_path: Path, photos_dir, write_photo, ingest) -> None:
    write_photo("a.jpg", seed=1, exif={"Orientation": 6, "FocalLengthIn35mmFilm": 28})
    write_photo("b.png", image=np.dstack([np.zeros((48, 64, 3), np.uint8), np.eye(48, 64, dtype=np.uint8) * 255]))
    write_photo("c.tif", seed=3)
    write_photo("d/e.jpg", seed=4)
    (photos_dir / "f.jpg").write_bytes((photos_dir / "d/e.jpg").read_bytes())
    (photos_dir / "g.jpg").write_text("no photo")
    one, _ = ingest("max_image_size=64", workspace=tmp_path / "ws1")
    two, _ = ingest("max_image_size=64", workspace=tmp_path / "ws2")
    assert one.stages[0].key == two.stages[0].key
    first, second = _files(one.folder("ingest")), _files(two.folder("ingest"))
    assert {"images.json", "cameras.json", "report.json", "masks/b.png.png"} <= set(first)
    assert first == second


def _flip_a_scan_bit(path: Path) -> None:
    """Rewrite a JPEG with other pixels but the same size (one bit of its scan data flipped)."""
    data = bytearray(path.read_bytes())
    i = next(i for i in range(len(data) // 2, len(data)) if data[i] < 0xF0 and data[i - 1] != 0xFF)
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def test_changed_photo_reruns_ingest_and_untouched_reuses(photos_dir, write_photo, ingest) -> None:
    for i in range(3):
        write_photo(f"p{i}.jpg", seed=i)
    first, before = ingest()
    reuse, _ = ingest()
    assert first.ran == ("ingest",) and reuse.ran == () and reuse.stages[0].key == first.stages[0].key
    _flip_a_scan_bit(photos_dir / "p1.jpg")
    changed, after = ingest()
    assert changed.ran == ("ingest",) and changed.stages[0].key != first.stages[0].key
    assert before.images[1].sha256 != after.images[1].sha256
