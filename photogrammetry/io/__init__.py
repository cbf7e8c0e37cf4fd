"""Artifact formats and conventions, written down once.

Conventions used by every stage:

- Pixel coordinates follow COLMAP: the centre of the top-left pixel is ``(0.5, 0.5)``.
- Poses are ``cam_from_world``: ``x_cam = R @ X_world + t``; cameras look along ``+z``,
  ``+y`` points down in the image.
- Units are those of the reconstruction (arbitrary for SfM, metres once a metric scale is
  known); every artifact that carries geometry says which in its JSON metadata.

Workspace layout (see :mod:`photogrammetry.engine.store`)::

    <workspace>/
      run.json                  the last run's request: photos, preset, resolved settings
      .lock                     PID and host of the process that holds the workspace
      logs/                     one log file per CLI run
      <stage>/<key>/            one finished artifact; <key> is derived from settings + inputs
        manifest.json           written last: settings, upstream keys, timings, counts, outputs
      <stage>/<key>.partial/    an artifact being written (resumed item by item)

Main outputs: each stage names its main outputs in its manifest (``outputs``: label -> path);
``photogrammetry status --json`` lists them and ``photogrammetry eval`` reads these labels:
``sparse_model`` (COLMAP model folder), ``depth_maps`` (folder of depth maps), ``fused_points``
(PLY), ``mesh`` (PLY/OBJ/GLB) and ``textured_model`` (GLB or OBJ+MTL).

Stage artifacts:

- ``ingest``: ``images/`` (the photos as the pipeline sees them, EXIF orientation applied,
  downscaled when asked; names are the photos' paths relative to the input folder, with
  ``.png`` appended when the pixels had to be re-encoded), ``masks/`` (from alpha channels,
  ``<image name>.png``, 255 = keep), ``images.json`` (:class:`~photogrammetry.io.ingest.ImageRecord`
  list), ``cameras.json`` (:class:`~photogrammetry.io.ingest.CameraGroup` list), ``report.json``
  (skipped files with reasons, exact duplicates).
- ``sfm``: ``model/`` (the chosen, largest model: COLMAP binary), ``model_text/`` (the same as
  text), ``models/<i>/`` (every model found, binary, largest first: ``0`` is the chosen one),
  ``points.ply`` (its sparse points, coloured), ``transforms.json`` (nerfstudio cameras:
  OpenGL ``camera_to_world``, original world frame, image paths relative to the file),
  ``database.db`` (COLMAP database: keypoints, raw matches, two-view geometries), ``sfm.json``
  (:class:`~photogrammetry.io.sfm.SfmSummary`: mapper, attempts, models with sizes,
  registered and unregistered images). Poses are COLMAP's ``cam_from_world`` in arbitrary units.
- ``undistort``: a COLMAP dense workspace from ``pycolmap.undistort_images``: ``images/``
  (registered images resampled to pinhole cameras), ``sparse/`` (PINHOLE model, binary),
  ``stereo/`` (patch-match configuration), ``undistort.json`` (image names).
"""
