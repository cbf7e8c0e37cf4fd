"""Stage settings: presets, config files and ``--set`` overrides, merged strictly.

A preset is a TOML file in ``pipelines/`` with a ``description`` line and one table per
stage; it only overrides defaults. Unknown stages or keys are errors that list the valid ones.
``auto``, the default, is no file: :func:`choose_preset` makes it ``turntable`` where the photos'
background stands still, else ``default`` (ALIKED + LightGlue) where torch sees a GPU and ``cpu``
(SIFT + mutual nearest neighbours) where it does not, before anything is keyed, so a run records
and keys the settings it resolved to.

Options of nested groups (see :mod:`photogrammetry.engine.options`) have one spelling, their
dotted path below the stage, everywhere: ``--set depth.cascade.hypotheses=[64,16,8]``, and in
TOML a sub-table ``[depth.cascade]`` or a dotted key ``cascade.hypotheses = [64, 16, 8]`` inside
``[depth]`` (TOML reads both as the same nested table). There are no flat aliases: a setting has
one name, the one ``photogrammetry options`` prints. A name a setting had before it was nested is
an error that gives the new one (run records of earlier versions are translated).
"""

from __future__ import annotations

import dataclasses
import enum
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photogrammetry.device import resolve_device
from photogrammetry.engine.options import is_group, key_names, type_hints, unflatten
from photogrammetry.engine.stage import StageSpec
from photogrammetry.errors import ConfigError

if TYPE_CHECKING:
    from photogrammetry.masking.static import StillCamera

PipelineConfig = Mapping[str, Any]
"""Stage name -> that stage's frozen config dataclass instance."""


@dataclass(frozen=True)
class Preset:
    """A named set of overrides from ``pipelines/<name>.toml``."""

    name: str
    """File stem, as given to ``--preset``."""
    description: str
    """One line shown by ``--help``."""
    overrides: Mapping[str, Mapping[str, Any]]
    """Stage name -> option -> value."""


def presets_dir() -> Path:
    """The folder of preset files: inside the installed package, or ``pipelines/`` of a checkout."""
    here = Path(__file__).resolve().parents[1]
    for candidate in (here / "pipelines", here.parent / "pipelines"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"no preset folder found next to {here}; reinstall the package")


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning syntax errors into a message that names the file."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read settings file {path}: {e}") from None


def available_presets() -> dict[str, Preset]:
    """All presets, by name."""
    presets = {}
    for path in sorted(presets_dir().glob("*.toml")):
        data = read_toml(path)
        description = str(data.pop("description", "")).strip()
        presets[path.stem] = Preset(name=path.stem, description=description, overrides=data)
    return presets


def load_preset(name: str) -> Preset:
    """The preset called ``name``, or an error listing the presets there are."""
    presets = available_presets()
    if name not in presets:
        raise ConfigError(f"unknown preset {name!r}; choose {AUTO_PRESET} or one of: {', '.join(presets)}")
    return presets[name]


AUTO_PRESET = "auto"
"""The preset name that :func:`choose_preset` resolves by the device."""
GPU_PRESET = "default"
"""What ``auto`` is on a GPU, or where the features were chosen explicitly: the most accurate."""
CPU_PRESET = "cpu"
"""What ``auto`` is without a GPU: the fastest preset that keeps COLMAP's accuracy on a CPU (docs/benchmarks.md)."""
STILL_PRESET = "turntable"
"""What ``auto`` is where the camera stood still in front of a textured background (a turntable)."""


@dataclass(frozen=True)
class Escalation:
    """Where ``auto`` chose :data:`CPU_PRESET` and its sparse model leaves many photos out: the stages up
    to ``stage`` again with ``preset``, and the model that registers more photos kept, ties the first
    (:mod:`photogrammetry.engine.escalate`)."""

    preset: str
    """Preset tried second."""
    below: float
    """Tried where the first model registers fewer than this share of the photos (or its stage fails)."""
    stage: str = "sfm"
    """The stage whose counts (``registered`` of ``images``) decide; the stages up to it are tried again."""

    def escalates(self, counts: Mapping[str, Any]) -> bool:
        """Whether a model with these counts of ``stage`` leaves too many photos out."""
        return counts.get("registered", 0) < self.below * counts.get("images", 0)


CPU_ESCALATION = Escalation(preset="xfeat", below=0.5)
"""``auto`` without a GPU: ``cpu`` (SIFT) is seconds where its keypoints repeat; where they do not (frames far
apart along a walk) XFeat + LighterGlue's model is tried. Under half, measured (docs/benchmarks.md, "When SIFT loses the
photos"): where cpu keeps most photos xfeat is no better (the office's 60 frames: cpu 48/60, AUC@5 0.319;
xfeat 60/60, 0.250, in 1.8x the time; the rolled temple: 16/16 against 9/16); where it keeps under half
(3/20, 10/30) or none, xfeat registered 13/20, 24/30, 3/12. ``--no-escalate`` (``run(escalate=False)``)
keeps cpu's."""


