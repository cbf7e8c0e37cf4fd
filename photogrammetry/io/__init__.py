"""Artifact formats and conventions, written down once.

Conventions used by every stage:

- Pixel coordinates follow COLMAP: the centre of the top-left pixel is ``(0.5, 0.5)``.
- Poses are ``cam_from_world``: ``x_cam = R @ X_world + t``; cameras look along ``+z``,
  ``+y`` points down in the image.
- Units are those of the reconstruction (arbitrary for SfM, metres once a metric scale is
  known): the scale artifact sets them (:data:`~photogrammetry.io.scale.Units`) and every later
  artifact that carries geometry says which in its JSON metadata, copied from its upstream one.

Every artifact's types, writers and loaders live in this package, one module per format; the
stages only glue them to the libraries.

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
(PLY), ``mesh`` (PLY/OBJ/GLB) and ``textured_obj`` (the texture stage's OBJ+MTL).

Stage artifacts:

- ``ingest``: ``images/`` (the photos as the pipeline sees them, EXIF orientation applied,
  downscaled when asked; names are the photos' paths relative to the input folder, with
  ``.png`` appended when the pixels had to be re-encoded), ``masks/`` (from alpha channels,
  ``<image name>.png``, 255 = keep), ``images.json`` (:class:`~photogrammetry.io.ingest.ImageRecord`
  list), ``cameras.json`` (:class:`~photogrammetry.io.ingest.CameraGroup` list), ``report.json``
  (skipped files with reasons, exact duplicates).
- ``masks`` (:mod:`photogrammetry.io.masks`): ``masks/<image name>.png`` (8-bit, 255 =
  object, the image's size) and ``masks.json`` (method; per image name the mask's path relative
  to the artifact folder, or ``null``: every pixel is used). Features, the COLMAP SIFT assist
  and undistort read it; the later stages read the undistorted masks.
- ``features``, ``pairs``, ``matches`` (:mod:`photogrammetry.io.features`): ``features.h5``,
  ``pairs.json`` and ``pairs.txt``, ``matches.h5``, in hloc's layout (its readers take them
  unchanged); pixels, no units.
- ``sfm`` (:mod:`photogrammetry.io.sfm`): ``model/`` (the chosen, largest model: COLMAP binary),
  ``model_text/`` (the same as text), ``models/<i>/`` (every model found, binary, largest first:
  ``0`` is the chosen one), ``points.ply`` (its sparse points, coloured), ``transforms.json``
  (nerfstudio cameras: OpenGL ``camera_to_world``, original world frame, image paths relative to
  the file), ``database.db`` (COLMAP database: keypoints, raw matches, two-view geometries),
  ``sfm.json`` (:class:`~photogrammetry.io.sfm.SfmSummary`: mapper, attempts, models with sizes,
  registered and unregistered images). Poses are COLMAP's ``cam_from_world`` in arbitrary units.
- ``scale`` (:mod:`photogrammetry.io.scale`): ``model/`` (the sfm model multiplied by the
  scale, COLMAP binary; the ``sparse_model`` output) and ``scale.json`` (method, ``units``:
  ``metres`` or ``sfm``, ``scale`` in metres per SfM unit, ``relative_uncertainty`` (one
  standard deviation), ``samples``). With ``method = none`` the model is copied unchanged.
- ``undistort`` (:mod:`photogrammetry.io.undistort`): a COLMAP dense workspace from
  ``pycolmap.undistort_images``: ``images/`` (registered images resampled to pinhole cameras),
  ``sparse/`` (PINHOLE model, binary), ``stereo/`` (patch-match configuration),
  ``masks/<image name>.png`` (the object masks warped like the images, 255 = object; only when
  the photos have masks), ``undistort.json`` (image names, and ``units`` of the model:
  ``metres`` or ``sfm``).
- ``depth`` (:mod:`photogrammetry.io.depth`): per view ``<name>`` (the image name),
  ``depth/<name>.npy`` ((H, W) float32 z depth in model units, 0 = none; the ``depth_maps``
  output), ``normals/<name>.npy`` ((H, W, 3) float16 camera-frame unit normals facing the
  camera), ``confidence/<name>.npy`` ((H, W) float16 in [0, 1]); ``depth.json`` (method, and per
  view: map size, ``K`` at that size, ``cam_from_world``, depth range, sources, fraction kept;
  ``units``).
  Maps may be smaller than the undistorted images (``depth.max_image_size``).
- ``fusion`` (:mod:`photogrammetry.io.fusion`): ``fused.ply`` (the ``fused_points`` output: binary
  PLY, float32 ``x y z nx ny nz``, uint8 ``red green blue``, world frame), ``tsdf_mesh.ply`` (TSDF
  method only: triangle mesh with vertex colours), ``fusion.json`` (method, point count, voxel
  size, ``units``).
- ``mesh`` (:mod:`photogrammetry.io.mesh`): ``mesh.ply`` (the ``mesh`` output: the cleaned,
  cropped surface at full resolution, detail level ``raw``; binary PLY, float64 ``x y z``,
  float32 normals, uchar colours when the mesher gives them), ``levels/<level>.ply`` for
  ``preview`` / ``reduced`` / ``medium`` / ``full`` (quadric decimation to about 25k / 50k /
  100k / 250k triangles), ``mesh.json`` (units, mesher, triangles per level, timings, crop box).
- ``texture`` (OBJ files in :mod:`photogrammetry.io.obj`): ``model.obj`` + ``model.mtl`` + ``model.png`` (one detail level with one square
  texture atlas; OBJ UVs have ``v = 0`` at the bottom row) and, on decimated levels,
  ``model_normal.png`` (tangent-space normal map of the raw mesh, named by the MTL's ``norm`` and
  ``map_Bump``; frames in :mod:`photogrammetry.io.tangents`), the same for each further level in
  ``levels/<level>/``, ``texture.json`` (units, level, texture size, triangles, photos used,
  fraction of faces no photo saw, timings, further levels, normal map).
- ``export`` (:mod:`photogrammetry.io.export`; GLB writer in :mod:`photogrammetry.io.gltf`):
  ``model.glb`` (the ``textured_model`` output: glTF 2.0, one mesh, texture embedded as PNG or
  JPEG in a PBR material with no ``baseColorFactor``, a normal map as ``normalTexture`` with
  ``TANGENT``s; ``asset.extras`` holds ``units``, ``up``
  and the transform from the reconstruction), ``model.obj`` + ``.mtl`` + texture, ``model.ply``
  (vertex colours sampled from the texture, UVs as ``s``, ``t``), ``cameras/`` (COLMAP model and
  ``transforms.json``), ``levels/<level>/`` (each further textured level: ``model.glb``,
  ``.obj``, ``.ply``), ``export.json`` (units, frame, files, triangles). Unlike every other
  artifact, these are not in the reconstruction's frame: the model is upright (+Y up in the
  GLB; +Y or +Z in the others), centred and, without a metric scale, scaled to a set size
  (units ``normalised``); ``export.json`` holds the transforms. ``photogrammetry run`` publishes
  these files into the output folder (:mod:`photogrammetry.export.publish`).
"""
