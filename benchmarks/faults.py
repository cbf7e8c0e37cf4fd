"""Fault injection on a real scene: ``kill -9``, Ctrl-C and damaged results in every stage, then resume.

Six photos of ``sample_scenes/facade`` with the ``fast`` preset and the small settings of
``tests/test_all_stages.py`` run once uninterrupted through ``photogrammetry run`` (a
subprocess), which gives each stage's output checksums (the file lists of the manifests).
Then, in a second workspace, each stage is interrupted in turn: the command is started, the
workspace is polled for the stage's ``.partial`` folder holding N files (a moment picked from the
stage's own progress, not a sleep) and the process gets ``SIGKILL`` (a walk over all stages) or
``SIGINT`` (a second walk); the next start resumes. Finally one file of every stage's result is
damaged (truncated, one byte flipped at the same size, or deleted) and ``run --verify`` must find
each and recompute it. Every file of every stage's result (its JSON records included: timings are
only in the manifests and logs) must then be byte-identical to the uninterrupted run's.

    python -m benchmarks.faults [--work DIR] [--stages depth,mesh] [--skip-sigint] [--skip-corrupt]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.table import print_markdown

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "sample_scenes" / "facade"
PHOTOS = [f"view_{i:03d}.jpg" for i in range(0, 12, 2)]
STAGES = ("ingest", "masks", "features", "pairs", "matches", "sfm", "scale", "undistort", "depth", "fusion",
          "mesh", "texture", "export")
SETTINGS = (
    "depth.max_image_size=320", "mesh.surface.poisson_depth=8", "texture.level=preview", "texture.size=1024",
    'export.formats=["glb", "cameras"]', "scale.method=none",
)
KILL_FILES = {"depth": 3}
"""Files the partial folder holds when ``SIGKILL`` is sent (0: as soon as it appears)."""
INT_FILES = {"depth": 5, "undistort": 2, "ingest": 2}
"""Files the partial folder holds when ``SIGINT`` is sent (others: 1)."""
DAMAGE = ("truncate", "flip", "delete")
INTERRUPTED = "interrupted; run the same command again to resume"


@dataclass
class Fault:
    """One injected fault and what came of it."""

    stage: str
    """Stage the fault was aimed at."""
    kind: str
    """``kill -9``, ``SIGINT``, ``truncate``, ``flip`` or ``delete``."""
    moment: str
    """When it was injected (planned), or which file was damaged."""
    landed: str = "-"
    """Where the run actually was: the stage and its partial folder's files, or what was found."""
    survived: str = "-"
    """Exit code and message as documented, or how the damage was reported."""
    identical: str = "-"
    """Whether the stage's data files equal the uninterrupted run's, once resumed."""
    ok: bool = False
    """Survived as documented and identical."""


def prepare(work: Path) -> Path:
    """The photo folder (six of the facade's twelve photos) below ``work``."""
    photos = work / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        shutil.copy(SCENE / "images" / name, photos / name)
    return photos


