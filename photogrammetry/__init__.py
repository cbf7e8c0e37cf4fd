"""Photogrammetry: a folder of photos to a textured mesh, as a cached, resumable pipeline."""

from photogrammetry._version import __version__
from photogrammetry.api import clean, run, status, verify

__all__ = ["run", "status", "clean", "verify", "__version__"]
