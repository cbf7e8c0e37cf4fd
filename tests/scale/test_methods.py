"""The registry of scale methods: the scale stage's choices, the options each method needs, its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from photogrammetry.engine.options import choices, leaves
from photogrammetry.engine.settings import resolve_config
from photogrammetry.errors import ConfigError, InputError
from photogrammetry.scale import SCALE_METHODS, scale_method
from photogrammetry.scale.markers import TargetSpec
from photogrammetry.scale.methods import read_points
from photogrammetry.stages import PIPELINE
from photogrammetry.stages.scale import ScaleConfig


def test_the_stage_offers_exactly_the_registry() -> None:
    option = next(o for o in leaves(ScaleConfig()) if o.path == "method")
    assert choices(option.type, option.field) == tuple(SCALE_METHODS)
    assert set(SCALE_METHODS) == {"none", "platform", "radius", "marker", "points"}
    assert [name for name, spec in SCALE_METHODS.items() if spec.estimate is None] == ["none"]


def test_an_unknown_method_names_the_option_and_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"scale\.method: unknown 'ruler'; choose one of: none, platform, radius, "
                                          "marker, points"):
        resolve_config(PIPELINE, preset=None, overrides=["scale.method=ruler"])


@pytest.mark.parametrize(("method", "missing"), [("none", []), ("platform", ["radius_mm"]), ("radius", ["radius_mm"]),
                                                 ("marker", ["marker.marker_mm"]),
                                                 ("points", ["distance_mm", "points_file"])])
def test_each_method_names_the_options_it_needs(method: str, missing: list[str]) -> None:
    assert scale_method(method).missing(ScaleConfig()) == missing
    if missing:
        with pytest.raises(ConfigError, match=rf"scale\.method={method} needs scale\.{missing[0]}"):
            resolve_config(PIPELINE, preset=None, overrides=[f"scale.method={method}"])


def test_set_options_satisfy_a_method(tmp_path: Path) -> None:
    config = ScaleConfig(method="points", distance_mm=100.0, points_file=str(tmp_path / "points.txt"))
    assert scale_method("points").missing(config) == []
    assert scale_method("marker").missing(ScaleConfig(method="marker", marker=TargetSpec(marker_mm=40.0))) == []
    with pytest.raises(InputError, match="cannot read points file"):
        read_points(config.points_file)
