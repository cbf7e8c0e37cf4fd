"""The cache key of every stage of a run, from settings and inputs alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from photogrammetry.engine.stage import StageSpec
from photogrammetry.engine.store import derive_key
from photogrammetry.errors import ConfigError


def plan_keys(stages: Sequence[StageSpec], config: Mapping[str, Any], photos: Path) -> dict[str, str]:
    """Cache keys of ``stages``; they depend on settings and inputs only, never on outputs."""
    keys: dict[str, str] = {}
    for spec in stages:
        missing = [u for u in spec.requires if u not in keys]
        if missing:
            raise ConfigError(f"stage {spec.name} needs {', '.join(missing)}, which come later or are absent")
        inputs = spec.fingerprint(config[spec.name], photos) if spec.fingerprint else None
        keys[spec.name] = derive_key(spec, config[spec.name], {u: keys[u] for u in spec.requires}, inputs)
    return keys
