"""Pair selection: exhaustive, sequential with loop closure, file parsing, retrieval building blocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from photogrammetry.errors import ConfigError, InputError
from photogrammetry.io.features import Features, write_features
from photogrammetry.matching.pairs import (PAIR_METHODS, PairOptions, PairRequest, auto_choice, capped,
                                           most_per_image, parse_pairs_text, ranked_sequence_pairs, resolve_method,
                                           select_pairs, window_pairs)
from photogrammetry.matching.sequences import numbered_sequences, timed_sequences
from photogrammetry.matching.retrieval import (kmeans, nearest_images, nearest_word, retrieval_index_pairs, sum_by_word,
                                                vlad)

NAMES = tuple(f"img_{i:02d}.jpg" for i in range(8))


def _select(method: str, **kwargs) -> list[tuple[str, str]]:
    return select_pairs(method, PairRequest(names=NAMES, options=PairOptions(**kwargs)))


def _indices(pairs: list[tuple[str, str]]) -> set[tuple[int, int]]:
    return {(NAMES.index(a), NAMES.index(b)) for a, b in pairs}


def test_exhaustive_is_every_pair_once() -> None:
    pairs = _select("exhaustive")
    assert len(pairs) == 28 and len(set(pairs)) == 28
    assert all(NAMES.index(a) < NAMES.index(b) for a, b in pairs)


def test_sequential_window_without_loop_closure() -> None:
    assert _indices(_select("sequential", window=2, loop_closure="none")) == {
        (0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (2, 4), (3, 4), (3, 5), (4, 5), (4, 6), (5, 6), (5, 7), (6, 7)}


def test_sequential_wrap_closes_the_ring() -> None:
    pairs = _indices(_select("sequential", window=2, loop_closure="wrap"))
    assert {(0, 7), (0, 6), (1, 7)} <= pairs
    assert len(pairs) == 16  # every image has exactly two neighbours on each side
    assert window_pairs(3, 5, wrap=True) and len({tuple(sorted(p)) for p in window_pairs(3, 5, wrap=True)}) == 3


def test_sequential_with_retrieval_loop_closure_adds_revisits(tmp_path: Path) -> None:
    """A 'video' that comes back to where it started: retrieval closes the loop."""
    path = tmp_path / "features.h5"
    rng = np.random.default_rng(0)
    places = rng.normal(size=(4, 300, 32)).astype(np.float32)
    visits = [0, 1, 2, 3, 3, 2, 1, 0]  # image i shows place visits[i]
    write_features(path, [(NAMES[i], _noisy(places[p], rng)) for i, p in enumerate(visits)], "disk")
    options = PairOptions(window=1, loop_closure="retrieval", k=1, vocabulary_size=8)
    pairs = _indices(select_pairs("sequential", PairRequest(names=NAMES, features=path, options=options)))
    assert {(0, 7), (1, 6), (2, 5)} <= pairs


def _noisy(descriptors: np.ndarray, rng: np.random.Generator) -> Features:
    desc = descriptors + rng.normal(scale=0.3, size=descriptors.shape).astype(np.float32)
    n = len(desc)
    return Features(np.zeros((n, 2), np.float32), np.ones(n, np.float32), desc.astype(np.float16), (64, 48))


def test_pairs_file_parsing() -> None:
    text = "# a comment\nimg_00.jpg img_03.jpg\n\nimg_05.jpg\timg_01.jpg\nimg_03.jpg img_00.jpg\n"
    assert parse_pairs_text(text, NAMES) == [("img_00.jpg", "img_03.jpg"), ("img_01.jpg", "img_05.jpg")]


@pytest.mark.parametrize("text, message", [
    ("img_00.jpg img_01.jpg img_02.jpg\n", "line 1: expected two image names"),
    ("img_00.jpg nope.jpg\n", "'nope.jpg'"),
])
def test_pairs_file_errors_name_the_line_or_image(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_pairs_text(text, NAMES, "pairs.txt")


def test_names_with_spaces_need_tabs() -> None:
    names = ("a b.jpg", "c.jpg")
    assert parse_pairs_text("a b.jpg\tc.jpg\n", names) == [("a b.jpg", "c.jpg")]


def _names(n: int, numbered: bool = True) -> tuple[str, ...]:
    return tuple(f"IMG_{i:04d}.JPG" if numbered else f"{chr(97 + i % 26)}{chr(97 + i // 26)}.jpg" for i in range(n))


@pytest.mark.parametrize("numbered, frames, options, last_exhaustive", [
    (False, False, {}, 21),  # retrieval: k = 10 neighbours, at most 2 k = 20 pairs per image
    (True, False, {}, 27),  # + 3 following photos of the numbered sequence: 26
    (True, False, {"sequence_window": 0}, 21),
    (False, False, {"k": 8}, 17),  # the fast preset
    (False, False, {"k": 20}, 41),  # the high preset
    (True, True, {}, 21),  # video frames: sequential, 2 window = 20
    (True, True, {"loop_closure": "retrieval", "window": 5}, 31),  # + 2 k retrieval loop closure
])
def test_auto_is_exhaustive_while_no_dearer_than_the_alternative(numbered: bool, frames: bool, options: dict,
                                                               last_exhaustive: int) -> None:
    """Every pair up to n - 1 <= the alternative's most pairs per image; above it, the alternative."""
    opts = PairOptions(**options)
    alternative = "sequential" if frames else "retrieval"
    assert resolve_method("auto", _names(last_exhaustive, numbered), opts, frames=frames) == "exhaustive"
    assert resolve_method("auto", _names(last_exhaustive + 1, numbered), opts, frames=frames) == alternative
    assert resolve_method("auto", _names(400, numbered), opts, frames=frames) == alternative
    assert resolve_method("auto", _names(2, numbered), opts, frames=frames) == "exhaustive"


