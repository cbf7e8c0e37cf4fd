"""Every extractor on small synthetic images: shapes, budgets, masks, and the pixel convention."""

from __future__ import annotations

import numpy as np
import pytest

from photogrammetry.errors import ConfigError
from photogrammetry.features import (EXTRACTORS, ExtractionImage, ExtractorOptions, extract, extractor_spec,
                                     load_extractor)
from photogrammetry.features.images import extraction_size
from tests.features.synthetic import textured_image

NAMES = sorted(EXTRACTORS)
BUDGET = 256


@pytest.fixture(scope="module")
def extractors() -> dict:
    return {name: load_extractor(name, ExtractorOptions(max_keypoints=BUDGET)) for name in NAMES}


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return textured_image(256, 192, seed=3)


def _one(extractor, rgb: np.ndarray, mask: np.ndarray | None = None, original: tuple[int, int] | None = None):
    size = original or (rgb.shape[1], rgb.shape[0])
    return extract(extractor, [ExtractionImage(rgb, mask, size)])[0]


@pytest.mark.parametrize("name", NAMES)
def test_shapes_budget_and_bounds(name: str, extractors: dict, image: np.ndarray) -> None:
    feats = _one(extractors[name], image)
    n = len(feats.keypoints)
    assert BUDGET // 2 < n <= BUDGET
    assert feats.keypoints.dtype == np.float32 and feats.scores.shape == (n,)
    assert feats.descriptors.shape == (n, extractor_spec(name).descriptor_dim)
    assert feats.descriptors.dtype == (np.uint8 if name == "sift" else np.float16)
    assert feats.image_size == (256, 192)
    assert (feats.keypoints >= 0).all() and (feats.keypoints <= [256, 192]).all()
    if name != "sift":
        norms = np.linalg.norm(feats.descriptors.astype(np.float32), axis=1)
        np.testing.assert_allclose(norms, 1.0, atol=1e-2)


@pytest.mark.parametrize("name", NAMES)
def test_mask_keeps_keypoints_inside_and_spends_the_budget_there(name: str, extractors: dict,
                                                                image: np.ndarray) -> None:
    mask = np.zeros(image.shape[:2], bool)
    mask[20:100, 30:130] = True
    feats = _one(extractors[name], image, mask)
    cols, rows = np.floor(feats.keypoints.T).astype(int)
    assert mask[rows, cols].all()
    everywhere = _one(extractors[name], image).keypoints
    filtered = mask[everywhere[:, 1].astype(int), everywhere[:, 0].astype(int)].sum()
    # detection is steered into the mask, not just filtered afterwards
    assert len(feats.keypoints) >= (filtered if name == "sift" else 1.5 * filtered) > 0


def test_sift_keypoints_follow_colmap_pixel_convention(extractors: dict) -> None:
    """An image that is its own mirror gives keypoints symmetric about ``x = W / 2`` exactly.

    In COLMAP's convention the mirror of ``u`` is ``W - u``; in OpenCV's it is ``W - 1 - x``, so
    a missing ``+ 0.5`` would put each keypoint's mirror image one pixel off.
    """
    left = textured_image(128, 191, seed=4)
    rgb = np.ascontiguousarray(np.concatenate([left, left[:, :-1][:, ::-1]], axis=1))  # width 255
    keypoints = _one(extractors["sift"], rgb).keypoints
    mirrored = np.stack([255 - keypoints[:, 0], keypoints[:, 1]], axis=1)
    distance = np.linalg.norm(keypoints[:, None] - mirrored[None], axis=2).min(axis=1)
    assert (distance < 0.01).mean() > 0.9


def _peak(height: int, width: int, x: int, y: int):
    import torch

    peak = torch.zeros(1, 1, height, width)
    peak[0, 0, y, x] = 1.0
    return peak


