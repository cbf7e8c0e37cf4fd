"""A workspace of the facade sample scene run up to SfM (about 10 s): enough for every section that
reads features, matches and the sparse model, and for the others to say "not computed"."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import photogrammetry

SCENE = Path(__file__).resolve().parents[2] / "sample_scenes" / "facade"
PHOTOS = [f"view_{i:03d}.jpg" for i in range(0, 12, 2)]


@pytest.fixture(scope="module")
def partial_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    photos = root / "photos"
    photos.mkdir()
    for name in PHOTOS:
        shutil.copy(SCENE / "images" / name, photos / name)
    photogrammetry.run(photos, root / "ws", preset="fast", until="sfm", device="cpu", workers=2, progress=False)
    return root / "ws"
