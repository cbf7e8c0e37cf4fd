"""The page: sections, tables, inlined images and the HTML around them.

Everything the report shows is inlined (CSS in a ``<style>``, charts as SVG, pictures as base64
``data:`` URIs): the file opens from disk with no server and no network, and there is no script.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from photogrammetry.io.mesh import encode_image

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;
vertical-align:top}th{background:#f4f4f4}td.num{text-align:right}
.missing{color:#999;font-style:italic}.bad{color:#b00}.ok{color:#070}
figure{display:inline-block;margin:4px;vertical-align:top;text-align:center}figcaption{font-size:.85em}
nav a{margin-right:1em}details{margin:.3em 0}code{font-size:.9em}
svg{background:#fff;border:1px solid #eee}svg text{font:11px system-ui,sans-serif}
"""


@dataclass(frozen=True)
class Section:
    """One section of the report."""

    anchor: str
    """HTML id of the section (its link in the contents)."""
    title: str
    """Heading."""
    body: str
    """HTML of its content."""


def esc(value: object) -> str:
    """``value`` as HTML-escaped text."""
    return html.escape(str(value), quote=True)


def not_computed(what: str, why: str = "") -> str:
    """The paragraph a section shows when its artifact is missing (a run stopped early)."""
    return f'<p class="missing">Not computed: {esc(what)}{" (" + esc(why) + ")" if why else ""}.</p>'


def table(header: Sequence[str], rows: Iterable[Sequence[object]], *, numeric: Sequence[int] = ()) -> str:
    """An HTML table; cells already holding markup are passed as :class:`Markup`."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            text = cell.html if isinstance(cell, Markup) else esc(_fmt(cell))
            cells.append(f'<td class="num">{text}</td>' if i in numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


@dataclass(frozen=True)
class Markup:
    """A table cell that is HTML already."""

    html: str
    """The markup."""


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return "-"
    return str(value)


def png_uri(rgb: np.ndarray) -> str:
    """A ``data:`` URI of an (H, W, 3) uint8 RGB image as PNG."""
    return "data:image/png;base64," + base64.b64encode(encode_image(rgb, "png")).decode("ascii")


def jpeg_uri(rgb: np.ndarray) -> str:
    """A ``data:`` URI of an (H, W, 3) uint8 RGB image as JPEG (photos: smaller than PNG)."""
    return "data:image/jpeg;base64," + base64.b64encode(encode_image(rgb, "jpeg", 85)).decode("ascii")


def figure(uri: str, caption: str, *, width: int | None = None) -> str:
    """An inlined image with a caption."""
    size = f' width="{width}"' if width else ""
    return f'<figure><img src="{uri}"{size} alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption></figure>'


def page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole HTML document."""
    nav = " ".join(f'<a href="#{s.anchor}">{esc(s.title)}</a>' for s in sections)
    body = "\n".join(f'<section id="{s.anchor}"><h2>{esc(s.title)}</h2>\n{s.body}\n</section>' for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body><h1>{esc(title)}</h1>"
            f"<p>{subtitle}</p><nav>{nav}</nav>\n{body}\n</body></html>\n")
