"""The options of structure from motion: one tree, declared once, nested by the sfm stage's config.

:class:`SfmOptions` holds what concerns every camera (model, focal length, which intrinsics
bundle adjustment refines, a calibration) and the random seed, and nests the options of each
step: the SIFT assist (:class:`SiftOptions`, :mod:`photogrammetry.sfm.sift`), geometric
verification (:class:`VerificationOptions`, :mod:`photogrammetry.sfm.verification`), mapping
(:class:`MappingOptions`, :mod:`photogrammetry.sfm.mapping`) and the final refinement of the
chosen model (:class:`RefinementOptions`, :mod:`photogrammetry.sfm.refine` and
:mod:`photogrammetry.sfm.precision`). Options that change how the stage runs but not what it
writes carry ``metadata={"cache": False}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from photogrammetry.errors import ConfigError
from photogrammetry.sfm.bridge_options import LearnedBridgeOptions
from photogrammetry.sfm.focal_starts_options import FocalStartsOptions
from photogrammetry.sfm.rolling_shutter_options import RollingShutterOptions
from photogrammetry.sfm.initial_pair_options import InitialPairOptions
from photogrammetry.sfm.option_checks import at_least_one, fraction
from photogrammetry.sfm.plumb_options import PlumbOptions
from photogrammetry.sfm.refine_options import RefinementOptions
from photogrammetry.sfm.sanity_options import SanityOptions

CameraModel = Literal["SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV"]
"""COLMAP camera models the stage offers."""

Refine = Literal["never", "final", "always"]
"""When bundle adjustment refines a group of intrinsics."""


@dataclass(frozen=True, kw_only=True)
class SiftOptions:
    """COLMAP's SIFT added to our features (:mod:`photogrammetry.sfm.sift`)."""

    assist: bool = True
    """Add COLMAP's SIFT keypoints and matches to ours on the same pairs before verification
    (rotation invariant, dense on small photos; see :mod:`photogrammetry.sfm.sift`). Costs a
    SIFT extraction and matching on the CPU (about what COLMAP alone spends on them); measured
    with the fast preset: temple AUC@5 0.87 -> 0.91, fountain median rotation error 0.13 -> 0.06
    degrees, orbit 0.017 -> 0.008 degrees."""
    max_features: int = 8192
    """Most SIFT features per image with ``assist``."""

    def __post_init__(self) -> None:
        at_least_one(self, ("max_features",))


@dataclass(frozen=True, kw_only=True)
class GuidedOptions:
    """Guided matching of the weakly tied images of the first mapping pass (:mod:`photogrammetry.sfm.guided`)."""

    min_points: int = 0
    """Images of the first pass's models that see fewer 3D points are weak: their verified pairs are
    matched again along the first pass's epipolar lines before the second pass (0: off; needs the
    second pass, ``mapping.focal_second_pass``, and a camera without a focal prior). Measured on the
    office walk (``cpu``, no EXIF, the same matches, with ``mapping.min_tri_angle`` 0.75): 20 frames,
    frame 12's keypoints matched on both sides 14 -> 97; largest scale departure against the sensor
    2.6 % in four runs of six (one piece instead of two joined through 5 points) and 16.9 % in two,
    against 24-37 % in four runs without; 40 frames, 13-18 % against 4.5-4.8 % (three runs each). So
    it is off in every preset."""
    max_error_px: float = 2.0
    """Largest distance of a candidate keypoint to the epipolar line, pixels, both ways."""
    ratio: float = 0.8
    """Ratio test among the candidates along the line: the nearest descriptor's distance over the second's."""
    max_distance: float = 0.7
    """Largest descriptor distance of a guided match (unit descriptors: RootSIFT for SIFT)."""

    def __post_init__(self) -> None:
        if self.min_points < 0 or self.max_error_px <= 0 or not 0 < self.ratio <= 1 or not 0 < self.max_distance <= 2:
            raise ConfigError(f"guided: min_points must be >= 0, max_error_px > 0, ratio within (0, 1] and "
                              f"max_distance within (0, 2], got {self.min_points}, {self.max_error_px}, "
                              f"{self.ratio} and {self.max_distance}")


