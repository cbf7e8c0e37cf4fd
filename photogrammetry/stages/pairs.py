"""Pairs: choose which image pairs the matches stage matches.

``auto`` matches every pair up to ``auto_threshold`` images and uses retrieval above (sequential
when every image is a video frame: ingest names them in time order); the other
methods are in :data:`photogrammetry.matching.pairs.PAIR_METHODS`. Writes ``pairs.json``, a
list of ``[name0, name1]``, and hloc's ``pairs.txt`` (see :mod:`photogrammetry.io.features`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photogrammetry.engine.eta import Cost
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError, InputError
from photogrammetry.io.features import PAIRS_FILE, PAIRS_TEXT_FILE, FeatureSet, load_pairs, save_pairs
from photogrammetry.io.ingest import IngestResult
from photogrammetry.matching.pairs import PAIR_METHODS, PairOptions, PairRequest, resolve_method, select_pairs


@dataclass(frozen=True, kw_only=True)
class PairsConfig(PairOptions):
    """Settings of the pairs stage: which method, with the methods'
    :class:`~photogrammetry.matching.pairs.PairOptions` (declared there)."""

    method: str = field(default="auto", metadata={"choices": ("auto", *PAIR_METHODS)})
    """``auto``, or one of :data:`~photogrammetry.matching.pairs.PAIR_METHODS`: ``exhaustive``,
    ``sequential`` (videos), ``turntable`` (rings of a turntable, flips), ``retrieval`` (large
    unordered sets) or ``file``."""
    auto_threshold: int = 50
    """``auto``: exhaustive up to this many images; above, sequential when all images are video
    frames, else retrieval."""
    pairs_file: str = field(default="", metadata={"cache": False, "path": "file"})
    """File method: text file with one pair of image names a line (tab or space between), a
    path absolute or relative to the working folder. Its content, not its path, is in the key."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.method != "auto" and self.method not in PAIR_METHODS:
            raise ConfigError(f"pairs.method: unknown {self.method!r}; choose auto or one of: "
                              + ", ".join(PAIR_METHODS))
        if self.auto_threshold < 0:
            raise ConfigError(f"pairs.auto_threshold must be >= 0, got {self.auto_threshold}")


def read_pairs_file(config: PairsConfig) -> str | None:
    """Content of the pairs file when the file method is asked for; errors name the file."""
    if config.method != "file":
        return None
    if not config.pairs_file:
        raise ConfigError("pairs.method=file needs pairs.pairs_file=PATH (one pair of image names a line)")
    path = Path(config.pairs_file).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read pairs file {path.resolve()}: {e}") from None


def fingerprint(config: PairsConfig, photos: Path) -> dict[str, Any] | None:
    """The pairs file's content hash (file method only)."""
    text = read_pairs_file(config)
    return None if text is None else {"pairs_file_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def run(config: PairsConfig, ctx: StageContext, *, ingest: IngestResult, features: FeatureSet) -> dict[str, Any]:
    """Select the pairs of ``ingest``'s images and write ``pairs.json``."""
    names = tuple(record.name for record in ingest.images)
    frames = all(record.video for record in ingest.images)  # frames of videos, in time order by name
    method = resolve_method(config.method, len(names), config.auto_threshold, sequence=frames)
    request = PairRequest(names=names, features=features.path, options=config, pairs_text=read_pairs_file(config),
                          pairs_source=f"pairs file {config.pairs_file}")
    pairs = select_pairs(method, request)
    if not pairs:
        raise ConfigError(f"pairs: method {method} selected no pairs among {len(names)} images; "
                          "raise pairs.window or pairs.k, or use pairs.method=exhaustive")
    save_pairs(ctx.out, pairs)
    ctx.log.info("%s: %d pairs among %d images", method, len(pairs), len(names))
    return {"pairs": len(pairs), "method": method, "pairs_per_image": round(2 * len(pairs) / len(names), 1)}


STAGE = StageSpec(
    name="pairs",
    version=2,  # 2: also hloc's pairs.txt
    config=PairsConfig,
    run=run,
    load=load_pairs,
    requires=("ingest", "features"),
    fingerprint=fingerprint,
    outputs={"pairs": PAIRS_FILE, "hloc_pairs": PAIRS_TEXT_FILE},
    cost=Cost(seconds=0.01),
    summary="Image pairs to match: exhaustive, sequential, turntable rings, retrieval (VLAD) or from a file.",
)
