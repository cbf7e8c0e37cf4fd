"""Option trees: stage configs that nest the option dataclasses of the libraries.

A stage config is a frozen dataclass. A field whose type is itself a dataclass is a *group*: the
options of one library part, declared once beside the code they configure (e.g. ``depth.cascade``
is :class:`photogrammetry.mvs.options.CascadeOptions`). An option is addressed by its dotted path
below the stage: ``cascade.hypotheses``, ``cascade.sgm.p1``. Presets, config files, ``--set``,
cache keys and ``photogrammetry options`` all walk the same tree with the helpers here.

Field metadata the engine reads:

- ``{"cache": False}``: the option (or a whole group) changes how a stage runs, not what it
  writes, and stays out of the cache key;
- ``{"choices": names}``: the valid values of a ``str`` option that a registry defines (shown by
  ``photogrammetry options``; the config checks the value itself);
- ``{"path": "file" | "dir" | "any"}``: a ``str`` option naming a file or folder; when set, it
  must exist and be readable before the first stage runs, and ``{"check": function}`` may add a
  test of its content (``function(path)`` raises ``ValueError`` with the reason); see
  :func:`photogrammetry.engine.preflight.check_file_options`.

The documentation of an option is the string literal under its field (read from the source).
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import functools
import inspect
import textwrap
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from photogrammetry.errors import ConfigError


def is_group(tp: Any) -> bool:
    """Whether the annotation ``tp`` is a nested options dataclass."""
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of a dataclass's fields."""
    return typing.get_type_hints(cls)


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of ``cls`` (and of the dataclasses it derives from)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


def choices(tp: Any, field: dataclasses.Field) -> tuple[Any, ...]:
    """The values an option may take: a ``Literal``'s, an enum's or a registry's; ``()`` if any."""
    if "choices" in field.metadata:
        return tuple(field.metadata["choices"])
    if typing.get_origin(tp) is typing.Literal:
        return typing.get_args(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tuple(m.value for m in tp)
    return ()


@dataclass(frozen=True)
class Option:
    """One leaf of an option tree, with its value in the config it was read from."""

    path: str
    """Dotted path below the stage, e.g. ``cascade.hypotheses``."""
    type: Any
    """The field's annotation."""
    value: Any
    """Its value in the config walked."""
    field: dataclasses.Field
    """The dataclass field."""
    owner: type
    """The dataclass that declares the field."""
    cache: bool
    """Whether it enters the cache key (false when it or a group above it says ``cache: False``)."""

    @property
    def doc(self) -> str:
        """The docstring under the field."""
        return field_docs(self.owner).get(self.field.name, "")


def leaves(config: Any, prefix: str = "", cache: bool = True) -> Iterator[Option]:
    """Every option of ``config`` (an instance), nested groups walked depth first in field order."""
    hints = type_hints(type(config))
    for f in dataclasses.fields(config):
        value, tp = getattr(config, f.name), hints[f.name]
        path, cached = prefix + f.name, cache and f.metadata.get("cache", True)
        if is_group(tp):
            yield from leaves(value, path + ".", cached)
        else:
            yield Option(path=path, type=tp, value=value, field=f, owner=type(config), cache=cached)


def lookup(config: Any, path: str) -> Any:
    """The value at dotted ``path`` of ``config``."""
    return functools.reduce(getattr, path.split("."), config)


def key_names(cls: type) -> Mapping[str, str] | None:
    """A config class's ``KEY_NAMES``: see :func:`photogrammetry.engine.stage.output_affecting_settings`."""
    return getattr(cls, "KEY_NAMES", None)


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1, "a.c": 2}`` -> ``{"a": {"b": 1, "c": 2}}`` (keys without dots stay)."""
    tree: dict[str, Any] = {}
    for path, value in flat.items():
        *groups, name = path.split(".")
        node = tree
        for group in groups:
            node = node.setdefault(group, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{path}: {group} is an option, not a group of options")
        node[name] = value
    return tree
