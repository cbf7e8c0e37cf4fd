"""Multi-view stereo: depth, normal and confidence maps per view, and their fusion.

Modules, in the order data flows through them:

- :mod:`.scene`: the undistorted views and sparse points (read from a COLMAP-style folder);
- :mod:`.selection`: source views per view (triangulation angles of shared points) and depth ranges;
- :mod:`.features`, :mod:`.network`, :mod:`.methods`: the feature maps matching compares, the
  compact network we train (``scripts/train_mvs.py``), and the registry of MVS methods;
- :mod:`.geometry`, :mod:`.cost`, :mod:`.cascade`: warping, matching costs, the coarse-to-fine
  plane sweep with sub-pixel refinement, tiled to a memory budget;
- :mod:`.filtering`: confidence, forward-backward consistency and masks;
- :mod:`.multiview`: the two resumable passes over a scene (sweep, then filter + normals);
- :mod:`.fusion`, :mod:`.tsdf`: point fusion and TSDF fusion (open3d ``VoxelBlockGrid``).

Importing this package is cheap: torch, kornia and open3d are imported inside functions.
"""
