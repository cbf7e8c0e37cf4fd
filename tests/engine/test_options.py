"""Stage configs that nest option groups: loading, typing, cache keys, documentation."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import pytest

from photogrammetry.engine.options import field_docs, leaves
from photogrammetry.engine.settings import apply_overrides, resolve_config
from photogrammetry.engine.stage import StageSpec, output_affecting_settings
from photogrammetry.engine.store import derive_key
from photogrammetry.errors import ConfigError
from photogrammetry.io.jsonio import to_jsonable


@dataclass(frozen=True, kw_only=True)
class InnerOptions:
    """The innermost group."""

    penalty: float = 0.5
    """A penalty."""
    paths: int = 4
    """Paths: 4 or 8."""

    def __post_init__(self) -> None:
        if self.paths not in (4, 8):
            raise ValueError(f"paths must be 4 or 8, got {self.paths}")


@dataclass(frozen=True, kw_only=True)
class SearchOptions:
    """A library's options."""

    levels: tuple[int, ...] = (32, 8)
    """Levels, coarse to fine."""
    mode: Literal["fast", "exact"] = "fast"
    """How to search."""
    budget_mb: int = field(default=1024, metadata={"cache": False})
    """Working memory (does not change results)."""
    inner: InnerOptions = field(default_factory=InnerOptions)
    """The inner part."""


@dataclass(frozen=True, kw_only=True)
class NestedConfig:
    """A stage config nesting a library's options."""

    size: int = 100
    """A top-level option."""
    search: SearchOptions = field(default_factory=SearchOptions)
    """The search's options."""


@dataclass(frozen=True, kw_only=True)
class FormerlyFlatConfig(NestedConfig):
    """The same options, whose key must stay the one they had as flat fields."""

    KEY_NAMES: ClassVar[dict[str, str]] = {"size": "size", "search.levels": "levels", "search.inner.penalty": "p1",
                                           "search.mode": "search"}  # a flat name that is now a group's


STAGES = (StageSpec(name="nested", version=1, config=NestedConfig, run=lambda *a, **k: {}, load=lambda f: None),
          StageSpec(name="flat", version=1, config=FormerlyFlatConfig, run=lambda *a, **k: {}, load=lambda f: None))


def test_set_reaches_nested_options_with_their_types() -> None:
    config = resolve_config(STAGES, preset=None, overrides=[
        "nested.search.levels=[64, 16, 8]", "nested.search.inner.penalty=1", "nested.size=50"])["nested"]
    assert config.search.levels == (64, 16, 8)
    assert config.search.inner.penalty == 1.0 and isinstance(config.search.inner.penalty, float)
    assert config.size == 50 and config.search.mode == "fast"


def test_toml_sub_tables_and_dotted_keys_are_the_same(tmp_path: Path) -> None:
    tables, dotted = tmp_path / "tables.toml", tmp_path / "dotted.toml"
    tables.write_text("[nested.search]\nmode = 'exact'\n[nested.search.inner]\npaths = 8\n")
    dotted.write_text("[nested]\nsearch.mode = 'exact'\nsearch.inner.paths = 8\n")
    one = resolve_config(STAGES, preset=None, config_file=tables)["nested"]
    assert one == resolve_config(STAGES, preset=None, config_file=dotted)["nested"]
    assert (one.search.mode, one.search.inner.paths, one.search.inner.penalty) == ("exact", 8, 0.5)


@pytest.mark.parametrize("assignment, message", [
    ("nested.search.levls=[8]", "unknown option nested.search.levls; valid options of nested.search: "
                                "levels, mode, budget_mb, inner.*"),
    ("nested.serch.levels=[8]", "unknown option nested.serch; valid options of nested: size, search.*"),
    ("nested.search.inner.paths=6", "nested.search.inner: paths must be 4 or 8, got 6"),
    ("nested.search.mode=slow", "'slow' is not one of 'fast', 'exact'"),
    ("nested.search.levels=[8.5]", "8.5 is not an integer"),
    ("nested.search=3", "nested.search is a group of options; give a table"),
    ("nested.size.x=3", "unknown option nested.size.x"),
    ("flat.levels=[8]", "flat.levels is now flat.search.levels"),
])
def test_bad_nested_overrides_name_the_problem(assignment: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.").replace("*", r"\*")):
        resolve_config(STAGES, preset=None, overrides=[assignment])


def test_nested_options_enter_the_key_under_their_path() -> None:
    settings = output_affecting_settings(NestedConfig())
    assert settings == {"size": 100, "search.levels": (32, 8), "search.mode": "fast",
                        "search.inner.penalty": 0.5, "search.inner.paths": 4}  # not budget_mb
    key = derive_key(STAGES[0], NestedConfig(), {})
    changed = resolve_config(STAGES, preset=None, overrides=["nested.search.inner.paths=8"])["nested"]
    assert derive_key(STAGES[0], changed, {}) != key
    roomy = resolve_config(STAGES, preset=None, overrides=["nested.search.budget_mb=8192"])["nested"]
    assert derive_key(STAGES[0], roomy, {}) == key


def test_key_names_keep_the_flat_layout_and_options_added_since_enter_when_changed() -> None:
    assert output_affecting_settings(FormerlyFlatConfig()) == {"size": 100, "levels": (32, 8), "p1": 0.5,
                                                               "search": "fast"}
    eight = resolve_config(STAGES, preset=None, overrides=["flat.search.inner.paths=8"])["flat"]
    assert output_affecting_settings(eight) == {"size": 100, "levels": (32, 8), "p1": 0.5, "search": "fast",
                                                "search.inner.paths": 8}


def test_run_records_with_flat_names_are_read() -> None:
    old = {"size": 7, "levels": [16], "p1": 0.25, "search": "exact"}
    config = apply_overrides(STAGES[1], FormerlyFlatConfig(), old, "run.json", legacy=True)
    assert (config.size, config.search.levels, config.search.inner.penalty, config.search.mode) == (
        7, (16,), 0.25, "exact")
    new = to_jsonable(config)  # as run.json records it now
    assert apply_overrides(STAGES[1], FormerlyFlatConfig(), new, "run.json", legacy=True) == config


def test_every_leaf_has_its_path_default_and_docstring() -> None:
    options = {o.path: o for o in leaves(FormerlyFlatConfig())}
    assert list(options) == ["size", "search.levels", "search.mode", "search.budget_mb", "search.inner.penalty",
                             "search.inner.paths"]
    assert options["size"].doc == "A top-level option." and options["search.inner.paths"].doc == "Paths: 4 or 8."
    assert not options["search.budget_mb"].cache and options["search.mode"].cache
    assert field_docs(FormerlyFlatConfig)["search"] == "The search's options."


def test_settings_recorded_before_nesting_keep_their_keys() -> None:
    """``flat_settings.json``: per stage, the settings of the turntable and high presets as ``run.json``
    recorded them before the options were nested, with the settings their keys hashed (written by that
    version; sfm has a third record, with a calibration and a changed option of every group).
    ``status`` reads old records through ``KEY_NAMES``; the keys must come out the same."""
    from photogrammetry.stages import PIPELINE

    recorded = json.loads((Path(__file__).parent / "flat_settings.json").read_text())
    for spec in PIPELINE:
        for record in recorded.get(spec.name, []):
            config = apply_overrides(spec, spec.config(), record["settings"], "run.json", legacy=True)
            assert to_jsonable(output_affecting_settings(config)) == record["key_settings"], spec.name
