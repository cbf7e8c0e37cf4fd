"""Deterministic procedural noise evaluated at 3D points.

Everything here uses integer hashing and IEEE basic arithmetic only (no ``sin``,
``exp`` or ``pow``), so a value depends on its inputs alone and not on which SIMD
code path numpy picks on a given CPU: the textures, and so the rendered sample
scenes, come out the same bit for bit on every machine.
"""

from __future__ import annotations

import numpy as np

_PRIME_X = np.uint32(0x8DA6B343)
_PRIME_Y = np.uint32(0xD8163841)
_PRIME_Z = np.uint32(0xCB1AB31F)
_MIX_A = np.uint32(0x7FEB352D)
_MIX_B = np.uint32(0x846CA68B)
_SHIFT_15 = np.uint32(15)
_SHIFT_16 = np.uint32(16)
_SHIFT_8 = np.uint32(8)
_TO_UNIT = 1.0 / 2.0**32
_TO_UNIT_24 = 1.0 / 2.0**24


def _mix(h: np.ndarray) -> np.ndarray:
    """Avalanche the bits of ``h`` in place (the "lowbias32" integer hash).

    Args:
        h: Hash state, any shape, ``uint32``.

    Returns:
        ``h`` after mixing (same array).
    """
    h ^= h >> _SHIFT_16
    h *= _MIX_A
    h ^= h >> _SHIFT_15
    h *= _MIX_B
    h ^= h >> _SHIFT_16
    return h


def _lattice(coords: np.ndarray, prime: np.uint32) -> np.ndarray:
    """Multiply integer lattice coordinates by a hashing prime, wrapping at 2**32.

    Args:
        coords: Integer-valued lattice coordinates, any shape, ``float64``.
        prime: Odd 32-bit multiplier for this axis.

    Returns:
        ``uint32`` array of the same shape.
    """
    return coords.astype(np.int64).astype(np.uint32) * prime


def hash_cells(cells: np.ndarray, seed: int) -> np.ndarray:
    """Uniform pseudo-random numbers, one per integer lattice cell.

    Args:
        cells: Integer-valued cell coordinates, shape ``(N, 3)``.
        seed: Seed selecting an independent stream.

    Returns:
        Values in ``[0, 1)``, shape ``(N,)``, ``float64``.
    """
    h = _lattice(cells[:, 0], _PRIME_X)
    h ^= _lattice(cells[:, 1], _PRIME_Y)
    h ^= _lattice(cells[:, 2], _PRIME_Z)
    h ^= np.uint32(seed & 0xFFFFFFFF)
    return _mix(h).astype(np.float64) * _TO_UNIT


def _fade(x: np.ndarray) -> np.ndarray:
    """Quintic fade curve ``6x^5 - 15x^4 + 10x^3`` with zero 1st/2nd derivative at 0 and 1."""
    return x * x * x * (x * (x * np.float32(6.0) - np.float32(15.0)) + np.float32(10.0))


def value_noise(points: np.ndarray, seed: int) -> np.ndarray:
    """Smooth value noise: random values on the unit lattice, interpolated with a quintic fade.

    Args:
        points: Query points in lattice units, shape ``(N, 3)``, ``float64``.
        seed: Seed selecting an independent noise field.

    Returns:
        Noise values in ``[0, 1]``, shape ``(N,)``, ``float32``.
    """
    base = np.floor(points)
    frac = _fade((points - base).astype(np.float32))
    seed_bits = np.uint32(seed & 0xFFFFFFFF)
    hx = (_lattice(base[:, 0], _PRIME_X), _lattice(base[:, 0] + 1.0, _PRIME_X))
    hy = (_lattice(base[:, 1], _PRIME_Y), _lattice(base[:, 1] + 1.0, _PRIME_Y))
    hz = (_lattice(base[:, 2], _PRIME_Z) ^ seed_bits, _lattice(base[:, 2] + 1.0, _PRIME_Z) ^ seed_bits)
    fx, fy, fz = frac[:, 0], frac[:, 1], frac[:, 2]
    along_y = []
    for k in (0, 1):
        along_x = []
        for j in (0, 1):
            hyz = hy[j] ^ hz[k]
            c0 = (_mix(hx[0] ^ hyz) >> _SHIFT_8).astype(np.float32)
            c1 = (_mix(hx[1] ^ hyz) >> _SHIFT_8).astype(np.float32)
            along_x.append(c0 + fx * (c1 - c0))
        along_y.append(along_x[0] + fy * (along_x[1] - along_x[0]))
    return (along_y[0] + fz * (along_y[1] - along_y[0])) * np.float32(_TO_UNIT_24)


def fbm(points: np.ndarray, seed: int, octaves: int, gain: float = 0.5) -> np.ndarray:
    """Fractal sum of value noise octaves at doubling frequencies, normalised to ``[0, 1]``.

    Each octave is shifted by a seed-dependent offset so lattice planes do not line up.

    Args:
        points: Query points in lattice units of the first octave, shape ``(N, 3)``.
        seed: Seed selecting an independent noise field.
        octaves: Number of octaves, at least 1.
        gain: Amplitude ratio between successive octaves.

    Returns:
        Noise values in ``[0, 1]``, shape ``(N,)``, ``float32``.
    """
    if octaves < 1:
        raise ValueError(f"octaves must be at least 1, got {octaves}")
    total = np.zeros(len(points), dtype=np.float32)
    amplitude, norm, scale = 1.0, 0.0, 1.0
    for octave in range(octaves):
        offset = np.array([17.31, -5.17, 9.73]) * (octave + 1)
        total += np.float32(amplitude) * value_noise(points * scale + offset, seed + 7919 * octave)
        norm += amplitude
        amplitude *= gain
        scale *= 2.0
    return total / np.float32(norm)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random rotation matrix from a normalised Gaussian quaternion.

    Args:
        rng: Random generator to draw from.

    Returns:
        Rotation matrix, shape ``(3, 3)``, ``float64``.
    """
    w, x, y, z = rng.normal(size=4)
    norm = np.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / norm, x / norm, y / norm, z / norm
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
