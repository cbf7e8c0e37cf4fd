"""Structure from motion through pycolmap, used by the ``sfm`` and ``undistort`` stages.

Modules: :mod:`.database` (a COLMAP database from our features and matches), :mod:`.sift`
(COLMAP's SIFT matches added on the same pairs), :mod:`.verification`
(two-view geometries), :mod:`.mapping` (incremental / global mapping and the retry),
:mod:`.refine` (re-triangulation and the final bundle adjustment), :mod:`.export` (COLMAP
binary and text, PLY, nerfstudio ``transforms.json``), :mod:`.colmap` (calling pycolmap
safely), :mod:`.options` (the options of them all, nested by the stage's config). pycolmap is
imported inside functions.
"""