@dataclass(frozen=True, kw_only=True)
class VerificationOptions:
    """Geometric verification of the raw matches (:mod:`photogrammetry.sfm.verification`)."""

    max_error: float = 4.0
    """RANSAC inlier threshold of the geometric verification, pixels."""
    max_trials: int = 2000
    """Most RANSAC iterations per pair and model; pairs that do not overlap always use them all."""
    min_inliers: int = 15
    """Pairs with fewer verified inliers are dropped."""
    min_inlier_ratio: float = 0.1
    """Pairs whose verified fraction of raw matches is lower are dropped."""
    core_fraction: float = 0.5
    """Pairs with few inliers (under 4 x ``min_inliers``) are verified again at this fraction of
    ``max_error`` and dropped where that finds fewer than ``min_inliers``: inliers that chance gives
    between photos that do not overlap fill the whole band of the threshold, true ones lie near zero
    (see :mod:`photogrammetry.sfm.chance`). Measured on the office walk (20 frames, SIFT, 4 px):
    28 of 38 chance pairs dropped, none of 57 true ones. 0 disables the check."""

    def __post_init__(self) -> None:
        at_least_one(self, ("max_trials", "min_inliers"))
        fraction(self, ("min_inlier_ratio", "core_fraction"))
        if self.max_error <= 0:
            raise ConfigError(f"max_error must be > 0 pixels, got {self.max_error}")


