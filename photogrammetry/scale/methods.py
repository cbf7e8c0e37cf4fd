"""The registry of scale methods: the one list that ``scale.method`` choices come from.

Each :class:`ScaleMethod` but ``none`` estimates the metres per SfM unit of a model
(:class:`~photogrammetry.scale.estimate.ScaleEstimate`) from a :class:`ScaleRequest`, and names
the options it needs (:attr:`ScaleMethod.requires`), which the ``scale`` stage's config checks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from photogrammetry.errors import ConfigError, InputError
from photogrammetry.scale.estimate import ScaleEstimate, marker_scale, platform_scale, points_scale, radius_scale
from photogrammetry.scale.markers import TargetSpec


class ScaleSettings(Protocol):
    """The options the scale methods read (the ``scale`` stage's config has them)."""

    @property
    def radius_mm(self) -> float:
        """Platform radius or camera-to-axis distance, mm."""

    @property
    def ring_size(self) -> int:
        """Views of the first ring (radius method); 0: all."""

    @property
    def marker(self) -> TargetSpec:
        """The markers or board (marker method)."""

    @property
    def distance_mm(self) -> float:
        """Distance between the two marked points, mm (points method)."""

    @property
    def points_file(self) -> str:
        """File of the marked points (points method)."""


@dataclass(frozen=True, kw_only=True)
class ScaleRequest:
    """What a scale method works on."""

    model: Any
    """The ``pycolmap.Reconstruction`` to scale (read, not changed)."""
    names: Sequence[str]
    """Image names in capture (ingest) order."""
    image_path: Callable[[str], Path]
    """Image name -> its file (the marker method reads the photos)."""
    settings: ScaleSettings
    """The method's options."""


def read_points(path: str) -> str:
    """The text of the points method's file, or an error naming the file."""
    file = Path(path).expanduser()
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read points file {file.resolve()}: {e}") from None


def _platform(request: ScaleRequest) -> ScaleEstimate:
    return platform_scale(request.model, request.settings.radius_mm / 1000.0)


def _radius(request: ScaleRequest) -> ScaleEstimate:
    names = list(request.names)
    return radius_scale(request.model, names[:request.settings.ring_size or len(names)],
                        request.settings.radius_mm / 1000.0)


def _marker(request: ScaleRequest) -> ScaleEstimate:
    return marker_scale(request.model, request.image_path, request.settings.marker)


def _points(request: ScaleRequest) -> ScaleEstimate:
    settings = request.settings
    return points_scale(request.model, read_points(settings.points_file), settings.distance_mm / 1000.0)


@dataclass(frozen=True, kw_only=True)
class ScaleMethod:
    """One entry of :data:`SCALE_METHODS`."""

    name: str
    """Registry name, as given to ``scale.method``."""
    summary: str
    """One line for help texts."""
    estimate: Callable[[ScaleRequest], ScaleEstimate] | None
    """``estimate(request)`` -> the scale; ``None``: the model stays in SfM units."""
    requires: tuple[str, ...] = ()
    """Options (dotted paths below ``scale``) that must be set: numbers > 0, text not empty."""

    def missing(self, settings: ScaleSettings) -> list[str]:
        """The :attr:`requires` options ``settings`` leaves unset."""
        values = {path: functools.reduce(getattr, path.split("."), settings) for path in self.requires}
        return [path for path, value in values.items() if (not value if isinstance(value, str) else value <= 0)]


SCALE_METHODS: dict[str, ScaleMethod] = {m.name: m for m in (
    ScaleMethod(name="none", summary="no metric scale: the model stays in SfM units", estimate=None),
    ScaleMethod(name="platform", summary="radius of the turntable's platform (scale.radius_mm), found among the "
                "sparse points", estimate=_platform, requires=("radius_mm",)),
    ScaleMethod(name="radius", summary="horizontal distance from the camera's lens to the turntable's axis "
                "(scale.radius_mm)", estimate=_radius, requires=("radius_mm",)),
    ScaleMethod(name="marker", summary="ArUco markers or a ChArUco board of known size on the platform "
                "(scale.marker.marker_mm)", estimate=_marker, requires=("marker.marker_mm",)),
    ScaleMethod(name="points", summary="two points marked in the photos, a known distance apart (scale.points_file, "
                "scale.distance_mm)", estimate=_points, requires=("distance_mm", "points_file")),
)}
"""All scale methods, by name: the choices of ``scale.method``."""


def scale_method(name: str) -> ScaleMethod:
    """The registry entry called ``name``, or an error naming the option and the choices."""
    if name not in SCALE_METHODS:
        raise ConfigError(f"scale.method: unknown {name!r}; choose one of: {', '.join(SCALE_METHODS)}")
    return SCALE_METHODS[name]
