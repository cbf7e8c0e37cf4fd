"""``photogrammetry`` command line: a thin layer over :mod:`photogrammetry.api`.

Logging is configured here and only here. Errors meant for the user are printed as one line
(never a traceback) and give a non-zero exit code: 2 bad input or settings (or the system refused
a write: read-only, no space, permissions), 3 workspace in use, 4 a stage could not produce a
result, 5 ``verify`` found damaged results, 1 an internal error (traceback in the run's log file).
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import os
import sys
import textwrap
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from photogrammetry import api
from photogrammetry._version import __version__
from photogrammetry.engine.executor import EXECUTORS
from photogrammetry.engine.options import choices, leaves
from photogrammetry.engine.runner import MAX_WORKERS
from photogrammetry.engine.settings import (AUTO_PRESET, CPU_ESCALATION, CPU_PRESET, GPU_PRESET, STILL_PRESET,
                                            available_presets)
from photogrammetry.engine.stage import StageSpec
from photogrammetry.errors import DamagedWorkspaceError, PhotogrammetryError, resource_error
from photogrammetry.stages import PIPELINE, stage_names

log = logging.getLogger("photogrammetry")


class _LogFile(logging.FileHandler):
    """The run's log file; when it cannot be written (a full disk), one warning, not a traceback per line."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        if not self.failed:
            self.failed = True
            click.echo(f"warning: cannot write the log file {self.baseFilename} ({sys.exc_info()[1]}); "
                       "logging to the terminal only", err=True)


