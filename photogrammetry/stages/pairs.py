"""Pairs: choose which image pairs the matches stage matches.

``auto`` matches every pair while that is no more pairs per image than the method it would use
instead can choose (retrieval, or sequential when every image is a video frame: ingest names them
in time order), see :func:`photogrammetry.matching.pairs.auto_choice`; the other
methods are in :data:`photogrammetry.matching.pairs.PAIR_METHODS`. Writes ``pairs.json``, a
list of ``[name0, name1]``, and hloc's ``pairs.txt`` (see :mod:`photogrammetry.io.features`).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photogrammetry.engine.eta import Cost
from photogrammetry.engine.stage import StageContext, StageSpec
from photogrammetry.errors import ConfigError, InputError
from photogrammetry.io.features import PAIRS_FILE, PAIRS_TEXT_FILE, FeatureSet, load_pairs, save_pairs
from photogrammetry.io.ingest import IngestResult
from photogrammetry.matching.pairs import PAIR_METHODS, PairOptions, PairRequest, auto_choice, most_per_image
from photogrammetry.matching.sequences import timed_sequences


@dataclass(frozen=True, kw_only=True)
class PairsConfig(PairOptions):
    """Settings of the pairs stage: which method, with the methods'
    :class:`~photogrammetry.matching.pairs.PairOptions` (declared there)."""

    method: str = field(default="auto", metadata={"choices": ("auto", *PAIR_METHODS)})
    """``auto``, or one of :data:`~photogrammetry.matching.pairs.PAIR_METHODS`: ``exhaustive``,
    ``sequential`` (videos), ``turntable`` (rings of a turntable, flips), ``retrieval`` (large
    unordered sets) or ``file``."""
    auto_threshold: int = 0
    """``auto``: every pair up to at least this many images. Without it (0), ``auto`` matches every
    pair while that is no more pairs per image than the method it uses above can choose: with
    retrieval ``2 k`` (``+ 2 sequence_window`` where names number the photos or EXIF times order
    them), i.e. up to 21 (27)
    photos by default; with video frames' sequential pairs ``2 window`` (21 frames)."""
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
    times = tuple((r.camera_id, r.capture_time) if r.capture_time else None for r in ingest.images)
    method = config.method
    if method == "auto":
        choice = auto_choice(names, config, frames=frames, floor=config.auto_threshold, times=times)
        method = choice.method
        ctx.log.info("auto: %d images: %s: %s", len(names), method, choice.reason())
    if method == "retrieval" and config.sequence_window and (timed := timed_sequences(times)):
        ctx.log.info("EXIF capture times order %d photos in %d sequences: each is paired with its next %d",
                     sum(map(len, timed)), len(timed), config.sequence_window)
    request = PairRequest(names=names, features=features.path, options=config, pairs_text=read_pairs_file(config),
                          pairs_source=f"pairs file {config.pairs_file}", times=times)
    pairs = PAIR_METHODS[method].select(request)
    if not pairs:
        raise ConfigError(f"pairs: method {method} selected no pairs among {len(names)} images; "
                          "raise pairs.window or pairs.k, or use pairs.method=exhaustive")
    save_pairs(ctx.out, pairs)
    most = max(Counter(name for pair in pairs for name in pair).values())
    bound = most_per_image(method, names, config, times) if method in ("retrieval", "sequential") else None
    ctx.log.info("%s: %d pairs, %.1f per photo (most %d%s), %d photos", method, len(pairs), 2 * len(pairs) / len(names),
                 most, "" if bound is None else f"; pairs.max_per_image {bound}", len(names))
    return {"pairs": len(pairs), "method": method, "pairs_per_image": round(2 * len(pairs) / len(names), 1),
            "most_pairs_per_image": most, **({"max_pairs_per_image": bound} if bound is not None else {})}


STAGE = StageSpec(
    name="pairs",
    version=4,  # 2: also hloc's pairs.txt; 3: auto matches every pair only while no dearer than retrieval;
    # 4: photos that EXIF capture times order are a sequence for retrieval
    config=PairsConfig,
    run=run,
    load=load_pairs,
    requires=("ingest", "features"),
    fingerprint=fingerprint,
    outputs={"pairs": PAIRS_FILE, "hloc_pairs": PAIRS_TEXT_FILE},
    cost=Cost(seconds=0.01),
    summary="Image pairs to match: exhaustive, sequential, turntable rings, retrieval (VLAD) or from a file.",
)