@dataclass(frozen=True, kw_only=True)
class MappingOptions:
    """Incremental or global mapping (:mod:`photogrammetry.sfm.mapping`)."""

    mapper: Literal["auto", "incremental", "global"] = "auto"
    """``incremental`` (COLMAP), ``global`` (GLOMAP) or ``auto``: global above
    ``global_above_images`` images, incremental otherwise."""
    global_above_images: int = 300
    """Image count above which ``auto`` picks the global mapper."""
    retry_global: bool = True
    """When the incremental mapper leaves connected images out (the scene broke into pieces),
    run the global mapper too and keep whichever registers more images, if the global model
    agrees with the largest incremental piece (``global_max_residual``, ``global_max_rotation_deg``)."""
    global_max_residual: float = 0.02
    """The retry's global model is kept only if the largest incremental piece's camera centres,
    moved onto it by a similarity, land within this median distance, as a fraction of the model's
    extent (a sample orbit: 0.000; a forward walk, fast preset, whose global model collapsed in scale
    along the walk: 0.116)."""
    global_max_rotation_deg: float = 1.0
    """... and the two models' camera orientations agree up to one rotation within this median angle
    (orbit: 0.01 degrees; that walk: 2.95)."""
    retry_max_scale_change: float = 0.1
    """A retry within a mapping pass (the lens distortion held, the global mapper, the mapping after more
    pairs are verified, guided matching's) that registers more images replaces the model before it only
    where, on the images both hold, its scale departs from that model's by at most this fraction
    (:mod:`~photogrammetry.sfm.continuity`): a break in scale along a walk shows there without ground
    truth. Office walk, 60 frames (``cpu``): held retries that joined all 60 departed by 22.5-28.8 %,
    models that agree by 0.6-3.7 %."""
    focal_second_pass: bool = True
    """Where a camera has no focal prior (no EXIF, no ``focal_px``), map a second time with the focal
    length the first pass found given as a prior, which COLMAP's calibrated verification and
    registration use (:mod:`photogrammetry.sfm.focal_pass`); kept where it registers at least as many
    images. Costs a second verification and mapping. Measured on the EXIF-less temple ring (fast
    preset): pose AUC@5 0.876 -> 0.893, as with the true focal length given."""
    focal_first_pass_trials: int = 200
    """Where the second pass follows, the first pass's verification runs at most this many RANSAC
    iterations (``verification.max_trials`` where lower) and its mapping no retries: it only finds the
    focal length. Both passes run again in full where the first's largest model holds under half the
    connected images; where the second leaves connected images out, only their pairs with its model are
    verified again in full (:mod:`photogrammetry.sfm.focal_pass`). The temple's uncalibrated
    verification: 38 pairs at 200, 39 at 1000, in a quarter of the time."""
    join_min_shared_points: int = 3
    """A piece of an incremental run that registered an image of the largest model again is joined into
    it (:mod:`photogrammetry.sfm.pieces`) where at least this many points, triangulated by both at the
    same keypoints of the shared images, agree on the scale between them (0: never join). Measured on the
    office walk (20 frames, ``cpu``): pieces of 13 and 8 frames sharing one frame and 3 such points.
    With ``join_tracks`` a piece with fewer is tried with any, and joined where at least this many
    keypoints of the shared images, matched again, agree on the scale."""
    join_tracks: bool = False
    """Pieces left apart for too few shared points are tried once more (not in a light first pass):
    placed by any that agree, the pairs through the shared images matched again along the placed
    poses, the scale taken from the shared images' keypoints then matched on both sides, the pairs
    across matched again (:mod:`photogrammetry.sfm.bridge`; needs our features). Off: on the office
    walk (60 frames, six runs of the same ``cpu`` matches) it registered 60/60 instead of 48/60, with
    AUC@5 0.50-0.56 and a largest scale departure of 9.8-10.4 % against the true cameras in two runs
    (the 48 without: 0.32, 8.5 %), but in four the retry with the distortion held then kept a model of
    all 60 broken at another frame (AUC@5 0.29, 26-27 %); ``fast`` (three runs): 60/60, 0.32-0.46, 9.8-10.6 %
    (48/60, 0.31, 9.4 %). Such a retry is now refused (``retry_max_scale_change``); then five ``cpu`` runs
    all kept 48/60 (the join found 4 keypoints within 9.6-9.7 %), so it stays off."""
    join_max_scale_error: float = 0.05
    """With ``join_tracks``, a piece is joined only where the scale its keypoints give is known within
    this fraction (the standard error of their median ratio, :func:`~photogrammetry.sfm.bridge.scale_through`):
    a join must not put a break in the scale along a walk."""
    min_num_matches: int = 15
    """Verified inliers a pair needs to be used by the mappers."""
    init_min_num_inliers: int = 50
    """Inliers the initial image pair needs (COLMAP: 100; lower helps wide baselines)."""
    init_min_tri_angle: float = 8.0
    """Smallest median triangulation angle of the initial pair, degrees (COLMAP: 16)."""
    min_tri_angle: float = 1.5
    """Smallest triangulation angle of a 3D point, degrees, where the incremental mapper, the joining of
    pieces and the final refinement triangulate and filter points (COLMAP: 1.5). Lower keeps more points
    of frames that turn with little baseline. Office walk, 20 frames (``cpu``): 0.75 in the mapper alone,
    largest scale departure against the true cameras 24 % in two runs (1.5: 20-35 % in four); with
    ``guided.min_points`` 150, see :class:`GuidedOptions`."""
    abs_pose_min_num_inliers: int = 15
    """2D-3D inliers a new image needs to register (COLMAP: 30)."""
    abs_pose_min_inlier_ratio: float = 0.1
    """Inlier fraction a new image needs to register (COLMAP: 0.25)."""
    max_reg_trials: int = 5
    """Times the incremental mapper tries to register an image (COLMAP: 3)."""
    structure_less_fallback: bool = True
    """Where an image sees too few 3D points to register, the incremental mapper tries to register it
    from its 2D-2D matches with registered images (COLMAP's structure-less fallback, a generalized
    relative pose RANSAC). On the office walk (20 frames, 4096 SIFT keypoints) one such call ran 50 s,
    two of them 100 s of a 102 s mapping (seed 0; seed 1: 5 s); without it the mapper gave pieces that
    :mod:`~photogrammetry.sfm.pieces` joined in 3 s, the joined model closer to the true cameras
    (AUC@5 before the refinement 0.233 against 0.106). The ``cpu`` preset turns it off."""
    min_model_size: int = 3
    """Smallest model kept, in images."""
    ba_function_tolerance: float = 1e-6
    """The incremental mapper's local and global bundle adjustments stop where an iteration lowers the
    cost by less than this fraction of it (COLMAP: 0, all iterations). Measured on the temple's second
    pass (16 views, load 11): mapping 6.5 -> 4.9 s, the same registered images, pose AUC and focal length
    to three digits."""
    ba_global_ratio: float = 1.1
    """The incremental mapper adjusts the whole model again each time its registered images or its points
    have grown by this factor since the last such adjustment (COLMAP: 1.1, after nearly every image of a
    small model); the local adjustments around each new image and the final refinement run either way.
    Measured on temple, office-20, fountain and facade (``cpu`` preset, both passes): at 1.5 their
    mapping took 5.1 s of CPU instead of 6.5, with the same images registered and pose AUC@5 (office-20
    0.257, within the 0.235-0.486 its runs give at 1.1)."""
    threads: int = 0
    """Threads of COLMAP's incremental mapper (0: the stage's workers, ``--workers``). With more than one,
    runs of the same matches differ (the office walk's 60 frames, ``cpu``, two threads: the second pass
    registered 40, 47 or 48 frames, and a run in seven re-ran both passes in full, 40 CPU s instead of 15);
    with one they come out the same every time. Its bundle adjustments below 50,000 residuals use one thread
    either way (office-60's model: 32,000), so there a second thread did no work: 0.06-0.13 CPU s of each
    mapping run off the main thread, with one thread or two. At scale (a rendered orbit of 150 photos of
    320 x 240, ``cpu``, 354,000 residuals in the final model) the mapper took 18.1 CPU s on one thread and
    18.4 on two, 2.4 s of them on the second: its parallel parts are about 4.7 s (a quarter), so on many
    cores one thread costs at most about 4.7 s, against the stage's 60 CPU s (verification 6.2, the final
    refinement 30.6-32.1 and the focal length's deviation 3.8, which take the stage's workers whatever this
    says); the same model (150/150, AUC@5 0.988) both ways. Hence no rule by photo count: the global mapper
    (``global_above_images``, which uses the stage's workers) takes over from 300 photos."""

    def __post_init__(self) -> None:
        if self.ba_global_ratio <= 1.0:
            raise ConfigError(f"ba_global_ratio must be > 1, got {self.ba_global_ratio}")
        if self.retry_max_scale_change <= 0:
            raise ConfigError(f"retry_max_scale_change must be > 0, got {self.retry_max_scale_change}")
        if self.join_max_scale_error <= 0:
            raise ConfigError(f"join_max_scale_error must be > 0, got {self.join_max_scale_error}")
        if self.join_min_shared_points < 0:
            raise ConfigError(f"join_min_shared_points must be >= 0, got {self.join_min_shared_points}")
        if self.threads < 0:
            raise ConfigError(f"threads must be >= 0 (0: the stage's workers), got {self.threads}")
        at_least_one(self, ("global_above_images", "focal_first_pass_trials", "min_num_matches",
                             "init_min_num_inliers", "abs_pose_min_num_inliers", "max_reg_trials", "min_model_size"))
        fraction(self, ("abs_pose_min_inlier_ratio",))
        if self.ba_function_tolerance < 0:
            raise ConfigError(f"ba_function_tolerance must be >= 0, got {self.ba_function_tolerance}")
        if not 0.0 < self.min_tri_angle < 90.0:
            raise ConfigError(f"min_tri_angle must be within (0, 90) degrees, got {self.min_tri_angle}")
        if not 0.0 < self.init_min_tri_angle < 90.0:
            raise ConfigError(f"init_min_tri_angle must be within (0, 90) degrees, got {self.init_min_tri_angle}")


