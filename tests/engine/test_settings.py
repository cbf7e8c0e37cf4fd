"""Presets, config files and --set overrides are merged strictly and typed."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from photogrammetry.engine.settings import (CPU_PRESET, GPU_PRESET, PresetChoice, available_presets, choose_preset,
                                            parse_assignment, resolve_config)
from photogrammetry.errors import ConfigError
from photogrammetry.stages import PIPELINE
from tests.engine.toy_stages import TOY


def test_every_preset_loads_and_has_a_description() -> None:
    presets = available_presets()
    assert {"default", "fast", "high"} <= set(presets)
    for name, preset in presets.items():
        assert preset.description, name
        resolve_config(PIPELINE, preset=name)  # strict: raises on unknown keys


def _assert_set(config: object, options: Mapping[str, Any], where: str) -> None:
    for key, value in options.items():
        actual = getattr(config, key)
        if isinstance(value, Mapping):
            _assert_set(actual, value, f"{where}.{key}")
        else:
            assert actual == (tuple(value) if isinstance(value, list) else value), f"{where}.{key}"


def test_every_value_of_every_preset_reaches_the_config() -> None:
    defaults = resolve_config(PIPELINE, preset=None)
    for name, preset in available_presets().items():
        config = resolve_config(PIPELINE, preset=name)
        for stage, options in preset.overrides.items():
            _assert_set(config[stage], options, f"{name}: {stage}")
        if name != "default":
            assert config != defaults, f"preset {name} changes nothing"


def test_overrides_are_typed() -> None:
    config = resolve_config(TOY, preset=None, overrides=["square.power=3", "square.delay=1", "listing.suffix=.dat"])
    assert config["square"].power == 3
    assert config["square"].delay == 1.0 and isinstance(config["square"].delay, float)
    assert config["listing"].suffix == ".dat"


@pytest.mark.parametrize("assignment, message", [
    ("square.pwr=3", "unknown option square.pwr; valid options of square: power, delay"),
    ("sqaure.power=3", "unknown stage 'sqaure'; stages are: listing, square, total"),
    ("square.power=three", "'three' is not an integer"),
    ("square.power=2.5", "2.5 is not an integer"),
    ("square.power", "--set expects stage.option=value"),
])
def test_bad_overrides_name_the_problem(assignment: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        resolve_config(TOY, preset=None, overrides=[assignment])


def test_literal_options_list_the_choices() -> None:
    with pytest.raises(ConfigError, match="'auto', 'single', 'per_folder', 'per_image'"):
        resolve_config(PIPELINE, overrides=["ingest.camera_grouping=each"])


def test_config_file_sits_between_preset_and_set(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("[ingest]\nmax_image_size = 800\njpeg_quality = 90\n")
    config = resolve_config(PIPELINE, preset="fast", config_file=path, overrides=["ingest.jpeg_quality=80"])
    assert (config["ingest"].max_image_size, config["ingest"].jpeg_quality) == (800, 80)


def test_unknown_preset_lists_presets() -> None:
    with pytest.raises(ConfigError, match="unknown preset 'fastest'; choose auto or one of: .*fast"):
        resolve_config(PIPELINE, preset="fastest")


def test_value_parsing() -> None:
    assert parse_assignment("a.b=true") == ("a", "b", True)
    assert parse_assignment("a.b = [1, 2]") == ("a", "b", [1, 2])
    assert parse_assignment("a.b=hello world") == ("a", "b", "hello world")
    assert parse_assignment('a.b="3"') == ("a", "b", "3")


def test_config_validation_runs_on_override() -> None:
    with pytest.raises(ConfigError, match="max_image_size must be 0"):
        resolve_config(PIPELINE, overrides=["ingest.max_image_size=-5"])


def _flat(table: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in table.items():
        out.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key: value})
    return out


@pytest.mark.parametrize("name", sorted(available_presets()))
def test_presets_only_override_defaults(name: str) -> None:
    from photogrammetry.engine.options import leaves, lookup
    from photogrammetry.io.jsonio import to_jsonable

    specs = {spec.name: spec for spec in PIPELINE}
    for stage, table in available_presets()[name].overrides.items():
        default = specs[stage].config()
        assert {o.path for o in leaves(default)} >= set(_flat(table)), stage
        restated = [path for path, value in _flat(table).items() if to_jsonable(lookup(default, path)) == value]
        assert not restated, f"{name}: [{stage}] restates the defaults of {restated}"


def test_auto_preset_is_cpu_without_a_gpu_and_default_with_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import photogrammetry.engine.settings as settings

    cpu = choose_preset("auto", device="cpu")
    assert cpu.name == CPU_PRESET == "cpu"
    assert "no GPU" in cpu.reason and "--preset default for ALIKED + LightGlue" in cpu.reason and "SIFT" in cpu.reason
    monkeypatch.setattr(settings, "resolve_device", lambda device: "cuda")
    gpu = choose_preset("auto", device="auto")
    assert gpu.name == GPU_PRESET == "default" and "GPU found" in gpu.reason
    monkeypatch.setattr(settings, "resolve_device", lambda device: "cpu")
    assert choose_preset("auto", device="auto").name == "cpu"


def test_a_named_preset_or_a_chosen_extractor_overrides_the_device(tmp_path: Path) -> None:
    assert choose_preset("default", device="cpu") == PresetChoice("default")
    assert choose_preset("xfeat", device="cpu") == PresetChoice("xfeat")
    chosen = choose_preset("auto", device="cpu", overrides=["features.extractor=aliked-n16"])
    assert chosen.name == "default" and "--set features.extractor" in chosen.reason
    assert choose_preset("auto", device="cpu", overrides=["features.max_keypoints=512"]).name == "cpu"
    path = tmp_path / "mine.toml"
    path.write_text('[features]\nextractor = "sift"\n')
    assert choose_preset("auto", device="cpu", config_file=path).name == "default"
    path.write_text("features = 3\n")  # not a table: left to resolve_config's message
    assert choose_preset("auto", device="cpu", config_file=path).name == "cpu"
    with pytest.raises(ConfigError, match=r"\[features\] must be a table"):
        resolve_config(PIPELINE, preset="cpu", config_file=path)


def test_auto_resolves_to_concrete_settings_and_keys() -> None:
    from photogrammetry.engine.plan import plan_keys

    cpu = resolve_config(PIPELINE, preset=choose_preset("auto", device="cpu").name)
    assert cpu["features"].extractor == "sift" and cpu["matches"].matcher == "auto"
    assert cpu["sfm"].sift.assist is False
    default = resolve_config(PIPELINE, preset="default")
    photos = Path(__file__).parent
    keys_cpu, keys_default = plan_keys(PIPELINE, cpu, photos), plan_keys(PIPELINE, default, photos)
    assert keys_cpu["ingest"] == keys_default["ingest"]
    assert keys_cpu["features"] != keys_default["features"]
    assert keys_cpu == plan_keys(PIPELINE, resolve_config(PIPELINE, preset="cpu"), photos)
