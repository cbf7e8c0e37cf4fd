"""Progress for people: a bar on a terminal, a log line every few seconds otherwise, and a
heartbeat line every few seconds in long steps that have no loop to count."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

LOG_EVERY_S = 10.0
"""Seconds between plain progress lines when output is not a terminal, and between heartbeat lines."""

Left = Callable[[float | None], str]
"""Given the seconds left in the running stage (``None``: unknown), the run's time left as words."""


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
    left: Left | None = None,
) -> Iterator[T]:
    """Yield from ``iterable`` while reporting counts, rate and ETA.

    Args:
        iterable: The items.
        desc: Stage name shown before the bar.
        total: Number of items, if known.
        unit: What an item is called (``image``, ``pair``).
        enabled: ``True`` draws a bar, ``False`` logs lines, ``None`` picks by ``isatty``.
        log: Logger for the plain lines.
        left: The run's time left (see :data:`Left`), shown after the bar and in the lines.
    """
    use_bar = sys.stderr.isatty() if enabled is None else enabled
    if use_bar:
        yield from _bar(iterable, desc=desc, total=total, unit=unit, left=left)
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
            stage_left = (total - done) / rate if total and rate > 0 else None
            eta = f", ETA {_format_seconds(stage_left)}" if stage_left is not None else ""
            of_total = f"/{total}" if total else ""
            overall = f"; {left(stage_left)}" if left is not None else ""
            log.info("%s: %d%s %ss, %s%s%s", desc, done, of_total, unit, format_rate(rate, unit), eta, overall)


def _bar(iterable: Iterable[T], *, desc: str, total: int | None, unit: str, left: Left | None) -> Iterator[T]:
    """A tqdm bar whose postfix (refreshed at most once a second) is the run's time left."""
    bar = tqdm(iterable, desc=desc, total=total, unit=unit, dynamic_ncols=True, leave=False)
    start = last = time.monotonic()
    for done, item in enumerate(bar, 1):
        yield item
        now = time.monotonic()
        if left is not None and now - last >= 1.0:
            last = now
            stage_left = (total - done) * (now - start) / done if total else None
            bar.set_postfix_str(left(stage_left), refresh=False)


class Heartbeat:
    """A line every ``interval`` seconds while a long step with no loop to count runs.

    Used as a context manager around the step; :meth:`step` names the step now running (a
    library function can take it as a plain callback, ``on_step: Callable[[str], None]``). The
    lines go to the log whether or not stderr is a terminal: at most one per ``interval``.
    """

    def __init__(self, desc: str, step: str, *, log: logging.Logger, left: Left | None = None,
                 interval: float = LOG_EVERY_S) -> None:
        """Args:
            desc: Stage name that starts each line.
            step: Name of the first step (``mapping``, ``Poisson surface``).
            log: Logger for the lines.
            left: The run's time left (see :data:`Left`), added to each line.
            interval: Seconds between lines.
        """
        self.desc, self.log, self.left, self.interval = desc, log, left, interval
        self._lock = threading.Lock()
        self._step, self._since = step, time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{desc}", daemon=True)

    def step(self, name: str) -> None:
        """Name the step that starts now; its elapsed time counts from here."""
        with self._lock:
            self._step, self._since = name, time.monotonic()

    def line(self) -> str:
        """The line for now: ``sfm: mapping, 40 s elapsed``."""
        with self._lock:
            step, elapsed = self._step, time.monotonic() - self._since
        overall = f", {self.left(None)}" if self.left is not None else ""
        return f"{self.desc}: {step}, {_format_seconds(elapsed)} elapsed{overall}"

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            self.log.info("%s", self.line())

    def __enter__(self) -> Heartbeat:
        self._since = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