def test_disk_keypoint_at_pixel_index_is_that_pixels_centre(extractors: dict, image: np.ndarray,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """kornia's DISK keypoint ``(x, y)`` (integer pixel) is stored as ``(x + 0.5, y + 0.5)``."""
    import torch

    model = extractors["disk"].model
    dense = torch.nn.functional.normalize(torch.randn(1, 128, 192, 256), dim=1)
    monkeypatch.setattr(model, "heatmap_and_dense_descriptors", lambda x: (_peak(192, 256, 10, 7) * 5, dense))
    feats = _one(extractors["disk"], image)
    np.testing.assert_array_equal(feats.keypoints, [[10.5, 7.5]])
    np.testing.assert_allclose(feats.descriptors[0], dense[0, :, 7, 10].numpy(), atol=1e-3)


def test_aliked_keypoint_at_pixel_index_is_that_pixels_centre(extractors: dict, image: np.ndarray,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """kornia's ALIKED keypoints (``[-1, 1]`` with ``align_corners``) map to pixel centres ``+ 0.5``."""
    import torch

    model = extractors["aliked-n16"].model
    features = torch.nn.functional.normalize(torch.randn(1, 128, 192, 256), dim=1)
    monkeypatch.setattr(model, "extract_dense_map", lambda x: (features, _peak(192, 256, 40, 30) * 0.9))
    feats = _one(extractors["aliked-n16"], image)
    np.testing.assert_allclose(feats.keypoints, [[40.5, 30.5]], atol=1e-4)


def _xfeat_peak_outputs(height: int, width: int, x: int, y: int):
    """XFeat network outputs ``(dense, logits, reliability)`` at ``(H', W')`` whose heatmap peaks at ``(x, y)`` only."""
    import torch

    logits = torch.zeros(1, 65, height // 8, width // 8)
    logits[:, 64] = 20.0  # every cell: "no keypoint"
    logits[0, (y % 8) * 8 + x % 8, y // 8, x // 8] = 40.0
    dense = torch.randn(1, 64, height // 8, width // 8)
    return lambda batch: (dense, logits, torch.ones(1, 1, height // 8, width // 8))


@pytest.mark.parametrize(("size", "expected"), [((256, 192), [40.5, 30.5]),
                                                ((250, 200), [40.5 * 250 / 224, 30.5 * 200 / 192])])
def test_xfeat_keypoint_is_its_pixel_centre_in_the_resized_image(size: tuple[int, int], expected: list[float],
                                                                 extractors: dict,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Pixel ``i`` of the network's image (sides cut to multiples of 32) is stored at ``(i + 0.5) * W / W'``."""
    from photogrammetry.features.xfeat import network_size

    width, height = network_size(*size)
    monkeypatch.setattr(extractors["xfeat"], "model", _xfeat_peak_outputs(height, width, 40, 30))
    feats = _one(extractors["xfeat"], textured_image(*size, seed=1))
    np.testing.assert_allclose(feats.keypoints, [expected], atol=1e-4)
    assert feats.scores[0] > 0.99


@pytest.mark.parametrize("name", ["aliked-n16", "sift", "xfeat"])
def test_keypoints_are_rescaled_to_the_prepared_image(name: str, extractors: dict, image: np.ndarray) -> None:
    """Extracted at half size, keypoints come back in the prepared image's pixels."""
    import cv2

    half = cv2.resize(image, extraction_size(256, 192, 128), interpolation=cv2.INTER_AREA)
    feats = _one(extractors[name], half, original=(256, 192))
    assert feats.image_size == (256, 192)
    assert feats.keypoints[:, 0].max() > 128 and (feats.keypoints <= [256, 192]).all()


def test_fp16_is_ignored_on_the_cpu(image: np.ndarray) -> None:
    fp16 = load_extractor("aliked-n16", ExtractorOptions(max_keypoints=BUDGET, fp16=True))
    fp32 = load_extractor("aliked-n16", ExtractorOptions(max_keypoints=BUDGET, fp16=False))
    a, b = _one(fp16, image), _one(fp32, image)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)


def test_threshold_keeps_fewer_keypoints(image: np.ndarray) -> None:
    strict = load_extractor("aliked-n16", ExtractorOptions(max_keypoints=BUDGET, detection_threshold=0.9))
    assert len(_one(strict, image).keypoints) < BUDGET // 2


def test_batch_of_two_equals_one_by_one(image: np.ndarray, extractors: dict) -> None:
    other = textured_image(256, 192, seed=9)
    extractor = extractors["disk"]
    together = extract(extractor, [ExtractionImage(image, None, (256, 192)), ExtractionImage(other, None, (256, 192))])
    alone = _one(extractor, other)
    np.testing.assert_array_equal(together[1].keypoints, alone.keypoints)
    np.testing.assert_allclose(together[1].descriptors.astype(np.float32), alone.descriptors.astype(np.float32),
                               atol=2e-3)


def test_batch_must_share_a_size(extractors: dict, image: np.ndarray) -> None:
    with pytest.raises(ValueError, match="one size"):
        extract(extractors["sift"], [ExtractionImage(image, None, (256, 192)),
                                     ExtractionImage(image[:96], None, (256, 96))])


def test_unknown_extractor_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="aliked-n16, aliked-n32, disk, sift"):
        load_extractor("superpoint", ExtractorOptions())
