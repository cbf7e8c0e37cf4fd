"""A workspace of the facade sample scene run up to SfM (about 10 s): enough for every section that
reads features, matches and the sparse model, and for the others to say "not computed". One photo of
another scene (the orbit's) is among the facade's, for SfM to leave out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import photogrammetry

SCENES = Path(__file__).resolve().parents[2] / "sample_scenes"
PHOTOS = [f"view_{i:03d}.jpg" for i in range(0, 12, 2)]
STRANGER = "stranger.jpg"
"""The orbit scene's first photo, copied among the facade's under this name."""


@pytest.fixture(scope="package")
def partial_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    photos = root / "photos"
    photos.mkdir()
    for name in PHOTOS:
        shutil.copy(SCENES / "facade" / "images" / name, photos / name)
    shutil.copy(SCENES / "orbit" / "images" / "view_000.jpg", photos / STRANGER)
    photogrammetry.run(photos, root / "ws", preset="fast", until="sfm", device="cpu", workers=2, progress=False)
    return root / "ws"