def command(photos: Path, workspace: Path, *extra: str) -> list[str]:
    """The ``photogrammetry run`` command line of the benchmark."""
    sets = [arg for s in SETTINGS for arg in ("--set", s)]
    return [sys.executable, "-m", "photogrammetry", "run", str(photos), "-w", str(workspace), "--preset", "fast",
            "--device", "cpu", "--workers", "2", "-q", *sets, *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def run_to_end(photos: Path, workspace: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run the command to its end; its stderr is kept."""
    return subprocess.run(command(photos, workspace, *extra), env=_env(), capture_output=True, text=True,
                          cwd=ROOT, check=False)


def partial_files(workspace: Path, stage: str) -> int | None:
    """Files below the stage's ``.partial`` folder (scratch files too), ``None`` when there is none."""
    folders = list((workspace / stage).glob("*.partial")) if (workspace / stage).is_dir() else []
    if not folders:
        return None
    try:
        return sum(1 for p in folders[0].rglob("*") if p.is_file())
    except FileNotFoundError:  # renamed into place while counted
        return None


def finished(workspace: Path, stage: str) -> bool:
    """Whether the stage has a committed result in ``workspace``."""
    root = workspace / stage
    return root.is_dir() and any((p / "manifest.json").is_file() for p in root.iterdir()
                                 if not p.name.endswith(".partial"))


def where(workspace: Path, stages: tuple[str, ...] = STAGES) -> str:
    """The stage a stopped run was in: its partial folder and file count, or the last committed stage."""
    for stage in stages:
        count = partial_files(workspace, stage)
        if count is not None:
            return f"{stage} ({count} files in .partial)"
    done = [s for s in stages if finished(workspace, s)]
    return f"after {done[-1]}" if done else "before ingest"


def _ctrl_c() -> None:
    """In the child before it starts: SIGINT back to its default, as in a terminal. A shell that runs
    this harness in the background (``cmd &`` without job control) ignores SIGINT, its children inherit
    that, and Python then installs no KeyboardInterrupt: Ctrl-C would never arrive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt(args: list[str], workspace: Path, stage: str, files: int, sig: int, *, timeout: float = 900.0,
              stages: tuple[str, ...] = STAGES) -> tuple[subprocess.CompletedProcess | None, str, str]:
    """Start the command ``args``, send ``sig`` once the stage's partial folder holds ``files`` files.

    Returns the finished process (``None`` when it ended before the moment came), where it was
    stopped (among ``stages``), and its stderr.
    """
    proc = subprocess.Popen(args, env=_env(), cwd=ROOT, stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c)
    deadline = time.monotonic() + timeout
    while True:
        count = partial_files(workspace, stage)
        if count is not None and count >= files:
            proc.send_signal(sig)
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _, err = proc.communicate()
            return None, "ran past the moment: " + where(workspace, stages), err
        time.sleep(0.001)
    _, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, "", err), where(workspace, stages), err


def stage_files(workspace: Path, stage: str) -> dict[str, str]:
    """``relative path -> BLAKE2b`` of the stage's committed result, from its manifest's file list."""
    for folder in sorted((workspace / stage).iterdir()):
        manifest = folder / "manifest.json"
        if not folder.name.endswith(".partial") and manifest.is_file():
            return {rel: entry["blake2b"] for rel, entry in json.loads(manifest.read_text())["files"].items()}
    return {}


def compare_stage(reference: Path, workspace: Path, stage: str) -> list[str]:
    """Files of the stage's result whose checksums differ from the reference run's (or that only one has)."""
    ref, got = stage_files(reference, stage), stage_files(workspace, stage)
    if not got:
        return ["(no result)"]
    return [rel for rel in sorted(set(ref) | set(got)) if ref.get(rel) != got.get(rel)]


def compare_output(reference: Path, workspace: Path) -> tuple[list[str], list[str]]:
    """Files of ``output/`` that differ from the reference run's: data files, and the per-run records
    (``published.json`` names the workspace; ``report.html`` shows timings)."""
    per_run = {"published.json", "report.html"}
    ref, got = (({p.relative_to(w / "output").as_posix(): p.read_bytes() for p in (w / "output").rglob("*")
                  if p.is_file()}) for w in (reference, workspace))
    differ = sorted(rel for rel in set(ref) | set(got) if ref.get(rel) != got.get(rel))
    return [r for r in differ if r not in per_run], [r for r in differ if r in per_run]


def _verdict(fault: Fault, reference: Path, workspace: Path) -> None:
    different = compare_stage(reference, workspace, fault.stage)
    fault.identical = "yes" if not different else "NO: " + ", ".join(different[:3])
    fault.ok = fault.ok and not different


def signal_walk(photos: Path, reference: Path, workspace: Path, plan: list[tuple[str, int]]) -> list[Fault]:
    """Interrupt each ``(stage, signal)`` of ``plan`` in turn in one workspace (each start resumes the
    previous one), run to the end, then compare each stage's result with the reference."""
    faults = []
    for stage, sig in plan:
        kill = sig == signal.SIGKILL
        files = KILL_FILES.get(stage, 0) if kill else INT_FILES.get(stage, 1)
        fault = Fault(stage, "kill -9" if kill else "SIGINT",
                      f"{files} files in .partial" if files else ".partial appears")
        proc, fault.landed, err = interrupt(command(photos, workspace), workspace, stage, files, sig)
        if proc is None:
            fault.survived = "not injected: the run ended first"
        elif kill:
            fault.ok = proc.returncode == -signal.SIGKILL
            fault.survived = f"killed ({proc.returncode})"
        else:
            fault.ok = proc.returncode == 130 and INTERRUPTED in err
            said = "'interrupted; run ... to resume'" if fault.ok else (err.strip().splitlines() or [""])[-1][:60]
            fault.survived = f"exit {proc.returncode}: {said}"
        faults.append(fault)
    final = run_to_end(photos, workspace)
    leftovers = [s for s in STAGES if partial_files(workspace, s) is not None]
    for fault in faults:
        fault.ok = fault.ok and final.returncode == 0 and not leftovers
        if final.returncode != 0:
            fault.survived += f"; resume exit {final.returncode}: {final.stderr.strip()[-80:]}"
        _verdict(fault, reference, workspace)
    return faults


def damage(workspace: Path, stage: str, kind: str) -> str:
    """Damage the largest data file of the stage's result in place; returns its relative path."""
    folder = next(p for p in sorted((workspace / stage).iterdir()) if (p / "manifest.json").is_file())
    files = json.loads((folder / "manifest.json").read_text())["files"]
    rel = max(sorted(files), key=lambda r: files[r]["size"])
    path = folder / rel
    if kind == "delete":
        path.unlink()
    elif kind == "truncate":
        os.truncate(path, path.stat().st_size // 2)
    else:  # one byte flipped, same size
        with open(path, "r+b") as f:
            f.seek(path.stat().st_size // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0x01]))
    return rel


def _reported(err: str, stage: str, rel: str) -> str | None:
    """The problem ``run`` reported for the damaged file, or ``None`` when it said nothing of it."""
    for line in err.splitlines():
        if f"{stage}: the cached result is damaged" in line and f"/{rel}: " in line:
            return line.split(f"/{rel}: ", 1)[1].split(";")[0].split(" (moved")[0]
    return None


def damage_round(photos: Path, reference: Path, workspace: Path, stages: list[str]) -> list[Fault]:
    """Damage one file of each finished stage (truncated, flipped, deleted in turn), run ``--verify``."""
    faults = []
    for i, stage in enumerate(stages):
        kind = DAMAGE[i % len(DAMAGE)]
        faults.append(Fault(stage, kind, damage(workspace, stage, kind)))
    final = run_to_end(photos, workspace, "--verify")
    for fault in faults:
        said = _reported(final.stderr, fault.stage, fault.moment)
        fault.landed = "detected" if said else "NOT detected"
        fault.ok = final.returncode == 0 and said is not None
        fault.survived = f"exit {final.returncode}" + (f", '{said}', recomputed" if said else "")
        _verdict(fault, reference, workspace)
    return faults


def run_all(work: Path, stages: list[str], *, kill: bool = True, sigint: bool = True,
            corrupt: bool = True) -> tuple[list[Fault], dict[str, tuple]]:
    """The uninterrupted run, then the faults; returns them and the differences of ``output/`` (data
    files, per-run records) per workspace."""
    photos = prepare(work)
    reference = work / "reference"
    t0 = time.perf_counter()
    done = run_to_end(photos, reference)
    if done.returncode != 0:
        raise SystemExit(f"the uninterrupted run failed (exit {done.returncode}):\n{done.stderr}")
    print(f"uninterrupted run: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    faults, outputs = [], {}
    walks = [(signal.SIGKILL, work / "kill")] * kill + [(signal.SIGINT, work / "sigint")] * sigint
    for sig, workspace in walks:
        shutil.rmtree(workspace, ignore_errors=True)
        t0 = time.perf_counter()
        faults += signal_walk(photos, reference, workspace, [(s, sig) for s in stages])
        outputs[workspace.name] = compare_output(reference, workspace)
        print(f"{signal.Signals(sig).name} walk: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if corrupt:
        workspace = walks[0][1] if walks else reference
        t0 = time.perf_counter()
        faults += damage_round(photos, reference, workspace, stages)
        outputs[f"{workspace.name} after damage"] = compare_output(reference, workspace)
        print(f"damage round: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return faults, outputs


def report(faults: list[Fault], outputs: dict[str, tuple]) -> None:
    """Print the table of faults and the summary lines (Markdown)."""
    print_markdown(["stage", "fault", "injected at", "landed", "survived", "outputs identical"],
                   [[f.stage, f.kind, f.moment, f.landed, f.survived, f.identical] for f in faults])
    ok = sum(f.ok for f in faults)
    print(f"\n{len(faults)} faults in {len({f.stage for f in faults})} stages; {ok} survived as documented "
          f"with outputs identical to the uninterrupted run's.")
    damaged = [f for f in faults if f.kind in DAMAGE]
    if damaged:
        print(f"Damaged results detected: {sum(f.landed == 'detected' for f in damaged)}/{len(damaged)}.")
    for name, (data, per_run) in outputs.items():
        print(f"output/ of `{name}`: data files " + ("identical" if not data else "DIFFER: " + ", ".join(data))
              + (f"; per-run records that differ: {', '.join(per_run)}" if per_run else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one, removed after)")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated stages to inject faults in")
    parser.add_argument("--skip-kill", action="store_true", help="no kill -9 walk")
    parser.add_argument("--skip-sigint", action="store_true", help="no SIGINT walk")
    parser.add_argument("--skip-corrupt", action="store_true", help="no damaged results")
    args = parser.parse_args()
    stages = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stages: {', '.join(unknown)}; stages are: {', '.join(STAGES)}")
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        work = args.work or Path(tmp)
        faults, outputs = run_all(work, stages, kill=not args.skip_kill, sigint=not args.skip_sigint,
                                  corrupt=not args.skip_corrupt)
    report(faults, outputs)
    sys.exit(0 if all(f.ok for f in faults) else 1)


if __name__ == "__main__":
    main()
