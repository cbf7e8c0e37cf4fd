"""Photometric differences between the views of one capture, as a camera makes them.

Our renders are lit and exposed alike in every view and free of sensor noise; photos are not.
:func:`photograph` turns a rendered view into what a camera of another shot could have
recorded: its own exposure and gain, white balance, gamma, vignetting, a slight motion blur,
shot and read noise and a JPEG of random quality. Training the MVS network on such views
(``scripts/train_mvs.py``) makes its similarities hold across them. Every draw comes from the
generator passed in, so a seed fixes the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, kw_only=True)
class Photometric:
    """How far the views' photometry varies (each draw is uniform or log-normal within these)."""

    gain_sigma: float = 0.3
    """Standard deviation of the log exposure gain between views."""
    white_balance_sigma: float = 0.06
    """Standard deviation of the log gain of each colour channel."""
    gamma_range: tuple[float, float] = (0.8, 1.25)
    """Tone curve exponent (applied to the linearised image)."""
    vignetting_max: float = 0.4
    """Largest light fall-off at the image corners (fraction)."""
    blur_probability: float = 0.3
    """Chance of a motion blur; its length is uniform in ``blur_max_px``."""
    blur_max_px: float = 4.0
    """Longest motion blur, pixels."""
    shot_noise_max: float = 0.004
    """Largest variance of the shot noise per unit intensity (intensities in [0, 1])."""
    read_noise_max: float = 0.012
    """Largest standard deviation of the read noise."""
    jpeg_quality: tuple[int, int] = (55, 96)
    """JPEG quality, drawn in ``[low, high)``."""
    clean_probability: float = 0.15
    """Chance that a view is left as rendered."""


def photograph(image: np.ndarray, rng: np.random.Generator, spec: Photometric = Photometric()) -> np.ndarray:
    """The rendered ``image`` (H, W, 3) uint8 RGB as one more photo of a capture, drawn from ``rng``.

    Returns:
        (H, W, 3) uint8 RGB of the same size.
    """
    if rng.random() < spec.clean_probability:
        return image
    height, width = image.shape[:2]
    linear = (image.astype(np.float32) / 255.0) ** 2.2
    gain = np.exp(rng.normal(0.0, spec.gain_sigma)) * np.exp(rng.normal(0.0, spec.white_balance_sigma, 3))
    linear = linear * _vignetting(height, width, rng, spec.vignetting_max)[..., None] * gain.astype(np.float32)
    if rng.random() < spec.blur_probability:
        linear = _motion_blur(linear, rng.uniform(1.0, spec.blur_max_px), rng.uniform(0.0, np.pi))
    shot, read = rng.uniform(0.0, spec.shot_noise_max), rng.uniform(0.0, spec.read_noise_max)
    variance = shot * np.clip(linear, 0.0, 1.0) + read**2
    linear = linear + rng.standard_normal(linear.shape).astype(np.float32) * np.sqrt(variance)
    toned = np.clip(linear, 0.0, 1.0) ** (rng.uniform(*spec.gamma_range) / 2.2)
    out = np.clip(toned * 255.0 + 0.5, 0, 255).astype(np.uint8)
    quality = int(rng.integers(*spec.jpeg_quality))
    _, buffer = cv2.imencode(".jpg", np.ascontiguousarray(out[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(cv2.imdecode(buffer, cv2.IMREAD_COLOR)[..., ::-1])


def _vignetting(height: int, width: int, rng: np.random.Generator, strength_max: float) -> np.ndarray:
    """(H, W) float32 fall-off ``1 - s r^2``, ``r`` the distance to a slightly shifted centre over the
    half diagonal."""
    strength = rng.uniform(0.0, strength_max)
    cx, cy = width * (0.5 + rng.uniform(-0.05, 0.05)), height * (0.5 + rng.uniform(-0.05, 0.05))
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r2 = ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2) / (0.25 * (width**2 + height**2))
    return (1.0 - strength * np.minimum(r2, 1.5)).astype(np.float32)


def _motion_blur(image: np.ndarray, length: float, angle: float) -> np.ndarray:
    """A linear blur of ``length`` pixels along ``angle`` (radians)."""
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    centre = size // 2
    for s in np.linspace(-length / 2, length / 2, 4 * size):
        kernel[int(round(centre + s * np.sin(angle))), int(round(centre + s * np.cos(angle)))] += 1.0
    return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)
