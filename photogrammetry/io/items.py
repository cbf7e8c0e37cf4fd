"""Per-item results of a stage, kept across interruptions so the stage resumes item by item."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from photogrammetry.io.integrity import check_files, file_entry
from photogrammetry.io.jsonio import read_json, write_json

log = logging.getLogger(__name__)


class ItemStore:
    """A folder of small JSON records, one per finished item, written atomically.

    A record is written only after the item's files are in place, so a record's presence means
    the item is done. A record may list the item's files (paths relative to the folder that holds
    the store, i.e. the stage's output folder) with their sizes and checksums: the item then counts
    as done only while those files are intact, so that a resumed stage never keeps a truncated or
    altered file (a power cut, a disk error). Item names may contain any characters: files are
    named by their hash.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._verified: set[str] = set()

    @property
    def root(self) -> Path:
        """The folder the files of the records are relative to."""
        return self.folder.parent

    def _path(self, name: str) -> Path:
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()
        return self.folder / f"{digest}.json"

    def get(self, name: str) -> Any | None:
        """The record of a finished item, or ``None`` when it has not finished, is unreadable, or
        one of its files is missing or differs from what was recorded (it is then redone)."""
        path = self._path(name)
        if not path.is_file():
            return None
        try:
            record = read_json(path)
        except ValueError:  # a record cut short cannot happen with atomic writes; be safe anyway
            return None
        if not isinstance(record, dict) or record.get("name") != name:
            return None
        if name not in self._verified and record.get("files"):
            problems = check_files(self.root, record["files"], checksums=True)
            if problems:
                log.warning("redoing %s: %s", name, "; ".join(problems))
                return None
        self._verified.add(name)
        return record.get("value")

    def put(self, name: str, value: Any, files: Iterable[str | Path] = ()) -> None:
        """Mark ``name`` as finished with a JSON-able ``value`` and the files it wrote: paths
        relative to :attr:`root`, or paths below it as built from it (``root / "x"``, absolute or not)."""
        listed = {}
        for file in files:
            path = Path(file)
            if not (path.is_absolute() or path.is_relative_to(self.root)):
                path = self.root / path
            listed[path.relative_to(self.root).as_posix()] = file_entry(path)
        write_json(self._path(name), {"name": name, "value": value, **({"files": listed} if listed else {})})
        self._verified.add(name)
