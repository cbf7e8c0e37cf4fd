"""Run a command in a child process and measure its wall time and peak memory."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    """Outcome of one child process."""

    returncode: int
    """Exit status."""
    seconds: float
    """Wall-clock time."""
    peak_rss_mb: float
    """Peak resident memory of the child (MiB)."""
    stderr_tail: str
    """Last lines of its error output."""


def run_measured(command: list[str], log: Path) -> Measured:
    """Run ``command``, logging its output to ``log``; ``os.wait4`` gives the child's own peak RSS."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    tail = log.read_text(errors="replace").strip().splitlines()[-3:]
    return Measured(proc.returncode, seconds, usage.ru_maxrss / 1024, "\n".join(tail))