def _add_log_file(log_file: Path) -> None:
    """Also log everything to ``log_file`` (called once the run's checks passed: a refused run leaves none)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = _LogFile(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("photogrammetry").addHandler(handler)


def _setup_logging(verbosity: int, log_file: Path | None = None) -> None:
    level = logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO
    root = logging.getLogger("photogrammetry")
    root.setLevel(logging.DEBUG)
    root.handlers.clear()
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(level)
    console.setFormatter(logging.Formatter("%(message)s" if sys.stderr.isatty() else "%(asctime)s %(message)s",
                                           "%H:%M:%S"))
    root.addHandler(console)
    if log_file is not None:
        _add_log_file(log_file)


def _handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user-facing errors into one line and an exit code; keep tracebacks for real bugs."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PhotogrammetryError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(e.exit_code)
        except click.ClickException:
            raise  # usage errors: click prints them and exits 2
        except KeyboardInterrupt:
            click.echo("interrupted; run the same command again to resume", err=True)
            sys.exit(130)
        except OSError as e:
            mapped = resource_error(e)
            if mapped is None:
                raise _internal_error(e) from e
            click.echo(f"error: {mapped}", err=True)
            sys.exit(mapped.exit_code)
        except Exception as e:
            raise _internal_error(e) from e

    return wrapper


def _internal_error(e: Exception) -> SystemExit:
    """Log the traceback, print one line pointing to it, and return the exit to raise."""
    log.debug("internal error", exc_info=True)
    files = [h.baseFilename for h in log.handlers if isinstance(h, logging.FileHandler)]
    where = f"; the traceback is in {files[0]}" if files else ""
    click.echo(f"internal error: {type(e).__name__}: {e}{where}. Please report it.", err=True)
    return SystemExit(1)


def _presets_help() -> str:
    try:
        presets = available_presets()
    except PhotogrammetryError:
        return ""
    lines = [f"  {name:<10} {p.description}" for name, p in presets.items()]
    stages = [f"  {s.name:<10} {s.summary}" for s in PIPELINE]
    return "\b\nPresets:\n" + "\n".join(lines) + "\n\n\b\nStages:\n" + "\n".join(stages)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="photogrammetry")
def main() -> None:
    """Photos in, textured 3D model out: a cached, resumable photogrammetry pipeline."""


@main.command(epilog=_presets_help())
@click.argument("photos", type=click.Path(path_type=Path))
@click.option("-w", "--workspace", type=click.Path(path_type=Path), required=True,
              help="Folder for cached artifacts; a rerun resumes from it.")
@click.option("--preset", default=AUTO_PRESET, show_default=True,
              help=f"Preset from pipelines/ (listed below); {AUTO_PRESET}: {STILL_PRESET} where the photos' "
                   f"background stands still, else {GPU_PRESET} on a GPU, {CPU_PRESET} without one (then "
                   f"{CPU_ESCALATION.preset}'s sparse model where {CPU_PRESET}'s registers under "
                   f"{CPU_ESCALATION.below:.0%} of the photos and {CPU_ESCALATION.preset}'s more).")
@click.option("--no-escalate", "escalate", flag_value=False, default=True,
              help=f"With --preset {AUTO_PRESET} on a CPU: keep {CPU_PRESET}'s sparse model, never try "
                   f"{CPU_ESCALATION.preset}'s.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              help="TOML file with [stage] tables, applied after the preset.")
@click.option("--set", "overrides", multiple=True, metavar="STAGE.OPTION=VALUE",
              help="Override one setting; repeatable.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Folder for the final files: model.glb, model.obj, model.ply, cameras/ (default: WORKSPACE/output).")
@click.option("--until", type=click.Choice(stage_names()), help="Stop after this stage.")
@click.option("--force", multiple=True, type=click.Choice(stage_names()),
              help="Recompute this stage and all after it; repeatable.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--workers", type=click.IntRange(min=1, max=MAX_WORKERS),
              help="Worker threads per stage; with --executor ray, Ray workers per stage (default: one per CPU, "
                   "or per GPU, of the cluster).")
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
              help="Where per-photo, per-pair and per-view work runs: this process, or a Ray cluster "
                   "(pip install 'photogrammetry[distributed]'). Same outputs, same cache.")
@click.option("--ray-address", metavar="auto|HOST:PORT",
              help="With --executor ray: a running cluster ('ray start --head'); default: Ray started on this machine.")
@click.option("--video-fps", type=float, metavar="FPS",
              help="Frames sampled per second of video, at fixed intervals: sets ingest.video.fps and "
                   "ingest.video.sampling=interval (default: a frame each time the view has moved on by a tenth "
                   "of its width, ingest.video.spacing).")
@click.option("--verify", is_flag=True, help="Compare checksums of every cached result, not only of those read.")
@click.option("-q", "--quiet", "verbosity", flag_value=-1, help="Warnings and errors only.")
@click.option("-v", "--verbose", "verbosity", flag_value=1, help="Debug messages too.")
@_handle_errors
def run(photos: Path, workspace: Path, preset: str, escalate: bool, config_file: Path | None,
        overrides: tuple[str, ...], output: Path | None, until: str | None, force: tuple[str, ...], device: str,
        workers: int | None, executor: str, ray_address: str | None, video_fps: float | None, verify: bool,
        verbosity: int | None) -> None:
    """Run the pipeline on the photos and videos in PHOTOS (searched recursively), or on one video file."""
    _setup_logging(verbosity or 0)
    log_name = f"run-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"  # the PID: runs started in one second
    if video_fps is not None:
        overrides = (*overrides, "ingest.video.sampling=interval", f"ingest.video.fps={video_fps}")
    result = api.run(photos, workspace, preset=preset, escalate=escalate, config_file=config_file,
                     overrides=overrides, until=until, force=force, device=device, workers=workers,
                     executor=executor, ray_address=ray_address,
                     progress=False if verbosity == -1 else None, verify=verify, output=output,
                     on_start=lambda ws: _add_log_file(ws / "logs" / log_name))
    ran = ", ".join(result.ran) or "nothing (all cached)"
    published = api.output_folder(workspace, output)
    model = next((published / name for name in ("model.glb", "model.obj", "model.ply")
                  if (published / name).is_file()), None)
    if any(s.name == "export" for s in result.stages) and model is not None:
        log.info("Finished: ran %s. The model: %s", ran, model)
    else:
        log.info("Finished: ran %s. See 'photogrammetry status %s'.", ran, workspace)


def _human_size(size: int | None) -> str:
    if size is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return "-"


@main.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the stable JSON form.")
@_handle_errors
def status(workspace: Path, as_json: bool) -> None:
    """Show each stage of WORKSPACE: done, running, partial, stale or missing, with its outputs."""
    report = api.status(workspace)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(f"workspace: {report.workspace}\nphotos:    {report.photos}")
    if report.preset:
        click.echo(f"preset:    {report.preset}" + (f" ({report.preset_reason})" if report.preset_reason else ""))
    if report.note:
        click.echo(f"note: {report.note}")
    click.echo(f"{'stage':<10} {'state':<8} {'key':<17} {'time':>8} {'size':>9}  counts")
    for s in report.stages:
        seconds = f"{s.seconds:.1f} s" if s.seconds is not None else "-"
        counts = ", ".join(f"{k}={v}" for k, v in s.counts.items())
        click.echo(f"{s.name:<10} {s.state:<8} {s.key or '-':<17} {seconds:>8} {_human_size(s.size_bytes):>9}  {counts}")
        for label, path in s.outputs.items():
            click.echo(f"{'':<10} {label}: {path}")
        for problem in s.problems:
            click.echo(f"{'':<10} damaged: {problem}")


@main.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="HTML file to write (default: WORKSPACE/output/report.html after a published run, "
              "else WORKSPACE/report.html).")
@_handle_errors
def report(workspace: Path, output: Path | None) -> None:
    """Write the report of WORKSPACE: one HTML file that opens from disk (charts, thumbnails, model views)."""
    _setup_logging(-1)
    written = api.report(workspace, output)
    click.echo(f"wrote {written.path} ({_human_size(written.size_bytes)}, {written.seconds:.1f} s)")
    for title in written.failed:
        click.echo(f"warning: section '{title}' could not be read (see the report)", err=True)


@main.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@_handle_errors
def verify(workspace: Path) -> None:
    """Compare every file of every cached result in WORKSPACE with its manifest (size and checksum)."""
    checks = api.verify(workspace)
    for c in checks:
        click.echo(f"{c.stage}/{c.key}: " + ("ok" if not c.problems else "DAMAGED") + f" ({c.files} files)")
        for problem in c.problems:
            click.echo(f"    {problem}")
    damaged = sum(1 for c in checks if c.problems)
    if damaged:
        raise DamagedWorkspaceError(f"{damaged} of {len(checks)} cached results are damaged; the next "
                                    "'photogrammetry run' moves them to .quarantine/ and recomputes them")
    click.echo(f"all {len(checks)} cached results are intact")


@main.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--keep-latest", is_flag=True, help="Keep the artifacts of the last run.")
@_handle_errors
def clean(workspace: Path, keep_latest: bool) -> None:
    """Delete cached artifacts in WORKSPACE."""
    _setup_logging(0)
    report = api.clean(workspace, keep_latest=keep_latest)
    click.echo(f"removed {len(report.removed)} artifact folder(s), freed {_human_size(report.freed_bytes)}")


@main.command("eval")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--gt", type=click.Path(exists=True, path_type=Path), required=True,
              help="Ground truth: sample scene folder, RGB-D sequence folder (gt/cams/poses_c2w.txt + sensor depth), "
              "COLMAP model, Middlebury *_par.txt or Strecha cameras folder.")
@click.option("--holdout", multiple=True, help="A view kept out of the reconstruction; repeatable.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Also write the metrics as JSON here.")
@_handle_errors
def evaluate(workspace: Path, gt: Path, holdout: tuple[str, ...], json_out: Path | None) -> None:
    """Compare the outputs of WORKSPACE with ground truth: poses, depth, geometry, texture."""
    _setup_logging(0)
    report = api.evaluate(workspace, gt, holdout=holdout)
    click.echo(report.format_table())
    if json_out is not None:
        json_out.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")


def _toml(value: Any) -> str:
    """``value`` as it is written in a preset or after ``--set``."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is typing.Literal:
        return type(typing.get_args(tp)[0]).__name__
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")


