"""The options of multi-view stereo: one tree, declared once, nested by the depth stage's config.

:class:`MVSOptions` holds what concerns every view (method, size, masks) and nests the options of
each part next to the code they configure: source selection
(:class:`~photogrammetry.mvs.selection.SelectionOptions`), the coarse-to-fine sweep
(:class:`~photogrammetry.mvs.cascade.CascadeOptions`, with its semi-global aggregation
:class:`~photogrammetry.mvs.regularize.SGMOptions`), its PatchMatch refinement
(:class:`~photogrammetry.mvs.propagation.PropagationOptions`), the geometric-consistency pass
(:class:`~photogrammetry.mvs.geometric.GeometricOptions`) and the consistency filter
(:class:`~photogrammetry.mvs.filter_options.FilterOptions`). Options that change how the maps are
computed but not the maps carry ``metadata={"cache": False}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from photogrammetry.errors import ConfigError
from photogrammetry.features.weights import check_checkpoint
from photogrammetry.mvs.cascade import CascadeOptions
from photogrammetry.mvs.filter_options import FilterOptions
from photogrammetry.mvs.geometric import GeometricOptions
from photogrammetry.mvs.methods import METHODS, method_spec
from photogrammetry.mvs.propagation import PropagationOptions
from photogrammetry.mvs.selection import SelectionOptions


@dataclass(frozen=True, kw_only=True)
class MVSOptions:
    """Everything that decides the depth maps of a scene."""

    method: str = field(default="lite-ncc", metadata={"choices": tuple(METHODS)})
    """MVS method, a name in :data:`photogrammetry.mvs.methods.METHODS` (``photogrammetry options``
    lists them): ``lite-ncc`` (the default: learned features and grey-level NCC in one cost), ``lite``
    (the learned features alone) or ``ncc`` (the classical baseline), among others. Office walk, held-out
    frames, true cameras: sensor pixels given a depth within 5 % 0.108 -> 0.131 and 0.125 -> 0.154, kept
    depths within 5 % 0.861 -> 0.884 and 0.906 -> 0.913 against ``lite``; the sample scenes' F@1 % the same
    or higher; 1.1x ``lite``'s seconds per 540x360 view, 1.2x its sweep at 1600x1200 (docs/benchmarks.md)."""
    weights: str = field(default="", metadata={"path": "file", "check": check_checkpoint})
    """Weight file of a learned method; empty: the method's own (committed or shipped)."""
    max_image_size: int = 1600
    """Longest side of the depth maps in pixels (images are downscaled); 0: full size."""
    window_radius: int = 0
    """Radius of the matching window; 0: the method's default."""
    ncc_radius: int = 0
    """Radius of the grey-level NCC window of methods that combine it with learned features
    (``lite-ncc``; the refining levels of ``lite-refine`` and ``lite-reg-refine``); 0: the method's default."""
    ncc_weight: float = 0.5
    """Weight of the grey-level NCC in the similarity of ``lite-ncc`` (the learned features' has
    ``1 - ncc_weight``)."""
    best_sources: int = 2
    """Sources whose similarities are averaged per hypothesis (the best ones: occlusions)."""
    use_masks: bool = True
    """Keep depths only inside the object masks of views that have one."""
    fp16: bool = True
    """Half-precision features on CUDA (the CPU always computes in float32)."""
    normal_smoothing: int = 2
    """Radius of the point averaging before normals are derived from depth."""
    selection: SelectionOptions = field(default_factory=SelectionOptions)
    """Source views and depth ranges."""
    cascade: CascadeOptions = field(default_factory=CascadeOptions)
    """Coarse-to-fine search."""
    propagation: PropagationOptions = field(default_factory=PropagationOptions)
    """PatchMatch refinement of the swept maps (planes with normals; off by default)."""
    geometric: GeometricOptions = field(default_factory=GeometricOptions)
    """A second PatchMatch pass that makes each view's depth agree with its sources' (off by default)."""
    filtering: FilterOptions = field(default_factory=FilterOptions)
    """Confidence and geometric-consistency filtering."""
    feature_cache_mb: int = field(default=4096, metadata={"cache": False})
    """Most memory of the feature maps kept across views (does not change results); the cache also
    keeps no more views than a run of consecutive views needs (:func:`~photogrammetry.mvs.multiview.cache_views`),
    so it does not grow with the photo count."""

    def __post_init__(self) -> None:
        method_spec(self.method)
        if self.max_image_size < 0 or 0 < self.max_image_size < 32:
            raise ConfigError(f"max_image_size must be 0 or >= 32, got {self.max_image_size}")
        if self.best_sources < 1 or self.window_radius < 0 or self.ncc_radius < 0:
            raise ConfigError(f"best_sources must be >= 1, window_radius and ncc_radius >= 0, got "
                              f"{self.best_sources}, {self.window_radius}, {self.ncc_radius}")
        if not 0.0 <= self.ncc_weight <= 1.0:
            raise ConfigError(f"ncc_weight must be within [0, 1], got {self.ncc_weight}")
