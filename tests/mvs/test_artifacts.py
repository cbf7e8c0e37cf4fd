"""The depth and fusion artifact formats, the method registry and the stage configs."""

from __future__ import annotations

import numpy as np
import pytest

from photogrammetry.engine.settings import resolve_config
from photogrammetry.errors import ConfigError
from photogrammetry.evaluation.depth_metrics import find_depth_maps, read_depth_map
from photogrammetry.io.depth import (DepthSummary, DepthView, FusionSummary, load_array, load_depth, load_fusion,
                                     save_depth_summary, save_fusion_summary, save_maps)
from photogrammetry.mvs.cascade import CascadeOptions
from photogrammetry.mvs.methods import METHODS, method_spec
from photogrammetry.mvs.options import MVSOptions
from photogrammetry.stages import PIPELINE
from photogrammetry.stages.depth import DepthConfig
from photogrammetry.stages.fusion import FusionConfig


def test_maps_round_trip_and_evaluation_finds_them(tmp_path):
    depth = np.random.default_rng(0).uniform(1, 2, (6, 8)).astype(np.float32)
    normals = np.zeros((6, 8, 3), np.float32)
    normals[..., 2] = -1
    save_maps(tmp_path, "sub/a.jpg", depth, normals, np.full((6, 8), 0.5, np.float32))
    assert load_array(tmp_path / "normals" / "sub/a.jpg.npy").dtype == np.float16
    found = find_depth_maps(tmp_path / "depth", ["sub/a.jpg", "b.jpg"])
    assert list(found) == ["sub/a.jpg"]
    assert np.array_equal(read_depth_map(found["sub/a.jpg"]), depth)


def test_summaries_round_trip(tmp_path):
    view = DepthView(name="a.jpg", image="/x/a.jpg", width=8, height=6, K=((1.0, 0.0, 4.0), (0.0, 1.0, 3.0),
                     (0.0, 0.0, 1.0)), R=((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)), t=(0.0, 0.0, 1.0),
                     depth_range=(0.5, 2.0), sources=("b.jpg",), kept=0.25)
    save_depth_summary(tmp_path, DepthSummary(method="ncc", learned=False, views=(view,)))
    loaded = load_depth(tmp_path)
    assert loaded.summary.views == (view,) and loaded.depth_path("a.jpg") == tmp_path / "depth" / "a.jpg.npy"
    save_fusion_summary(tmp_path, FusionSummary(method="points", points=3, voxel_size=0.1))
    assert load_fusion(tmp_path).summary.points == 3 and load_fusion(tmp_path).mesh is None


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
