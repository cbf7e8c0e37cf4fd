"""The Python API; the CLI is a thin layer over these functions.

Example::

    import photogrammetry
    result = photogrammetry.run("photos/", "work/", preset="fast", overrides=["ingest.max_image_size=1600"])
    print(photogrammetry.status("work/").to_dict())
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from photogrammetry.engine.escalate import run_escalating
from photogrammetry.engine.runner import RunOptions, RunRequest, RunResult
from photogrammetry.engine.settings import AUTO_PRESET, PresetChoice, choose_preset, resolve_config
from photogrammetry.engine.workspace import (WORKSPACE_MARKER, ArtifactCheck, CleanReport, WorkspaceStatus,
                                             clean_workspace, read_run_record, verify_workspace, workspace_status)
from photogrammetry.errors import ConfigError, InputError, PhotogrammetryError
from photogrammetry.io.photos import list_files
from photogrammetry.stages import PIPELINE

if TYPE_CHECKING:
    from photogrammetry.evaluation import EvalReport
    from photogrammetry.export.publish import Published
    from photogrammetry.report import ReportFile, ReportOptions

log = logging.getLogger("photogrammetry")

EVALUATED_OUTPUTS = {
    "sparse_model": "sparse_model",
    "depth_maps": "depth_dir",
    "fused_points": "points_path",
    "mesh": "mesh_path",
    "textured_obj": "textured_mesh_path",
}
"""Status output labels that :func:`evaluate` reads -> the :class:`Estimate` field they fill (the texture
stage's model, in the reconstruction's frame like the cameras; the export moves it upright)."""


def run(
    photos: str | os.PathLike,
    workspace: str | os.PathLike,
    *,
    preset: str = AUTO_PRESET,
    config_file: str | os.PathLike | None = None,
    overrides: Sequence[str] = (),
    until: str | None = None,
    force: Sequence[str] = (),
    device: str = "auto",
    workers: int | None = None,
    progress: bool | None = None,
    verify: bool = False,
    on_start: Callable[[Path], None] | None = None,
    output: str | os.PathLike | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    escalate: bool = True,
) -> RunResult:
    """Run the pipeline on a folder of photos (or a video), reusing what ``workspace`` already holds.

    When the run reaches the export stage, its files are published into ``output`` under stable
    names (:func:`publish`), with the run's report (:func:`report`).

    Args:
        photos: Folder of photos and videos (searched recursively), or one video file.
        workspace: Folder for the cached artifacts; created when missing.
        preset: Name of a preset in ``pipelines/`` (see ``photogrammetry run --help``), or ``auto``:
            ``turntable`` where the photos' background stands still, else ``default`` (ALIKED +
            LightGlue) on a GPU, ``cpu`` (SIFT + nearest neighbours) without one, escalated to ``xfeat``
            where its sparse model loses the photos (``escalate``; see
            :func:`~photogrammetry.engine.settings.choose_preset`); the run logs which and records it.
        config_file: A TOML file with the same tables as a preset, applied after it.
        overrides: ``stage.option=value`` assignments, applied last.
        until: Stop after this stage.
        force: Recompute these stages (and all after them) even when cached.
        device: ``auto``, ``cpu`` or ``cuda``.
        workers: Worker threads per stage (default: up to 4); with ``executor="ray"``, Ray workers
            (actors) per stage (default: one per CPU of the cluster, or per GPU when it has GPUs).
        progress: Progress bars; ``None`` shows them when stderr is a terminal.
        verify: Compare the checksums of every cached result met, not only of those read.
        on_start: Called with the workspace once all checks passed, before the first write to it
            other than the workspace folder, its marker and its lock.
        output: Folder for the final files (default: ``workspace/output``).
        executor: Where per-image, per-pair and per-view work runs: ``local`` (this process) or
            ``ray`` (a Ray cluster, which must see ``workspace`` at the same path on every node;
            ``pip install 'photogrammetry[distributed]'``). Outputs and cache keys are the same.
        ray_address: ``ray`` only: ``auto`` or ``HOST:PORT`` of a running cluster (``ray start
            --head``); ``None`` starts Ray on this machine with ``workers`` CPUs and stops it after the run.
        escalate: Where ``auto`` chose ``cpu``: if its sparse model registers under half the photos (or
            fails), run the sparse part again with ``xfeat`` and go on with the model that registers more
            (:data:`~photogrammetry.engine.settings.CPU_ESCALATION`); ``False`` keeps cpu's.

    Returns:
        Which stages ran or were reused, with their artifact folders.
    """
    config_path = Path(config_file) if config_file else None
    files = _input_files(Path(photos)) if preset == AUTO_PRESET else []  # auto: does the background stand still?
    choice = choose_preset(preset, device=device, config_file=config_path, overrides=overrides, photos=files,
                           escalate=escalate)
    config = resolve_config(PIPELINE, preset=choice.name, overrides=overrides, config_file=config_path)
    if until in (None, "export") and Path(photos).exists():
        from photogrammetry.export.publish import check_output

        check_output(output_folder(workspace, output), Path(photos), Path(workspace))
    request = RunRequest(photos=Path(photos), workspace=Path(workspace), config=config, preset=choice.name,
                         overrides=tuple(overrides), until=until, force=tuple(force))

    def started(folder: Path) -> None:  # after on_start, so that a log file it opens holds the choice too
        if on_start is not None:
            on_start(folder)
        if choice.reason:
            log.info("%s", choice.reason)

    options = RunOptions(device=device, workers=workers, progress=progress, verify=verify, on_start=started,
                         executor=executor, ray_address=ray_address)
    result = run_escalating(PIPELINE, request, options, fallback=_fallback(choice, request, config_path, overrides),
                            rule=choice.escalation)
    if any(stage.name == "export" for stage in result.stages):
        folder = output_folder(workspace, output)
        publish(result.folder("export"), folder)
        try:
            report(workspace, folder / "report.html")
        except (PhotogrammetryError, OSError) as e:  # the model is published: the run succeeded without it
            log.warning("report.html not written (%s); 'photogrammetry report %s -o %s' tries again", e, workspace,
                        folder / "report.html")
    return result


def _fallback(choice: PresetChoice, request: RunRequest, config_file: Path | None,
              overrides: Sequence[str]) -> RunRequest | None:
    """``request`` with the settings of the preset ``choice`` escalates to, if it may (not where the
    user's settings do not go with that preset: the run is then the chosen preset's alone)."""
    if choice.escalation is None:
        return None
    try:
        config = resolve_config(PIPELINE, preset=choice.escalation.preset, overrides=overrides,
                                config_file=config_file)
    except ConfigError as e:
        log.info("preset auto: %s is not tried where %s loses the photos: with these settings, %s",
                 choice.escalation.preset, choice.name, e)
        return None
    return replace(request, preset=choice.escalation.preset, config=config)


def _input_files(photos: Path) -> list[Path]:
    """The files ingest will read: those below a folder (in order), or the one file given."""
    return list_files(photos, WORKSPACE_MARKER) if photos.is_dir() else [photos]


def output_folder(workspace: str | os.PathLike, output: str | os.PathLike | None = None) -> Path:
    """Where :func:`run` publishes the final files: ``output``, else ``workspace/output``."""
    return Path(output) if output is not None else Path(workspace) / "output"


def publish(export_folder: str | os.PathLike, output: str | os.PathLike) -> Published:
    """Publish an export artifact into ``output``: ``model.glb``, ``model.obj`` (+ ``.mtl`` + texture),
    ``model.ply``, ``cameras/`` (COLMAP model, ``transforms.json``), ``export.json``, as hard links or
    copies, the whole folder replaced at once (see :mod:`photogrammetry.export.publish`)."""
    from photogrammetry.export.publish import publish as publish_files

    published = publish_files(Path(export_folder), Path(output))
    how = "hard links" if published.linked else "copies"
    log.info("published %s into %s (%s)", ", ".join(published.files) or "nothing", published.folder, how)
    return published


def default_report_path(workspace: str | os.PathLike) -> Path:
    """Where ``photogrammetry report`` writes by default: into ``workspace/output/`` when a run has
    published there, else ``workspace/report.html`` (an unpublished output folder would refuse publishing)."""
    from photogrammetry.export.publish import PUBLISHED_FILE
    from photogrammetry.report import REPORT_FILE

    published = output_folder(workspace)
    return published / REPORT_FILE if (published / PUBLISHED_FILE).is_file() else Path(workspace) / REPORT_FILE


def report(workspace: str | os.PathLike, path: str | os.PathLike | None = None, *,
           options: ReportOptions | None = None) -> ReportFile:
    """Write the report of ``workspace``: one self-contained HTML file (see :mod:`photogrammetry.report`).

    Args:
        workspace: A workspace that ``run`` has filled, wholly or in part (stages that have not run
            show "not computed").
        path: The HTML file to write (default: :func:`default_report_path`).
        options: How much it shows (points, thumbnails, views; see :class:`photogrammetry.report.ReportOptions`).
    """
    from photogrammetry.report import ReportInputs, StageRecord, write_report

    state = status(workspace)
    record = read_run_record(Path(workspace))
    stages = tuple(StageRecord(name=s.name, state=s.state, seconds=s.seconds, counts=s.counts,
                               settings=record.settings.get(s.name, {}),
                               folder=Path(s.folder) if s.folder else None) for s in state.stages)
    inputs = ReportInputs(workspace=Path(workspace).resolve(), photos=state.photos, stages=stages,
                          preset=record.preset, preset_reason=record.preset_reason)
    written = write_report(inputs, Path(path) if path is not None else default_report_path(workspace), options)
    log.info("report: %s (%.1f MB, %.1f s)", written.path, written.size_bytes / 1e6, written.seconds)
    return written


def status(workspace: str | os.PathLike) -> WorkspaceStatus:
    """State of every stage of ``workspace`` for the settings of its last run."""
    return workspace_status(PIPELINE, Path(workspace))


def verify(workspace: str | os.PathLike) -> tuple[ArtifactCheck, ...]:
    """Sizes and checksums of every file of every cached result of ``workspace`` against its manifest."""
    return verify_workspace(PIPELINE, Path(workspace))


def clean(workspace: str | os.PathLike, *, keep_latest: bool = False) -> CleanReport:
    """Delete cached artifacts of ``workspace``; with ``keep_latest`` keep the last run's."""
    return clean_workspace(PIPELINE, Path(workspace), keep_latest=keep_latest)


