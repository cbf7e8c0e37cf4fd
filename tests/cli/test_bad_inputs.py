"""The bad-input matrix: each case of bad photos, paths or settings gives its documented exit code and
a one-line message naming the file or option, never a traceback or "internal error"; awkward but good
inputs (image modes, HEIC, EXIF turns, links, a 20000 x 15000 photo) succeed with the ingested sizes
checked. A run refused before its first stage writes nothing (the folder's tree is compared).

Photos are tiny and made in the test; each case stops at the first stage that can judge it
(``--until ingest``, ``--until features`` for photos without keypoints, ``--until sfm`` only for
unrelated photos, on three of 200 x 150 pixels). The CLI runs in this
process (click's runner) to keep the matrix fast; ``tests/cli/test_cli.py`` runs it as a program.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from photogrammetry.cli import main
from tests.cli.bad_input_files import (Files, grey16, half_transparent, huge, jpeg, mode, pil, png, three,
                                       transparent)
from tests.io.photo_factory import encode, texture

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
    links: dict[str, str] = field(default_factory=dict)
    """Symbolic links made after the files: path inside ``tmp`` -> target."""
    images: dict[str, tuple[int, int]] | None = None
    """The images ingest kept, by name, with (width, height) after orientation and downscaling."""
    untouched: bool = False
    """Refused before anything is written: ``tmp`` holds exactly what it held before."""


def run_args(*extra: str, until: tuple[str, ...] = UNTIL_INGEST) -> tuple[str, ...]:
    return ("run", "{photos}", "-w", "{ws}", "--preset", "fast", *until, *extra)


CASES = {
    # the photo folder
    "empty folder": Case({}, messages=("{photos} holds no photo or video",), untouched=True),
    "missing folder": Case(None, messages=("PHOTOS {photos} does not exist",), untouched=True),
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
    "unrelated photos": Case({f"p{i}.jpg": jpeg(10 + i, size=(640, 480)) for i in range(3)},
                             run_args(until=("--until", "sfm")), 4,
                             ("pairs of photos have feature matches, but none fits one rigid scene (the best, ",
                              "sfm.verification.min_inliers = 15")),
    # settings
    "--set unknown stage": Case(GOOD, run_args("--set", "nostage.x=1"),
                                messages=("--set: unknown stage 'nostage'; stages are: ingest",)),
    "--set unknown option": Case(GOOD, run_args("--set", "ingest.nope=1"),
                                 messages=("unknown option ingest.nope; valid options of ingest: max_image_size",)),
    "--set wrong type": Case(GOOD, run_args("--set", "ingest.max_image_size=big"),
                             messages=("--set: ingest.max_image_size: 'big' is not an integer",)),
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


SIZES = {name: (64, 48) for name in GOOD}
FULL_RUN: tuple[str, ...] = ()
"""No ``--until``: for runs refused before their first stage."""
NON_UTF8 = os.fsdecode(b"latin1-\xc4.jpg")
FORMATS = {  # awkward but good photos: ingest reads them (the pixels are checked in tests/stages/test_ingest.py)
    "grey JPEG (L)": Case(three(mode("L"), ".jpg", "JPEG"), code=0, images=SIZES),
    "grey + alpha PNG (LA)": Case(three(mode("LA")), code=0, images={f"{n}.png": (64, 48) for n in "abc"}),
    "palette PNG (P)": Case(three(mode("P")), code=0, images={f"{n}.png": (64, 48) for n in "abc"}),
    "palette PNG with a transparent colour": Case(three(mode("P"), transparency=0), code=0,
                                                  images={f"{n}.png": (64, 48) for n in "abc"}),
    "RGBA PNG, half transparent": Case(three(half_transparent), code=0, messages=("3 masks)",),
                                       images={f"{n}.png": (64, 48) for n in "abc"}),
    "CMYK JPEG": Case(three(mode("CMYK"), ".jpg", "JPEG"), code=0, images=SIZES),
    "CMYK TIFF": Case(three(mode("CMYK"), ".tif", "TIFF"), code=0, images={f"{n}.tif": (64, 48) for n in "abc"}),
    "16-bit grey PNG (I;16)": Case(three(grey16), code=0, images={f"{n}.png": (64, 48) for n in "abc"}),
    "16-bit colour PNG": Case({f"{n}.png": png(texture(64, 48, seed=i).astype(np.uint16) * 257)
                               for i, n in enumerate("abc", 1)}, code=0, images={f"{n}.png": (64, 48) for n in "abc"}),
    "1-bit PNG": Case(three(mode("1")), code=0, images={f"{n}.png": (64, 48) for n in "abc"}),
    "float TIFF, 0..1": Case(three(lambda i: i.convert("F").point(lambda v: v / 255), ".tif", "TIFF"), code=0,
                             images={f"{n}.tif": (64, 48) for n in "abc"}),
    "float TIFF of 0..255 skipped": Case({**GOOD, "d.tif": pil(mode("F"), "TIFF")}, code=0, images=SIZES,
                                         messages=("skipped d.tif: unsupported float32 pixels mostly above 1.0",)),
    "32-bit integer TIFF (I) skipped": Case({**GOOD, "d.tif": pil(mode("I"), "TIFF")}, code=0, images=SIZES,
                                            messages=("skipped d.tif: unsupported int32 pixels", "8 or 16 bits")),
    "WebP, BMP and GIF": Case({"a.webp": pil(mode("RGB"), "WEBP", lossless=True), "b.bmp": pil(mode("RGB"), "BMP"),
                               "c.gif": pil(mode("P"), "GIF")}, code=0,
                              images={"a.webp": (64, 48), "b.bmp": (64, 48), "c.gif": (64, 48)}),
    "HEIC, one turned by EXIF": Case({"a.heic": lambda: encode(texture(64, 48, seed=1), ".heic", {"Orientation": 6}),
                                      "b.heic": lambda: encode(texture(64, 48, seed=2), ".heic"),
                                      "c.heic": lambda: encode(texture(64, 48, seed=3), ".heic")}, code=0,
                                     images={"a.heic": (48, 64), "b.heic": (64, 48), "c.heic": (64, 48)}),
    "broken HEIC and RAW among photos": Case({**GOOD, "x.heic": lambda: b"\0\0\0\x18ftypheic" + bytes(100),
                                              "y.dng": lambda: b"II*\0" + bytes(100)}, code=0, images=SIZES,
                                             messages=("skipped x.heic: not a readable image",
                                                       "skipped y.dng: RAW files are not supported")),
    "EXIF orientations 1 to 8": Case({f"o{o}.jpg": (lambda o=o: encode(texture(80, 60, seed=o), ".jpg",
                                                                       {"Orientation": o})) for o in range(1, 9)},
                                     code=0, messages=("(8 images, 2 cameras",),
                                     images={f"o{o}.jpg": (80, 60) if o < 5 else (60, 80) for o in range(1, 9)}),
    "20000 x 15000 photo with EXIF": Case({**GOOD, "huge.png": huge}, code=0, messages=("1 with_focal_prior",),
                                          images={**SIZES, "huge.png": (1200, 1600)}),  # turned, then 1600 px
    "mixed cameras": Case({"a.jpg": lambda: encode(texture(64, 48, seed=1), ".jpg", {"Make": "A", "Model": "X"}),
                           "b.jpg": lambda: encode(texture(64, 48, seed=2), ".jpg", {"Make": "B", "Model": "Y"}),
                           "c.jpg": jpeg(3, (80, 60))}, code=0, messages=("(3 images, 3 cameras",),
                          images={**SIZES, "c.jpg": (80, 60)}),
    "PNG named .jpg": Case({**GOOD, "d.jpg": lambda: encode(texture(64, 48, seed=4), ".png")}, code=0,
                           images={**SIZES, "d.jpg": (64, 48)}),
    "text and sidecar files skipped": Case({**GOOD, "notes.txt": lambda: b"hello", "a.xmp": lambda: b"<x/>"}, code=0,
                                           images=SIZES, messages=("skipped notes.txt: not a readable image",)),
    "file name not UTF-8": Case({**GOOD, NON_UTF8: jpeg(4)}, code=0, images=SIZES,
                                messages=("skipped latin1-\\xc4.jpg: the file name is not valid UTF-8; rename it",)),
    "sub-folders and upper-case suffix": Case({"a.jpg": jpeg(1), "x/b.jpg": jpeg(2), "x/y/c.JPG": jpeg(3)}, code=0,
                                              images={"a.jpg": (64, 48), "x/b.jpg": (64, 48), "x/y/c.JPG": (64, 48)}),
    "unreadable video among photos": Case({**GOOD, "clip.mp4": lambda: b"junk" * 100},
                                          messages=("cannot read the video {photos}/clip.mp4",)),
    "camera_grouping=single, two sizes": Case({**GOOD, "d.jpg": jpeg(4, (80, 60))},
                                              run_args("--set", "ingest.camera_grouping=single"),
                                              messages=("camera_grouping=single needs photos of one size",)),
}
LINKS = {
    "link to a photo elsewhere": Case({"a.jpg": jpeg(1), "b.jpg": jpeg(2), "../elsewhere/c.jpg": jpeg(3)}, code=0,
                                      links={"photos/c.jpg": "{tmp}/elsewhere/c.jpg"}, images=SIZES),
    "link to a folder elsewhere": Case({"a.jpg": jpeg(1), "../more/b.jpg": jpeg(2), "../more/c.jpg": jpeg(3)}, code=0,
                                       links={"photos/more": "{tmp}/more"},
                                       images={"a.jpg": (64, 48), "more/b.jpg": (64, 48), "more/c.jpg": (64, 48)}),
    "broken link": Case(GOOD, code=0, links={"photos/d.jpg": "{tmp}/gone.jpg"}, images=SIZES,
                        messages=("skipped d.jpg: cannot be read (No such file or directory)",)),
    "link loop to the photo folder": Case(GOOD, code=0, links={"photos/loop": "{photos}"}, images=SIZES),
    "link to itself": Case(GOOD, code=0, links={"photos/x.jpg": "{photos}/x.jpg"}, images=SIZES,
                           messages=("skipped x.jpg: cannot be read (Too many levels of symbolic links)",)),
    "link to a photo of the folder": Case(GOOD, code=0, links={"photos/d.jpg": "{photos}/a.jpg"}, images=SIZES,
                                          messages=("identical photos: a.jpg, d.jpg (using only a.jpg)",)),
    "photo folder is a link": Case(GOOD, ("run", "{tmp}/link", "-w", "{ws}", *UNTIL_INGEST), code=0,
                                   links={"link": "{photos}"}, images=SIZES),
    "workspace is a link to the photos": Case(GOOD, links={"ws": "{photos}"}, untouched=True,
                                              messages=("the workspace {ws} is the photo folder",)),
}
PLACES = {
    "workspace = photo folder": Case(GOOD, ("run", "{photos}", "-w", "{photos}", *UNTIL_INGEST), untouched=True,
                                     messages=("the workspace {photos} is the photo folder", "nothing was written")),
    "new workspace inside the photos": Case(GOOD, ("run", "{photos}", "-w", "{photos}/ws", *UNTIL_INGEST), code=0,
                                            images=SIZES),
    "workspace inside the photos holding files": Case(
        {**GOOD, "ws/notes.txt": lambda: b"mine"}, ("run", "{photos}", "-w", "{photos}/ws", *UNTIL_INGEST),
        untouched=True, messages=("the workspace {photos}/ws is a folder inside the photos that already holds files",)),
    "photos inside a stage folder of the workspace": Case(
        GOOD, ("run", "{photos}", "-w", "{tmp}/ws", *UNTIL_INGEST), photos="ws/ingest/p", untouched=True,
        messages=("the photo folder {photos} is inside ingest/ of the workspace {tmp}/ws",)),
    "workspace is a file": Case(GOOD, ("run", "{photos}", "-w", "{photos}/a.jpg", *UNTIL_INGEST), untouched=True,
                                messages=("the workspace {photos}/a.jpg cannot be created: {photos}/a.jpg is a file",)),
    "workspace name too long": Case(GOOD, ("run", "{photos}", "-w", "{tmp}/" + "w" * 300, *UNTIL_INGEST),
                                    untouched=True, messages=("path too long (its longest name has 300 bytes",)),
    "workspace where nothing can be created": Case(GOOD, ("run", "{photos}", "-w", "/proc/pg-ws", *UNTIL_INGEST),
                                                   untouched=True, messages=("/proc: cannot create files there",)),
    "PHOTOS is a photo file": Case(GOOD, ("run", "{photos}/a.jpg", "-w", "{ws}", *UNTIL_INGEST), untouched=True,
                                   messages=("PHOTOS {photos}/a.jpg is a file; give a folder of photos or a video",)),
    "PHOTOS is a device": Case(GOOD, ("run", "/dev/null", "-w", "{ws}", *UNTIL_INGEST), untouched=True,
                               messages=("PHOTOS /dev/null is neither a folder nor a file",)),
    "-o is a file": Case(GOOD, run_args("-o", "{photos}/a.jpg", until=FULL_RUN), untouched=True,
                         messages=("output {photos}/a.jpg exists and is not a folder; choose another output",)),
    "-o is the photo folder": Case(GOOD, run_args("-o", "{photos}", until=FULL_RUN), untouched=True,
                                   messages=("output folder {photos} holds files that photogrammetry did not",)),
    "-o inside the photo folder": Case(GOOD, run_args("-o", "{photos}/model", until=FULL_RUN), untouched=True,
                                       messages=("output folder {photos}/model (-o) lies in the photo folder",)),
    "-o holding other files": Case({**GOOD, "../out/mine.txt": lambda: b"mine"},
                                   run_args("-o", "{tmp}/out", until=FULL_RUN), untouched=True,
                                   messages=("output folder {tmp}/out holds files that photogrammetry did not",)),
}
FILE_OPTIONS = {  # checked before the first stage: full runs that must not start
    name: Case(GOOD, run_args("--set", option, until=FULL_RUN), untouched=True, messages=(message,))
    for name, option, message in (
        ("depth.weights missing", "depth.weights={tmp}/none.pt", "depth.weights = '{tmp}/none.pt': no such file"),
        ("depth.weights not a checkpoint", "depth.weights=/etc/passwd",
         "depth.weights = '/etc/passwd': not a PyTorch weight file"),
        ("masks.folder missing", "masks.folder={tmp}/masks", "masks.folder = '{tmp}/masks': no such folder"),
        ("masks.folder is a file", "masks.folder={photos}/a.jpg", "masks.folder = '{photos}/a.jpg' is not a folder"),
        ("pairs.pairs_file missing", "pairs.pairs_file={tmp}/p.txt", "pairs.pairs_file = '{tmp}/p.txt': no such file"),
        ("sfm.calibration missing", "sfm.calibration={tmp}/cal", "sfm.calibration = '{tmp}/cal': no such folder"),
        ("sfm.calibration not a COLMAP model", "sfm.calibration={photos}",
         "sfm.calibration: cannot read a COLMAP model in {photos}"),
        ("scale.points_file missing", "scale.points_file={tmp}/p.txt",
         "scale.points_file = '{tmp}/p.txt': no such file"),
        ("pairs.method=file without a file", "pairs.method=file", "pairs.method=file needs pairs.pairs_file=PATH"),
    )}
FILE_OPTIONS |= {
    "TOML naming a missing file": Case(GOOD, run_args("--config", "{tmp}/config.toml", until=FULL_RUN),
                                       config='[pairs]\npairs_file = "/nonexistent/pairs.txt"\n', untouched=True,
                                       messages=("pairs.pairs_file = '/nonexistent/pairs.txt': no such file",)),
    "pairs file naming other images": Case({**GOOD, "../pairs.txt": lambda: b"a.jpg nope.jpg\n"},
                                           run_args("--set", "pairs.method=file", "--set",
                                                    "pairs.pairs_file={tmp}/pairs.txt", until=("--until", "pairs")),
                                           messages=("pairs file {tmp}/pairs.txt: 1 names are not images of this run, "
                                                     "e.g. 'nope.jpg'",)),
}
SETTINGS = {
    name: Case(GOOD, run_args(*args), untouched=True, messages=(message,))
    for name, args, message in (
        ("--set unknown choice", ("--set", "pairs.method=bogus"), "--set: pairs.method: unknown 'bogus'; choose auto"),
        ("--set not a bool", ("--set", "ingest.drop_duplicates=maybe"), "drop_duplicates: 'maybe' is not true or false"),
        ("--set out of range", ("--set", "ingest.max_image_size=32"), "ingest.max_image_size must be 0 (full size) or"),
        ("--set float for an int", ("--set", "ingest.max_image_size=1.5"), "ingest.max_image_size: 1.5 is not an integer"),
        ("--set unknown nested option", ("--set", "ingest.video.nope=1"),
         "unknown option ingest.video.nope; valid options of ingest.video: sampling, spacing, fps"),
        ("--set a group as a value", ("--set", "ingest.video=3"), "--set: ingest.video is a group of options"),
        ("--set empty", ("--set", ""), "--set expects stage.option=value, got ''"),
        ("--set a string for a list", ("--set", "export.formats=glb"), "export.formats: expected a list, got 'glb'"),
        ("--set unknown list item", ("--set", 'export.formats=["glb", "nope"]'),
         "export.formats must be a non-empty list of glb"),
        ("--set unknown extractor", ("--set", "features.extractor=nope"),
         "features.extractor: unknown 'nope'; choose one of"),
        ("--video-fps 0", ("--video-fps", "0"), "ingest.video.fps must be within (0, 120], got 0.0"),
        ("--workers 0", ("--workers", "0"), "Invalid value for '--workers': 0 is not in the range 1<=x<=256"),
        ("--workers 100000", ("--workers", "100000"), "Invalid value for '--workers': 100000 is not in the range"),
        ("--device unknown", ("--device", "tpu"), "Invalid value for '--device': 'tpu' is not one of"),
        ("--config is a folder", ("--config", "{photos}"), "Invalid value for '--config': File '{photos}' is a dir"),
        ("preset in another case", ("--preset", "Fast"),
         "unknown preset 'Fast'; choose auto or one of: cpu, default, fast"),
    )}
SETTINGS |= {
    name: Case(GOOD, run_args("--config", "{tmp}/config.toml"), config=toml, untouched=True, messages=(message,))
    for name, toml, message in (
        ("TOML wrong type", '[ingest]\nmax_image_size = "big"\n', "{tmp}/config.toml: ingest.max_image_size: 'big' is"),
        ("TOML out of range", "[ingest]\njpeg_quality = 10\n", "{tmp}/config.toml: ingest.jpeg_quality must be within"),
        ("TOML table for an option", "[ingest.max_image_size]\nx = 1\n",
         "ingest.max_image_size is an option, not a group of options"),
        ("TOML value for a stage", "ingest = 3\n", "{tmp}/config.toml: [ingest] must be a table of options"),
        ("TOML not UTF-8", "\udcff\udcfebad", "cannot read settings file {tmp}/config.toml: 'utf-8' codec can't"),
    )}
CASES |= FORMATS | LINKS | PLACES | FILE_OPTIONS | SETTINGS


def _fill(text: str, photos: Path, tmp: Path) -> str:
    return text.format(photos=photos, ws=tmp / "ws", tmp=tmp)


def _tree(folder: Path) -> list[str]:
    """Every path below ``folder`` (links not followed)."""
    return sorted(os.path.relpath(os.path.join(top, name), folder)
                  for top, dirs, files in os.walk(folder) for name in dirs + files)


def _ingested(tmp: Path) -> dict[str, tuple[int, int]]:
    """Name -> (width, height) of the images of the one ingest result below ``tmp``."""
    [images] = [p for p in tmp.rglob("ingest/*/images.json") if not p.parent.name.endswith(".partial")]
    return {i["name"]: (i["width"], i["height"]) for i in json.loads(images.read_text(encoding="utf-8"))}


def _make(case: Case, photos: Path, tmp: Path) -> None:
    """The photo folder (``None``: none), the config file and the links of ``case``."""
    if case.files is not None:
        photos.mkdir(parents=True)
        for name, make in case.files.items():
            (photos / name).parent.mkdir(parents=True, exist_ok=True)
            (photos / name).write_bytes(make())
    if case.config is not None:
        (tmp / "config.toml").write_bytes(case.config.encode("utf-8", "surrogateescape"))
    for link, target in case.links.items():
        (tmp / link).symlink_to(_fill(target, photos, tmp))


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_gives_its_exit_code_and_names_the_cause(case: Case, tmp_path: Path) -> None:
    photos = tmp_path / case.photos
    _make(case, photos, tmp_path)
    before = _tree(tmp_path)
    result = CliRunner().invoke(main, [_fill(a, photos, tmp_path) for a in case.args])
    output = result.output  # stdout and stderr
    assert result.exit_code == case.code, output
    assert "Traceback" not in output and "internal error" not in output
    for message in case.messages:
        assert _fill(message, photos, tmp_path) in output, output
    if case.code != 0:
        errors = [line for line in output.splitlines() if line.lower().startswith(("error", "usage"))]
        assert errors, output
    if case.untouched:
        assert _tree(tmp_path) == before, output
    if case.images is not None:
        assert _ingested(tmp_path) == case.images, output
