"""Photogrammetry: a folder of photos to a textured mesh, as a cached, resumable pipeline."""

__version__ = "0.1.0"
