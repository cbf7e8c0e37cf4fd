"""The torch device a run computes on, and the CPU threads of torch and numpy's BLAS."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from photogrammetry.errors import ConfigError


GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")
"""Device files of the drivers through which torch reaches a GPU on Linux (NVIDIA, ROCm, WSL's)."""


def no_gpu_driver() -> bool:
    """Whether this is Linux without any of :data:`GPU_DEVICE_FILES`, where torch cannot see a GPU:
    ``auto`` then resolves to the CPU without importing torch (1-3 s on the 2-core machine, a third of
    COLMAP's whole sparse run on the temple)."""
    return sys.platform.startswith("linux") and not any(Path(f).exists() for f in GPU_DEVICE_FILES)


@functools.cache
def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without one is an error."""
    if device == "cpu" or (device == "auto" and no_gpu_driver()):
        return "cpu"
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


@contextmanager
def blas_threads(count: int | None) -> Iterator[None]:
    """numpy's matrix products on ``count`` threads inside the block (``None``: unchanged), through
    threadpoolctl. OpenBLAS's threads wait for work by spinning: with two threads a 2048 x 128 by
    128 x 2048 product took 1.7x the CPU time of one on the 2-core machine."""
    if count is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=count, user_api="blas"):
        yield
