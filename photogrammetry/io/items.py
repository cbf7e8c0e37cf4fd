"""Per-item results of a stage, kept across interruptions so the stage resumes item by item."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from photogrammetry.io.jsonio import read_json, write_json


class ItemStore:
    """A folder of small JSON records, one per finished item, written atomically.

    A record is written only after the item's files are in place, so a record's presence means
    the item is done. Item names may contain any characters: files are named by their hash.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, name: str) -> Path:
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()
        return self.folder / f"{digest}.json"

    def get(self, name: str) -> Any | None:
        """The record of a finished item, or ``None`` when it has not finished (or is unreadable)."""
        path = self._path(name)
        if not path.is_file():
            return None
        try:
            record = read_json(path)
        except ValueError:  # a record cut short cannot happen with atomic writes; be safe anyway
            return None
        return record.get("value") if record.get("name") == name else None

    def put(self, name: str, value: Any) -> None:
        """Mark ``name`` as finished with a JSON-able ``value``."""
        write_json(self._path(name), {"name": name, "value": value})
