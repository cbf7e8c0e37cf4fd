"""Benchmark of the per-item stages as captures grow, in this process's threads and on Ray: time and memory.

    python benchmarks/scale.py                          # 25, 50, 100 and 200 photos of 320 px
    python benchmarks/scale.py --photos 25 50 --json scale.json
    python benchmarks/scale.py --photos 25 --runs local ray2
    python benchmarks/scale.py --photos 25 100 200 --stages depth  # the measured runs do depth only

Renders one orbit per photo count (``photogrammetry.synthetic``, the first seed from ``--seed``
that draws an orbit, ``--size`` pixels wide) and runs the pipeline up to depth (preset
``--preset``, small images and a short depth cascade unless ``--set`` says otherwise): first a
preparation run, not measured, up to undistortion (in ``ws-N-prep``, kept and reused when there),
then the measured runs: locally, then on Ray clusters started here with
``ray.cluster_utils.Cluster``, a head with no CPU (it runs no actor) and one, then two worker nodes
of one CPU each. Each measured run starts from a copy of the preparation's workspace less the
per-item stages' results: ingest, pairs, SfM and undistortion are reused (their keys do not depend
on the executor), features, matches and depth run (``--stages``: only those of them again). So
every measured process, the local one included, runs the per-item stages only, and its memory is
theirs, not SfM's of as many photos. The local run uses ``--local-workers`` threads
(default 1: one core, as one Ray node). Each run is a subprocess of its own, so its memory is its own.

What is measured, per stage: its seconds (the run's own count); on Ray, the "pool start" row: the
seconds the executor took to start its actors and see each answer, before the first per-item
stage (outside every stage's time, so the stages' seconds compare whichever stages run again).
Peak RSS of the process that ran the pipeline (the driver), and on Ray of the largest worker
process (the actors, whose process ids the executor logs); both sampled every ``--sample`` seconds
from ``/proc`` while the stage runs. A peak shorter than that may be missed; RSS counts shared
libraries such as torch's in every process, and what a process freed is seldom given back, so a
stage's peak includes what earlier stages of the run left in that process; "+rise" is the most a
process's RSS rose over what it held when the stage started (memory the stage reused from freed
memory of earlier stages is not counted there). "per-item" sums the
three per-item stages. Ratios: one node's seconds over two nodes' (target: 1.7 or more), and
local's over two nodes'. Memory is flat in the photo count when the per-stage peaks of the workers
(on Ray) and of the driver (locally) do not grow with the photos.

CPU seconds per stage, less noisy than seconds on a shared machine: the driver's (its process, from
the stage's start to its end) and, on Ray, each actor's in the stage (what the executor logs: the
actor process's CPU time while it set the stage's task up and ran its chunks), their sum, the
busiest actor's, and the actors' busy share (their seconds in set-up and chunks over the stage's
seconds). "CPU path" is the driver's CPU seconds plus the busiest actor's: the stage's seconds if
every process had a core of its own; its ratio of one node over two says how the work itself
splits. The load average is printed; compare within one run. Where the kernel groups processes by
session for scheduling (``/proc/sys/kernel/sched_autogroup_enabled``, printed), every process of
this benchmark, the Ray nodes included, shares one session's slice of a busy machine: two nodes
then get little more CPU than one, and the seconds say so while the CPU path does not.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `benchmarks` is not installed

from benchmarks.pairs import render  # noqa: E402
from benchmarks.table import fmt, print_markdown  # noqa: E402

PER_ITEM = ("features", "matches", "depth")
RUNS = {"local": 0, "ray1": 1, "ray2": 2}
"""Run names and their Ray worker nodes (0: local)."""
SMALL = ["ingest.max_image_size=320", "features.resize_max=320", "depth.max_image_size=160",
         "depth.cascade.hypotheses=[16, 8]"]


def rss_mb(pid: int | str = "self") -> float | None:
    """The resident memory of process ``pid`` in MiB (Linux ``/proc``), ``None`` once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) / 1024 if found else None


