"""A three-stage toy pipeline that exercises the engine without any image processing.

``listing`` reads the input folder (like ingest), ``square`` works item by item and can be
slowed down (to be killed mid-stage), ``total`` sums the items.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from photogrammetry.engine.runner import RunOptions, RunRequest, run_pipeline
from photogrammetry.engine.settings import resolve_config
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.io.jsonio import read_json, write_bytes_atomic, write_json


@dataclass(frozen=True, kw_only=True)
class ListingConfig:
    suffix: str = ".txt"
    """Files to list."""
    delay: float = field(default=0.0, metadata={"cache": False})
    """Seconds to sleep once the listing is written (does not change the output)."""


def _inputs(config: ListingConfig, photos: Path) -> list[Path]:
    return sorted(p for p in photos.iterdir() if p.name.endswith(config.suffix))


def listing_fingerprint(config: ListingConfig, photos: Path) -> list:
    return [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in _inputs(config, photos)]


def listing_run(config: ListingConfig, ctx: StageContext) -> dict:
    names = [p.name for p in _inputs(config, ctx.photos)]
    write_json(ctx.out / "files.json", names)
    time.sleep(config.delay)
    return {"files": len(names)}


@dataclass(frozen=True, kw_only=True)
class SquareConfig:
    power: int = 2
    """Exponent applied to each number."""
    delay: float = field(default=0.0, metadata={"cache": False})
    """Seconds to sleep per item (does not change the output)."""


def square_run(config: SquareConfig, ctx: StageContext, *, listing: list[str]) -> dict:
    done = ctx.items()
    for name in ctx.track(listing, total=len(listing)):
        if done.get(name) is not None:
            continue
        value = int((ctx.photos / name).read_text()) ** config.power
        write_bytes_atomic(ctx.out / "values" / f"{name}.out", str(value).encode())
        time.sleep(config.delay)
        done.put(name, value, files=[f"values/{name}.out"])
    return {"items": len(listing)}


def square_load(folder: Path) -> list[int]:
    return [int(p.read_text()) for p in sorted((folder / "values").iterdir())]


@dataclass(frozen=True, kw_only=True)
class TotalConfig:
    offset: int = 0
    """Added to the sum."""
    delay: float = field(default=0.0, metadata={"cache": False})
    """Seconds to sleep before and after writing the total (does not change the output)."""


def total_run(config: TotalConfig, ctx: StageContext, *, square: list[int]) -> dict:
    time.sleep(config.delay)
    write_json(ctx.out / "total.json", {"total": sum(square) + config.offset})
    time.sleep(config.delay)
    return {"values": len(square)}


TOY = (
    StageSpec(name="listing", version=1, config=ListingConfig, run=listing_run,
              load=lambda f: read_json(f / "files.json"), fingerprint=listing_fingerprint,
              outputs={"files": "files.json"}),
    StageSpec(name="square", version=1, config=SquareConfig, run=square_run, load=square_load,
              requires=("listing",), outputs={"values": "values"}),
    StageSpec(name="total", version=1, config=TotalConfig, run=total_run,
              load=lambda f: read_json(f / "total.json"), requires=("square",), outputs={"total": "total.json"}),
)


def run_toy(photos: Path, workspace: Path, *overrides: str, until: str | None = None, force: tuple[str, ...] = ()):
    """Run the toy pipeline with ``--set``-style overrides."""
    config = resolve_config(TOY, preset=None, overrides=overrides)
    request = RunRequest(photos=photos, workspace=workspace, config=config, overrides=overrides,
                         until=until, force=force)
    return run_pipeline(TOY, request, RunOptions(device="cpu", progress=False))


if __name__ == "__main__":  # used by the kill -9 tests: toy_stages.py PHOTOS WORKSPACE [OVERRIDES...]
    from photogrammetry.cli import _handle_errors  # exit codes and messages as the CLI's (130 on Ctrl-C)

    _handle_errors(run_toy)(Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:])
