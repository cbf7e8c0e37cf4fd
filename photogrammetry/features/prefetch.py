"""Loading ahead in worker threads, with a bound on how much is held in memory."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def prefetch(func: Callable[[T], R], items: Iterable[T], *, workers: int, ahead: int) -> Iterator[R]:
    """``func`` of each item, in order, computed by ``workers`` threads at most ``ahead`` items early.

    Unlike ``ThreadPoolExecutor.map``, which submits everything at once, at most ``ahead`` results
    wait in memory. An exception in ``func`` is raised when its item is reached.
    """
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) > max(1, ahead):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
