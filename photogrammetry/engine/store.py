"""Content-addressed artifact folders: ``<workspace>/<stage>/<key>/``.

A key is the hash of a stage's output-affecting settings, its upstream keys, its version and,
for stages that read outside inputs, a fingerprint of those inputs. A stage writes into
``<key>.partial/``; the manifest is written last, then the folder is renamed into place. A
folder counts as done only when its manifest names the same stage and key.

The manifest lists every file of the artifact with its size and BLAKE2b checksum
(:mod:`photogrammetry.io.integrity`). Committing follows SQLite's discipline: the data files
are made durable (one ``syncfs`` on Linux, else an ``fsync`` each), then the manifest (written
and ``fsync``-ed before its rename), the folders, the rename of the folder into place and its
parent folder, so that a power cut cannot leave a manifest naming files that are not on disk. A folder found damaged is moved to
``<workspace>/.quarantine/`` (kept for inspection, removed by ``clean``), never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photogrammetry.engine.stage import StageSpec, output_affecting_settings
from photogrammetry.io.integrity import check_files, fsync_dir, fsync_tree, list_files, sync_files
from photogrammetry.io.jsonio import read_json, to_jsonable, write_json

MANIFEST = "manifest.json"
PARTIAL_SUFFIX = ".partial"
KEY_LENGTH = 16
TRASH = ".trash"
QUARANTINE = ".quarantine"
"""Folder of the workspace where damaged artifacts are moved (``clean`` empties it)."""


def derive_key(spec: StageSpec, config: Any, upstream: Mapping[str, str], inputs: Any = None) -> str:
    """The cache key of a stage run: a hash of everything that changes its output."""
    material = {
        "stage": spec.name,
        "version": spec.version,
        "settings": output_affecting_settings(config),
        "upstream": dict(upstream),
        "inputs": inputs,
    }
    text = json.dumps(to_jsonable(material), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def folder_size(folder: Path) -> int:
    """Total size in bytes of the files below ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@dataclass(frozen=True)
class Artifact:
    """A finished artifact folder and its manifest."""

    stage: str
    """Stage name."""
    key: str
    """Cache key."""
    folder: Path
    """The artifact folder."""
    manifest: Mapping[str, Any]
    """Contents of its ``manifest.json``."""


class ArtifactStore:
    """The artifact folders of one workspace."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace

    def folder(self, stage: str, key: str) -> Path:
        return self.workspace / stage / key

    def partial_folder(self, stage: str, key: str) -> Path:
        return self.workspace / stage / f"{key}{PARTIAL_SUFFIX}"

    def find(self, stage: str, key: str) -> Artifact | None:
        """The finished artifact for ``(stage, key)``, or ``None`` if absent, partial or corrupt."""
        folder = self.folder(stage, key)
        try:
            manifest = read_json(folder / MANIFEST)
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict) or manifest.get("stage") != stage or manifest.get("key") != key:
            return None
        return Artifact(stage=stage, key=key, folder=folder, manifest=manifest)

    def problems(self, artifact: Artifact, *, checksums: bool) -> list[str]:
        """What is wrong with the files of ``artifact``: sizes always, checksums with ``checksums``.

        Each problem names the file relative to the workspace. A manifest without a file list
        (written before artifacts carried checksums) has nothing to check against: none (``run``
        lists its files first, :meth:`adopt`).
        """
        files = artifact.manifest.get("files")
        if not isinstance(files, dict):
            return []
        return check_files(artifact.folder, files, checksums=checksums, label=f"{artifact.stage}/{artifact.key}/")

    def adopt(self, artifact: Artifact) -> Artifact:
        """``artifact`` with a file list: one written before manifests had them gets its files
        listed now (sizes and checksums of what is on disk), its manifest rewritten durably, so
        that from then on it is checked like any other. An older workspace is not recomputed."""
        if isinstance(artifact.manifest.get("files"), dict):
            return artifact
        files = list_files(artifact.folder, exclude=(MANIFEST,))
        manifest = {**artifact.manifest, "files": files, "size_bytes": sum(f["size"] for f in files.values())}
        write_json(artifact.folder / MANIFEST, manifest, durable=True)
        return Artifact(stage=artifact.stage, key=artifact.key, folder=artifact.folder, manifest=manifest)

    def quarantine(self, folder: Path) -> Path:
        """Move a damaged folder to ``.quarantine/`` (never used again; ``clean`` removes it)."""
        target_dir = self.workspace / QUARANTINE
        target_dir.mkdir(exist_ok=True)
        target = target_dir / f"{folder.parent.name}-{folder.name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        os.rename(folder, target)
        return target

    def keys(self, stage: str) -> list[str]:
        """Keys of all finished artifacts of ``stage``."""
        root = self.workspace / stage
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if p.is_dir() and self.find(stage, p.name))

    def begin(self, stage: str, key: str, *, fresh: bool) -> Path:
        """The ``.partial`` folder to write into; kept from an interrupted run unless ``fresh``."""
        partial = self.partial_folder(stage, key)
        if fresh and partial.exists():
            self.discard(partial)
        partial.mkdir(parents=True, exist_ok=True)
        (partial / MANIFEST).unlink(missing_ok=True)
        return partial

    def commit(self, stage: str, key: str, manifest: Mapping[str, Any]) -> Artifact:
        """Drop scratch files, list and ``fsync`` the files, write the manifest last, rename into place.

        Names starting with ``.`` inside a partial folder are scratch (per-item records,
        temporary files of interrupted writes) and are deleted here.
        """
        partial = self.partial_folder(stage, key)
        for scratch in sorted(partial.rglob(".*"), reverse=True):
            if scratch.is_dir():
                shutil.rmtree(scratch)
            elif scratch.exists():
                scratch.unlink()
        (partial / MANIFEST).unlink(missing_ok=True)
        files = list_files(partial)
        sync_files(partial, files)
        size = sum(entry["size"] for entry in files.values())
        manifest = {**manifest, "stage": stage, "key": key, "size_bytes": size, "files": files}
        write_json(partial / MANIFEST, manifest, durable=True)
        fsync_tree(partial)
        final = self.folder(stage, key)
        if final.exists():  # forced rerun, or a corrupt folder: move the old one out first
            self.discard(final)
        os.rename(partial, final)
        fsync_dir(final.parent)
        return Artifact(stage=stage, key=key, folder=final, manifest=read_json(final / MANIFEST))

    def discard(self, folder: Path) -> None:
        """Move a folder to the workspace's trash (atomic), then delete it."""
        trash = self.workspace / TRASH
        trash.mkdir(exist_ok=True)
        target = trash / f"{folder.parent.name}-{folder.name}-{os.getpid()}-{time.monotonic_ns()}"
        os.rename(folder, target)
        shutil.rmtree(target, ignore_errors=True)
        if not any(trash.iterdir()):
            trash.rmdir()

    def empty_trash(self) -> None:
        """Delete what an interrupted discard left in the trash."""
        shutil.rmtree(self.workspace / TRASH, ignore_errors=True)
