"""The lite network, its committed weights, and the training script on a tiny render."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from photogrammetry.errors import ConfigError
from photogrammetry.mvs.features import LiteFeatures
from photogrammetry.mvs.network import CHANNELS, WEIGHTS_FILE, build_network, load_network, weights_identity

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_mvs.py"


def train_script():
    spec = importlib.util.spec_from_file_location("train_mvs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_mvs"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_network_maps_images_to_descriptors_of_the_same_size():
    net = build_network().eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, 36, 52))
    assert out.shape == (2, CHANNELS, 36, 52)
    assert sum(p.numel() for p in net.parameters()) < 200_000
    assert 0 < net.temperature < 1


def test_missing_or_foreign_weights_are_reported(tmp_path):
    with pytest.raises(ConfigError, match="train_mvs"):
        load_network(tmp_path / "absent.pt")
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "foreign.pt")
    with pytest.raises(ConfigError, match="does not fit"):
        load_network(tmp_path / "foreign.pt")
    assert weights_identity(tmp_path / "absent.pt")["sha256"] is None


@pytest.mark.skipif(not WEIGHTS_FILE.is_file(), reason="lite weights not trained yet")
def test_committed_weights_are_small_and_give_unit_descriptors():
    assert WEIGHTS_FILE.stat().st_size < 20 * 2**20
    features = LiteFeatures(None, "cpu", False)
    out = features(torch.rand(1, 3, 30, 41))
    assert out.shape == (1, CHANNELS, 30, 41)
    assert torch.allclose(out.norm(dim=1), torch.ones(1, 30, 41), atol=1e-4)
    assert 0 < features.temperature < 1


def test_training_runs_reproducibly_on_a_tiny_render(tmp_path):
    script = train_script()
    script.render_dataset(tmp_path / "data", first_seed=1000, count=1, views=3, size=(160, 120))
    scene = dict(np.load(next((tmp_path / "data").glob("*.npz"))))
    assert scene["images"].shape == (3, 120, 160, 3) and scene["depths"].max() > 0
    samples = [script.make_sample(scene, np.random.default_rng(5)) for _ in range(2)]
    if samples[0] is not None:
        assert np.array_equal(samples[0].start, samples[1].start)
    script.train(tmp_path / "data", tmp_path / "w.pt", steps=2, seed=0, device="cpu", lr=1e-3)
    net = load_network(tmp_path / "w.pt")
    assert net(torch.rand(1, 3, 16, 16)).shape == (1, CHANNELS, 16, 16)
