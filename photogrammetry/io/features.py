"""Local features and matches on disk: HDF5 through h5py, one group per image or pair.

Layout of ``features.h5``: one group per image, named by :func:`item_key` of the image name
(names may hold any character), with the attribute ``name`` (the image name) and datasets

- ``keypoints``: ``(N, 2)`` float32, pixel coordinates in the prepared image, COLMAP convention
  (the centre of the top-left pixel is ``(0.5, 0.5)``);
- ``scores``: ``(N,)`` float32, detector confidence (higher is better);
- ``descriptors``: ``(N, D)`` float16 or float32 (SIFT: uint8 allowed);
- attributes ``image_size`` ``(width, height)`` and ``extractor`` (registry name).

Layout of ``matches.h5``: one group per pair, named by :func:`item_key` of ``"name0\\tname1"``,
with attributes ``name0``, ``name1`` and datasets ``matches`` ``(M, 2)`` int32 (keypoint
indices in image 0 and image 1) and ``scores`` ``(M,)`` float32.

Pairs are stored as ``pairs.json``: a list of ``[name0, name1]``. Features, pairs and matches are
in pixels and carry no units. Each artifact folder holds its one file: ``features/<key>/features.h5``,
``pairs/<key>/pairs.json``, ``matches/<key>/matches.h5`` (:func:`load_features`,
:func:`load_pairs`, :func:`load_matches`).

Stages write per-item results to scratch files while they run (so they resume item by item):
one ``.npz`` per image or pair (:func:`save_features_scratch`, :func:`save_matches_scratch`),
written atomically inside a folder of the artifact whose name starts with ``.`` (the engine
deletes it at commit). They combine them into one HDF5 file at the end, written to a temporary
name and renamed: HDF5 files are not safe against a process killed mid-write, so they are never
appended to.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from photogrammetry.io.jsonio import read_json, temporary_path, write_json

FEATURES_FILE = "features.h5"
"""The features artifact's file."""
PAIRS_FILE = "pairs.json"
"""The pairs artifact's file."""
MATCHES_FILE = "matches.h5"
"""The matches artifact's file."""


def item_key(name: str) -> str:
    """HDF5 group name of an image or pair name (a hash: names may contain '/' or '.')."""
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:24]


def pair_name(name0: str, name1: str) -> str:
    """The text a pair's key is derived from."""
    return f"{name0}\t{name1}"


@dataclass(frozen=True)
class Features:
    """Local features of one image."""

    keypoints: np.ndarray
    """``(N, 2)`` float32 pixel coordinates, COLMAP convention."""
    scores: np.ndarray
    """``(N,)`` float32 detector scores."""
    descriptors: np.ndarray
    """``(N, D)`` descriptors."""
    image_size: tuple[int, int]
    """``(width, height)`` of the image the keypoints refer to."""

    def __post_init__(self) -> None:
        n = len(self.keypoints)
        if self.keypoints.shape != (n, 2) or self.scores.shape != (n,) or len(self.descriptors) != n:
            raise ValueError(f"inconsistent feature shapes: keypoints {self.keypoints.shape}, "
                             f"scores {self.scores.shape}, descriptors {self.descriptors.shape}")


@dataclass(frozen=True)
class Matches:
    """Matches between two images."""

    indices: np.ndarray
    """``(M, 2)`` int32 keypoint indices in image 0 and image 1."""
    scores: np.ndarray
    """``(M,)`` float32 match confidences."""

    def swapped(self) -> Matches:
        """The same matches seen from image 1."""
        return Matches(np.ascontiguousarray(self.indices[:, ::-1]), self.scores)


@dataclass(frozen=True)
class FeatureSet:
    """The ``features`` stage's result: where its HDF5 file is and what made it."""

    path: Path
    """``features.h5``."""
    extractor: str
    """Registry name of the extractor (``disk``, ``aliked-n16``, ``sift`` ...)."""


@dataclass(frozen=True)
class PairSet:
    """The ``pairs`` stage's result."""

    pairs: tuple[tuple[str, str], ...]
    """Image pairs to match, each as ``(name0, name1)``."""


@dataclass(frozen=True)
class MatchSet:
    """The ``matches`` stage's result."""

    path: Path
    """``matches.h5``."""
    pairs: tuple[tuple[str, str], ...]
    """Pairs present in the file."""


def _write_atomic(path: Path, fill) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with h5py.File(tmp, "w") as f:
        fill(f)
    os.replace(tmp, path)


def write_features(path: Path, items: Iterable[tuple[str, Features]], extractor: str) -> None:
    """Write all images' features into ``path`` at once (atomically)."""

    def fill(f: h5py.File) -> None:
        for name, feats in items:
            group = f.create_group(item_key(name))
            group.attrs["name"] = name
            group.attrs["image_size"] = np.asarray(feats.image_size, np.int64)
            group.attrs["extractor"] = extractor
            group.create_dataset("keypoints", data=feats.keypoints.astype(np.float32))
            group.create_dataset("scores", data=feats.scores.astype(np.float32))
            group.create_dataset("descriptors", data=feats.descriptors)

    _write_atomic(path, fill)


