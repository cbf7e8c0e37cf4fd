"""``auto`` on a CPU: the sparse part again with another preset where the first model leaves many photos out.

Without a GPU ``auto`` runs ``cpu`` (SIFT): seconds where its keypoints repeat between photos, but on
frames far apart along a walk they do not, and its model keeps 3 of 20 photos (docs/benchmarks.md, "Frames far
apart along a walk"). :func:`run_escalating` then runs the stages up to the rule's stage (``sfm``)
again with the rule's preset (``xfeat``), keeps the model that registers more photos (ties: the
first) and runs the rest of the pipeline with its preset, which the run record names.

Each attempt is an ordinary :func:`~photogrammetry.engine.runner.run_pipeline` with its own keys:
the same command run again reuses both attempts' stages and reaches the same decision from their
cached counts (where the first attempt's stage failed, that stage runs again: a failure is not
cached); a run stopped during the second attempt resumes it. ``force`` recomputes each stage once: a
stage an attempt has just computed under the same key is not forced again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path

from photogrammetry.engine.plan import plan_keys
from photogrammetry.engine.runner import RunOptions, RunRequest, RunResult, StageOutcome, run_pipeline
from photogrammetry.engine.settings import Escalation
from photogrammetry.engine.stage import StageSpec
from photogrammetry.errors import StageError

log = logging.getLogger("photogrammetry")


def run_escalating(stages: Sequence[StageSpec], request: RunRequest, options: RunOptions = RunOptions(), *,
                   fallback: RunRequest | None = None, rule: Escalation | None = None) -> RunResult:
    """Run ``request``; where ``rule`` says its model at ``rule.stage`` leaves too many photos out (or that
    stage fails), run the stages up to it with ``fallback`` (the same request with the rule's preset) and
    go on with the request whose model registers more photos.

    Without ``fallback`` or ``rule``, or where ``request.until`` comes before ``rule.stage``, this is
    :func:`run_pipeline` itself. The result: the final run's stages, those up to ``rule.stage`` as
    the kept attempt did them (``ran`` or ``reused``).
    """
    names = [s.name for s in stages]
    if fallback is None or rule is None or not _reaches(names, request.until, rule.stage):
        return run_pipeline(stages, request, options)
    options = replace(options, on_start=_once(options.on_start))
    first, failure = _first_attempt(stages, request, options, rule)
    model = next((o for o in first.stages if o.name == rule.stage), None)
    if failure is None and (model is None or not rule.escalates(model.counts)):
        return first
    log.info("preset auto: %s: trying %s for the stages up to %s ('--no-escalate': %s alone)",
             _failed(request, failure) if failure else f"{_outcome(request, model)}, under {rule.below:.0%}",
             fallback.preset, rule.stage, request.preset)
    with _one_ray(options):
        return _escalate(stages, request, options, fallback, rule, first, failure)


def _escalate(stages: Sequence[StageSpec], request: RunRequest, options: RunOptions, fallback: RunRequest,
              rule: Escalation, first: RunResult, failure: StageError | None) -> RunResult:
    """The stages up to ``rule.stage`` with ``fallback`` after ``first`` (which ``failure`` ended, if
    anything did), then the rest of the pipeline with the request that registered more."""
    names = [s.name for s in stages]
    model = next((o for o in first.stages if o.name == rule.stage), None)
    force = _force_again(stages[:names.index(rule.stage) + 1], request.force, fallback, first.stages)
    try:
        second = run_pipeline(stages, replace(fallback, until=rule.stage, force=force), options)
    except StageError as error:
        if failure is not None:
            raise failure from error
        log.warning("preset auto: %s: %s's model kept", _failed(fallback, error), request.preset)
        second = None
    tried = second.stages[-1] if second is not None else None
    better = tried is not None and (model is None or tried.counts.get("registered", 0) > model.counts["registered"])
    kept = fallback if better else request
    if tried is not None:
        log.info("preset auto: %s: %s", _outcome(fallback, tried),
                 f"kept, the rest runs with {fallback.preset}" if better else f"{request.preset}'s model kept")
    reason = f"auto: {_outcome(request, model) if model else request.preset + ' failed'}, " + (
        f"{_outcome(fallback, tried) if tried else fallback.preset + ' failed'}: {kept.preset} kept")
    after = _force_after(names, rule.stage, request.force)
    final = run_pipeline(stages, replace(kept, force=after, preset_reason=reason), options)
    done = {(o.name, o.key): o for o in [*first.stages, *(second.stages if second else ())] if o.action == "ran"}
    return RunResult(workspace=request.workspace, stages=tuple(done.get((o.name, o.key), o) for o in final.stages))


def _reaches(names: Sequence[str], until: str | None, stage: str) -> bool:
    """Whether a run ``until`` that stage (``None``: all) runs ``stage``; with an unknown name, no
    (:func:`run_pipeline` then says what is wrong)."""
    if stage not in names or (until is not None and until not in names):
        return False
    return until is None or names.index(until) >= names.index(stage)


def _first_attempt(stages: Sequence[StageSpec], request: RunRequest, options: RunOptions,
                   rule: Escalation) -> tuple[RunResult, StageError | None]:
    """``request`` run, stopped after ``rule.stage`` where its model leaves too many photos out; where
    that stage failed, the stages before it and its error."""
    seen: dict[str, StageOutcome] = {}

    def short(outcome: StageOutcome) -> bool:
        seen[outcome.name] = outcome
        return outcome.name == rule.stage and rule.escalates(outcome.counts)

    names = [s.name for s in stages]
    try:
        return run_pipeline(stages, request, options, stop=short), None
    except StageError as error:
        if list(seen) != names[:names.index(rule.stage)]:  # an error before or after the rule's stage
            raise
        return RunResult(workspace=request.workspace, stages=tuple(seen.values())), error


def _outcome(request: RunRequest, model: StageOutcome) -> str:
    """``cpu registered 3 of 20 photos``."""
    return f"{request.preset} registered {model.counts.get('registered', 0)} of {model.counts.get('images', 0)} photos"


def _failed(request: RunRequest, error: StageError) -> str:
    """``cpu's sparse part failed (<its first line>)``."""
    lines = str(error).splitlines()
    return f"{request.preset}'s sparse part failed ({lines[0] if lines else type(error).__name__})"


def _force_again(stages: Sequence[StageSpec], force: Sequence[str], request: RunRequest,
                 done: Iterable[StageOutcome]) -> tuple[str, ...]:
    """``force`` for a further attempt over ``stages``: from the first forced stage on, the first stage
    whose key (under ``request``'s settings) an earlier attempt has not just computed (``done``)."""
    names = [s.name for s in stages]
    forced = [names.index(name) for name in force if name in names]
    if not forced:
        return tuple(force)
    ran = {(o.name, o.key) for o in done if o.action == "ran"}
    keys = plan_keys(stages, request.config, request.photos)
    return tuple(name for name in names[min(forced):] if (name, keys[name]) not in ran)[:1]


def _force_after(names: Sequence[str], stage: str, force: Sequence[str]) -> tuple[str, ...]:
    """``force`` for the run after the attempts: the stages up to ``stage`` were computed by them, so a
    forced stage among them forces the one after ``stage`` (and so all later ones)."""
    last = names.index(stage)
    if not any(names.index(name) <= last for name in force if name in names):
        return tuple(force)
    return tuple(names[last + 1:last + 2])


def _one_ray(options: RunOptions) -> AbstractContextManager[None]:
    """With the ray executor: one Ray session for the second attempt and the rest of the run (starting
    Ray took about 12 s a run here); the first attempt ran as any run does."""
    if options.executor != "ray":
        return nullcontext()
    from photogrammetry.engine.ray_executor import ray_session

    return ray_session(options.ray_address, options.workers)


def _once(on_start: Callable[[Path], None] | None) -> Callable[[Path], None] | None:
    """``on_start`` called at the first attempt's start only (it opens the run's log file)."""
    if on_start is None:
        return None
    called: list[bool] = []

    def first(folder: Path) -> None:
        if not called:
            called.append(True)
            on_start(folder)
    return first
