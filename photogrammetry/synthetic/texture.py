"""Procedural solid textures: albedo as a function of 3D surface position.

A texture is evaluated at the 3D hit point in the frame of the part it paints, so a
surface point has the same colour in every view. Layers (all sized by
``feature_size``): a smooth two-colour base, a domain-warped mosaic of coloured
cells (polygonal patches with corners on any surface), blob-like spots, warped
stripes and a fine grain. Together they give SIFT/DISK many distinctive corners
and blobs at several scales, with colour variation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from photogrammetry.synthetic.geometry import rotate
from photogrammetry.synthetic.noise import fbm, hash_cells, random_rotation, value_noise


@dataclass(frozen=True, kw_only=True)
class TextureSpec:
    """Parameters of one procedural solid texture."""

    seed: int
    """Seed of the palette and of every noise layer."""
    feature_size: float = 0.03
    """Size of a mosaic cell in world units (metres); the other layers scale with it."""
    num_colours: int = 5
    """Number of colours in the random palette."""
    cell_fraction: float = 0.5
    """Fraction of mosaic cells that are painted with a palette colour."""
    cell_opacity: float = 0.75
    """Opacity of a painted mosaic cell over the smooth base."""
    spot_weight: float = 0.9
    """Opacity of the blob-like spots."""
    stripe_weight: float = 0.5
    """Darkening of the warped stripes (0 disables them)."""
    grain: float = 0.3
    """Peak-to-peak relative brightness variation of the fine grain."""
    warp: float = 0.8
    """Amplitude of the domain warp bending cell edges and stripes, in cells."""
    brightness: float = 1.0
    """Overall albedo multiplier (below 1 for dark materials such as window glass)."""


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """Hermite step from 0 at ``edge0`` to 1 at ``edge1``, elementwise."""
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """Convert HSV colours to RGB with basic arithmetic only.

    Args:
        hsv: Hue, saturation, value in ``[0, 1]``, shape ``(N, 3)``.

    Returns:
        RGB in ``[0, 1]``, shape ``(N, 3)``.
    """
    h, s, v = hsv[:, 0] * 6.0, hsv[:, 1], hsv[:, 2]
    sector = np.floor(h).astype(np.int64) % 6
    f = h - np.floor(h)
    p, q, t = v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f))
    table = np.stack([np.stack(c, axis=-1) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))])
    return table[sector, np.arange(len(hsv))]


def palette(spec: TextureSpec) -> np.ndarray:
    """The texture's random colour palette: related hues around a base hue plus one accent.

    Args:
        spec: Texture parameters (``seed``, ``num_colours``).

    Returns:
        RGB colours in ``[0, 1]``, shape ``(num_colours, 3)``.
    """
    rng = np.random.default_rng([spec.seed, 101])
    k = spec.num_colours
    hue = rng.random() + rng.uniform(-0.12, 0.12, k)
    hue[-1] += 0.5
    sat = rng.uniform(0.15, 0.7, k)
    val = np.linspace(0.25, 0.95, k)[rng.permutation(k)]
    return hsv_to_rgb(np.stack([hue % 1.0, sat, val], axis=-1))


def _stripe_direction(seed: int) -> np.ndarray:
    """A random unit direction for the stripes, shape ``(3,)``."""
    d = np.random.default_rng([seed, 202]).normal(size=3)
    return d / np.sqrt(np.sum(d * d))


def albedo(points: np.ndarray, spec: TextureSpec) -> np.ndarray:
    """Evaluate the texture's albedo at surface points.

    Args:
        points: Surface points in the painted part's own frame, metres, shape ``(N, 3)``.
        spec: Texture parameters.

    Returns:
        Linear RGB albedo in ``[0, 1]``, shape ``(N, 3)``, ``float64``.
    """
    rotation = random_rotation(np.random.default_rng([spec.seed, 303]))
    q = rotate(np.asarray(points, dtype=np.float64), rotation) / spec.feature_size
    colours = palette(spec)
    s = spec.seed * 16
    warp = (value_noise(q * 0.35, s + 1) - 0.5) * (2.0 * spec.warp)
    base = _smoothstep(0.3, 0.7, fbm(q * 0.12, s + 2, 2))[:, None]
    colour = colours[0] + base * (colours[1] - colours[0])
    cells = np.floor(q + warp[:, None] * np.array([1.0, 0.8, 0.6]))
    pick = hash_cells(cells, s + 3)
    shade = 0.7 + 0.6 * hash_cells(cells, s + 4)[:, None]
    cell_colour = np.clip(colours[(pick * len(colours)).astype(np.int64)] * shade, 0.0, 1.0)
    painted = (hash_cells(cells, s + 5) < spec.cell_fraction)[:, None] * spec.cell_opacity
    colour = colour + painted * (cell_colour - colour)
    spot_q = q * 1.7 + 31.7
    spot = (_smoothstep(0.68, 0.74, value_noise(spot_q, s + 6)) * spec.spot_weight)[:, None]
    spot_colour = colours[(hash_cells(np.floor(spot_q), s + 7) * len(colours)).astype(np.int64)]
    spot_colour = np.where(spot_colour.sum(axis=1, keepdims=True) > 1.2, spot_colour * 0.35, 1.0 - 0.5 * spot_colour)
    colour = colour + spot * (spot_colour - colour)
    phase = rotate(q, _stripe_direction(spec.seed)[None])[:, 0] * 0.45 + warp * 0.5
    phase = phase - np.floor(phase)
    stripe = _smoothstep(0.0, 0.04, phase) - _smoothstep(0.16, 0.2, phase)
    colour = colour * (1.0 - spec.stripe_weight * stripe)[:, None]
    grain = value_noise(q * 5.0, s + 8)
    colour = colour * (1.0 + spec.grain * (grain - 0.5))[:, None]
    return np.clip(colour * spec.brightness, 0.0, 1.0)
