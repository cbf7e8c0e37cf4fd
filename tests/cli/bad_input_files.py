"""Photos for the bad-input matrix (``tests/cli/test_bad_inputs.py``), made on demand: each is a
function returning the file's bytes, so that a case's files are written only when it runs."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw

from tests.io.photo_factory import encode, make_exif, texture

Files = dict[str, Callable[[], bytes]]


def jpeg(seed: int, size: tuple[int, int] = (64, 48)) -> Callable[[], bytes]:
    return lambda: encode(texture(*size, seed=seed), ".jpg")


def png(image: np.ndarray) -> Callable[[], bytes]:
    return lambda: cv2.imencode(".png", image)[1].tobytes()


def pil(convert: Callable[[Image.Image], Image.Image], fmt: str = "PNG", seed: int = 1, **save) -> Callable[[], bytes]:
    """A 64 x 48 textured photo turned into another Pillow mode by ``convert``, encoded as ``fmt``."""
    def make() -> bytes:
        out = io.BytesIO()
        convert(Image.fromarray(np.ascontiguousarray(texture(64, 48, seed=seed)[:, :, ::-1]))).save(out, fmt, **save)
        return out.getvalue()
    return make


def three(convert: Callable[[Image.Image], Image.Image], suffix: str = ".png", fmt: str = "PNG", **save) -> Files:
    """Three photos ``a``, ``b``, ``c`` made by :func:`pil`."""
    return {f"{name}{suffix}": pil(convert, fmt, seed, **save) for seed, name in enumerate("abc", 1)}


def mode(name: str) -> Callable[[Image.Image], Image.Image]:
    """Pillow's conversion to mode ``name`` (``L``, ``P``, ``CMYK``, ``1``, ...)."""
    return lambda image: image.convert(name)


def grey16(image: Image.Image) -> Image.Image:
    """The image as 16-bit grey."""
    return Image.fromarray(np.asarray(image.convert("L")).astype(np.uint16) * 257)  # mode I;16


def half_transparent(image: Image.Image) -> Image.Image:
    """RGBA with the left half transparent."""
    alpha = Image.new("L", image.size, 255)
    alpha.paste(0, (0, 0, image.width // 2, image.height))
    return Image.merge("RGBA", (*image.split(), alpha))


@functools.cache
def huge() -> bytes:
    """A 20000 x 15000 1-bit PNG of a grid (74 kB) with EXIF orientation 6 and a 35 mm-equivalent focal."""
    image = Image.new("1", (20000, 15000))
    draw = ImageDraw.Draw(image)
    for y in range(0, 15000, 97):
        draw.line([(0, y), (19999, y)], fill=1)
    for x in range(0, 20000, 89):
        draw.line([(x, 0), (x, 14999)], fill=1)
    out = io.BytesIO()
    image.save(out, "PNG", exif=make_exif({"Orientation": 6, "FocalLengthIn35mmFilm": 35}))
    return out.getvalue()


def transparent(seed: int) -> np.ndarray:
    """A textured BGRA image whose alpha is 0 everywhere: ingest makes it a mask that keeps nothing."""
    return np.dstack([texture(64, 48, seed=seed), np.zeros((48, 64), np.uint8)])
