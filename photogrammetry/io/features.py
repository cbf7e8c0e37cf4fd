"""Local features and matches on disk: HDF5 through h5py, in hloc's layout, so hloc reads them unchanged.

Layout of ``features.h5`` (hloc's): one group per image at the image's name as an HDF5 path
(``sub/a.jpg`` is the group ``a.jpg`` inside the group ``sub``), holding the datasets

- ``keypoints``: ``(N, 2)`` float32 pixel coordinates in the prepared image, in hloc's
  convention: the centre of the top-left pixel is ``(0, 0)``. COLMAP (and :class:`Features` in
  memory) puts it at ``(0.5, 0.5)``: :class:`FeatureFile` adds 0.5 on reading, :func:`write_features`
  subtracts it, as hloc's own COLMAP import adds 0.5;
- ``scores``: ``(N,)`` float32, detector confidence (higher is better);
- ``descriptors``: ``(D, N)`` float16 or float32 (SIFT: uint8 allowed), one column per keypoint;
- ``image_size``: ``(2,)`` int64, ``(width, height)``.

The file's root attribute ``extractor`` names the extractor (registry name).

Layout of ``matches.h5`` (hloc's): one group per pair at hloc's pair path, ``name0/name1`` with
each name's ``/`` replaced by ``-`` (:func:`pair_path`), holding ``matches0`` ``(N0,)`` int32 (for
each keypoint of image 0 the index of its match in image 1, ``-1`` when unmatched) and
``matching_scores0`` ``(N0,)`` float32 (0 when unmatched); the group's attributes ``name0`` and
``name1`` keep the names themselves. A pair is read in either order (hloc's reader does the
same). Two images whose names differ only by ``/`` against ``-`` (``a/b.jpg``, ``a-b.jpg``)
share a pair path: writing refuses them.

Pairs are stored as ``pairs.json`` (a list of ``[name0, name1]``, what our stages read) and as
hloc's ``pairs.txt`` (``name0 name1`` a line; hloc splits lines at white space, so it cannot read
names holding spaces). Features, pairs and matches are in pixels and carry no units. Each artifact
folder holds its files: ``features/<key>/features.h5``, ``pairs/<key>/pairs.json`` and
``pairs.txt``, ``matches/<key>/matches.h5`` (:func:`load_features`, :func:`load_pairs`,
:func:`load_matches`).

Stages write per-item results to scratch files while they run (so they resume item by item):
one ``.npz`` per image or pair (:func:`save_features_scratch`, :func:`save_matches_scratch`), named
by :func:`item_key`, in the in-memory conventions, written atomically inside a folder of the
artifact whose name starts with ``.`` (the engine deletes it at commit). They combine them into
one HDF5 file at the end, written to a temporary name and renamed: HDF5 files are not safe against
a process killed mid-write, so they are never appended to.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from photogrammetry.io.jsonio import read_json, temporary_path, write_bytes_atomic, write_json

FEATURES_FILE = "features.h5"
"""The features artifact's file."""
PAIRS_FILE = "pairs.json"
"""The pairs artifact's file."""
PAIRS_TEXT_FILE = "pairs.txt"
"""The pairs artifact's copy in hloc's text format."""
MATCHES_FILE = "matches.h5"
"""The matches artifact's file."""


HLOC_OFFSET = 0.5
"""COLMAP's keypoint coordinates minus hloc's (pixel centre at 0.5 against 0)."""


def item_key(name: str) -> str:
    """Scratch file name of an image or pair name (a hash: names may contain '/' or '.')."""
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:24]


def pair_name(name0: str, name1: str) -> str:
    """The text a pair's scratch key is derived from."""
    return f"{name0}\t{name1}"


def pair_path(name0: str, name1: str) -> str:
    """hloc's HDF5 path of a pair in ``matches.h5``: each name with ``/`` replaced by ``-``, joined by ``/``."""
    return f"{name0.replace('/', '-')}/{name1.replace('/', '-')}"


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
    tmp = temporary_path(path)
    try:
        with h5py.File(tmp, "w") as f:
            fill(f)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def write_features(path: Path, items: Iterable[tuple[str, Features]], extractor: str) -> None:
    """Write all images' features into ``path`` at once (atomically), in hloc's layout."""

    def fill(f: h5py.File) -> None:
        f.attrs["extractor"] = extractor
        for name, feats in items:
            group = f.create_group(name)
            keypoints = feats.keypoints.astype(np.float64) - HLOC_OFFSET
            group.create_dataset("keypoints", data=keypoints.astype(np.float32))
            group.create_dataset("scores", data=feats.scores.astype(np.float32))
            group.create_dataset("descriptors", data=np.ascontiguousarray(feats.descriptors.T))
            group.create_dataset("image_size", data=np.asarray(feats.image_size, np.int64))

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
        """Image names, sorted (the paths of the groups holding ``keypoints``)."""
        names: list[str] = []
        self._file.visititems(lambda path, obj: names.append(path.rpartition("/")[0])
                              if isinstance(obj, h5py.Dataset) and path.endswith("/keypoints") else None)
        return sorted(names)

    def __contains__(self, name: str) -> bool:
        group = self._file.get(name)
        return isinstance(group, h5py.Group) and "keypoints" in group

    def num_keypoints(self, name: str) -> int:
        """Number of keypoints of ``name`` (reads no data)."""
        return int(self._file[name]["keypoints"].shape[0])

    def read(self, name: str, *, descriptors: bool = True) -> Features:
        """Features of ``name`` in COLMAP's keypoint convention; ``descriptors=False`` skips reading them."""
        group = self._file[name]
        keypoints = (group["keypoints"][()].astype(np.float64) + HLOC_OFFSET).astype(np.float32)
        n = len(keypoints)
        desc = np.ascontiguousarray(group["descriptors"][()].T) if descriptors else np.empty((n, 0), np.float32)
        return Features(keypoints, group["scores"][()], desc, tuple(int(v) for v in group["image_size"][()]))


