"""Calling pycolmap safely: errors become StageErrors, images are found by name, logs restored."""

from __future__ import annotations

import dataclasses

import pycolmap
import pytest

from photogrammetry.errors import StageError
from photogrammetry.sfm.colmap import colmap_errors, image_folder, quiet_colmap


def test_pycolmap_exceptions_become_stage_errors_with_the_hint(tmp_path):
    with pytest.raises(StageError, match="reading a model failed in COLMAP .* try again"):
        with colmap_errors("reading a model", "try again"):
            pycolmap.Reconstruction(tmp_path / "missing")


def test_quiet_colmap_restores_the_log_level():
    before = pycolmap.logging.minloglevel
    with quiet_colmap(2):
        assert pycolmap.logging.minloglevel >= 2
    assert pycolmap.logging.minloglevel == before


def test_image_folder_is_the_ingest_folder_when_names_are_file_names(synthetic_scene, tmp_path):
    assert image_folder(synthetic_scene.ingest, tmp_path / "links") == synthetic_scene.ingest.root / "images"
    assert not (tmp_path / "links").exists()


def test_image_folder_links_re_encoded_images_under_their_names(synthetic_scene, tmp_path):
    ingest = synthetic_scene.ingest
    first = ingest.images[0]
    renamed = dataclasses.replace(first, name=f"sub/{first.name[:-4]}.tif", file=f"images/sub/{first.name[:-4]}.tif.png")
    (ingest.root / renamed.file).parent.mkdir(parents=True, exist_ok=True)
    (ingest.root / renamed.file).write_bytes(b"png")
    changed = dataclasses.replace(ingest, images=(renamed, *ingest.images[1:]))
    folder = image_folder(changed, tmp_path / "links")
    assert folder == tmp_path / "links"
    assert (folder / renamed.name).read_bytes() == b"png"
    assert (folder / ingest.images[1].name).is_symlink()


def test_map_threads_keeps_the_order_of_the_jobs():
    from photogrammetry.sfm.colmap import map_threads, threads_for

    jobs = list(range(50))
    assert map_threads(lambda x: x * x, jobs, 2) == [x * x for x in jobs]
    assert map_threads(lambda x: x + 1, jobs, -1) == [x + 1 for x in jobs]
    assert map_threads(str, [], 4) == []
    assert threads_for(3) == 3 and threads_for(-1) >= 1
