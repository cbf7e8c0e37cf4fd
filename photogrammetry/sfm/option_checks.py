"""Checks the sfm options' dataclasses share: a setting named in the error, what it must be, what it was."""

from __future__ import annotations

from photogrammetry.errors import ConfigError


def at_least_one(options: object, names: tuple[str, ...]) -> None:
    """Refuse, by name, any of ``options``' fields ``names`` below 1."""
    for name in names:
        if getattr(options, name) < 1:
            raise ConfigError(f"{name} must be >= 1, got {getattr(options, name)}")


def fraction(options: object, names: tuple[str, ...]) -> None:
    """Refuse, by name, any of ``options``' fields ``names`` outside [0, 1)."""
    for name in names:
        if not 0.0 <= getattr(options, name) < 1.0:
            raise ConfigError(f"{name} must be within [0, 1), got {getattr(options, name)}")
