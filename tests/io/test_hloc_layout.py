"""features.h5 / matches.h5 / pairs.txt read the way hloc reads them, and by our own readers."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from photogrammetry.io.features import (FeatureFile, Features, MatchFile, Matches, feature_set, load_matches,
                                        save_pairs, write_features, write_matches)
from tests.io.hloc_reader import get_keypoints, get_matches, list_h5_names, parse_pairs

NAMES = ("a.jpg", "sub/b.jpg", "sub/deeper/c.png")


def _features(seed: int, n: int) -> Features:
    rng = np.random.default_rng(seed)
    return Features(rng.uniform(0.5, 99.5, (n, 2)).astype(np.float32), rng.random(n).astype(np.float32),
                    rng.normal(size=(n, 8)).astype(np.float16), (100, 80))


@pytest.fixture
def files(tmp_path):
    feats = {name: _features(i, 10 + i) for i, name in enumerate(NAMES)}
    write_features(tmp_path / "features.h5", feats.items(), "disk")
    matches = {("a.jpg", "sub/b.jpg"): Matches(np.array([[3, 7], [0, 2], [9, 10]], np.int32),
                                               np.array([0.9, 0.8, 0.7], np.float32)),
               ("sub/deeper/c.png", "a.jpg"): Matches(np.array([[11, 1]], np.int32), np.array([0.5], np.float32))}
    write_matches(tmp_path / "matches.h5", ((a, b, m) for (a, b), m in matches.items()),
                  {name: len(f.keypoints) for name, f in feats.items()})
    return tmp_path, feats, matches


def test_hloc_lists_images_and_reads_keypoints_in_its_convention(files):
    folder, feats, _ = files
    path = folder / "features.h5"
    assert list_h5_names(path) == sorted(NAMES)
    for name, f in feats.items():
        np.testing.assert_allclose(get_keypoints(path, name), f.keypoints - 0.5, atol=1e-5)
    with h5py.File(path, "r") as h:
        group = h["sub/deeper/c.png"]
        assert group["descriptors"].shape == (8, 12) and group["scores"].shape == (12,)
        assert group["image_size"][()].tolist() == [100, 80]


def test_hloc_reads_matches_in_either_order(files):
    folder, _, matches = files
    path = folder / "matches.h5"
    assert list_h5_names(path) == ["a.jpg/sub-b.jpg", "sub-deeper-c.png/a.jpg"]
    got, scores = get_matches(path, "a.jpg", "sub/b.jpg")
    assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, matches["a.jpg", "sub/b.jpg"].indices.tolist()))
    assert sorted(scores.tolist()) == pytest.approx([0.7, 0.8, 0.9])
    got, _ = get_matches(path, "a.jpg", "sub/deeper/c.png")
    assert got.tolist() == [[1, 11]]
    with h5py.File(path, "r") as h:
        assert h["a.jpg/sub-b.jpg/matches0"].shape == (10,)  # one entry per keypoint of a.jpg
        assert (h["a.jpg/sub-b.jpg/matches0"][()] == -1).sum() == 7


def test_our_readers_round_trip(files):
    folder, feats, matches = files
    assert feature_set(folder / "features.h5").extractor == "disk"
    with FeatureFile(folder / "features.h5") as ff:
        assert ff.names() == sorted(NAMES) and "sub/b.jpg" in ff and "sub" not in ff and "x.jpg" not in ff
        for name, f in feats.items():
            back = ff.read(name)
            np.testing.assert_allclose(back.keypoints, f.keypoints, atol=1e-5)
            np.testing.assert_array_equal(back.descriptors, f.descriptors)
            assert back.image_size == f.image_size and ff.num_keypoints(name) == len(f.keypoints)
    assert load_matches(folder).pairs == tuple(sorted(matches))
    with MatchFile(folder / "matches.h5") as mf:
        for (a, b), m in matches.items():
            order = np.argsort(m.indices[:, 0])
            back = mf.read(a, b)
            np.testing.assert_array_equal(back.indices, m.indices[order])
            np.testing.assert_array_equal(back.scores, m.scores[order])
            np.testing.assert_array_equal(mf.read(b, a).indices, m.indices[order][:, ::-1])
        assert mf.read("a.jpg", "a.jpg") is None
        items = list(mf.items())
        assert sorted((a, b) for a, b, _ in items) == sorted(matches)
        for a, b, m in items:
            np.testing.assert_array_equal(m.indices, mf.read(a, b).indices)
            np.testing.assert_array_equal(m.scores, mf.read(a, b).scores)


def test_pairs_txt_is_hlocs(tmp_path):
    pairs = [("a.jpg", "sub/b.jpg"), ("sub/b.jpg", "c.jpg")]
    save_pairs(tmp_path, pairs)
    assert parse_pairs(tmp_path / "pairs.txt") == pairs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.json", "pairs.txt"]


def test_writing_refuses_what_hlocs_layout_cannot_hold(tmp_path):
    one = Matches(np.array([[0, 0]], np.int32), np.ones(1, np.float32))
    with pytest.raises(ValueError, match="share hloc's pair path"):
        write_matches(tmp_path / "m.h5", [("a/b.jpg", "c.jpg", one), ("a-b.jpg", "c.jpg", one)],
                      {"a/b.jpg": 1, "a-b.jpg": 1})
    twice = Matches(np.array([[0, 0], [0, 1]], np.int32), np.ones(2, np.float32))
    with pytest.raises(ValueError, match="several matches"):
        write_matches(tmp_path / "m.h5", [("a", "b", twice)], {"a": 1})
    with pytest.raises(ValueError, match="beyond"):
        write_matches(tmp_path / "m.h5", [("a", "b", one)], {"a": 0})
    assert list(tmp_path.iterdir()) == []  # no file, no temporary left behind
