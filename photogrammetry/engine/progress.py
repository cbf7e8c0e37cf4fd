"""Progress for people: a bar on a terminal, a log line every few seconds otherwise, and a
heartbeat line every few seconds in long steps that have no loop to count."""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import threading
import time
import warnings
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

    Native libraries hold the GIL through their long calls (open3d's Poisson does for minutes), so
    that no thread of this process can log meanwhile. Where it can, the heartbeat therefore runs in
    a forked child process that logs through the handlers it inherited (the console, the run's log
    file) and learns step names through a pipe; it ends when the step does, or when this process
    dies. Elsewhere (no ``fork``), or with ``separate=False``, a thread logs.
    """

    def __init__(self, desc: str, step: str, *, log: logging.Logger, left: Left | None = None,
                 interval: float = LOG_EVERY_S, separate: bool = True) -> None:
        """Args:
            desc: Stage name that starts each line.
            step: Name of the first step (``mapping``, ``Poisson surface``).
            log: Logger for the lines.
            left: The run's time left (see :data:`Left`), added to each line.
            interval: Seconds between lines.
            separate: Log from a child process (where ``fork`` exists) rather than a thread.
        """
        self.desc, self.log, self.left, self.interval = desc, log, left, interval
        self.separate = separate and hasattr(os, "fork")
        self._lock = threading.Lock()
        self._step, self._since = step, time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._child: tuple[int, int] | None = None
        """(pid, write end of the pipe) of the child process."""

    def step(self, name: str) -> None:
        """Name the step that starts now; its elapsed time counts from here."""
        with self._lock:
            self._step, self._since = name, time.monotonic()
        if self._child is not None:
            os.write(self._child[1], name.replace("\n", " ").encode("utf-8") + b"\n")

    def line(self) -> str:
        """The line for now: ``sfm: mapping, 40s elapsed``."""
        with self._lock:
            step, elapsed = self._step, time.monotonic() - self._since
        overall = f", {self.left(None)}" if self.left is not None else ""
        return f"{self.desc}: {step}, {_format_seconds(elapsed)} elapsed{overall}"

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            self.log.info("%s", self.line())

    def _listen(self, read_fd: int) -> None:
        """The child's loop: a line every interval, step names from the pipe, gone at its end."""
        due, pending = time.monotonic() + self.interval, b""
        while True:
            ready, _, _ = select.select([read_fd], [], [], max(0.0, due - time.monotonic()))
            if ready:
                data = os.read(read_fd, 4096)
                if not data:
                    return
                *names, pending = (pending + data).split(b"\n")
                if names:
                    with self._lock:
                        self._step, self._since = names[-1].decode("utf-8"), time.monotonic()
            elif time.monotonic() >= due:
                self.log.info("%s", self.line())
                due = time.monotonic() + self.interval

    def _fork(self) -> bool:
        """Start the child process; ``False`` when the system refuses it."""
        read_fd, write_fd = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # else the child would write out their buffers again
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # "multi-threaded, fork() may deadlock"
            try:
                pid = os.fork()
            except OSError:  # no memory or processes left for it: a thread logs (between native calls)
                os.close(read_fd)
                os.close(write_fd)
                return False
        if pid == 0:  # the child: only select, read and log, then leave without cleaning up
            try:
                os.close(write_fd)
                self._listen(read_fd)
            finally:
                os._exit(0)
        os.close(read_fd)
        self._child = pid, write_fd
        return True

    def __enter__(self) -> Heartbeat:
        self._since = time.monotonic()
        if not (self.separate and self._fork()):
            self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{self.desc}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._child is not None:
            pid, write_fd = self._child
            self._child = None
            os.close(write_fd)  # the child sees the end of the pipe and leaves
            for _ in range(100):
                if os.waitpid(pid, os.WNOHANG)[0]:
                    return
                time.sleep(0.01)
            os.kill(pid, signal.SIGKILL)  # stuck (a lock a thread held at the fork): it only logged
            os.waitpid(pid, 0)
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
