"""Checks of a report file: it parses, holds every section, reaches for nothing outside, and its
pictures decode; and, where Chromium is installed, it renders in a headless browser without errors."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np

from photogrammetry.report.build import SECTIONS

ANCHORS = [anchor for anchor, _, _ in SECTIONS]


@dataclass
class Parsed(HTMLParser):
    """What the checks read from the page."""

    ids: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    svgs: int = 0
    scripts: int = 0

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if "id" in values:
            self.ids.append(values["id"] or "")
        for name in ("src", "href", "xlink:href", "data", "action"):
            if values.get(name):
                self.links.append(values[name] or "")
        self.images += [values["src"] or ""] if tag == "img" else []
        self.svgs += tag == "svg"
        self.scripts += tag == "script"


def parse(html: str) -> Parsed:
    parsed = Parsed()
    parsed.feed(html)
    parsed.close()
    return parsed


def external_references(html: str, parsed: Parsed) -> list[str]:
    """Links that leave the file: any src/href not a data: URI or an #anchor, and any url(...) in CSS."""
    outside = [link for link in parsed.links if not link.startswith(("data:", "#"))]
    return outside + re.findall(r"url\((?!['\"]?data:)[^)]*\)", html) + re.findall(r"@import", html)


def decode(uri: str) -> np.ndarray | None:
    """The image of a ``data:image/...;base64,`` URI, or ``None`` when it does not decode."""
    match = re.fullmatch(r"data:image/(png|jpeg);base64,([A-Za-z0-9+/=]+)", uri)
    if match is None:
        return None
    return cv2.imdecode(np.frombuffer(base64.b64decode(match.group(2)), np.uint8), cv2.IMREAD_COLOR)


def check_report(path: Path) -> Parsed:
    """Assert what every report must satisfy; returns the parsed page for more checks."""
    html = path.read_text(encoding="utf-8")
    parsed = parse(html)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert [i for i in parsed.ids if i in ANCHORS] == ANCHORS, parsed.ids
    assert external_references(html, parsed) == []
    assert "http://" not in html and "https://" not in html
    assert parsed.scripts == 0
    undecodable = [uri[:60] for uri in parsed.images if decode(uri) is None]
    assert undecodable == []
    return parsed


def chromium() -> str | None:
    """The Chromium executable, or ``None`` when it is not installed."""
    return next((found for name in ("chromium", "chromium-browser", "google-chrome")
                 if (found := shutil.which(name))), None)


PROBE = ('<script>window.addEventListener("load", () => {let n = 0; for (const i of document.images) '
         '{if (i.naturalWidth) n++; else console.error("broken image " + i.alt);} '
         'document.body.dataset.decoded = n;});</script>')
"""Added to a copy of the page under test (the report itself has no script): logs each picture the
browser could not decode, and records how many it did."""


@dataclass(frozen=True)
class BrowserResult:
    dom: str
    console: list[str]
    decoded: int


def open_in_chromium(path: Path, tmp: Path) -> BrowserResult:
    """Load a copy of ``path`` with :data:`PROBE` in headless Chromium from disk; its DOM and console lines."""
    probed = tmp / f"probed-{path.name}"
    probed.write_text(path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    run = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                          "--log-level=0", f"--user-data-dir={tmp / 'chromium-profile'}", "--dump-dom",
                          probed.resolve().as_uri()], capture_output=True, text=True, timeout=120, check=True)
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    decoded = re.search(r'data-decoded="(\d+)"', run.stdout)
    return BrowserResult(run.stdout, console, int(decoded.group(1)) if decoded else -1)
