"""How long the rest of a run will take: each stage's cost in work units, at the best rate known.

A stage declares a :class:`Cost`: what one unit of its work is (a photo, a pair, a view), how
many units it has per photo before they are known, and a default rate (seconds per unit, measured
on a 2-core CPU). A run's estimate of a stage is its units times a rate, taken in this order:

1. the median rate of the stage's earlier results in the workspace (their manifests record the
   seconds, the units and the photos), as measured on this machine;
2. the default rate (of the method the stage's config picks, where methods' rates differ), scaled
   by how much faster or slower than their defaults this run's earlier stages ran.

Before a stage's units are known (the fused points of a mesh before fusion has run), they are the
photo count times the median units per photo of its earlier results, else times its default.
Nothing is guessed: until the photo count is known (the first stage that reports ``images``), the
time left is unknown.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MIN_MEASURED_S = 1.0
"""Seconds of this run's stages below which their speed does not correct the default rates."""


@dataclass(frozen=True, kw_only=True)
class Cost:
    """A stage's cost model: work units and a default rate."""

    unit: str = "photo"
    """What one unit of work is (``photo``, ``pair``, ``view``)."""
    seconds: float = 0.0
    """Default seconds per unit (a 2-core CPU); corrected by measured rates."""
    per_photo: float = 1.0
    """Units per photo, for estimates made before the units are known."""
    count: str | None = None
    """Name of the stage's own count (in its manifest) that gives its units; ``None``: photos."""
    units_from: str | None = None
    """``stage.count`` of an earlier stage that gives this stage's units before it runs."""
    method: str | None = None
    """Name of the stage's config field that picks its method, where methods' rates differ."""
    method_seconds: Mapping[str, float] = field(default_factory=dict)
    """Default seconds per unit of the methods whose rate is not :attr:`seconds`."""

    def of(self, config: Any) -> Cost:
        """This cost for a stage's ``config``: the default rate of the method it picks."""
        method = getattr(config, self.method, None) if self.method is not None else None
        if method not in self.method_seconds:
            return self
        return dataclasses.replace(self, seconds=self.method_seconds[method])


def format_left(seconds: float | None) -> str:
    """``about 12 min left``, ``less than a minute left`` or ``time left unknown``."""
    if seconds is None:
        return "time left unknown"
    if seconds < 60:
        return "less than a minute left"
    if seconds < 90 * 60:
        return f"about {max(1, round(seconds / 60))} min left"
    return f"about {seconds / 3600:.1f} h left"


def manifest_units_per_photo(cost: Cost, manifest: Mapping[str, Any]) -> float | None:
    """Units of work per photo of an earlier result, when its manifest records both."""
    work = manifest.get("work")
    if not isinstance(work, dict) or work.get("unit") != cost.unit:
        return None
    units, photos = work.get("units"), work.get("photos")
    if not isinstance(units, int | float) or not isinstance(photos, int) or photos <= 0:
        return None
    return float(units) / photos


def manifest_rate(cost: Cost, manifest: Mapping[str, Any]) -> float | None:
    """Seconds per unit of an earlier result, from its manifest (``None`` when it does not say)."""
    seconds = manifest.get("seconds")
    work = manifest.get("work")
    units = work.get("units") if isinstance(work, dict) and work.get("unit") == cost.unit else None
    if units is None and cost.count is not None:
        units = (manifest.get("counts") or {}).get(cost.count)
    if not isinstance(seconds, int | float) or not isinstance(units, int | float) or units <= 0 or seconds <= 0:
        return None
    return float(seconds) / float(units)


class Estimator:
    """Estimates of the stages of one run, refined as stages finish or are found cached."""

    def __init__(self, costs: Mapping[str, Cost], history: Mapping[str, Iterable[float]] | None = None,
                 per_photo: Mapping[str, Iterable[float]] | None = None) -> None:
        """Args:
            costs: Stage name -> its cost model (stages left out cost nothing).
            history: Stage name -> rates (seconds per unit) of its earlier results in the workspace.
            per_photo: Stage name -> units per photo of its earlier results in the workspace.
        """
        self.costs = dict(costs)
        self.history = _medians(history)
        self.per_photo = _medians(per_photo)
        self.photos: int | None = None
        self.counts: dict[str, Mapping[str, Any]] = {}
        self._actual = 0.0
        self._predicted = 0.0

    def units(self, stage: str) -> float | None:
        """Units of work of ``stage``: measured when it has run, else estimated; ``None``: unknown."""
        cost = self.costs.get(stage, Cost())
        own = self.counts.get(stage, {})
        if cost.count is not None and isinstance(own.get(cost.count), int | float):
            return float(own[cost.count])
        if cost.units_from is not None:
            source, _, name = cost.units_from.partition(".")
            value = self.counts.get(source, {}).get(name)
            if isinstance(value, int | float):
                return float(value)
        return None if self.photos is None else self.photos * self.per_photo.get(stage, cost.per_photo)

    def speed(self) -> float:
        """How many times longer than their default rates this run's measured stages took (1 until known)."""
        return self._actual / self._predicted if self._actual >= MIN_MEASURED_S and self._predicted > 0 else 1.0

    def estimate(self, stage: str) -> float | None:
        """Seconds ``stage`` will take, or ``None`` when there is nothing to go on."""
        units = self.units(stage)
        if units is None:
            return None
        if stage in self.history:
            return units * self.history[stage]
        return units * self.costs.get(stage, Cost()).seconds * self.speed()

    def remaining(self, stages: Iterable[str]) -> float | None:
        """Seconds the ``stages`` will take together (``None`` if any is unknown)."""
        total = 0.0
        for stage in stages:
            seconds = self.estimate(stage)
            if seconds is None:
                return None
            total += seconds
        return total

    def observe(self, stage: str, counts: Mapping[str, Any], seconds: float | None = None) -> None:
        """Record a finished stage: its counts, and its time when it ran (``None``: reused)."""
        self.counts[stage] = dict(counts)
        if self.photos is None and isinstance(counts.get("images"), int):
            self.photos = counts["images"]
        cost = self.costs.get(stage)
        units = self.units(stage)
        if seconds is not None and cost is not None and stage not in self.history and units and cost.seconds > 0:
            self._actual += seconds
            self._predicted += units * cost.seconds

    def work(self, stage: str) -> dict[str, Any] | None:
        """What a manifest records of the stage's work (``{"unit": "pair", "units": 130, "photos": 24}``)."""
        units = self.units(stage)
        cost = self.costs.get(stage)
        if units is None or cost is None:
            return None
        return {"unit": cost.unit, "units": units, **({"photos": self.photos} if self.photos else {})}


def _medians(values: Mapping[str, Iterable[float]] | None) -> dict[str, float]:
    return {name: statistics.median(v) for name, items in (values or {}).items() if (v := list(items))}
