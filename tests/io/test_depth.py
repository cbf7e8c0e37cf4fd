"""The depth and fusion artifact formats (:mod:`photogrammetry.io.depth`, :mod:`photogrammetry.io.fusion`):
maps and summaries round-trip, with their units."""

from __future__ import annotations

import numpy as np

from photogrammetry.evaluation.depth_metrics import find_depth_maps, read_depth_map
from photogrammetry.io.depth import DepthSummary, DepthView, load_array, load_depth, save_depth_summary, save_maps
from photogrammetry.io.fusion import FusionSummary, load_fusion, save_fusion_summary
from photogrammetry.io.jsonio import write_json


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
    save_depth_summary(tmp_path, DepthSummary(method="ncc", learned=False, views=(view,), units="metres"))
    loaded = load_depth(tmp_path)
    assert loaded.summary.views == (view,) and loaded.depth_path("a.jpg") == tmp_path / "depth" / "a.jpg.npy"
    assert loaded.summary.units == "metres"
    save_fusion_summary(tmp_path, FusionSummary(method="points", points=3, voxel_size=0.1, units="sfm"))
    fused = load_fusion(tmp_path)
    assert fused.summary.points == 3 and fused.mesh is None and fused.units == "sfm"


def test_summaries_written_before_units_were_recorded_have_none(tmp_path):
    write_json(tmp_path / "depth.json", {"method": "ncc", "learned": False, "views": []})
    write_json(tmp_path / "fusion.json", {"method": "points", "points": 3, "voxel_size": 0.1})
    assert load_depth(tmp_path).summary.units is None and load_fusion(tmp_path).units is None