class _Sampler:
    """Peak RSS of the driver and of the Ray workers, per stage, from the run's log and ``/proc``;
    the driver's and the workers' CPU seconds per stage, and the pool's start, from the run's log."""

    def __init__(self, every: float) -> None:
        self.every, self.stage = every, None
        self.workers: set[int] = set()
        self.driver: dict[str, float] = {}
        self.worker: dict[str, float] = {}
        self.done = threading.Event()
        self.pool_start: float | None = None
        self.driver_cpu: dict[str, float] = {}
        self.usage: dict[str, dict[str, dict[str, float]]] = {}
        """Stage -> actor -> its items, busy seconds and CPU seconds, summed over the stage's passes."""
        self._cpu0 = 0.0
        self.driver_rise: dict[str, float] = {}
        self.worker_rise: dict[str, float] = {}
        """Per stage, the most a process's RSS rose over what it held when the stage started."""
        self._base: dict[int | str, float] = {}

    def on_log(self, message: str) -> None:
        if match := re.match(r"stage \d+ of \d+: (\w+): running", message):
            self.stage, self._cpu0 = match.group(1), time.process_time()
            self._base = {pid: mb for pid in ["self", *self.workers] if (mb := rss_mb(pid)) is not None}
        elif (match := re.match(r"(\w+): done in ", message)) and match.group(1) == self.stage:
            self.driver_cpu[self.stage] = time.process_time() - self._cpu0
        elif match := re.match(r"(?:started )?\d+ Ray workers(?: in ([\d.]+) s)?: ", message):
            self.workers.update(int(pid) for pid in re.findall(r":(\d+)(?:,|$)", message))
            if match.group(1) is not None:
                self.pool_start = float(match.group(1))
        elif message.startswith("Ray workers' share: ") and self.stage is not None:
            stage = self.usage.setdefault(self.stage, {})
            for place, items, busy, cpu in re.findall(r"(\S+) (\d+) items, busy ([\d.]+) s, ([\d.]+) CPU s", message):
                actor = stage.setdefault(place, {"items": 0, "busy": 0.0, "cpu": 0.0})
                for key, value in (("items", items), ("busy", busy), ("cpu", cpu)):
                    actor[key] += float(value)

    def _sample(self) -> None:
        while not self.done.wait(self.every):
            if (stage := self.stage) is None:
                continue
            for found, rise, pids in ((self.driver, self.driver_rise, ["self"]),
                                      (self.worker, self.worker_rise, list(self.workers))):
                for pid in pids:
                    if (mb := rss_mb(pid)) is not None:
                        found[stage] = max(found.get(stage, 0.0), mb)
                        rise[stage] = max(rise.get(stage, 0.0), mb - self._base.get(pid, mb))

    def __enter__(self) -> _Sampler:
        sampler = self

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                sampler.on_log(record.getMessage())

        self.handler = Handler(logging.DEBUG)
        logger = logging.getLogger("photogrammetry")
        logger.addHandler(self.handler)
        logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()
        logging.getLogger("photogrammetry").removeHandler(self.handler)


