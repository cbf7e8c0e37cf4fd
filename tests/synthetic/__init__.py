"""Tests of the synthetic scene renderer (:mod:`photogrammetry.synthetic`)."""
