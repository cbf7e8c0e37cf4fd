"""What a person gets at the end: the model upright, centred and sized, and the output folder.

- :mod:`photogrammetry.export.frame`: the up direction (cameras, ground plane or wall, turntable
  axis), the origin and the size of the exported model (:class:`FrameOptions`);
- :mod:`photogrammetry.export.files`: the model and the cameras moved into that frame;
- :mod:`photogrammetry.export.publish`: the export's files copied (hard-linked) under stable
  names into an output folder, replaced as a whole when published again.
"""

from photogrammetry.export.frame import UNIT_WORDS, Z_UP_FROM_Y_UP, FrameOptions, ModelFrame, model_frame

__all__ = ["UNIT_WORDS", "Z_UP_FROM_Y_UP", "FrameOptions", "ModelFrame", "model_frame"]