class _H5Reader:
    """An HDF5 file open for reading; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self._file = h5py.File(path, "r")

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


class FeatureFile(_H5Reader):
    """Read access to a ``features.h5``; use as a context manager."""

    def names(self) -> list[str]:
        """Image names, sorted."""
        return sorted(str(g.attrs["name"]) for g in self._file.values())

    def __contains__(self, name: str) -> bool:
        return item_key(name) in self._file

    def read(self, name: str, *, descriptors: bool = True) -> Features:
        """Features of ``name``; ``descriptors=False`` skips reading them (empty array)."""
        group = self._file[item_key(name)]
        desc = group["descriptors"][()] if descriptors else np.empty((len(group["scores"]), 0), np.float32)
        return Features(group["keypoints"][()], group["scores"][()], desc,
                        tuple(int(v) for v in group.attrs["image_size"]))


def write_matches(path: Path, items: Iterable[tuple[str, str, Matches]]) -> None:
    """Write all pairs' matches into ``path`` at once (atomically)."""

    def fill(f: h5py.File) -> None:
        for name0, name1, matches in items:
            group = f.create_group(item_key(pair_name(name0, name1)))
            group.attrs["name0"], group.attrs["name1"] = name0, name1
            group.create_dataset("matches", data=matches.indices.astype(np.int32))
            group.create_dataset("scores", data=matches.scores.astype(np.float32))

    _write_atomic(path, fill)


class MatchFile(_H5Reader):
    """Read access to a ``matches.h5``; use as a context manager."""

    def pairs(self) -> Iterator[tuple[str, str]]:
        """The stored pairs as ``(name0, name1)``."""
        for group in self._file.values():
            yield str(group.attrs["name0"]), str(group.attrs["name1"])

    def read(self, name0: str, name1: str) -> Matches | None:
        """Matches of a pair in either order (indices oriented as asked), or ``None`` if absent."""
        for a, b, flip in ((name0, name1, False), (name1, name0, True)):
            key = item_key(pair_name(a, b))
            if key in self._file:
                m = Matches(self._file[key]["matches"][()], self._file[key]["scores"][()])
                return m.swapped() if flip else m
        return None


def feature_set(path: Path) -> FeatureSet:
    """A ``features.h5`` as the ``features`` stage's result (the extractor read from its groups)."""
    with h5py.File(path, "r") as f:
        extractors = {str(g.attrs["extractor"]) for g in f.values()}
    if len(extractors) != 1:
        raise ValueError(f"{path}: expected the features of one extractor, found {sorted(extractors) or 'none'}")
    return FeatureSet(path=path, extractor=extractors.pop())


def load_features(folder: Path) -> FeatureSet:
    """Read a features artifact folder (``features.h5``)."""
    return feature_set(Path(folder) / FEATURES_FILE)


def save_pairs(folder: Path, pairs: Iterable[tuple[str, str]]) -> None:
    """Write ``pairs.json``."""
    write_json(Path(folder) / PAIRS_FILE, [list(p) for p in pairs])


def load_pairs(folder: Path) -> PairSet:
    """Read a pairs artifact folder (``pairs.json``)."""
    return PairSet(pairs=tuple((str(a), str(b)) for a, b in read_json(Path(folder) / PAIRS_FILE)))


def load_matches(folder: Path) -> MatchSet:
    """Read a matches artifact folder (``matches.h5``; the pairs are those present in it)."""
    path = Path(folder) / MATCHES_FILE
    with MatchFile(path) as mf:
        return MatchSet(path=path, pairs=tuple(sorted(mf.pairs())))


def _save_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def scratch_intact(path: Path) -> bool:
    """Whether a scratch ``.npz`` exists and each of its arrays matches its CRC (else it is redone).

    Writes are atomic, so a killed run leaves none half-written; this catches the rest (a power
    cut before the data reached the disk, a disk error).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except Exception:  # noqa: BLE001 - whatever makes it unreadable (bad headers, truncation): redo the item
        return False


def save_features_scratch(path: Path, features: Features) -> None:
    """One image's features as a scratch ``.npz`` (atomic: present means complete)."""
    _save_npz_atomic(path, {"keypoints": features.keypoints, "scores": features.scores,
                            "descriptors": features.descriptors, "image_size": np.asarray(features.image_size)})


def load_features_scratch(path: Path) -> Features:
    """Features written by :func:`save_features_scratch`."""
    with np.load(path) as z:
        return Features(z["keypoints"], z["scores"], z["descriptors"], tuple(int(v) for v in z["image_size"]))


def save_matches_scratch(path: Path, matches: Matches) -> None:
    """One pair's matches as a scratch ``.npz`` (atomic: present means complete)."""
    _save_npz_atomic(path, {"indices": matches.indices, "scores": matches.scores})


def load_matches_scratch(path: Path) -> Matches:
    """Matches written by :func:`save_matches_scratch`."""
    with np.load(path) as z:
        return Matches(z["indices"], z["scores"])
