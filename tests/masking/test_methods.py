"""The registry of mask methods: the masks stage's choices, its errors and a method through it."""

from __future__ import annotations

from pathlib import Path

import pytest

from photogrammetry.engine.options import choices, leaves
from photogrammetry.engine.settings import resolve_config
from photogrammetry.errors import ConfigError
from photogrammetry.io.ingest import IngestResult
from photogrammetry.masking import MASK_METHODS, MaskRequest, mask_method
from photogrammetry.stages import PIPELINE
from photogrammetry.stages.masks import MasksConfig


class _Record:
    """The field of an ingest record the ``none`` method reads."""

    def __init__(self, name: str) -> None:
        self.name = name


def test_the_stage_offers_exactly_the_registry() -> None:
    option = next(o for o in leaves(MasksConfig()) if o.path == "method")
    assert choices(option.type, option.field) == tuple(MASK_METHODS) == ("none", "ingest", "folder", "background")
    assert all(spec.summary and spec.name == name for name, spec in MASK_METHODS.items())


@pytest.mark.parametrize("name", ["magic", "Background", ""])
def test_an_unknown_method_names_the_option_and_the_choices(name: str) -> None:
    with pytest.raises(ConfigError, match=rf"masks\.method: unknown '{name}'; choose one of: none, ingest, folder, "
                                          "background"):
        resolve_config(PIPELINE, preset=None, overrides=[f"masks.method='{name}'"])


def test_only_the_folder_method_needs_a_folder() -> None:
    assert [name for name, spec in MASK_METHODS.items() if spec.needs_folder] == ["folder"]
    with pytest.raises(ConfigError, match="needs masks.folder"):
        MasksConfig(method="folder")


def test_a_method_runs_through_the_registry(tmp_path: Path) -> None:
    ingest = IngestResult(root=tmp_path, images=(_Record("a.png"), _Record("b.png")), cameras=(), report=None)
    request = MaskRequest(ingest=ingest, out=tmp_path, settings=MasksConfig(method="none"))
    assert mask_method("none").make(request) == {"a.png": None, "b.png": None}
