"""The masks stage through the engine: each method, the user's masks in the key, features inside masks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import photogrammetry
from photogrammetry.errors import ConfigError, InputError
from photogrammetry.io.features import FeatureFile
from photogrammetry.io.masks import MaskSet, read_mask
from photogrammetry.stages import masks as masks_stage
from tests.masking.test_background import turntable_frames


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("turntable") / "photos"
    folder.mkdir()
    frames, _ = turntable_frames(n=8, size=(160, 120))
    for k, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"img_{k:02d}.png"), frame)
    return folder


def run(photos: Path, workspace: Path, *overrides: str, until: str = "masks", preset: str = "auto"):
    return photogrammetry.run(photos, workspace, preset=preset, overrides=list(overrides), until=until, device="cpu",
                              workers=1, progress=False)


def loaded(result) -> MaskSet:
    return masks_stage.STAGE.load(result.folder("masks"))


def test_default_uses_ingest_alpha_and_none_masks_nothing(photos: Path, tmp_path: Path) -> None:
    result = run(photos, tmp_path / "ws", preset="cpu")  # auto takes these photos for a turntable's
    assert loaded(result).method == "ingest" and loaded(result).count == 0  # the photos have no alpha
    assert loaded(run(photos, tmp_path / "ws", "masks.method=none", preset="cpu")).mask_path("img_00.png") is None
    assert loaded(run(photos, tmp_path / "ws")).method == "background"


def test_background_masks_every_photo_and_features_stay_inside(photos: Path, tmp_path: Path) -> None:
    result = run(photos, tmp_path / "ws", "masks.method=background", "features.extractor=sift", until="features")
    masks = loaded(result)
    assert masks.count == 8
    counts = next(s.counts for s in result.stages if s.name == "masks")
    assert counts["masked"] == 8 and 0.1 < counts["mean_coverage"] < 0.4
    with FeatureFile(result.folder("features") / "features.h5") as ff:
        keypoints = {name: ff.read(name).keypoints for name in ff.names()}
    for name, points in keypoints.items():
        mask = read_mask(masks.mask_path(name))
        cols, rows = (points - 0.5).round().astype(int).T
        assert mask[rows.clip(0, 119), cols.clip(0, 159)].all()


def test_folder_masks_enter_the_key_by_content(photos: Path, tmp_path: Path) -> None:
    user = tmp_path / "user_masks"
    user.mkdir()
    mask = np.zeros((120, 160), np.uint8)
    mask[20:100, 40:120] = 255
    for k in range(8):
        cv2.imwrite(str(user / f"img_{k:02d}_mask.png"), mask)
    first = run(photos, tmp_path / "ws", "masks.method=folder", f"masks.folder={user}")
    assert loaded(first).count == 8 and read_mask(loaded(first).mask_path("img_03.png"))[50, 50]
    assert run(photos, tmp_path / "ws", "masks.method=folder", f"masks.folder={user}").ran == ()
    cv2.imwrite(str(user / "img_03_mask.png"), 255 - mask)
    again = run(photos, tmp_path / "ws", "masks.method=folder", f"masks.folder={user}")
    assert again.ran == ("masks",) and not read_mask(loaded(again).mask_path("img_03.png"))[50, 50]


def test_errors(photos: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="none, ingest, folder, background"):
        run(photos, tmp_path / "ws", "masks.method=magic")
    with pytest.raises(ConfigError, match="needs masks.folder"):
        run(photos, tmp_path / "ws", "masks.method=folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no mask for any image"):
        run(photos, tmp_path / "ws", "masks.method=folder", f"masks.folder={empty}")
