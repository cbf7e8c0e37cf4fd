"""A worker's memory over many items and stages: glibc's allocation arenas, and freed heap memory
given back to the system.

glibc gives each thread that allocates an arena of its own, up to 8 per core, and a block freed in
one arena is reused only by that arena. A Ray actor has Ray's own threads, and a matching task
starts a reading and a matching thread per chunk of pairs: its long-lived blocks (the feature
cache) and each pair's similarity matrix (16 MB for 2,048 keypoints) land in many arenas, and the
freed space of one does not serve the next pair in another. An actor's resident memory grew by 222
MB over the 121 pairs of a 25-photo orbit (SIFT, ``fast``; 404 to 626 MB), and with
``MALLOC_ARENA_MAX=2`` by 56 MB (403 to 459 MB), at the same CPU seconds; the depth stage that
follows started from that and peaked at 1111 MB, and at 919 MB with two arenas (and the trim
below between the stages). glibc reads
``MALLOC_ARENA_MAX`` as the process starts, so Ray actors are started with :data:`ACTOR_ENV`.

Freed heap memory stays in the process: :func:`trim` (``malloc_trim``) gives it back when a stage's
items are done, so that the next stage does not start from the previous one's leftovers. Trimming
after every item was measured too and not kept: on 120 views of a 200-photo orbit (depth at 320 px,
one thread), it held the resident memory between views at 604 MB where it grew from 741 to 899 MB
without, but the peak within a view only came to 1010 MB against 1076 MB, for 19 % more CPU time
(the next view's working memory is faulted in again). A fixed ``mmap`` threshold (1 or 4 MB: every
larger block mapped and unmapped on its own) kept the peak flat (879 to 883 MB from view 16 to 76)
but cost 60 % more CPU time.

Within a stage, a worker's resident memory still crept up: the depth sweep frees its working memory
at every view, and the heap's free space, fragmented, is not all reused by the next view (a 200-view
orbit at 320 px in one process: from 690 to 811 MB after each view). :class:`Trimmer` trims only when
the resident memory after an item is :data:`SLACK_MB` over what it was after the first item since the
last trim (that first item's working memory is faulted in again there, so the bound follows the
items' size): a few trims in a stage, not one per item.

Elsewhere than glibc (macOS, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

ARENAS = 2
"""Allocation arenas of a Ray actor's process (glibc's default: 8 per core)."""

ACTOR_ENV = {"MALLOC_ARENA_MAX": str(ARENAS)}
"""Environment of a Ray actor's process (see the module's docstring)."""

SLACK_MB = 64
"""How far a worker's resident memory may grow over its level after an item before :class:`Trimmer` trims."""


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, where this is Linux with glibc (which has ``malloc_trim``), else ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def trim() -> bool:
    """Give the heap memory that is free back to the system; whether glibc gave some back."""
    libc = _libc()
    return libc is not None and libc.malloc_trim(0) == 1


def resident() -> int | None:
    """This process's resident memory in bytes (Linux ``/proc``), else ``None``."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class Trimmer:
    """Trims (:func:`trim`) after an item when the resident memory has grown ``slack`` bytes over what
    it was after the first item since the last trim (see the module's docstring)."""

    def __init__(self, slack: int = SLACK_MB * 2**20) -> None:
        self.slack = slack
        self.level: int | None = None
        """Resident bytes after the first item since the last trim (``None``: no item since)."""
        self.trims = 0

    def item_done(self) -> None:
        """Called after each item (or chunk of items)."""
        now = resident()
        if now is None or _libc() is None:
            return
        if self.level is None:
            self.level = now
        elif now > self.level + self.slack:
            trim()
            self.trims += 1
            self.level = None
