"""The MVS method registry and options, and the depth and fusion stage configs built on them."""

from __future__ import annotations

import pytest

from photogrammetry.engine.settings import resolve_config
from photogrammetry.errors import ConfigError
from photogrammetry.mvs.cascade import CascadeOptions
from photogrammetry.mvs.methods import METHODS, method_spec
from photogrammetry.mvs.options import MVSOptions
from photogrammetry.stages import PIPELINE
from photogrammetry.stages.depth import DepthConfig
from photogrammetry.stages.fusion import FusionConfig


def test_registry_and_configs_reject_what_they_do_not_know():
    assert {"lite", "ncc", "disk", "aliked"} <= set(METHODS)
    assert not METHODS["ncc"].learned and METHODS["lite"].learned
    with pytest.raises(ConfigError, match="choose one of"):
        method_spec("patchmatch")
    with pytest.raises(ConfigError):
        DepthConfig(method="patchmatch")
    with pytest.raises(ConfigError):
        CascadeOptions(hypotheses=(48, 1))
    with pytest.raises(ConfigError):
        FusionConfig(voxel_factor=0)


def test_stage_config_is_the_mvs_options_nested_once():
    config = resolve_config(PIPELINE, overrides=["depth.method=ncc", "depth.cascade.hypotheses=[16, 4]",
                                                 "depth.selection.num_sources=3",
                                                 "depth.filtering.max_relative_depth=0.02"])["depth"]
    assert isinstance(config, MVSOptions) and config.method == "ncc" and config.weights == ""
    assert config.cascade.hypotheses == (16, 4) and config.selection.num_sources == 3
    assert config.filtering.max_relative_depth == 0.02 and config.cascade.sgm.enabled
