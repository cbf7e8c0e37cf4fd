"""The report of a workspace run up to SfM: every section there, those past SfM "not computed";
and the pieces it is drawn with."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from photogrammetry import api
from photogrammetry.cli import main
from photogrammetry.report import svg
from photogrammetry.report.page import table
from tests.report.checks import check_report, decode, external_references, parse
from tests.report.conftest import PHOTOS, STRANGER


def _section(html: str, anchor: str) -> str:
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', html, re.S)
    assert match, anchor
    return match.group(1)


def test_a_partial_run_reports_what_it_has(partial_workspace: Path, tmp_path: Path) -> None:
    written = api.report(partial_workspace, tmp_path / "report.html")
    assert written.failed == ()
    parsed = check_report(written.path)
    html = written.path.read_text(encoding="utf-8")
    for anchor, stage in (("views", "export"), ("depth", "depth"), ("scale", "scale")):
        assert f"the {stage} stage has not run" in _section(html, anchor), anchor
    for anchor in ("stages", "cameras", "photos", "sparse", "matches"):
        assert "Not computed" not in _section(html, anchor), anchor
    photos = _section(html, "photos")
    assert photos.count(">registered</span>") == len(PHOTOS)
    stranger = re.search(rf"<td>{STRANGER}</td>.*?</tr>", photos, re.S).group(0)
    assert "not registered" in stranger and "no other photo shares" in stranger
    assert len(parsed.images) == len(PHOTOS) + 1  # the photos' thumbnails
    assert parsed.svgs >= 6  # times, three views, two histograms, the matrix


def test_a_damaged_artifact_is_named(partial_workspace: Path, tmp_path: Path) -> None:
    """A model file cut short: the sections that read the sparse model say its files are damaged."""
    workspace = tmp_path / "ws"
    shutil.copytree(partial_workspace, workspace)
    points = next(workspace.glob("sfm/*/model/points3D.bin"))
    points.write_bytes(points.read_bytes()[:100])
    html = api.report(workspace, tmp_path / "report.html").path.read_text(encoding="utf-8")
    for anchor in ("cameras", "sparse"):
        assert "sfm stage&#x27;s files are damaged" in _section(html, anchor), anchor


def test_the_default_path_outside_an_unpublished_output(partial_workspace: Path) -> None:
    """No run published into WORKSPACE/output yet: the report goes beside it, so publishing is not refused."""
    result = CliRunner().invoke(main, ["report", str(partial_workspace)])
    assert result.exit_code == 0, result.output
    assert (partial_workspace / "report.html").is_file()
    assert not (partial_workspace / "output").exists()


def test_a_workspace_that_is_not_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "not a workspace" in result.output


def test_the_checks_catch_what_they_look_for() -> None:
    html = '<img src="https://example.org/a.png"><a href="b.html">b</a><div style="background:url(c.png)">'
    assert len(external_references(html, parse(html))) == 3
    assert decode("data:image/png;base64,AAAA") is None


def test_histogram_counts_everything_and_clips_the_tail() -> None:
    chart = svg.histogram(np.array([0.1, 0.2, 0.2, 5.0]), np.array([0.0, 0.15, 0.3, 0.45]), title="t", xlabel="x")
    counts = [int(c) for c in re.findall(r": (\d+)</title>", chart)]
    assert counts == [1, 2, 1]


def test_matrix_draws_every_cell_with_its_count() -> None:
    counts = np.array([[-1, 5], [5, -1]])
    chart = svg.matrix(["a", "b"], counts, title="m")
    assert chart.count("<rect") == 4
    assert "a - b: 5 matches" in chart and "a - a: not paired" in chart


def test_table_escapes_text() -> None:
    assert "&lt;b&gt;" in table(("h",), [("<b>",)])


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
def test_colour_is_a_hex_colour(value: float) -> None:
    assert re.fullmatch(r"#[0-9a-f]{6}", svg.colour(value))
