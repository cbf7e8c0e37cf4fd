"""Photo-like differences between rendered views: deterministic, bounded, and real."""

from __future__ import annotations

import numpy as np

from photogrammetry.synthetic.photometric import Photometric, photograph


def textured(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 220, (12, 16, 3)).astype(np.uint8)
    return np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)  # (96, 128, 3)


def test_same_seed_same_photo_and_shape():
    image = textured()
    a = photograph(image, np.random.default_rng(3))
    b = photograph(image, np.random.default_rng(3))
    assert a.shape == image.shape and a.dtype == np.uint8
    assert np.array_equal(a, b)


def test_views_differ_in_exposure_and_noise_but_keep_the_picture():
    image = textured().astype(np.float32)
    spec = Photometric(clean_probability=0.0)
    rng = np.random.default_rng(1)
    photos = [photograph(textured(), rng, spec).astype(np.float32) for _ in range(8)]
    means = [p.mean() for p in photos]
    assert max(means) - min(means) > 10  # exposures differ
    for photo in photos:
        assert np.corrcoef(photo.ravel(), image.ravel())[0, 1] > 0.6  # still the same scene


def test_a_clean_draw_leaves_the_render_alone():
    image = textured()
    assert photograph(image, np.random.default_rng(0), Photometric(clean_probability=1.0)) is image
