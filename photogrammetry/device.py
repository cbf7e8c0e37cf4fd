"""The torch device a run computes on."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from photogrammetry.errors import ConfigError


@functools.cache
def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without one is an error."""
    if device == "cpu":
        return device
    import torch  # deferred: importing torch takes a second or two

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise ConfigError("--device cuda was asked for, but torch sees no CUDA device; use --device cpu")
    return "cpu"


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """torch's CPU ops on ``count`` threads inside the block (``None``: unchanged)."""
    if count is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