@dataclass(frozen=True)
class PresetChoice:
    """The preset a run uses, and why (``reason`` is empty when it was named)."""

    name: str
    reason: str = ""
    escalation: Escalation | None = None
    """Where the run may move to another preset after the sparse part (``auto`` on a CPU)."""


def _chooses_extractor(config_file: Path | None, overrides: Sequence[str]) -> str | None:
    """Where the features' extractor is set explicitly (``--set`` or the config file), if anywhere."""
    if any(parse_assignment(text)[:2] == ("features", "extractor") for text in overrides):
        return "--set features.extractor"
    table = read_toml(config_file).get("features") if config_file is not None else None
    if isinstance(table, Mapping) and "extractor" in table:  # not a table: resolve_config says what is wrong
        return f"features.extractor in {config_file}"
    return None


def choose_preset(preset: str, *, device: str, config_file: Path | None = None,
                  overrides: Sequence[str] = (), photos: Sequence[Path] = (), escalate: bool = True) -> PresetChoice:
    """``preset`` itself, or for ``auto``: :data:`GPU_PRESET` where the extractor is chosen explicitly;
    :data:`STILL_PRESET` where the background of ``photos`` (the input's files, in order) stands still
    (:func:`~photogrammetry.masking.static.still_camera`: of the photos, else of the first video's
    frames); else :data:`CPU_PRESET` when ``device`` (``auto``, ``cpu``, ``cuda``) resolves to the CPU,
    with :data:`CPU_ESCALATION` where ``escalate``, else :data:`GPU_PRESET`.

    The device is this process's (:func:`~photogrammetry.device.resolve_device`): with a Ray cluster,
    the driver's, not the workers' (``--preset default`` where only the workers have GPUs)."""
    if preset != AUTO_PRESET:
        return PresetChoice(preset)
    explicit = _chooses_extractor(config_file, overrides)
    if explicit is not None:
        return PresetChoice(GPU_PRESET, f"preset auto: {GPU_PRESET!r}, since {explicit} chooses the features")
    still = _still_camera(photos)
    if still is not None:
        return PresetChoice(STILL_PRESET, f"preset auto: the background stands still between the photos "
                                          f"({still.share:.0%} of its textured pixels, {still.photos} photos read), "
                                          f"as on a turntable, so {STILL_PRESET!r}: "
                                          f"{load_preset(STILL_PRESET).description} "
                                          f"--preset {CPU_PRESET} or {GPU_PRESET} where the camera did move")
    if resolve_device(device) != "cpu":
        return PresetChoice(GPU_PRESET, f"preset auto: GPU found, so {GPU_PRESET!r}: "
                                        f"{load_preset(GPU_PRESET).description}")
    return PresetChoice(CPU_PRESET, f"preset auto: no GPU, so {CPU_PRESET!r}: {load_preset(CPU_PRESET).description} "
                                    f"--preset {GPU_PRESET} for ALIKED + LightGlue (slower on a CPU)",
                        CPU_ESCALATION if escalate else None)


def _still_camera(photos: Sequence[Path]) -> StillCamera | None:
    """How still the background of ``photos`` stands, where it does."""
    from photogrammetry.io.video import is_video  # here: images and scipy load only for auto
    from photogrammetry.masking.static import still_camera

    videos = [p for p in photos if is_video(p)]
    still = still_camera([p for p in photos if not is_video(p)], video=videos[0] if videos else None)
    return still if still is not None and still.still else None


