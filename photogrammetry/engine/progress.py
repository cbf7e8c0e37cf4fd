"""Progress for people: a bar on a terminal, a log line every few seconds otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

LOG_EVERY_S = 10.0
"""Seconds between plain progress lines when output is not a terminal."""


def format_rate(rate: float, unit: str) -> str:
    """``2.5 image/s`` for fast rates, ``12.3 s/image`` for slow ones."""
    if rate >= 1.0 or rate <= 0:
        return f"{rate:.1f} {unit}/s"
    return f"{1.0 / rate:.1f} s/{unit}"


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def track(
    iterable: Iterable[T],
    *,
    desc: str,
    total: int | None,
    unit: str,
    enabled: bool | None,
    log: logging.Logger,
) -> Iterator[T]:
    """Yield from ``iterable`` while reporting counts, rate and ETA.

    Args:
        iterable: The items.
        desc: Stage name shown before the bar.
        total: Number of items, if known.
        unit: What an item is called (``image``, ``pair``).
        enabled: ``True`` draws a bar, ``False`` logs lines, ``None`` picks by ``isatty``.
        log: Logger for the plain lines.
    """
    use_bar = sys.stderr.isatty() if enabled is None else enabled
    if use_bar:
        yield from tqdm(iterable, desc=desc, total=total, unit=unit, dynamic_ncols=True, leave=False)
        return
    start = last = time.monotonic()
    done = 0
    for item in iterable:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= LOG_EVERY_S:
            last = now
            rate = done / (now - start)
            eta = f", ETA {_format_seconds((total - done) / rate)}" if total and rate > 0 else ""
            of_total = f"/{total}" if total else ""
            log.info("%s: %d%s %ss, %s%s", desc, done, of_total, unit, format_rate(rate, unit), eta)
