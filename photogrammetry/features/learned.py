"""DISK and ALIKED through kornia, with local weights and optional masks.

Both run a batch ``(B, 3, H, W)`` of RGB images in ``[0, 1]`` and return per image keypoints
``(N, 2)``, scores ``(N,)`` and L2-normalised descriptors ``(N, 128)`` (stored as float16).
kornia puts pixel centres at integer coordinates; keypoints leave here in COLMAP's
convention (``+ 0.5``). A mask zeroes the detection map before non-maximum suppression, so the
keypoint budget goes to the masked-in area. torch and kornia are imported inside functions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from photogrammetry.errors import ConfigError
from photogrammetry.features.base import ExtractorOptions
from photogrammetry.features.images import ExtractionImage
from photogrammetry.features.weights import resolve_weights
from photogrammetry.io.features import Features

_MASKED_LOGIT = -1.0e4
"""DISK heatmap value outside a mask (finite, so float16 holds it)."""


def load_state_dict(model: Any, path: Any, *, nested: str | None = None, strict: bool = True) -> None:
    """Load a checkpoint on the CPU into ``model``; every learned parameter must be in it.

    Args:
        model: The ``torch.nn.Module``.
        path: Checkpoint file (a state dict, or a dict holding one under ``nested``).
        nested: Key of the state dict inside the checkpoint, if any.
        strict: Also refuse keys the model does not know.
    """
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    if nested is not None:
        state = state.get(nested, state)
    result = model.load_state_dict(state, strict=False)
    learned = set(dict(model.named_parameters()))
    missing = [k for k in result.missing_keys if k in learned]
    if missing or (strict and result.unexpected_keys):
        raise ConfigError(f"weights {path} do not fit {type(model).__name__}: missing {missing[:5]}, "
                          f"unexpected {result.unexpected_keys[:5]}; is it the right file?")


def autocast(device: str, fp16: bool) -> contextlib.AbstractContextManager:
    """float16 autocast on CUDA when asked for; nothing otherwise (half precision is unsafe on the CPU)."""
    import torch

    if fp16 and device.startswith("cuda"):
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def to_batch(images: Sequence[ExtractionImage], device: str) -> tuple[Any, Any]:
    """Images ``(B, 3, H, W)`` float32 in ``[0, 1]`` and masks ``(B, 1, H, W)`` bool (``None``: no mask)."""
    import torch

    rgb = np.stack([image.rgb for image in images])
    batch = torch.from_numpy(rgb).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    if all(image.mask is None for image in images):
        return batch, None
    masks = np.stack([np.ones(image.rgb.shape[:2], bool) if image.mask is None else image.mask for image in images])
    return batch, torch.from_numpy(masks).to(device)[:, None]


def to_features(keypoints: Any, scores: Any, descriptors: Any, size: tuple[int, int]) -> Features:
    """kornia's per-image tensors -> :class:`Features` in COLMAP's pixel convention."""
    return Features(
        keypoints.float().cpu().numpy() + np.float32(0.5),
        scores.float().cpu().numpy(),
        descriptors.half().cpu().numpy(),
        size,
    )


class DiskExtractor:
    """DISK (depth checkpoint) with kornia's heatmap NMS."""

    def __init__(self, options: ExtractorOptions, device: str) -> None:
        from kornia.feature import DISK

        self.options, self.device = options, device
        model = DISK()
        load_state_dict(model, resolve_weights("disk", options.weights or None), nested="extractor")
        self.model = model.eval().to(device)

    def extract(self, images: Sequence[ExtractionImage]) -> list[Features]:
        """Features of a batch of images of one size (see the module docstring)."""
        import torch
        import torch.nn.functional as F
        from kornia.feature.disk.detector import heatmap_to_keypoints

        batch, masks = to_batch(images, self.device)
        height, width = batch.shape[-2:]
        padded = F.pad(batch, (0, -width % 16, 0, -height % 16))
        with torch.inference_mode(), autocast(self.device, self.options.fp16):
            heatmaps, dense = self.model.heatmap_and_dense_descriptors(padded)
        heatmaps = heatmaps[..., :height, :width].float()
        dense = dense[..., :height, :width].float()
        if masks is not None:
            heatmaps = heatmaps.masked_fill(~masks, _MASKED_LOGIT)
        with torch.inference_mode():
            found = heatmap_to_keypoints(heatmaps, n=self.options.max_keypoints,
                                         score_threshold=self.options.detection_threshold)
            merged = [k.merge_with_descriptors(dense[i]) for i, k in enumerate(found)]
        size = (int(width), int(height))
        return [to_features(f.keypoints, f.detection_scores, f.descriptors, size) for f in merged]


class AlikedExtractor:
    """ALIKED (N16 or N32) with kornia's DKD detector and SDDH descriptor head."""

    def __init__(self, name: str, options: ExtractorOptions, device: str) -> None:
        from kornia.feature import ALIKED

        self.options, self.device = options, device
        threshold = options.detection_threshold
        model = ALIKED(name, max_num_keypoints=options.max_keypoints, detection_threshold=threshold)
        load_state_dict(model, resolve_weights(name, options.weights or None))
        self.model = model.eval().to(device)

    def extract(self, images: Sequence[ExtractionImage]) -> list[Features]:
        """Features of a batch of images of one size (see the module docstring)."""
        import torch

        batch, masks = to_batch(images, self.device)
        height, width = batch.shape[-2:]
        with torch.inference_mode(), autocast(self.device, self.options.fp16):
            feature_map, score_map = self.model.extract_dense_map(batch)
            score_map = score_map.float()
            if masks is not None:
                score_map = score_map * masks
            keypoints, scores, _ = self.model.dkd(score_map)
            descriptors, _ = self.model.desc_head(feature_map, keypoints)
        wh = torch.tensor([width - 1, height - 1], device=batch.device, dtype=torch.float32)
        size = (int(width), int(height))
        return [to_features(wh * (k.float() + 1) / 2, s, d, size)
                for k, s, d in zip(keypoints, scores, descriptors, strict=True)]


def build_disk(name: str, options: ExtractorOptions, device: str) -> DiskExtractor:
    """Registry entry point for ``disk``."""
    return DiskExtractor(options, device)


def build_aliked(name: str, options: ExtractorOptions, device: str) -> AlikedExtractor:
    """Registry entry point for ``aliked-n16`` and ``aliked-n32``."""
    return AlikedExtractor(name, options, device)
