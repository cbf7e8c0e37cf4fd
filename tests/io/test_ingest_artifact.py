"""The ingest artifact's JSON files round-trip through save_ingest / load_ingest."""

from __future__ import annotations

import json
from pathlib import Path

from photogrammetry.io.ingest import CameraGroup, ImageRecord, IngestReport, SkippedFile, load_ingest, save_ingest


def _record(name: str, **changes: object) -> ImageRecord:
    fields = dict(name=name, file=f"images/{name}", source=f"/photos/{name}", camera_id=1, width=64, height=48,
                  scale=1.0, orientation=1, focal_px=None, focal_source="none", make=None, model=None, lens=None,
                  focal_mm=None, sha256="0" * 64, mask=None)
    return ImageRecord(**{**fields, **changes})


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    images = [_record("写真 1.jpg", focal_px=80.5, focal_source="exif_35mm", make="Maker", focal_mm=4.2),
              _record("sub/Bild Ä.png", mask="masks/sub/Bild Ä.png.png", orientation=6, scale=0.5)]
    cameras = [CameraGroup(camera_id=1, width=64, height=48, focal_px=80.5, focal_source="exif_35mm",
                           make="Maker", model=None, lens=None, images=("写真 1.jpg", "sub/Bild Ä.png"))]
    report = IngestReport(skipped=(SkippedFile(file="notes.jpg", reason="not a readable image"),),
                          duplicates=(("a.jpg", "b.jpg"),))
    save_ingest(tmp_path, images, cameras, report)
    loaded = load_ingest(tmp_path)
    assert loaded.images == tuple(images) and loaded.cameras == tuple(cameras) and loaded.report == report
    assert loaded.image_path(loaded.images[1]) == tmp_path / "images/sub/Bild Ä.png"
    assert loaded.mask_path(loaded.images[1]) == tmp_path / "masks/sub/Bild Ä.png.png"
    assert loaded.mask_path(loaded.images[0]) is None
    assert "写真 1.jpg" in (tmp_path / "images.json").read_text(encoding="utf-8")  # names kept, not escaped
    assert json.loads((tmp_path / "report.json").read_text())["duplicates"] == [["a.jpg", "b.jpg"]]
