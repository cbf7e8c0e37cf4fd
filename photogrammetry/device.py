"""The torch device a run computes on."""

from __future__ import annotations

import functools

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
