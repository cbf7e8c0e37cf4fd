"""Errors a user can act on.

Every error raised for bad input, bad settings or a busy workspace derives from
:class:`PhotogrammetryError`; the CLI prints its message (never a traceback) and exits
with :attr:`PhotogrammetryError.exit_code`.
"""

from __future__ import annotations


class PhotogrammetryError(Exception):
    """Base class of the errors that carry a message meant for the user."""

    exit_code: int = 1


class InputError(PhotogrammetryError):
    """The photos or another input file cannot be used; the message names the file."""

    exit_code = 2


class ConfigError(PhotogrammetryError):
    """A preset, config file or ``--set`` override is invalid; the message lists valid keys."""

    exit_code = 2


class WorkspaceLockedError(PhotogrammetryError):
    """Another live process holds the workspace."""

    exit_code = 3


class StageError(PhotogrammetryError):
    """A stage failed for a reason it could explain (e.g. reconstruction found no model)."""

    exit_code = 4
