"""The matches stage through the engine: precision on a plane, resume pair by pair, keys, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import photogrammetry
from photogrammetry.device import torch_threads
from photogrammetry.errors import ConfigError
from photogrammetry.io.features import FeatureFile, MatchFile, MatchSet, load_matches, load_pairs
from photogrammetry.stages import matches as matches_stage
from tests.features.offline import block_network
from tests.features.synthetic import apply_homography, plane_views, write_images
from tests.io.hloc_reader import get_keypoints, get_matches, list_h5_names, parse_pairs

SMALL = ("features.max_keypoints=256", "features.resize_max=0")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    with torch_threads(1):
        yield


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return block_network(monkeypatch)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    images, homographies = plane_views(4, 320, 240, seed=21)
    folder = tmp_path_factory.mktemp("plane") / "photos"
    names = write_images(folder, images)
    return folder, dict(zip(names, homographies, strict=True))


def run(photos: Path, workspace: Path, *overrides: str):
    return photogrammetry.run(photos, workspace, overrides=[*SMALL, *overrides], until="matches", device="cpu",
                              workers=2, progress=False)


@pytest.fixture(scope="module")
def reference(scene, tmp_path_factory: pytest.TempPathFactory):
    return run(scene[0], tmp_path_factory.mktemp("reference") / "ws")


def precision(result, homographies: dict[str, np.ndarray]) -> tuple[float, int]:
    """Fraction of matches within 2 px of the true homography, and their number."""
    features = result.folder("features") / "features.h5"
    errors = []
    with FeatureFile(features) as ff, MatchFile(result.folder("matches") / "matches.h5") as mf:
        for a, b in mf.pairs():
            m = mf.read(a, b)
            h = homographies[b] @ np.linalg.inv(homographies[a])
            p0, p1 = ff.read(a).keypoints[m.indices[:, 0]], ff.read(b).keypoints[m.indices[:, 1]]
            errors.append(np.linalg.norm(apply_homography(h, p0) - p1, axis=1))
    errors = np.concatenate(errors)
    return float((errors < 2.0).mean()), len(errors)


def test_lightglue_matches_every_pair_precisely(scene, reference, no_network: list[str]) -> None:
    folder = reference.folder("matches")
    loaded = load_matches(folder)
    pairs = load_pairs(reference.folder("pairs")).pairs
    assert isinstance(loaded, MatchSet) and loaded.pairs == pairs and len(pairs) == 6
    counts = next(s.counts for s in reference.stages if s.name == "matches")
    assert counts["pairs"] == 6 and counts["pairs_without_matches"] == 0
    ratio, count = precision(reference, scene[1])
    assert count == counts["matches"] and count > 6 * 80
    assert ratio >= 0.9
    with MatchFile(folder / "matches.h5") as mf:
        lowest = min(float(mf.read(*pair).scores.min()) for pair in mf.pairs())
    assert lowest >= matches_stage.MatchesConfig().filter_threshold
    assert no_network == []


def test_sift_with_nearest_neighbours(scene, tmp_path: Path) -> None:
    result = run(scene[0], tmp_path / "ws", "features.extractor=sift")
    ratio, count = precision(result, scene[1])
    assert ratio >= 0.9 and count > 6 * 40


def test_sift_pairs_in_threads_match_as_one_at_a_time(scene, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """nn-ratio on the CPU matches ``workers`` pairs at once (torch on one thread each): the same matches."""
    assert matches_stage.pair_threads("nn-ratio", "cpu", 2) == 2
    assert matches_stage.pair_threads("lightglue", "cpu", 2) == matches_stage.pair_threads("nn-ratio", "cuda", 2) == 1
    threaded = run(scene[0], tmp_path / "threads", "features.extractor=sift")
    monkeypatch.setattr(matches_stage, "pair_threads", lambda matcher, device, workers: 1)
    single = run(scene[0], tmp_path / "single", "features.extractor=sift")
    with MatchFile(threaded.folder("matches") / "matches.h5") as a, \
            MatchFile(single.folder("matches") / "matches.h5") as b:
        pairs = list(b.pairs())
        assert len(pairs) == 6 and all(np.array_equal(a.read(*p).indices, b.read(*p).indices) for p in pairs)


def test_resumes_pair_by_pair(scene, reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Interrupted at the third pair saved, a second run matches only the pairs not saved (pairs already
    running when the interrupt came finish first: the rest of six) and equals a whole run."""
    saved: list[Path] = []
    real_save = matches_stage.save_matches_scratch

    def save_then_interrupt(path, matches):
        real_save(path, matches)
        saved.append(path)
        if len(saved) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(matches_stage, "save_matches_scratch", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(scene[0], tmp_path / "ws")
    interrupted = set(saved)
    assert len(interrupted) >= 3
    saved.clear()
    monkeypatch.setattr(matches_stage, "save_matches_scratch", lambda p, m: saved.append(p) or real_save(p, m))
    resumed = run(scene[0], tmp_path / "ws")
    assert resumed.ran == ("matches",) and len(saved) == 6 - len(interrupted)
    assert not interrupted & set(saved)
    with MatchFile(resumed.folder("matches") / "matches.h5") as a, \
            MatchFile(reference.folder("matches") / "matches.h5") as b:
        for pair in b.pairs():
            np.testing.assert_array_equal(a.read(*pair).indices, b.read(*pair).indices)


def test_key_ignores_cache_size_but_not_thresholds(scene, reference) -> None:
    assert run(scene[0], reference.workspace, "matches.cache_images=2").ran == ()
    assert run(scene[0], reference.workspace, "matches.filter_threshold=0.3").ran == ("matches",)


def test_small_device_cache_gives_the_same_matches(scene, reference, tmp_path: Path) -> None:
    result = run(scene[0], tmp_path / "ws", "matches.cache_images=2")
    with MatchFile(result.folder("matches") / "matches.h5") as a, \
            MatchFile(reference.folder("matches") / "matches.h5") as b:
        assert all(np.array_equal(a.read(*p).indices, b.read(*p).indices) for p in b.pairs())


def test_the_cache_holds_the_images_of_a_run_of_pairs_not_of_the_capture() -> None:
    def ring(photos: int) -> list[tuple[str, str]]:  # each photo with its 4 next ones, sorted as pairs are
        return sorted((f"{i:03d}", f"{(i + d) % photos:03d}") for i in range(photos) for d in range(1, 5))

    sizes = [matches_stage.cache_size(ring(n), 512, run=16) for n in (25, 100, 400)]
    assert sizes[0] == sizes[1] == sizes[2] < 25  # 16 consecutive pairs: 4 first images and their next 4
    assert matches_stage.cache_size(ring(100), 6, run=16) == 6  # matches.cache_images caps it
    assert matches_stage.cache_size([("a", "b")], 512) == 2 and matches_stage.cache_size([], 512) == 2


def test_lightglue_for_sift_is_a_config_error(scene, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nn-ratio"):
        run(scene[0], tmp_path / "ws", "features.extractor=sift", "matches.matcher=lightglue")


def test_device_cache_keeps_the_most_recently_used() -> None:
    loads: list[str] = []
    cache = matches_stage.DeviceCache(lambda n: loads.append(n) or n.upper(), capacity=2)
    assert [cache.get(n) for n in "abab"] == ["A", "B", "A", "B"] and loads == ["a", "b"]
    cache.get("c")  # evicts a, the least recently used
    cache.get("b")
    cache.get("a")
    assert loads == ["a", "b", "c", "a"]


def test_hloc_reads_the_stage_outputs(scene, reference) -> None:
    features = reference.folder("features") / "features.h5"
    matches = reference.folder("matches") / "matches.h5"
    pairs = parse_pairs(reference.folder("pairs") / "pairs.txt")
    assert pairs == list(load_pairs(reference.folder("pairs")).pairs)
    assert list_h5_names(features) == sorted(scene[1])
    with FeatureFile(features) as ff, MatchFile(matches) as mf:
        for a, b in pairs:
            np.testing.assert_allclose(get_keypoints(features, a) + 0.5, ff.read(a).keypoints, atol=1e-4)
            indices, scores = get_matches(matches, a, b)
            np.testing.assert_array_equal(indices, mf.read(a, b).indices)
            np.testing.assert_array_equal(scores, mf.read(a, b).scores)


def test_matches_kept_in_memory_write_the_same_file(scene, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local run writes matches.h5 from the matches it kept (at most KEEP_PAIRS), reading only the rest
    back from their scratch files: the same file's contents either way."""
    import h5py

    loaded: list[Path] = []
    real_load = matches_stage.load_matches_scratch
    monkeypatch.setattr(matches_stage, "load_matches_scratch", lambda path: loaded.append(path) or real_load(path))
    contents = []
    for keep, read_back in ((matches_stage.KEEP_PAIRS, 0), (2, 4), (0, 6)):
        monkeypatch.setattr(matches_stage, "KEEP_PAIRS", keep)
        loaded.clear()
        result = run(scene[0], tmp_path / f"keep{keep}", "features.extractor=sift")
        assert len(loaded) == read_back
        with h5py.File(result.folder("matches") / "matches.h5", "r") as f:
            arrays = {}
            f.visititems(lambda path, obj: arrays.__setitem__(path, obj[()]) if isinstance(obj, h5py.Dataset) else None)
            contents.append(arrays)
    assert len(contents[0]) == 12 and any((v >= 0).any() for k, v in contents[0].items() if k.endswith("matches0"))
    for other in contents[1:]:
        assert other.keys() == contents[0].keys()
        assert all(np.array_equal(other[k], contents[0][k]) for k in other)