def parse_assignment(text: str) -> tuple[str, str, Any]:
    """Split ``stage.option=value`` into its parts; the value is read as TOML when it parses.

    ``option`` may be a dotted path into nested groups (``depth.cascade.hypotheses=[32,8]``).
    """
    key, sep, raw = text.partition("=")
    stage, dot, option = key.strip().partition(".")
    if not sep or not dot or not stage or not option:
        raise ConfigError(f"--set expects stage.option=value, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word: take it as a string
    return stage, option.strip(), value


_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
"""How messages name the plain option types."""


def _type_name(tp: Any) -> str:
    """``an integer``, ``a number``, ... or ``a <type name>``."""
    return _TYPE_WORDS.get(tp) or "a " + (getattr(tp, "__name__", None) or str(tp).replace("typing.", ""))


def coerce(tp: Any, value: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``, converting where it is lossless."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(arg, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} is not {_type_name(tp)}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(coerce(args[0], v, where) for v in value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            choices = ", ".join(repr(m.value) for m in tp)
            raise ConfigError(f"{where}: {value!r} is not one of {choices}") from None
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and type(value) is tp:
        return value
    raise ConfigError(f"{where}: {value!r} is not {_type_name(tp)}")


def _unknown(cls: type, option: str, where: str, source: str) -> ConfigError:
    """The error for an unknown option: the valid ones at that level, or the new name of an old one."""
    names = {old: path for path, old in (key_names(cls) or {}).items()}
    if not where.count(".") and option in names:
        return ConfigError(f"{source}: {where}.{option} is now {where}.{names[option]}")
    valid = [f.name + (".*" if is_group(type_hints(cls)[f.name]) else "") for f in dataclasses.fields(cls)]
    return ConfigError(f"{source}: unknown option {where}.{option}; valid options of {where}: " + ", ".join(valid))


def _apply(config: Any, overrides: Mapping[str, Any], where: str, source: str) -> Any:
    """``config`` with ``overrides`` (option -> value or, for a group, a table) applied, recursively."""
    cls = type(config)
    hints, fields = type_hints(cls), {f.name for f in dataclasses.fields(cls)}
    changes = {}
    for option, value in overrides.items():
        if option not in fields:
            raise _unknown(cls, option, where, source)
        if is_group(hints[option]):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: {where}.{option} is a group of options; give a table, "
                                  f"e.g. {where}.{option}.<name>=value")
            changes[option] = _apply(getattr(config, option), value, f"{where}.{option}", source)
        elif isinstance(value, Mapping) and value:
            raise ConfigError(f"{source}: unknown option {where}.{option}.{next(iter(value))}; "
                              f"{where}.{option} is an option, not a group of options")
        else:
            changes[option] = coerce(hints[option], value, f"{source}: {where}.{option}")
    try:
        return dataclasses.replace(config, **changes)
    except (ValueError, TypeError, ConfigError) as e:  # the config's or a library's own checks
        named = isinstance(e, ConfigError) and str(e).startswith(where.partition(".")[0] + ".")
        raise ConfigError(f"{source}: {e}" if named else f"{source}: {where}: {e}") from None


def _legacy(cls: type, overrides: Mapping[str, Any]) -> Mapping[str, Any]:
    """Settings recorded before options were nested, under their flat ``KEY_NAMES``, moved to their paths.

    A flat name that is now a group's name (``mesh.crop``, now ``mesh.crop.mode``) is moved only when its
    value is not a table (a record written since holds the group's table there).
    """
    paths = {old: path for path, old in (key_names(cls) or {}).items()}
    if not paths:
        return overrides
    hints = type_hints(cls)

    def moved(name: str, value: Any) -> bool:
        return name in paths and (name not in hints or (is_group(hints[name]) and not isinstance(value, Mapping)))

    return unflatten({paths[k] if moved(k, v) else k: v for k, v in overrides.items()})


def apply_overrides(spec: StageSpec, config: Any, overrides: Mapping[str, Any], source: str,
                    *, legacy: bool = False) -> Any:
    """A copy of ``config`` with ``overrides`` applied, each checked against its field's type.

    ``overrides`` maps option names to values and group names to tables of the same form.
    ``legacy``: also accept the flat names of a config's ``KEY_NAMES`` (for old run records).
    """
    return _apply(config, _legacy(spec.config, overrides) if legacy else overrides, spec.name, source)


def resolve_config(
    stages: Sequence[StageSpec],
    *,
    preset: str | None = "default",
    config_file: Path | None = None,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Defaults, then the preset, then a config file, then ``--set`` assignments, in that order."""
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if preset is not None:
        layers.append((f"preset {preset!r}", load_preset(preset).overrides))
    if config_file is not None:
        data = read_toml(config_file)
        data.pop("description", None)
        layers.append((str(config_file), data))
    assignments: dict[str, dict[str, Any]] = {}
    for text in overrides:
        stage, option, value = parse_assignment(text)
        assignments.setdefault(stage, {})[option] = value
    layers.append(("--set", {stage: unflatten(flat) for stage, flat in assignments.items()}))

    by_name = {spec.name: spec for spec in stages}
    config = {spec.name: spec.config() for spec in stages}
    for source, layer in layers:
        for stage, options in layer.items():
            if stage not in by_name:
                raise ConfigError(f"{source}: unknown stage {stage!r}; stages are: {', '.join(by_name)}")
            if not isinstance(options, Mapping):
                raise ConfigError(f"{source}: [{stage}] must be a table of options")
            config[stage] = apply_overrides(by_name[stage], config[stage], options, source)
    return config
