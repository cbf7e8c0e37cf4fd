"""LightGlue through kornia, with local weights, adaptive depth and point pruning.

The weights are the released ``disk_lightglue`` / ``aliked_lightglue`` files, or XFeat's
LighterGlue (``xfeat-lighterglue.pt``: 6 layers of width 96 on 64-D descriptors, kornia's ``xfeat``
configuration), see :mod:`photogrammetry.features.weights`; they are loaded into
``kornia.feature.LightGlue`` built with ``features=None`` so that kornia downloads nothing. Files
in the released format name the transformer layers ``self_attn.N`` and ``cross_attn.N``; they are
renamed to kornia's ``transformers.N.self_attn`` / ``transformers.N.cross_attn``, as kornia and
upstream LightGlue do when they load them. LighterGlue's file also holds the XFeat network it was
trained with (``extractor.*``) beside the matcher (``matcher.*``); only the matcher is read.
Every learned parameter must be in the file (the released DISK / ALIKED files hold unused extra
tensors, ``log_assignment.N.r``, which are ignored).

LightGlue sees keypoints with pixel centres at integer coordinates (as its extractors give
them), so the stored COLMAP-convention keypoints are moved by ``- 0.5`` (and clamped to the
outermost pixel centres, which kornia requires). Each pair runs on its
own: in a batch, kornia's early stopping waits for every pair, so a pair's matches would depend
on the rest of its batch (and kornia 0.9 runs a batch that prunes points one pair at a time anyway).

On the CPU (kornia 0.9): ``flash`` only applies on CUDA (elsewhere attention is torch's
``scaled_dot_product_attention`` either way); point pruning (``width_confidence``) runs at any
number of points (kornia's CPU threshold is -1, CUDA's 1024); early stopping
(``depth_confidence``) as on any device. The defaults 0.95 / 0.99 are the LightGlue paper's;
``benchmarks/lightglue_cpu.py`` measures them against the full network, per keypoint budget and
thread count, with the matches they give.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from photogrammetry.errors import ConfigError
from photogrammetry.features.weights import resolve_weights
from photogrammetry.io.features import Features, Matches

_OLD_LAYER_NAME = re.compile(r"^(self_attn|cross_attn)\.(\d+)\.")


_MATCHER_PREFIX = "matcher."
"""Prefix of the matcher's keys in a file that holds an extractor too (LighterGlue's)."""


def rename_layers(state: dict[str, Any]) -> dict[str, Any]:
    """State dict keys of the released format -> kornia's (``self_attn.3.x`` -> ``transformers.3.self_attn.x``)."""
    return {_OLD_LAYER_NAME.sub(r"transformers.\2.\1.", key): value for key, value in state.items()}


def matcher_state(state: dict[str, Any]) -> dict[str, Any]:
    """The matcher's part of a checkpoint, in kornia's names: the ``matcher.`` keys without their prefix
    when there are any (LighterGlue's file), else all keys."""
    if any(key.startswith(_MATCHER_PREFIX) for key in state):
        state = {k[len(_MATCHER_PREFIX):]: v for k, v in state.items() if k.startswith(_MATCHER_PREFIX)}
    return rename_layers(state)


def build_lightglue(family: str, *, weights: str | None, **conf: Any) -> Any:
    """kornia's LightGlue for ``family`` (``disk``, ``aliked`` or ``xfeat``) with local weights, in eval mode.

    Args:
        family: Which LightGlue weights.
        weights: Explicit weight file or folder, else found as :func:`resolve_weights` does.
        **conf: Overrides of LightGlue's ``default_conf`` (``depth_confidence``, ``mp``, ...).
    """
    import torch
    from kornia.feature import LightGlue

    if family not in LightGlue.features:
        raise ConfigError(f"kornia's LightGlue has no configuration for {family!r} features")
    features_conf = {k: v for k, v in LightGlue.features[family].items() if k != "weights"}
    model = LightGlue(None, **{**features_conf, **conf})
    path = resolve_weights(f"lightglue-{family}", weights)
    state = matcher_state(torch.load(path, map_location="cpu", weights_only=True))
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if k in dict(model.named_parameters())]
    if missing:
        raise ConfigError(f"weights {path} do not fit LightGlue for {family}: missing {missing[:5]}; "
                          "is it the right file?")
    return model.eval()


class LightGlueMatcher:
    """The ``lightglue`` matcher."""

    def __init__(self, family: str, *, depth_confidence: float, width_confidence: float, filter_threshold: float,
                 device: str, fp16: bool, weights: str | None) -> None:
        self.device = device
        self.model = build_lightglue(  # mp: LightGlue's own float16 autocast, used on CUDA only
            family, weights=weights, depth_confidence=depth_confidence, width_confidence=width_confidence,
            filter_threshold=filter_threshold, flash=True, mp=fp16 and device.startswith("cuda"),
        ).to(device)

    def prepare(self, features: Features) -> dict[str, Any]:
        """One image as LightGlue takes it: keypoints ``(1, N, 2)``, descriptors ``(1, N, D)``, size ``(1, 2)``."""
        import torch

        # kornia refuses keypoints outside the image once normalised; the outermost half pixel is clamped
        width, height = features.image_size
        keypoints = torch.from_numpy(np.clip(features.keypoints - np.float32(0.5), 0, [width - 1, height - 1]))
        descriptors = torch.from_numpy(np.asarray(features.descriptors, np.float32))
        size = torch.tensor([features.image_size], dtype=torch.float32)
        return {"keypoints": keypoints[None].to(self.device), "descriptors": descriptors[None].to(self.device),
                "image_size": size.to(self.device)}

    def match(self, prepared0: dict[str, Any], prepared1: dict[str, Any]) -> Matches:
        """Matches between two prepared images, with LightGlue's match confidences as scores."""
        import torch

        if prepared0["keypoints"].shape[1] == 0 or prepared1["keypoints"].shape[1] == 0:
            return Matches(np.zeros((0, 2), np.int32), np.zeros(0, np.float32))
        with torch.inference_mode():
            out = self.model({"image0": prepared0, "image1": prepared1})
        return Matches(out["matches"][0].cpu().numpy().astype(np.int32), out["scores"][0].float().cpu().numpy())
