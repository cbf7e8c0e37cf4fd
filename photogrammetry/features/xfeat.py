"""XFeat through kornia's network, with local weights, optional masks and COLMAP's pixel convention.

XFeat (Potje et al., CVPR 2024) is a small CNN: on the CPU it extracts features several times
faster than ALIKED or DISK, and its 64-D descriptors are matched by LighterGlue (LightGlue with
6 layers of width 96, :mod:`photogrammetry.matching.lightglue`).

The network is ``kornia.feature.XFeatModel`` with the weights of ``xfeat.pt`` loaded strictly.
The sparse detection follows the reference ``XFeat.detectAndCompute`` (verlab/accelerated_features):

1. the image ``(B, 3, H, W)`` in ``[0, 1]`` is resized bilinearly to ``(H', W')``, the sides
   rounded down to multiples of 32 (the network's strides); nothing is resized when they are;
2. the 65 keypoint logits per 8 x 8 cell give, by a softmax without the dustbin, a heatmap of
   ``(H', W')``; a mask zeroes it outside before the non-maximum suppression, so the budget
   goes to the masked-in area;
3. keypoints are strict maxima of the heatmap in their 5 x 5 window above the detection threshold,
   scored by heatmap times the bilinearly sampled reliability map, the ``max_keypoints`` best kept;
4. descriptors are sampled bicubically from the L2-normalised dense map and normalised again.

Keypoint ``i`` of the resized image is the centre of its pixel, ``(i + 0.5) * (W / W', H / H')``
in COLMAP's convention. torch and kornia are imported inside functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from photogrammetry.features.base import ExtractorOptions
from photogrammetry.features.images import ExtractionImage
from photogrammetry.features.learned import autocast, load_state_dict, to_batch, to_features
from photogrammetry.features.weights import resolve_weights
from photogrammetry.io.features import Features

DEFAULT_DETECTION_THRESHOLD = 0.05
"""Heatmap value a keypoint must exceed when ``detection_threshold`` is 0 (the reference's default)."""

NMS_WINDOW = 5
"""Side of the non-maximum suppression window, in pixels of the resized image."""


def network_size(width: int, height: int) -> tuple[int, int]:
    """``(W', H')``: the sides rounded down to multiples of 32, at least 32."""
    return max(32, width // 32 * 32), max(32, height // 32 * 32)


def keypoint_heatmap(logits: Any) -> Any:
    """Keypoint logits ``(B, 65, h, w)`` -> heatmap ``(B, 1, 8h, 8w)``: each cell's softmax without its dustbin,
    channel ``8 * dy + dx`` at pixel ``(8 x + dx, 8 y + dy)``."""
    import torch.nn.functional as F

    scores = F.softmax(logits, 1)[:, :64]
    b, _, h, w = scores.shape
    return scores.permute(0, 2, 3, 1).reshape(b, h, w, 8, 8).permute(0, 1, 3, 2, 4).reshape(b, 1, h * 8, w * 8)


class XFeatExtractor:
    """XFeat sparse keypoints (top-k after NMS) with 64-D descriptors."""

    def __init__(self, options: ExtractorOptions, device: str) -> None:
        from kornia.feature import InterpolateSparse2d, XFeatModel

        self.options, self.device = options, device
        self.threshold = options.detection_threshold or DEFAULT_DETECTION_THRESHOLD
        model = XFeatModel()
        load_state_dict(model, resolve_weights("xfeat", options.weights or None))
        self.model = model.eval().to(device)
        self.bicubic, self.bilinear = InterpolateSparse2d("bicubic"), InterpolateSparse2d("bilinear")

    def extract(self, images: Sequence[ExtractionImage]) -> list[Features]:
        """Features of a batch of images of one size (see the module docstring)."""
        import torch
        import torch.nn.functional as F

        batch, masks = to_batch(images, self.device)
        height, width = batch.shape[-2:]
        size_w, size_h = network_size(int(width), int(height))
        if (size_w, size_h) != (width, height):
            batch = F.interpolate(batch, (size_h, size_w), mode="bilinear", align_corners=False)
        with torch.inference_mode():
            with autocast(self.device, self.options.fp16):
                dense, logits, reliability = self.model(batch)
            dense = F.normalize(dense.float(), dim=1)
            heatmap = keypoint_heatmap(logits.float())
            if masks is not None:
                heatmap = heatmap * (F.interpolate(masks.float(), (size_h, size_w), mode="nearest") > 0.5)
            scale = torch.tensor([width / size_w, height / size_h], device=batch.device)
            return [self._sparse(heatmap[i:i + 1], reliability[i:i + 1].float(), dense[i:i + 1], scale,
                                 (int(width), int(height))) for i in range(len(images))]

    def _sparse(self, heatmap: Any, reliability: Any, dense: Any, scale: Any, size: tuple[int, int]) -> Features:
        """One image's keypoints, scores and descriptors from its heatmap ``(1, 1, H', W')``."""
        import torch
        import torch.nn.functional as F
        from kornia.geometry.subpix import nms2d

        _, _, size_h, size_w = heatmap.shape
        peaks = nms2d(heatmap, (NMS_WINDOW, NMS_WINDOW), mask_only=True) & (heatmap > self.threshold)
        xy = peaks[0, 0].nonzero().flip(-1)[None]  # (1, N, 2) integer (x, y)
        scores = heatmap[0, 0, xy[0, :, 1], xy[0, :, 0]] * self.bilinear(reliability, xy, size_h, size_w)[0, :, 0]
        scores, order = torch.topk(scores, min(self.options.max_keypoints, len(scores)), sorted=True)
        xy = xy[:, order]
        descriptors = F.normalize(self.bicubic(dense, xy, size_h, size_w)[0], dim=-1)
        keypoints = (xy[0].float() + 0.5) * scale - 0.5  # to_features adds the 0.5 back
        return to_features(keypoints, scores, descriptors, size)


def build_xfeat(name: str, options: ExtractorOptions, device: str) -> XFeatExtractor:
    """Registry entry point for ``xfeat``."""
    return XFeatExtractor(options, device)