def describe_options(spec: StageSpec) -> list[str]:
    """Lines describing every option of a stage, nested ones included: path, default, type, choices, doc."""
    lines = [f"[{spec.name}] {spec.summary}"]
    for option in leaves(spec.config()):
        notes = [_type_name(option.type)]
        values = choices(option.type, option.field)
        if values:
            notes.append("one of " + ", ".join(_toml(v) for v in values))
        if not option.cache:
            notes.append("not in the cache key")
        lines.append(f"{spec.name}.{option.path} = {_toml(option.value)}  ({'; '.join(notes)})")
        doc = " ".join(option.doc.split())
        lines += textwrap.wrap(doc, width=100, initial_indent="    ", subsequent_indent="    ") if doc else []
    return lines


@main.command("options")
@click.argument("stage", required=False, type=click.Choice(stage_names()))
def options(stage: str | None) -> None:
    """Print every option of STAGE (default: all stages) with its default, type, choices and doc.

    Set one with --set STAGE.PATH=VALUE or in a preset's [STAGE] table (PATH = VALUE; nested
    groups as dotted keys or sub-tables).
    """
    specs = [s for s in PIPELINE if stage in (None, s.name)]
    click.echo("\n\n".join("\n".join(describe_options(spec)) for spec in specs))


@main.command("sample-scene")
@click.argument("name")
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True, help="Folder to write the scene into.")
@_handle_errors
def sample_scene(name: str, out: Path) -> None:
    """Render the sample scene NAME (as committed in sample_scenes/) into OUT, bit for bit."""
    from photogrammetry.synthetic import SAMPLE_SCENES, render_sample_scene  # imports open3d: only when used

    if name not in SAMPLE_SCENES:
        choices = "; ".join(f"{n}: {s.description}" for n, s in SAMPLE_SCENES.items())
        raise click.BadParameter(f"unknown scene {name!r}. Scenes: {choices}", param_hint="NAME")
    _setup_logging(0)
    click.echo(f"wrote {render_sample_scene(name, out)}")
