"""A scratch file kept by an interrupted stage is reused only while intact."""

from pathlib import Path

import numpy as np
import pytest

from photogrammetry.io.features import Features, Matches, save_features_scratch, save_matches_scratch, scratch_intact


@pytest.mark.parametrize("damage", ["none", "flip", "truncate", "delete"])
def test_scratch_intact_detects_each_kind_of_damage(tmp_path: Path, damage: str) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "a.npz"
    save_features_scratch(path, Features(rng.random((50, 2), dtype=np.float32), rng.random(50, dtype=np.float32),
                                         rng.random((50, 64), dtype=np.float32), (640, 480)))
    data = path.read_bytes()
    if damage == "flip":
        middle = len(data) // 2  # inside the descriptors
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0x10]) + data[middle + 1:])
    elif damage == "truncate":
        path.write_bytes(data[: len(data) // 3])
    elif damage == "delete":
        path.unlink()
    assert scratch_intact(path) == (damage == "none")


def test_scratch_intact_for_matches(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    save_matches_scratch(path, Matches(np.zeros((3, 2), np.int32), np.ones(3, np.float32)))
    assert scratch_intact(path)
