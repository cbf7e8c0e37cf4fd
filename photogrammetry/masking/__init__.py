"""Object masks: which pixels of each photo show the object (255) and which the background (0).

Methods (the ``masks`` stage's ``method``), one registry, :data:`MASK_METHODS`
(:mod:`photogrammetry.masking.methods`):

- ``none``: no masks; every pixel is used.
- ``ingest``: the masks ingest made from the photos' alpha channels (photos without alpha get none).
- ``folder``: the user's own masks from a folder (see :mod:`photogrammetry.masking.folder`).
- ``background``: masks estimated from the sequence itself, for a fixed camera that films an
  object turning on a platform: the static background is what stays constant across frames
  (see :mod:`photogrammetry.masking.background`).

The stage's artifact is a :class:`~photogrammetry.io.masks.MaskSet` (:mod:`photogrammetry.io.masks`).
"""

from __future__ import annotations

from photogrammetry.masking.methods import MASK_METHODS, MaskMethod, MaskRequest, mask_method

__all__ = ["MASK_METHODS", "MaskMethod", "MaskRequest", "mask_method"]
