"""Object masks: which pixels of each photo show the object (255) and which the background (0).

Methods (the ``masks`` stage's ``method``), one registry, :data:`MASK_METHODS`:

- ``none``: no masks; every pixel is used.
- ``ingest``: the masks ingest made from the photos' alpha channels (photos without alpha get none).
- ``folder``: the user's own masks from a folder (see :mod:`photogrammetry.masking.folder`).
- ``background``: masks estimated from the sequence itself, for a fixed camera that films an
  object turning on a platform: the static background is what stays constant across frames
  (see :mod:`photogrammetry.masking.background`).

The result of the stage is a :class:`~photogrammetry.masking.result.MaskSet`.
"""

from __future__ import annotations

from photogrammetry.masking.result import MaskSet, load_mask_set, save_mask_set

MASK_METHODS: dict[str, str] = {
    "none": "no masks: every pixel is used",
    "ingest": "masks from the photos' alpha channels (as ingest wrote them)",
    "folder": "the user's masks from a folder (<name>.png, <stem>.png or <stem>_mask.png; white = object)",
    "background": "moving object in front of a static background, estimated from the sequence (turntables)",
}
"""Mask methods by name, with a one-line summary each."""

__all__ = ["MASK_METHODS", "MaskSet", "load_mask_set", "save_mask_set"]
