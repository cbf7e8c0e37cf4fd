"""Fixtures that write small test photos into ``tmp_path`` and run the pipeline up to ingest."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest

import photogrammetry
from photogrammetry.engine.runner import RunResult
from photogrammetry.io.ingest import IngestResult, load_ingest
from tests.io.photo_factory import encode, texture


@pytest.fixture
def photos_dir(tmp_path: Path) -> Path:
    """An empty photo folder."""
    folder = tmp_path / "photos"
    folder.mkdir()
    return folder


@pytest.fixture
def write_photo(photos_dir: Path) -> Callable[..., np.ndarray]:
    """``write_photo(name, size=(w, h), seed=0, exif=None, image=None)`` writes a photo into
    ``photos_dir`` (format from the suffix; sub-folders made) and returns the image written."""

    def write(name: str, size: tuple[int, int] = (64, 48), seed: int = 0,
              exif: Mapping[str, object] | None = None, image: np.ndarray | None = None) -> np.ndarray:
        image = texture(*size, seed=seed) if image is None else image
        path = photos_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(image, Path(name).suffix.lower(), exif))
        return image

    return write


@pytest.fixture
def ingest(tmp_path: Path, photos_dir: Path) -> Callable[..., tuple[RunResult, IngestResult]]:
    """``ingest(*overrides, photos=photos_dir, workspace=tmp_path/"ws")`` runs up to ingest and
    returns the run result and the loaded artifact."""

    def run(*overrides: str, photos: Path | None = None,
            workspace: Path | None = None) -> tuple[RunResult, IngestResult]:
        result = photogrammetry.run(photos or photos_dir, workspace or tmp_path / "ws", until="ingest",
                                    overrides=[f"ingest.{o}" for o in overrides], workers=2, progress=False)
        return result, load_ingest(result.folder("ingest"))

    return run
