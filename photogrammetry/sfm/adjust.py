"""The adjustments that the final refinement is made of: COLMAP's triangulation and bundle adjustment
options, one pass of track completion, re-triangulation and global adjustment, and the BIC test that
decides whether freeing more intrinsics explains the observations better.

:mod:`photogrammetry.sfm.distortion` chooses the lens distortion and :mod:`photogrammetry.sfm.refine` the
principal point with them; :mod:`photogrammetry.sfm.pieces` and :mod:`photogrammetry.sfm.precision` adjust
with the same options.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pycolmap

    from photogrammetry.io.sfm import LensCheck
    from photogrammetry.sfm.options import SfmOptions


def triangulation_options(config: SfmOptions) -> tuple[pycolmap.IncrementalTriangulatorOptions,
                                                       pycolmap.IncrementalMapperOptions]:
    """COLMAP's triangulation and mapper options (the smallest triangulation angle of
    ``mapping.min_tri_angle``, where points are made and filtered) for work on a mapped model."""
    import pycolmap

    triangulation, mapper = pycolmap.IncrementalTriangulatorOptions(), pycolmap.IncrementalMapperOptions()
    triangulation.min_angle = mapper.filter_min_tri_angle = config.mapping.min_tri_angle
    return triangulation, mapper


def bundle_options(config: SfmOptions, *, principal_point: bool, distortion: bool,
                   num_threads: int) -> pycolmap.BundleAdjustmentOptions:
    """Robust (Cauchy) global adjustment options: the focal length as ``config`` says, the principal
    point and the distortion parameters as asked, stopping at ``refinement.function_tolerance``."""
    import pycolmap

    ba = pycolmap.BundleAdjustmentOptions()
    ba.print_summary = False
    ba.refine_focal_length = config.refine_focal_length
    ba.refine_extra_params = distortion
    ba.refine_principal_point = principal_point
    ba.ceres.loss_function_type = pycolmap.LossFunctionType.CAUCHY
    ba.ceres.solver_options.function_tolerance = config.refinement.function_tolerance
    ba.ceres.solver_options.num_threads = num_threads
    return ba


def refine_once(model: pycolmap.Reconstruction, database: Path, config: SfmOptions, *,
                 principal_point: bool, distortion: bool, num_threads: int) -> None:
    """Complete and merge tracks, re-triangulate, then iterate global BA and filtering, in place."""
    import pycolmap

    triangulation, mapper_options = triangulation_options(config)
    mapper_options.num_threads = num_threads
    with pycolmap.Database.open(database) as db:
        cache = pycolmap.DatabaseCache.create(db, pycolmap.DatabaseCacheOptions())
    mapper = pycolmap.IncrementalMapper(cache)
    mapper.begin_reconstruction(model)
    mapper.complete_and_merge_tracks(triangulation)
    mapper.retriangulate(triangulation)
    mapper.iterative_global_refinement(2, 0.0005, mapper_options,
                                       bundle_options(config, principal_point=principal_point, distortion=distortion,
                                                      num_threads=num_threads), triangulation,
                                       normalize_reconstruction=False)
    mapper.filter_points(mapper_options)
    mapper.end_reconstruction(False)


def significant(fixed: pycolmap.Reconstruction, free: pycolmap.Reconstruction, params_per_camera: int,
                min_gain: float = 0.0) -> bool:
    """Does freeing ``params_per_camera`` more parameters explain the observations better?

    A BIC test on the mean reprojection errors, ``2 n ln(e_fixed / e_free) > k ln n`` with ``n``
    residuals and ``k`` the freed parameters, and the error at least ``min_gain`` lower."""
    n = 2 * free.compute_num_observations()
    e_fixed, e_free = fixed.compute_mean_reprojection_error(), free.compute_mean_reprojection_error()
    if n == 0 or e_fixed <= 0 or e_free <= 0 or e_fixed < (1.0 + min_gain) * e_free:
        return False
    return 2 * n * math.log(e_fixed / e_free) > params_per_camera * free.num_cameras() * math.log(n)


def extra_params_per_camera(model: pycolmap.Reconstruction) -> int:
    """The most distortion parameters a camera of ``model`` has (0 for pinhole models)."""
    return max((len(c.extra_params_idxs()) for c in model.cameras.values()), default=0)


@dataclass(frozen=True)
class Refinement:
    """The refined model and which intrinsics the last adjustment refined."""

    model: pycolmap.Reconstruction
    principal_point: bool
    """Whether the principal points were refined (and kept)."""
    distortion: bool
    """Whether the distortion parameters were refined (and kept)."""
    other_focals: Mapping[int, float] = field(default_factory=dict)
    """Each camera's focal length in the distortion fit not kept (free where it was held, held where it
    was free), by camera id; empty where only one was fitted. The spread between the two is what the
    views leave to the lens: on 20 frames of the office walk (``cpu``, six RANSAC seeds) 2.7-5.3 %,
    where the adjustment's standard deviation said 0.5 %."""
    lens_checks: Mapping[int, LensCheck] = field(default_factory=dict)
    """What the photos' straight lines said of each camera's distortion (:func:`~photogrammetry.sfm.plumb.lens_checks`),
    by camera id, where the choice between the fits asked them; empty where it did not."""