def evaluate(workspace: str | os.PathLike, gt: str | os.PathLike, *, holdout: Sequence[str] = ()) -> EvalReport:
    """Evaluate the finished outputs of ``workspace`` against the ground truth at ``gt``.

    Args:
        workspace: A workspace that ``run`` has filled.
        gt: Ground truth: a sample scene folder, an RGB-D sequence folder (true cameras and sensor
            depth), a COLMAP model, a Middlebury ``*_par.txt`` or a folder of Strecha ``*.camera``
            files (see :func:`photogrammetry.evaluation.load_ground_truth`).
        holdout: Views kept out of the reconstruction (texture is evaluated in them).
    """
    from photogrammetry.evaluation import Estimate, load_ground_truth
    from photogrammetry.evaluation import evaluate as evaluate_estimate
    from photogrammetry.io.ingest import load_ingest

    found: dict[str, Path] = {}
    stages = status(workspace).stages
    for stage in stages:
        if stage.state == "done":
            found.update({EVALUATED_OUTPUTS[k]: Path(v) for k, v in stage.outputs.items() if k in EVALUATED_OUTPUTS})
    if not found:
        raise InputError(f"{workspace} has no finished output to evaluate ({', '.join(EVALUATED_OUTPUTS)}); "
                         "run the pipeline further first")
    truth = load_ground_truth(Path(gt))
    ingest = next((s.folder for s in stages if s.name == "ingest" and s.state == "done" and s.folder), None)
    if ingest is not None:
        _check_names_match(workspace, gt, [im.name for im in load_ingest(Path(ingest)).images], list(truth.names))
    return evaluate_estimate(Estimate(**found), truth, holdout=holdout)


def _check_names_match(workspace: str | os.PathLike, gt: str | os.PathLike, ours: list[str],
                       theirs: list[str]) -> None:
    """An :class:`InputError` when no image name of the workspace is one of the ground truth's."""
    if not ours or not theirs or set(ours) & set(theirs):
        return

    def shown(names: list[str]) -> str:
        return ", ".join(sorted(names)[:3]) + (f" ... ({len(names)} images)" if len(names) > 3 else "")

    raise InputError(f"no image name of workspace {workspace} ({shown(ours)}) matches one of the ground truth "
                     f"{gt} ({shown(theirs)}): is it the ground truth of another scene? Names are the photos' "
                     "paths relative to the photo folder")