def child(spec: dict) -> dict:
    """One run of the pipeline (in a subprocess of its own): seconds and peak RSS per stage."""
    import resource

    import photogrammetry

    options = {"executor": "ray", "ray_address": spec["address"]} if spec["address"] else {
        "workers": spec["local_workers"]}
    t0 = time.perf_counter()
    with _Sampler(spec["sample"]) as sampler:
        result = photogrammetry.run(Path(spec["photos"]), Path(spec["workspace"]), preset=spec["preset"],
                                    until=spec.get("until", "depth"), overrides=spec["overrides"], device="cpu",
                                    progress=False, **options)
    return {"wall": time.perf_counter() - t0,
            "seconds": {s.name: s.seconds for s in result.stages if s.action == "ran"},
            "pool_start": sampler.pool_start, "driver_cpu": sampler.driver_cpu, "usage": sampler.usage,
            "driver_mb": sampler.driver, "worker_mb": sampler.worker, "workers": len(sampler.workers),
            "driver_rise_mb": sampler.driver_rise, "worker_rise_mb": sampler.worker_rise,
            "driver_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(spec: dict) -> dict:
    """:func:`child` in a subprocess; its result, or ``{"error": ...}``."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    out = Path(f.name).with_suffix(".out.json")
    proc = subprocess.run([sys.executable, __file__, "--child", f.name, str(out)], capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        return {"error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]}
    return json.loads(out.read_text())


def measure(args: argparse.Namespace, work: Path) -> dict[tuple[int, str], dict]:
    """Every run of ``args.runs`` on every photo count; ``(photos, run)`` -> the child's result."""
    scenes = {n: render(args.seed, n, args.size, work / f"orbit-{n}") / "images" for n in args.photos}
    results: dict[tuple[int, str], dict] = {}
    for n in args.photos:
        spec = {"photos": str(scenes[n]), "preset": args.preset, "overrides": [*SMALL, *args.overrides],
                "sample": args.sample, "local_workers": args.local_workers, "address": None}
        prep = work / f"ws-{n}-prep"
        if not (prep / "undistort").is_dir():  # the stages that every measured run reuses
            results[n, "prep"] = run_child(spec | {"workspace": str(prep), "until": "undistort"})
            if "error" in results[n, "prep"]:
                raise SystemExit(f"{n} photos: the preparation run failed: {results[n, 'prep']['error']}")
        for name in args.runs:
            workspace = work / f"ws-{n}-{name}"
            reuse(prep, workspace, args.stages)
            spec["workspace"] = str(workspace)
            cluster = start_cluster(RUNS[name]) if RUNS[name] else None
            try:
                results[n, name] = run_child(spec | {"address": cluster and cluster.address,
                                                     "until": "depth"})
            finally:
                if cluster is not None:
                    cluster.shutdown()
            results[n, name]["load"] = os.getloadavg()[0]
            print(f"{n} photos, {name}: {json.dumps(results[n, name])}", file=sys.stderr, flush=True)
    return results


def reuse(first: Path, workspace: Path, stages: list[str]) -> None:
    """``workspace``: a copy of the first run's, less the results of ``stages`` (per-item stages: those
    run again; the other stages' keys do not depend on the executor, so their results are reused)."""
    if workspace == first or not first.exists():
        return
    shutil.rmtree(workspace, ignore_errors=True)
    shutil.copytree(first, workspace, symlinks=True, ignore=lambda folder, names: [
        n for n in names if Path(folder) == first and (n in stages or n == ".lock")])


def start_cluster(nodes: int):
    """A Ray cluster on this machine: a head without CPUs and ``nodes`` worker nodes of one CPU."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(nodes):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    return cluster


def _ratio(a: float | None, b: float | None) -> str:
    return fmt(a / b if a and b else None, ".2f") + "x" if a and b else "-"


def _mb(got: dict, who: str, stage: str) -> str:
    """Peak RSS of ``who`` (driver, worker) in ``stage``, and its rise over the stage's start."""
    peak, rise = got.get(f"{who}_mb", {}).get(stage), got.get(f"{who}_rise_mb", {}).get(stage)
    return fmt(peak, ".0f") + (f" (+{rise:.0f})" if rise is not None else "")


def print_tables(results: dict[tuple[int, str], dict], runs: list[str], photos: list[int],
                 stages: list[str] = list(PER_ITEM)) -> None:
    """Seconds per stage with ratios, then peak memory per stage (Markdown)."""
    def seconds(n: int, run: str, stage: str) -> float | None:
        found = results.get((n, run), {}).get("seconds", {})
        if stage == "pool start":
            return results.get((n, run), {}).get("pool_start")
        if stage == "per-item":
            return sum(found[s] for s in stages) if all(s in found for s in stages) else None
        return found.get(stage)

    rows = []
    for n in photos:
        for stage in ["pool start", *stages, *(["per-item"] if len(stages) > 1 else [])]:
            row = [n, stage, *(fmt(seconds(n, r, stage), ".1f") for r in runs)]
            row += [_ratio(seconds(n, "ray1", stage), seconds(n, "ray2", stage)),
                    _ratio(seconds(n, "local", stage), seconds(n, "ray2", stage))]
            rows.append(row)
    print_markdown(["photos", "stage", *(f"{r} s" for r in runs), "ray1/ray2", "local/ray2"], rows)
    print()
    rows = []
    for n in photos:
        for stage in stages:
            row = [n, stage]
            for r in runs:
                got = results.get((n, r), {})
                row.append(_mb(got, "driver", stage))
                if RUNS[r]:
                    row.append(_mb(got, "worker", stage))
            rows.append(row)
    header = ["photos", "stage"]
    for r in runs:
        header += [f"{r} driver MB (+rise)"] + ([f"{r} worker MB (+rise)"] if RUNS[r] else [])
    print_markdown(header, rows)
    print()
    print_cpu(results, runs, photos, stages)
    print()
    print_markdown(["photos", "run", "wall s", "workers", "driver max RSS MB", "load avg (1 min) after", "error"],
                   [[n, r, fmt(results[n, r].get("wall"), ".1f"), results[n, r].get("workers", "-"),
                     fmt(results[n, r].get("driver_maxrss_mb"), ".0f"), f"{results[n, r]['load']:.1f}",
                     results[n, r].get("error", "")[:80]] for n in photos for r in runs if (n, r) in results])


def cpu_path(got: dict, stage: str) -> float | None:
    """The driver's CPU seconds in ``stage`` plus its busiest actor's (see the module's docstring)."""
    driver = got.get("driver_cpu", {}).get(stage)
    actors = got.get("usage", {}).get(stage, {})
    return None if driver is None else driver + max((a["cpu"] for a in actors.values()), default=0.0)


def print_cpu(results: dict[tuple[int, str], dict], runs: list[str], photos: list[int], stages: list[str]) -> None:
    """CPU seconds per stage: the driver's, the actors' (sum, busiest, busy share) and the CPU path (Markdown)."""
    rows = []
    for n, stage in ((n, stage) for n in photos for stage in stages):
        row: list[str] = [str(n), stage]
        for r in runs:
            got = results.get((n, r), {})
            row.append(fmt(got.get("driver_cpu", {}).get(stage), ".1f"))
            if RUNS[r]:
                actors = list(got.get("usage", {}).get(stage, {}).values())
                seconds = got.get("seconds", {}).get(stage)
                busy = sum(a["busy"] for a in actors) / (len(actors) * seconds) if actors and seconds else None
                row += [fmt(sum(a["cpu"] for a in actors) if actors else None, ".1f"),
                        "/".join(f"{a['items']:.0f}" for a in actors) or "-", fmt(busy and 100 * busy, ".0f"),
                        fmt(cpu_path(got, stage), ".1f")]
        row.append(_ratio(cpu_path(results.get((n, "ray1"), {}), stage), cpu_path(results.get((n, "ray2"), {}), stage)))
        rows.append(row)
    header = ["photos", "stage"]
    for r in runs:
        header += [f"{r} driver CPU s"] + ([f"{r} actors CPU s", f"{r} items per actor", f"{r} busy %",
                                            f"{r} CPU path s"] if RUNS[r] else [])
    print_markdown([*header, "CPU path ray1/ray2"], rows)


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        spec_file, out = sys.argv[2:4]
        Path(out).write_text(json.dumps(child(json.loads(Path(spec_file).read_text()))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, nargs="+", default=[25, 50, 100, 200])
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS),
                        help="local, then Ray with one and two worker nodes")
    parser.add_argument("--stages", nargs="+", choices=PER_ITEM, default=list(PER_ITEM),
                        help="per-item stages the measured runs do (the others: the preparation's)")
    parser.add_argument("--size", type=int, default=320, help="image width in pixels (height 3/4 of it)")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="stage.option=value")
    parser.add_argument("--local-workers", type=int, default=1, help="threads of the local run")
    parser.add_argument("--sample", type=float, default=0.2, help="seconds between memory samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="scenes and workspaces (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled")
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs, "
          f"autogroup scheduling {autogroup.read_text().strip() if autogroup.exists() else 'unknown'}")
    results = measure(args, work)
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print_tables(results, args.runs, args.photos, args.stages)
    if args.json:
        args.json.write_text(json.dumps({f"{n} {r}": v for (n, r), v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