@dataclass(frozen=True, kw_only=True)
class SfmOptions:
    """Everything that decides the cameras, poses and sparse points of a scene."""

    camera_model: CameraModel = "SIMPLE_RADIAL"
    """COLMAP camera model; ``SIMPLE_RADIAL`` (focal, principal point, one radial term) suits
    most photos; ``OPENCV`` for strong distortion; ``PINHOLE`` for undistorted images."""
    shared_intrinsics: bool = True
    """One camera per ingest camera group (same body, lens, focal, size) instead of one per image."""
    refine_focal_length: bool = True
    """Bundle adjustment refines the focal length (keep on unless the focal prior is exact)."""
    refine_extra_params: Refine = "final"
    """Lens distortion: ``final``: refined while mapping (held in a retry when the incremental
    mapper breaks into pieces), then in the last global bundle adjustment kept where it moves the
    image corners by at most ``refinement.distortion_free_px``, or lowers the reprojection error by
    ``refinement.distortion_min_gain`` against the same adjustment with it held at zero (or at the
    calibration's) and passes a BIC test: large distortion that the views do not constrain trades
    off against the focal length (see :mod:`photogrammetry.sfm.distortion`);
    ``always``: refined throughout, as COLMAP does (strongly distorted lenses: fisheye, action
    cameras); ``never``: held throughout."""
    narrow_field: float = 0.15
    """A camera whose field is narrower than this (the tangent of half its diagonal field of view, the
    corners' normalised radius: 0.15 is 17 degrees across the diagonal, 2,670 px on 640 x 480) has its lens
    distortion held while mapping where its focal length is known (a prior: EXIF, the user's, the first
    pass's), and kept by ``final`` only where it lowers the reprojection error by
    ``refinement.distortion_min_gain_forward``: there distortion trades off with the focal length (see
    :mod:`photogrammetry.sfm.field`). 0: no such rule. Measured on real photos through a longer lens (seeds 0-2,
    ``fast``): the temple's centre third (4,570 px) 13/16 -> 16/16 registered, focal length +6.6 -> +2.1 %,
    pose AUC@5 0.523 -> 0.774; its centre half (3,046 px) +0.86 -> +0.10 %, 0.895 -> 0.938; ``cpu`` the same
    or better; fountain's centre third (0.22) and the temple (0.26) held as well: no change."""
    focal_px: float = 0.0
    """Focal length in pixels of the photos as given (before ``ingest.max_image_size``), for every
    camera, instead of EXIF's or an estimate; still refined unless ``refine_focal_length`` is
    false. 0: EXIF where the photos have it, else estimated."""
    fov_deg: float = 0.0
    """Field of view across the photos' longest side, degrees, for every camera: the same as
    ``focal_px`` for photos of any size (0: unset; give one of the two)."""
    focal_warn_sd: float = field(default=0.01, metadata={"cache": False})
    """Warn when an estimated focal length's standard deviation from the final bundle adjustment
    exceeds this fraction of it."""
    weak_link_points: int = 80
    """Report (in ``sfm.json``, the log and ``status``) and warn about each part of the chosen model of
    at least two images that shares fewer than this many 3D points with the rest: its scale and
    orientation rest on those points alone (see :mod:`photogrammetry.sfm.links`; the model is kept as
    it is; 0: no check). Measured, the weakest such part: the office walk (60 frames, ``fast``), frames
    12-19 of a 48-frame model, 58 and 56 points in two runs (34 in one whose frames 12-18 were 22 % off
    in scale); temple, fountain, facade and the sample scenes at least 114."""
    split_weak_link_points: int = 0
    """Take the smaller side of each weak link of fewer than this many 3D points out of the chosen model
    (the weakest first, until none is left; 0: keep them, as reported by ``weak_link_points``): a model of
    fewer photos whose scale holds rather than one bent at the link. The photos taken out are reported
    as not registered (:func:`~photogrammetry.sfm.links.split`). Off: on the office walk (``cpu``, 40 frames,
    two runs) 40 -> 28 photos at 40, the largest scale departure against the true cameras 17.2 / 16.3 % ->
    8.2 / 6.1 %, but pose AUC@5 0.295 / 0.402 -> 0.135 / 0.194 (20 frames: 11.1 -> 7.9 %, 0.428 -> 0.233)."""
    refine_principal_point: Refine = "final"
    """``final``: tried in the last global bundle adjustment and kept only where it is
    plausible and significantly lowers the reprojection error (see :mod:`photogrammetry.sfm.refine`);
    ``always``: refined during mapping too, unconditionally; ``never``: the image centre."""
    seed: int = 0
    """Seed of COLMAP's random sampling (RANSAC, mapping)."""
    calibration: str = field(default="", metadata={"cache": False, "path": "dir"})
    """A COLMAP model folder of an earlier reconstruction with the same camera (e.g. the first
    object of a turntable batch): each camera of the same image size starts from its model and
    parameters (keep them fixed with ``refine_focal_length`` false and ``refine_extra_params`` /
    ``refine_principal_point`` never). Its cameras' content, not the path, is in the key."""
    sift: SiftOptions = field(default_factory=SiftOptions)
    """COLMAP's SIFT on top of our features."""
    verification: VerificationOptions = field(default_factory=VerificationOptions)
    """Geometric verification of the raw matches."""
    guided: GuidedOptions = field(default_factory=GuidedOptions)
    """Guided matching of weakly tied images between the mapping passes."""
    mapping: MappingOptions = field(default_factory=MappingOptions)
    """Incremental or global mapping."""
    initial_pair: InitialPairOptions = field(default_factory=InitialPairOptions)
    """The incremental mapper's initial pair where COLMAP's would be a contradicted planar one."""
    refinement: RefinementOptions = field(default_factory=RefinementOptions)
    """The final refinement of the chosen model."""
    plumb: PlumbOptions = field(default_factory=PlumbOptions)
    """Lens distortion measured from the photos' straight edges, where the final refinement's choice
    between the distortion held and free needs evidence from outside the bundle adjustment."""
    learned_bridge: LearnedBridgeOptions = field(default_factory=LearnedBridgeOptions)
    """XFeat + LighterGlue where the SIFT model leaves images out or has a weak link
    (:mod:`photogrammetry.sfm.learned_bridge`)."""
    sanity: SanityOptions = field(default_factory=SanityOptions)
    """The chosen mapping's rotations checked against the verified pairs' own (:mod:`photogrammetry.sfm.sanity`)."""
    focal_starts: FocalStartsOptions = field(default_factory=FocalStartsOptions)
    """The light first pass's starting focal lengths where a camera has no prior
    (:mod:`photogrammetry.sfm.focal_starts`)."""
    rolling_shutter: RollingShutterOptions = field(default_factory=RollingShutterOptions)
    """A sequence's rolling-shutter readout searched and corrected (:mod:`photogrammetry.sfm.rolling_shutter`)."""

    def __post_init__(self) -> None:
        if self.focal_px < 0 or not 0.0 <= self.fov_deg < 180.0:
            raise ConfigError(f"focal_px must be >= 0 pixels and fov_deg within [0, 180) degrees, got "
                              f"{self.focal_px} and {self.fov_deg}")
        if self.focal_px and self.fov_deg:
            raise ConfigError("give one of focal_px and fov_deg, not both")
        if self.split_weak_link_points < 0:
            raise ConfigError(f"split_weak_link_points must be >= 0, got {self.split_weak_link_points}")
        if self.weak_link_points < 0:
            raise ConfigError(f"weak_link_points must be >= 0, got {self.weak_link_points}")
        if self.focal_warn_sd <= 0:
            raise ConfigError(f"focal_warn_sd must be > 0, got {self.focal_warn_sd}")
        if self.narrow_field < 0:
            raise ConfigError(f"narrow_field must be >= 0 (0: no rule), got {self.narrow_field}")