def _matches0(name0: str, name1: str, matches: Matches, n0: int) -> tuple[np.ndarray, np.ndarray]:
    """hloc's ``matches0`` and ``matching_scores0`` of a pair (image 0 has ``n0`` keypoints)."""
    index0 = matches.indices[:, 0]
    if len(index0) and (index0.min() < 0 or index0.max() >= n0):
        raise ValueError(f"matches of {name0} / {name1} index keypoints of {name0} beyond its {n0}")
    if len(np.unique(index0)) != len(index0):
        raise ValueError(f"matches of {name0} / {name1} give a keypoint of {name0} several matches")
    matches0 = np.full(n0, -1, np.int32)
    scores0 = np.zeros(n0, np.float32)
    matches0[index0] = matches.indices[:, 1]
    scores0[index0] = matches.scores
    return matches0, scores0


def write_matches(path: Path, items: Iterable[tuple[str, str, Matches]], num_keypoints: Mapping[str, int]) -> None:
    """Write all pairs' matches into ``path`` at once (atomically), in hloc's layout.

    Args:
        path: The ``matches.h5`` to write.
        items: ``(name0, name1, matches)`` per pair; each keypoint of image 0 matched at most once.
        num_keypoints: Keypoints per image name (the length of ``matches0``).
    """

    def fill(f: h5py.File) -> None:
        for name0, name1, matches in items:
            where = pair_path(name0, name1)
            if where in f:
                held = f[where].attrs
                raise ValueError(f"pairs {name0} / {name1} and {held['name0']} / {held['name1']} share hloc's "
                                 f"pair path {where}; rename images whose names differ only by '/' and '-'")
            group = f.create_group(where)
            group.attrs["name0"], group.attrs["name1"] = name0, name1
            matches0, scores0 = _matches0(name0, name1, matches, num_keypoints[name0])
            group.create_dataset("matches0", data=matches0)
            group.create_dataset("matching_scores0", data=scores0)

    _write_atomic(path, fill)


class MatchFile(_H5Reader):
    """Read access to a ``matches.h5``; use as a context manager."""

    def pairs(self) -> Iterator[tuple[str, str]]:
        """The stored pairs as ``(name0, name1)``."""
        for first in self._file.values():
            for group in first.values():
                yield str(group.attrs["name0"]), str(group.attrs["name1"])

    def items(self) -> Iterator[tuple[str, str, Matches]]:
        """The stored pairs with their matches, as :meth:`pairs` and :meth:`read` give them, each group
        opened once (the sfm stage's database reads every pair: office-60's 379 in 0.39 CPU s before)."""
        for first in self._file.values():
            for group in first.values():
                yield str(group.attrs["name0"]), str(group.attrs["name1"]), _group_matches(group)

    def read(self, name0: str, name1: str) -> Matches | None:
        """Matches of a pair in either order (indices oriented as asked), or ``None`` if absent."""
        for a, b, flip in ((name0, name1, False), (name1, name0, True)):
            group = self._file.get(pair_path(a, b))
            if group is not None:
                m = _group_matches(group)
                return m.swapped() if flip else m
        return None


def _group_matches(group: h5py.Group) -> Matches:
    """The matches of a pair's group of ``matches.h5``, oriented as stored."""
    matches0 = group["matches0"][()]
    index0 = np.flatnonzero(matches0 >= 0)
    indices = np.stack([index0, matches0[index0]], 1).astype(np.int32)
    return Matches(indices, group["matching_scores0"][()][index0].astype(np.float32))


def feature_set(path: Path) -> FeatureSet:
    """A ``features.h5`` as the ``features`` stage's result (the extractor read from its groups)."""
    with h5py.File(path, "r") as f:
        extractor = f.attrs.get("extractor")
    if extractor is None:
        raise ValueError(f"{path}: expected the attribute 'extractor' (the features of one extractor), found none")
    return FeatureSet(path=path, extractor=str(extractor))


def load_features(folder: Path) -> FeatureSet:
    """Read a features artifact folder (``features.h5``)."""
    return feature_set(Path(folder) / FEATURES_FILE)


def save_pairs(folder: Path, pairs: Iterable[tuple[str, str]]) -> None:
    """Write ``pairs.json`` and hloc's ``pairs.txt``."""
    pairs = [list(p) for p in pairs]
    write_json(Path(folder) / PAIRS_FILE, pairs)
    write_bytes_atomic(Path(folder) / PAIRS_TEXT_FILE, "".join(f"{a} {b}\n" for a, b in pairs).encode("utf-8"))


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
