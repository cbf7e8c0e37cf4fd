"""``lite-reg``: the lite features and a learned regulariser of their cost volumes, trained together.

A plane-sweep volume scored pixel by pixel is noisy where the texture is weak or the photos
differ in exposure, noise or blur. :func:`build_regularizer` is a small 3D U-Net (CasMVSNet
style, about 20 k parameters) over a level's aggregated similarity volume ``(D, H, W)``: 8
channels at full resolution, 16 at half (in the image plane; hypotheses keep their count, so
one network serves every level and hypothesis count). It adds a residual to the volume (the
last layer starts at zero: untrained, it changes nothing), in place of the semi-global
aggregation, before the winner. ``scripts/train_mvs.py train --regularizer`` trains it jointly with the features by
the same cross-entropy. :class:`VolumeRegularizer` runs it over tiles of rows with enough
context that tiling does not change the result. torch is imported inside the functions.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from photogrammetry.errors import ConfigError

REGULARIZED_FILE = Path(__file__).with_name("weights") / "lite_reg.pt"
"""The committed weights of ``lite-reg``: ``{"features": ..., "regularizer": ...}`` state dicts."""

WIDTHS = (8, 16)
"""Channels at full and half resolution."""

HALO = 16
"""Rows of context above and below a tile: more than the receptive field's reach (12 rows)."""

ELEMENTS_PER_VOXEL = 64
"""Working floats per voxel of a tile (activations and their temporaries), to size tiles."""


def build_regularizer() -> Any:
    """A freshly initialised regulariser (``torch.nn.Module``): ``(D, H, W)`` -> ``(D, H, W)``."""
    import torch
    from torch import nn

    def conv(cin: int, cout: int, stride: tuple[int, int, int] = (1, 1, 1)) -> nn.Module:
        return nn.Sequential(nn.Conv3d(cin, cout, 3, stride=stride, padding=1, padding_mode="replicate"),
                             nn.LeakyReLU(0.1, inplace=True))

    class VolumeNet(nn.Module):
        """Similarity volume ``(D, H, W)`` -> the same plus a learned residual (higher is better)."""

        def __init__(self) -> None:
            super().__init__()
            c1, c2 = WIDTHS
            self.enc = conv(1, c1)
            self.down = conv(c1, c2, (1, 2, 2))
            self.mid = nn.Sequential(conv(c2, c2), conv(c2, c2))
            self.up = nn.Conv3d(c2, c1, 1)
            self.dec = conv(c1, c1)
            self.head = nn.Conv3d(c1, 1, 3, padding=1, padding_mode="replicate")
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

        def forward(self, volume: torch.Tensor) -> torch.Tensor:
            x = volume[None, None]
            e = self.enc(x)
            u = self.up(self.mid(self.down(e)))
            # a fixed factor (not the size): rows map alike in a tile of any height and in the whole
            u = nn.functional.interpolate(u, scale_factor=(1.0, 2.0, 2.0), mode="trilinear", align_corners=False)
            return volume + self.head(self.dec(e + u[..., : e.shape[-2], : e.shape[-1]]))[0, 0]

    return VolumeNet()


def weights_identity(path: Path | None = None) -> dict[str, Any]:
    """File name and SHA-256 of the ``lite-reg`` weights that would be used (for cache keys)."""
    path = path or REGULARIZED_FILE
    if not path.is_file():
        return {"file": path.name, "sha256": None}
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16]}


def load_regularized(path: Path | None = None) -> tuple[Any, Any]:
    """The feature network and the regulariser of ``lite-reg`` (committed weights by default), in eval mode.

    Raises:
        ConfigError: When the file is missing or does not fit the networks.
    """
    import torch

    from photogrammetry.mvs.network import build_network

    path = path or REGULARIZED_FILE
    if not path.is_file():
        raise ConfigError(f"weights of lite-reg not found at {path}; train them with "
                          "`python scripts/train_mvs.py train --regularizer` or choose depth.method = \"lite\"")
    state = torch.load(path, map_location="cpu", weights_only=True)
    features, regularizer = build_network(), build_regularizer()
    try:
        features.load_state_dict(state["features"])
        regularizer.load_state_dict(state["regularizer"])
    except (RuntimeError, KeyError, TypeError) as err:
        raise ConfigError(f"{path} does not fit the lite-reg networks: {err!r}") from err
    return features.eval(), regularizer.eval()


class VolumeRegularizer:
    """Runs a regulariser on a device, over tiles of rows that fit a memory budget.

    Each tile is computed with :data:`HALO` rows of context on both sides and starts on an even
    row (the half-resolution grid stays the same), so the result does not depend on the tiling.
    Under ``fp16`` on CUDA the convolutions run in half precision; the volume comes back in its
    own dtype.
    """

    def __init__(self, model: Any, device: str, fp16: bool) -> None:
        self.model, self.device, self.fp16 = model.eval().to(device), device, fp16

    def __call__(self, volume: Any, max_elements: int) -> Any:
        """Regularised ``volume`` (D, H, W), tiles of at most about ``max_elements`` working floats."""
        import torch

        from photogrammetry.features.learned import autocast

        depth, height, width = volume.shape
        rows = max(2, int(max_elements // (ELEMENTS_PER_VOXEL * depth * width)) - 2 * HALO) // 2 * 2
        out = torch.empty_like(volume)
        with torch.inference_mode(), autocast(self.device, self.fp16):
            for r0 in range(0, height, rows):
                r1 = min(height, r0 + rows)
                h0, h1 = max(0, r0 - HALO), min(height, r1 + HALO)
                tile = self.model(volume[:, h0:h1].float())
                out[:, r0:r1] = tile[:, r0 - h0: r1 - h0].to(volume.dtype)
        return out
