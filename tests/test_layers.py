"""The package's layers point down only, read from the source of every module.

From the top: the front (``photogrammetry/__init__.py``, ``api``, ``cli``, ``__main__``,
``turntable``), the stages (glue), the engine, and the libraries (every other sub-package, plus
``errors`` and ``_version``). A library never imports the stages, the engine or the front; the
engine never imports the stages or the front; no modules import each other in a cycle, and no
library packages either. Imports are read with ``ast``, so those inside functions and under
``TYPE_CHECKING`` count too.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import photogrammetry

PACKAGE = Path(photogrammetry.__file__).resolve().parent
NAME = PACKAGE.name
FRONT = {NAME, f"{NAME}.api", f"{NAME}.cli", f"{NAME}.__main__", f"{NAME}.turntable"}

KNOWN_UPWARD: set[tuple[str, str]] = set()
"""(importer, imported) pairs tolerated for now; delete each once it is gone."""


def _module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


MODULES = _module_names()


def _imports(source: str, name: str, *, is_package: bool = False) -> Iterator[tuple[str, int]]:
    """(module of the package, line) for each import in the source of module ``name``;
    ``from p import m`` names ``p.m`` when that is a module, else ``p``."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            if target == NAME or target.startswith(f"{NAME}."):
                yield target, node.lineno


EDGES = {(name, target): line for name, path in MODULES.items()
         for target, line in _imports(path.read_text(encoding="utf-8"), name, is_package=path.name == "__init__.py")
         if target != name}
"""(importer, imported) -> line of the first such import."""


def _layer(module: str) -> str:
    """``front``, ``stages``, ``engine`` or the library package (``errors`` and ``_version`` are libraries)."""
    return "front" if module in FRONT else module.split(".")[1]


def _is_library(module: str) -> bool:
    return _layer(module) not in {"front", "stages", "engine"}


def _arrows(importers: Callable[[str], bool], forbidden: set[str]) -> list[str]:
    """Imports by modules that ``importers`` accepts of modules in the ``forbidden`` layers."""
    return [f"{MODULES[importer].relative_to(PACKAGE.parent)}:{line} imports {imported}"
            for (importer, imported), line in sorted(EDGES.items())
            if importers(importer) and _layer(imported) in forbidden and (importer, imported) not in KNOWN_UPWARD]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _graph(key) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for importer, imported in EDGES:
        if (importer, imported) not in KNOWN_UPWARD and key(importer) != key(imported):
            graph.setdefault(key(importer), set()).add(key(imported))
    return graph


def test_the_reader_sees_imports_of_every_kind():
    source = "\n".join([
        "from typing import TYPE_CHECKING",
        f"import {NAME}.io.mesh as mesh_io",
        f"from {NAME} import errors, run",
        "from .fill import fill_holes",
        "from ..engine import stage",
        "if TYPE_CHECKING:",
        f"    from {NAME}.stages.mesh import MeshConfig",
        "def f():",
        f"    from {NAME}.cli import main",
    ])
    found = dict(_imports(source, f"{NAME}.texturing.example"))
    assert found == {f"{NAME}.io.mesh": 2, f"{NAME}.errors": 3, f"{NAME}": 3, f"{NAME}.texturing.fill": 4,
                     f"{NAME}.engine.stage": 5, f"{NAME}.stages.mesh": 7, f"{NAME}.cli": 9}
    assert dict(_imports("from . import atlas", f"{NAME}.texturing", is_package=True)) == {
        f"{NAME}.texturing.atlas": 1}


def test_libraries_never_import_stages_engine_or_front():
    assert _arrows(_is_library, {"stages", "engine", "front"}) == []


def test_engine_never_imports_stages_or_front():
    assert _arrows(lambda m: _layer(m) == "engine", {"stages", "front"}) == []


def test_stages_never_import_the_front():
    assert _arrows(lambda m: _layer(m) == "stages", {"front"}) == []


def test_no_modules_import_each_other_in_a_cycle():
    assert _cycles(_graph(lambda m: m)) == []


def test_no_library_packages_import_each_other_in_a_cycle():
    libraries = {_layer(m) for m in MODULES if _is_library(m)}
    graph = {package: imported for package, imported in _graph(_layer).items() if package in libraries}
    assert _cycles(graph) == []


@pytest.mark.parametrize(("importer", "imported"), sorted(KNOWN_UPWARD))
def test_known_exceptions_still_exist(importer, imported):
    """An exception that no longer holds is deleted from ``KNOWN_UPWARD``, so none can come back unseen."""
    assert (importer, imported) in EDGES, f"{importer} no longer imports {imported}: delete it from KNOWN_UPWARD"


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