def test_auto_threshold_is_a_floor_and_the_choice_says_why() -> None:
    names = _names(60, numbered=False)
    assert resolve_method("auto", names, PairOptions(), floor=80) == "exhaustive"
    assert resolve_method("auto", names, PairOptions(), floor=50) == "retrieval"
    choice = auto_choice(names, PairOptions())
    assert (choice.method, choice.bound) == ("retrieval", 20)
    assert "59 per image" in choice.reason() and "at most 20" in choice.reason()
    assert "auto_threshold" in auto_choice(names, PairOptions(), floor=60).reason()
    with pytest.raises(ConfigError, match="exhaustive, sequential, turntable, retrieval, file"):
        resolve_method("vocab_tree", names, PairOptions())
    assert set(PAIR_METHODS) == {"exhaustive", "sequential", "turntable", "retrieval", "file"}


@pytest.mark.parametrize("loop_closure", ["wrap", "none"])
def test_auto_pairs_per_image_stay_flat_above_the_switch(loop_closure: str) -> None:
    """Video frames under auto: every pair up to the switch, then at most 2 window pairs per image."""
    options = PairOptions(window=4, loop_closure=loop_closure)
    for n in (5, 9, 10, 47, 100, 200):
        pairs = select_pairs("auto", PairRequest(names=_names(n), options=options), frames=True)
        per_image = 2 * len(pairs) / n
        if n <= 9:
            assert per_image == n - 1
        else:  # without wrap-around, the last 4 frames lack (4 + 3 + 2 + 1) of their pairs
            assert per_image == 8 if loop_closure == "wrap" else 8 - 20 / n <= per_image < 8


def sequence_index_pairs(names, window, times=()):
    """The index pairs of :func:`ranked_sequence_pairs`, without their ranks."""
    return [pair for _, pair in ranked_sequence_pairs(names, window, times)]


def test_numbered_sequences_follow_the_numbers_not_the_names() -> None:
    names = ("IMG_9.JPG", "IMG_10.JPG", "IMG_11.JPG", "IMG_8.JPG", "b/IMG_1.jpg", "b/IMG_2.jpg", "b/IMG_3.jpg",
             "c/IMG_1.jpg", "c/IMG_2.jpg", "scan.png", "front.jpg")
    assert numbered_sequences(names) == [[3, 0, 1, 2], [4, 5, 6]]  # c/ has two photos only: no sequence
    assert not numbered_sequences(("front.jpg", "back.jpg", "left2.jpg", "right7.jpg"))
    assert sorted(sequence_index_pairs(names, 2)) == [(0, 1), (0, 2), (1, 2), (3, 0), (3, 1), (4, 5), (4, 6), (5, 6)]
    assert sequence_index_pairs(names, 0) == []


