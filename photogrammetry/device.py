"""The torch device a run computes on, and the CPU threads of torch and numpy's BLAS."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


@functools.cache
def _numpy_openblas() -> tuple[Any, Any] | None:
    """The thread-count setter and getter of the OpenBLAS that numpy's wheels bundle (``numpy.libs``),
    found among the libraries this process has loaded (Linux); ``None`` elsewhere or for another BLAS."""
    import ctypes
    import importlib

    importlib.import_module("numpy")  # loads its BLAS

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    paths = sorted({line.split()[-1] for line in maps.splitlines()
                    if "numpy.libs" in line and "openblas" in line.lower()})
    for path in paths:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_{}_num_threads64_", "scipy_openblas_{}_num_threads", "openblas_{}_num_threads"):
            setter, getter = (getattr(lib, name.format(verb), None) for verb in ("set", "get"))
            if setter is not None and getter is not None:
                setter.argtypes, getter.restype = [ctypes.c_int], ctypes.c_int
                return setter, getter
    return None


@contextmanager
def blas_threads(count: int | None) -> Iterator[None]:
    """numpy's matrix products on ``count`` threads inside the block (``None``, or a BLAS whose threads
    cannot be set: unchanged). OpenBLAS's threads wait for work by spinning: with two threads a
    2048 x 128 by 128 x 2048 product took 1.7x the CPU time of one on the 2-core machine."""
    blas = _numpy_openblas() if count is not None else None
    if blas is None:
        yield
        return
    setter, getter = blas
    before = getter()
    setter(count)
    try:
        yield
    finally:
        setter(before)
