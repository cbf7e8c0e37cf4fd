"""The report opens in headless Chromium from disk with no console errors and every picture decoded.

Skipped where Chromium is not installed (``scripts/setup`` installs it from the system packages)."""

from __future__ import annotations

from pathlib import Path

import pytest

from photogrammetry import api
from tests.report.checks import ANCHORS, chromium, open_in_chromium, parse

pytestmark = pytest.mark.skipif(chromium() is None, reason="Chromium is not installed (apt-get install chromium)")


def test_the_probe_sees_console_errors_and_broken_pictures(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="data:image/png;base64,AAAA" alt="x">'
                    '<script>console.error("boom")</script></body></html>', encoding="utf-8")
    result = open_in_chromium(page, tmp_path)
    assert result.decoded == 0
    assert any("boom" in line for line in result.console) and any("broken image" in line for line in result.console)


def test_the_report_renders_in_chromium(partial_workspace: Path, tmp_path: Path) -> None:
    path = api.report(partial_workspace, tmp_path / "report.html").path
    result = open_in_chromium(path, tmp_path)
    assert result.console == []
    assert result.decoded == len(parse(path.read_text(encoding="utf-8")).images) > 0
    assert all(f'id="{anchor}"' in result.dom for anchor in ANCHORS)