def test_timed_sequences_follow_the_capture_times_per_camera() -> None:
    """Photos named in no order: a camera's times order them (ties by name order); another camera's
    clock is its own; a camera with fewer than 3 different times gives no sequence."""
    times = [(1, "2024-05-01T12:00:03.000000"), (1, "2024-05-01T12:00:01.500000"), None,
             (1, "2024-05-01T12:00:01.250000"), (2, "2024-05-01T11:00:00.000000"), (1, "2024-05-01T12:00:03.000000"),
             (2, "2024-05-01T13:00:00.000000"), (3, "2024-05-01T10:00:00.000000"), (3, "2024-05-01T10:00:00.000000"),
             (3, "2024-05-01T10:00:00.000000"), (3, "2024-05-01T10:00:01.000000")]
    assert timed_sequences(times) == [[3, 1, 0, 5]]
    names = ("tree.jpg", "gate.jpg", "x.jpg", "door.jpg")
    assert sorted(sequence_index_pairs(names, 1, times[:4])) == [(1, 0), (3, 1)]
    assert sequence_index_pairs(names, 1) == [] == sequence_index_pairs(names, 1, [None] * 4)
    assert most_per_image("retrieval", names, PairOptions(), times[:4] + times[5:6]) == 26
    assert most_per_image("retrieval", names, PairOptions(), [None] * 4) == 20


