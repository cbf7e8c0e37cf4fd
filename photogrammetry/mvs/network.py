"""``lite``: a compact feature network for plane-sweep matching, trained on our synthetic renders.

A three-scale U-Net (full, 1/2 and 1/4 resolution; 16, 32 and 48 channels; about 0.1 M
parameters) maps an image ``(B, 3, H, W)`` in ``[0, 1]``, normalised per image and channel, to
``(B, 16, H, W)`` descriptors that :mod:`photogrammetry.mvs.cost` compares with ``dot``. It is
trained by ``scripts/train_mvs.py`` through the very cost code the sweep uses, with a
cross-entropy loss on the ground-truth depth hypothesis; the learned softmax temperature is
stored with the weights. The committed weights live in ``photogrammetry/mvs/weights/``.
torch is imported inside the functions.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

from photogrammetry.errors import ConfigError

WEIGHTS_FILE = Path(__file__).with_name("weights") / "lite.pt"
"""The committed weights of the ``lite`` network."""

CHANNELS = 16
"""Descriptor length."""

WIDTHS = (16, 32, 48)
"""Channels at full, 1/2 and 1/4 resolution."""


def build_network() -> Any:
    """A freshly initialised network (``torch.nn.Module``)."""
    import torch
    from torch import nn

    def conv(cin: int, cout: int, stride: int = 1) -> nn.Module:
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, padding_mode="replicate"),
                             nn.LeakyReLU(0.1, inplace=True))

    class LiteNet(nn.Module):
        """Images ``(B, 3, H, W)`` in [0, 1] -> descriptors ``(B, 16, H, W)`` (not normalised)."""

        multiple = 4
        """Input sizes are padded to a multiple of this."""

        def __init__(self) -> None:
            super().__init__()
            c1, c2, c3 = WIDTHS
            self.enc1 = nn.Sequential(conv(3, c1), conv(c1, c1))
            self.enc2 = nn.Sequential(conv(c1, c2, 2), conv(c2, c2))
            self.enc3 = nn.Sequential(conv(c2, c3, 2), conv(c3, c3), conv(c3, c3))
            self.dec2 = conv(c3 + c2, c2)
            self.dec1 = conv(c2 + c1, c1)
            self.head = nn.Conv2d(c1, CHANNELS, 1)
            self.log_temperature = nn.Parameter(torch.tensor(math.log(0.05)))

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            mean = images.mean(dim=(2, 3), keepdim=True)
            std = images.std(dim=(2, 3), keepdim=True).clamp(min=1e-3)
            x1 = self.enc1((images - mean) / std)
            x2 = self.enc2(x1)
            x3 = self.enc3(x2)
            up = nn.functional.interpolate(x3, size=x2.shape[-2:], mode="bilinear", align_corners=False)
            y2 = self.dec2(torch.cat([up, x2], dim=1))
            up = nn.functional.interpolate(y2, size=x1.shape[-2:], mode="bilinear", align_corners=False)
            return self.head(self.dec1(torch.cat([up, x1], dim=1)))

        @property
        def temperature(self) -> float:
            """Softmax temperature of the similarities, learned with the weights."""
            return float(self.log_temperature.detach().exp())

    return LiteNet()


def weights_identity(path: Path | None = None) -> dict[str, Any]:
    """File name and SHA-256 of the weights that would be used (for cache keys)."""
    path = path or WEIGHTS_FILE
    if not path.is_file():
        return {"file": path.name, "sha256": None}
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16]}


def load_network(path: Path | None = None) -> Any:
    """The network with its trained weights (the committed ones by default), in eval mode.

    Raises:
        ConfigError: When the weight file is missing or does not fit the network.
    """
    import torch

    path = path or WEIGHTS_FILE
    if not path.is_file():
        raise ConfigError(f"weights of the lite MVS network not found at {path}; train them with "
                          "`python scripts/train_mvs.py` or choose depth.method = \"ncc\"")
    model = build_network()
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ConfigError(f"{path} does not fit the lite MVS network: {err}") from err
    return model.eval()
