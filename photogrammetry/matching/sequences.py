"""Photos taken one after the other: sequences from numbered names and from EXIF capture times.

Photos taken in a row (a walk, a phone burst, a camera's numbered files) mostly overlap with the
next ones, so retrieval also pairs each with its next few (:mod:`photogrammetry.matching.pairs`).
A sequence is a list of image indices in capture order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

CaptureTime = tuple[int, str]
"""A photo's camera (ingest's camera id: photos of one camera share a clock) and its EXIF capture
time, ISO 8601 (``2024-05-01T12:00:00.250000``)."""

MIN_SEQUENCE = 3
"""Fewest photos that are taken as a sequence: named alike but for their numbers, or of one camera
with that many different capture times."""

_NUMBERED = re.compile(r"^(.*?)(\d+)(\D*)$")
"""A name as text, its last number, and what follows (no digit): ``IMG_``, ``0001``, ``.JPG``."""


def numbered_sequences(names: Sequence[str]) -> list[list[int]]:
    """Indices of the photos that names number in a sequence, one list per sequence, in number order.

    Names alike but for their last number (``IMG_0001.JPG``, ``IMG_0002.JPG``; ``a/IMG_7.JPG``
    and ``b/IMG_7.JPG`` are two sequences) form a sequence when there are at least
    :data:`MIN_SEQUENCE` of them: cameras number photos in the order they are taken, and photos
    taken one after the other mostly overlap. Gaps in the numbers (deleted shots) are skipped over.
    """
    groups: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for index, name in enumerate(names):
        found = _NUMBERED.match(name)
        if found:
            groups.setdefault((found[1], found[3]), []).append((int(found[2]), index))
    return [[index for _, index in sorted(group)] for group in groups.values() if len(group) >= MIN_SEQUENCE]


def timed_sequences(times: Sequence[CaptureTime | None]) -> list[list[int]]:
    """Indices of the photos that capture times order, one list per camera, in time order.

    The photos of one camera that have a capture time (``None``: none) form a sequence when they
    have at least :data:`MIN_SEQUENCE` different times; photos of the same time (a burst timed to
    the second) keep their name order among themselves.
    """
    groups: dict[int, list[tuple[datetime, int]]] = {}
    for index, found in enumerate(times):
        if found is not None:
            groups.setdefault(found[0], []).append((datetime.fromisoformat(found[1]), index))
    return [[index for _, index in sorted(group)] for group in groups.values()
            if len({time for time, _ in group}) >= MIN_SEQUENCE]


def sequences(names: Sequence[str], times: Sequence[CaptureTime | None] = ()) -> list[list[int]]:
    """The sequences of :func:`numbered_sequences` and of :func:`timed_sequences` (a photo may be in
    one of each: where names and times agree, they give the same neighbours)."""
    return numbered_sequences(names) + timed_sequences(times)