def test_retrieval_adds_the_numbered_neighbours(tmp_path: Path) -> None:
    """Eight numbered images of four places: k=1 finds each twin, sequence_window=1 the next number."""
    path = tmp_path / "features.h5"
    rng = np.random.default_rng(3)
    places = rng.normal(size=(4, 400, 32)).astype(np.float32)
    write_features(path, [(NAMES[i], _noisy(places[i // 2], rng)) for i in range(8)], "aliked-n16")

    def pairs(**kwargs) -> set[tuple[int, int]]:
        options = PairOptions(k=1, vocabulary_size=16, **kwargs)
        return _indices(select_pairs("retrieval", PairRequest(names=NAMES, features=path, options=options)))

    assert pairs(sequence_window=0) == {(0, 1), (2, 3), (4, 5), (6, 7)}
    assert pairs(sequence_window=1) == {(i, i + 1) for i in range(7)}


def test_file_method_without_a_file_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="pairs_file"):
        _select("file")


def test_kmeans_finds_separated_clusters_deterministically() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 16)).astype(np.float32) * 10
    x = np.concatenate([c + rng.normal(size=(100, 16)).astype(np.float32) for c in centres])
    words = kmeans(x, 5)
    np.testing.assert_array_equal(words, kmeans(x, 5))
    nearest = np.linalg.norm(centres[:, None] - words[None], axis=2).min(axis=1)
    assert nearest.max() < 0.5


def test_vlad_is_unit_and_empty_is_zero() -> None:
    rng = np.random.default_rng(0)
    words = rng.normal(size=(4, 8)).astype(np.float32)
    v = vlad(rng.normal(size=(50, 8)).astype(np.float32), words)
    assert v.shape == (32,) and abs(np.linalg.norm(v) - 1) < 1e-5
    assert not vlad(np.zeros((0, 8), np.float32), words).any()


def test_nearest_images_excludes_self_and_sorts_by_similarity() -> None:
    vectors = np.eye(4, dtype=np.float32) + 0.1
    vectors[1] = vectors[0] * 0.9 + vectors[1] * 0.1
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    near = nearest_images(vectors, 2)
    assert near.shape == (4, 2) and (near != np.arange(4)[:, None]).all()
    assert near[0, 0] == 1 and near[1, 0] == 0
    assert nearest_images(vectors, 10).shape == (4, 3)


def test_retrieval_pairs_images_of_the_same_place(tmp_path: Path) -> None:
    """Eight images of four places (two each): with k=1 every image finds its twin."""
    path = tmp_path / "features.h5"
    rng = np.random.default_rng(3)
    places = rng.normal(size=(4, 400, 32)).astype(np.float32)
    write_features(path, [(NAMES[i], _noisy(places[i // 2], rng)) for i in range(8)], "aliked-n16")
    pairs = retrieval_index_pairs(path, NAMES, k=1, vocabulary_size=16)
    assert {tuple(sorted(p)) for p in pairs} == {(0, 1), (2, 3), (4, 5), (6, 7)}
    options = PairOptions(k=1, vocabulary_size=16, retrieval_window=1)
    assert _indices(select_pairs("retrieval", PairRequest(names=NAMES, features=path, options=options))) >= {
        (0, 1), (1, 2), (6, 7)}


def test_capped_keeps_the_strongest_pairs_of_an_image_that_many_chose() -> None:
    """Image 0 is every other image's best neighbour: over the bound its weakest-ranked pairs go,
    the others keep theirs; without a bound (0) every pair stays."""
    names = _names(10, numbered=False)
    ranked = [(1, (i, 0)) for i in range(1, 10)] + [(2, (i, i % 9 + 1)) for i in range(1, 10)]
    ranked += [(1, (0, 5))]  # image 0's own best: counted once with (5, 0)
    pairs = capped(ranked, names, 4)
    per_image = {n: sum(n in p for p in pairs) for n in names}
    assert per_image[names[0]] == 4 and max(per_image.values()) == 4
    assert {(names[0], names[i]) for i in (1, 2, 3, 4)} <= set(pairs)  # rank 1, in the given order
    assert all((names[i], names[i % 9 + 1]) in pairs or (names[i % 9 + 1], names[i]) in pairs for i in range(1, 9))
    assert len(capped(ranked, names, 0)) == 9 + 9


def test_retrieval_bounds_the_pairs_of_a_hub(tmp_path: Path) -> None:
    """Twelve images of six places and one image of all of them: with k=2 every image takes the hub,
    which ``max_per_image`` (and by default ``2 k``) bounds."""
    names = _names(13, numbered=False)
    path = tmp_path / "features.h5"
    rng = np.random.default_rng(5)
    places = rng.normal(size=(6, 300, 32)).astype(np.float32)
    hub = np.concatenate([p[rng.choice(300, 50, replace=False)] for p in places])
    write_features(path, [(names[i], _noisy(places[i // 2] if i < 12 else hub, rng)) for i in range(13)], "disk")

    def most(**kwargs) -> int:
        options = PairOptions(k=2, vocabulary_size=16, sequence_window=0, **kwargs)
        pairs = select_pairs("retrieval", PairRequest(names=names, features=path, options=options))
        return max(sum(n in p for p in pairs) for n in names)

    assert most(max_per_image=100) > 4  # the hub, chosen by more than its own 2 k
    assert most() == 4 == most_per_image("retrieval", names, PairOptions(k=2, sequence_window=0))
    assert most(max_per_image=3) == 3
    with pytest.raises(ConfigError, match="max_per_image"):
        PairOptions(max_per_image=-1)


def _turntable(n: int, **kwargs) -> set[tuple[int, int]]:
    names = tuple(f"v{i:03d}.jpg" for i in range(n))
    pairs = select_pairs("turntable", PairRequest(names=names, options=PairOptions(**kwargs)))
    return {(names.index(a), names.index(b)) for a, b in pairs}


def test_turntable_single_ring_wraps_within_window() -> None:
    pairs = _turntable(12, ring_size=12, window=2)
    assert pairs == {tuple(sorted((i, (i + d) % 12))) for i in range(12) for d in (1, 2)}
    assert (0, 11) in pairs and (0, 10) in pairs and (0, 3) not in pairs


def test_turntable_rings_pair_within_and_across_neighbouring_rings() -> None:
    pairs = _turntable(24, ring_size=8, window=1, cross_window=1)  # three rings of 8
    assert (0, 7) in pairs and (8, 15) in pairs  # each ring closes on itself
    assert {(0, 8), (0, 9), (0, 15)} <= pairs  # step 0 of ring 0 with steps 7, 0, 1 of ring 1
    assert not any(a < 8 and b >= 16 for a, b in pairs)  # rings 0 and 2 are not neighbours
    per_image = {i: sum(i in p for p in pairs) for i in range(24)}
    assert per_image[0] == 2 + 3 and per_image[8] == 2 + 3 + 3


def test_turntable_flip_links_the_two_passes() -> None:
    pairs = _turntable(16, ring_size=8, window=1, flip_after=8, flip_partners=4)
    across = {(a, b) for a, b in pairs if a < 8 <= b}
    assert len(across) == 8 * 4  # every view after the flip with 4 views before it
    assert {b for _, b in across} == set(range(8, 16)) and len({a for a, _ in across}) == 8


@pytest.mark.parametrize("method", sorted(PAIR_METHODS))
def test_every_registered_method_gives_canonical_pairs(method: str, tmp_path: Path) -> None:
    """Unique name pairs, the earlier name first, in order, none with itself: what the matches stage expects."""
    rng = np.random.default_rng(1)
    path = tmp_path / "features.h5"
    write_features(path, [(name, _noisy(rng.normal(size=(50, 8)).astype(np.float32), rng)) for name in NAMES], "disk")
    backwards = [f"{NAMES[i + 1]} {NAMES[i]}" for i in range(len(NAMES) - 1)] + [f"{NAMES[1]} {NAMES[0]}"]
    options = PairOptions(window=3, k=2, vocabulary_size=4, ring_size=4)
    request = PairRequest(names=NAMES, features=path, options=options, pairs_text="\n".join(backwards))
    pairs = PAIR_METHODS[method].select(request)
    assert pairs and pairs == sorted(set(pairs), key=lambda p: (NAMES.index(p[0]), NAMES.index(p[1])))
    assert all(NAMES.index(a) < NAMES.index(b) for a, b in pairs)


def _kmeans_before(x: np.ndarray, k: int, iterations: int = 20, seed: int = 0) -> np.ndarray:
    """The vocabulary's k-means as written before its buffers and flat sums: the reference."""
    rng = np.random.default_rng(seed)
    words = np.empty((k, x.shape[1]), np.float32)
    words[0] = x[rng.integers(len(x))]
    closest = ((x - words[0]) ** 2).sum(axis=1)
    for i in range(1, k):
        words[i] = x[rng.choice(len(x), p=closest / closest.sum()) if closest.sum() > 0 else rng.integers(len(x))]
        closest = np.minimum(closest, ((x - words[i]) ** 2).sum(axis=1))
    for _ in range(iterations):
        labels = np.argmax(x @ words.T - 0.5 * (words**2).sum(axis=1), axis=1)
        counts = np.bincount(labels, minlength=k)
        sums = np.zeros_like(words)
        np.add.at(sums, labels, x)
        empty = counts == 0
        words[~empty] = sums[~empty] / counts[~empty, None]
        words[empty] = x[rng.integers(len(x), size=int(empty.sum()))]
    return words


def test_the_vocabulary_sums_and_words_are_np_add_ats_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    x = rng.random((3001, 16)).astype(np.float32) ** 3  # sums of very unequal terms: the order shows
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = rng.integers(0, 9, len(x))
    expected = np.zeros((9, 16), np.float32)
    np.add.at(expected, labels, x)
    for chunk in (1, 100, 8192):
        assert np.array_equal(sum_by_word(x, labels, 9, chunk=chunk), expected)
    backwards = np.zeros((9, 16), np.float32)
    np.add.at(backwards, labels[::-1], x[::-1])
    assert not np.array_equal(backwards, expected)  # the order of the terms shows in these sums
    words = kmeans(x, 12, iterations=5)
    assert np.array_equal(words, _kmeans_before(x, 12, iterations=5))
    assert np.array_equal(nearest_word(x, words, chunk=700), np.argmax(x @ words.T - 0.5 * (words**2).sum(axis=1), 1))
