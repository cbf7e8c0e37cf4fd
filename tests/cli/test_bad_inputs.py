"""The bad-input matrix: each case of bad photos, paths or settings gives its documented exit code and
a one-line message naming the file or option, never a traceback or "internal error".

Photos are tiny and made in the test; each case stops at the first stage that can judge it
(``--until ingest``, ``--until features`` for photos without keypoints, ``--until sfm`` only for
unrelated photos, on three of 200 x 150 pixels). The CLI runs in this
process (click's runner) to keep the matrix fast; ``tests/cli/test_cli.py`` runs it as a program.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from photogrammetry.cli import main
from tests.io.photo_factory import encode, texture

Files = dict[str, Callable[[], bytes]]


def jpeg(seed: int, size: tuple[int, int] = (64, 48)) -> Callable[[], bytes]:
    return lambda: encode(texture(*size, seed=seed), ".jpg")


def png(image: np.ndarray) -> Callable[[], bytes]:
    return lambda: cv2.imencode(".png", image)[1].tobytes()


def transparent(seed: int) -> np.ndarray:
    """A textured BGRA image whose alpha is 0 everywhere: ingest makes it a mask that keeps nothing."""
    return np.dstack([texture(64, 48, seed=seed), np.zeros((48, 64), np.uint8)])


GOOD: Files = {"a.jpg": jpeg(1), "b.jpg": jpeg(2), "c.jpg": jpeg(3)}
UNTIL_INGEST = ("--until", "ingest")
UNTIL_FEATURES = ("--until", "features")


@dataclass(frozen=True)
class Case:
    """One bad (or awkward but good) input; ``{photos}``, ``{ws}`` and ``{tmp}`` are filled in."""

    files: Files | None
    """Files of the photo folder by name (``None``: no folder)."""
    args: tuple[str, ...] = ("run", "{photos}", "-w", "{ws}", "--preset", "fast", *UNTIL_INGEST)
    """The command line."""
    code: int = 2
    """Expected exit code."""
    messages: tuple[str, ...] = ()
    """Text each expected in the output."""
    config: str | None = None
    """Content of ``{tmp}/config.toml``, when the case needs one."""
    photos: str = "photos"
    """Name of the photo folder inside ``tmp``."""


def run_args(*extra: str, until: tuple[str, ...] = UNTIL_INGEST) -> tuple[str, ...]:
    return ("run", "{photos}", "-w", "{ws}", "--preset", "fast", *until, *extra)


CASES = {
    # the photo folder
    "empty folder": Case({}, messages=("{photos} holds no photo or video",)),
    "missing folder": Case(None, messages=("PHOTOS {photos} does not exist",)),
    "one photo": Case({"a.jpg": jpeg(1)}, messages=("{photos} has 1 usable photo(s) out of 1 files; at least 2",)),
    "two identical photos": Case({"a.jpg": jpeg(1), "b.jpg": jpeg(1)},
                                 messages=("1 usable photo(s) out of 2 files", "b.jpg: identical to a.jpg")),
    "text file named .jpg": Case({"a.jpg": jpeg(1), "b.jpg": lambda: b"not a photo\n"},
                                 messages=("b.jpg: not a readable image",)),
    "zero-byte .jpg": Case({"a.jpg": jpeg(1), "b.jpg": lambda: b""}, messages=("b.jpg: empty file (0 bytes)",)),
    "truncated JPEG": Case({"a.jpg": jpeg(1), "b.jpg": lambda: jpeg(2)()[:300]},
                           messages=("b.jpg: truncated JPEG",)),
    # photos without keypoints: the features stage names the cause
    "1x1 images": Case({f"p{i}.png": png(np.full((1, 1, 3), 40 * i, np.uint8)) for i in range(3)},
                       run_args(until=UNTIL_FEATURES), 4,
                       ("no keypoints in 3 of 3 images", "too small: p0.png (1 x 1 pixels)", "at least a few hundred")),
    "textureless images": Case({f"p{i}.png": png(np.full((48, 64, 3), 100 + i, np.uint8)) for i in range(3)},
                               run_args(until=UNTIL_FEATURES), 4,
                               ("textureless: p0.png (grey levels vary by 0.0)", "patterned backdrop")),
    "all masked (transparent)": Case({f"p{i}.png": png(transparent(i)) for i in range(3)},
                                     run_args(until=UNTIL_FEATURES), 4,
                                     ("all masked: p0.png (its mask keeps no pixel)", "check the masks")),
    "one textureless photo among others": Case({**GOOD, "flat.png": png(np.full((48, 64, 3), 128, np.uint8))},
                                               run_args(until=UNTIL_FEATURES), 0,
                                               ("no keypoints in 1 of 4 images", "textureless: flat.png",
                                                "those images will not be registered")),
    # the only case that needs sfm: photos of nothing in common
    "unrelated photos": Case({f"p{i}.jpg": jpeg(10 + i, size=(200, 150)) for i in range(3)},
                             run_args(until=("--until", "sfm")), 4,
                             ("pairs of photos have feature matches, but none fits one rigid scene (the best, ",
                              "sfm.verification.min_inliers = 15")),
    # settings
    "--set unknown stage": Case(GOOD, run_args("--set", "nostage.x=1"),
                                messages=("--set: unknown stage 'nostage'; stages are: ingest",)),
    "--set unknown option": Case(GOOD, run_args("--set", "ingest.nope=1"),
                                 messages=("unknown option ingest.nope; valid options of ingest: max_image_size",)),
    "--set wrong type": Case(GOOD, run_args("--set", "ingest.max_image_size=big"),
                             messages=("--set: ingest.max_image_size: 'big' is not a int",)),
    "--set without a value": Case(GOOD, run_args("--set", "ingest.max_image_size"),
                                  messages=("--set expects stage.option=value, got 'ingest.max_image_size'",)),
    "TOML syntax error": Case(GOOD, run_args("--config", "{tmp}/config.toml"), config="[ingest\nmax_image_size = 3\n",
                              messages=("cannot read settings file {tmp}/config.toml", "line 1")),
    "TOML unknown key": Case(GOOD, run_args("--config", "{tmp}/config.toml"), config="[ingest]\nnope = 3\n",
                             messages=("{tmp}/config.toml: unknown option ingest.nope",)),
    "TOML unknown stage": Case(GOOD, run_args("--config", "{tmp}/config.toml"), config="[nope]\nx = 3\n",
                               messages=("{tmp}/config.toml: unknown stage 'nope'",)),
    "TOML file missing": Case(GOOD, run_args("--config", "{tmp}/none.toml"),
                              messages=("cannot read settings file {tmp}/none.toml",)),
    "unknown preset": Case(GOOD, ("run", "{photos}", "-w", "{ws}", "--preset", "nope"),
                           messages=("unknown preset 'nope'",)),
    "unknown --until stage": Case(GOOD, ("run", "{photos}", "-w", "{ws}", "--until", "nope"),
                                  messages=("Invalid value for '--until': 'nope' is not one of 'ingest'",)),
    "unknown --force stage": Case(GOOD, run_args("--force", "nope"),
                                  messages=("Invalid value for '--force': 'nope' is not one of 'ingest'",)),
    # other commands given a file instead of a workspace
    "status of a file": Case(GOOD, ("status", "{photos}/a.jpg"),
                             messages=("{photos}/a.jpg is a file, not a workspace folder",)),
    "verify of a file": Case(GOOD, ("verify", "{photos}/a.jpg"),
                             messages=("{photos}/a.jpg is not a photogrammetry workspace",)),
    "eval of a missing workspace": Case(GOOD, ("eval", "{tmp}/nowhere", "--gt", "{photos}"),
                                        messages=("{tmp}/nowhere does not exist",)),
    # awkward but good
    "unicode and spaces in paths": Case(GOOD, photos="Fotos für Ärger 写真", code=0,
                                        args=("run", "{photos}", "-w", "{tmp}/arbeits bereich ü", *UNTIL_INGEST),
                                        messages=("ingest: done", "(3 images, 1 cameras, 0 skipped")),
    "hidden files ignored": Case({**GOOD, ".hidden.jpg": lambda: b"junk", ".thumbs/x.jpg": lambda: b"junk",
                                  "sub/.DS_Store": lambda: b"junk"}, code=0,
                                 messages=("ingest: done", "(3 images, 1 cameras, 0 skipped")),
}


def _fill(text: str, photos: Path, tmp: Path) -> str:
    return text.format(photos=photos, ws=tmp / "ws", tmp=tmp)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_gives_its_exit_code_and_names_the_cause(case: Case, tmp_path: Path) -> None:
    photos = tmp_path / case.photos
    if case.files is not None:
        photos.mkdir()
        for name, make in case.files.items():
            (photos / name).parent.mkdir(parents=True, exist_ok=True)
            (photos / name).write_bytes(make())
    if case.config is not None:
        (tmp_path / "config.toml").write_text(case.config, encoding="utf-8")
    result = CliRunner().invoke(main, [_fill(a, photos, tmp_path) for a in case.args])
    output = result.output  # stdout and stderr
    assert result.exit_code == case.code, output
    assert "Traceback" not in output and "internal error" not in output
    for message in case.messages:
        assert _fill(message, photos, tmp_path) in output, output
    if case.code != 0:
        errors = [line for line in output.splitlines() if line.lower().startswith(("error", "usage"))]
        assert errors, output
