"""A reader of hloc's feature and match files, written from hloc's documented layout (none of its code).

hloc (``hloc/utils/io.py``, ``hloc/utils/parsers.py``) reads ``features.h5`` by image name as an
HDF5 path, lists the images as the parents of every dataset, finds a pair at ``name0/name1``
(each name's ``/`` replaced by ``-``) or else in the reverse order, and turns ``matches0`` into
``(M, 2)`` index pairs. ``pairs.txt`` holds ``name0 name1`` a line, split at white space. These
functions do the same, so a test that passes here passes with hloc's own readers.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np


def list_h5_names(path: Path) -> list[str]:
    """Names of the groups that hold datasets (images in ``features.h5``, pairs in ``matches.h5``)."""
    found: set[str] = set()

    def visit(_: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset):
            found.add(obj.parent.name.strip("/"))

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return sorted(found)


def get_keypoints(path: Path, name: str) -> np.ndarray:
    """``(N, 2)`` keypoints of ``name`` as stored (hloc's convention: top-left pixel centre at 0)."""
    with h5py.File(path, "r") as f:
        return np.asarray(f[name]["keypoints"])


def pair_path(name0: str, name1: str) -> str:
    """hloc's pair path: ``/`` in names becomes ``-``, the names are joined by ``/``."""
    return "/".join((name0.replace("/", "-"), name1.replace("/", "-")))


def get_matches(path: Path, name0: str, name1: str) -> tuple[np.ndarray, np.ndarray]:
    """``(M, 2)`` keypoint indices of a pair and their ``(M,)`` scores, looked up in either order."""
    with h5py.File(path, "r") as f:
        if pair_path(name0, name1) in f:
            group, reverse = f[pair_path(name0, name1)], False
        elif pair_path(name1, name0) in f:
            group, reverse = f[pair_path(name1, name0)], True
        else:
            raise KeyError(f"no pair {name0} / {name1} in {path}")
        matches0, scores0 = np.asarray(group["matches0"]), np.asarray(group["matching_scores0"])
    index0 = np.where(matches0 != -1)[0]
    matches = np.stack([index0, matches0[index0]], -1)
    return (np.flip(matches, -1) if reverse else matches), scores0[index0]


def parse_pairs(path: Path) -> list[tuple[str, str]]:
    """``pairs.txt``: one pair a line, names split at white space."""
    return [tuple(line.split()) for line in path.read_text().splitlines() if line.strip()]
