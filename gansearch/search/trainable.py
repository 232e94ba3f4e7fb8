"""The Ray Tune trainable: ``run_trial`` with Tune's reporting, restarts and MLflow logging."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gansearch.search import tracking
from gansearch.search.spec import SweepSpec
from gansearch.search.trial import TimedReporter, finished_result, run_trial


@dataclass(frozen=True)
class TrialContext:
    """What every trial of a sweep shares, sent once to the workers."""

    spec: SweepSpec
    teacher_path: str
    students_dir: str  # each trial writes its student under students_dir/<trial id>/
    sweep_run: tracking.SweepRun


def trainable(config: dict[str, Any], context: TrialContext) -> None:
    from ray import tune

    started = time.perf_counter()
    ctx = tune.get_context()
    trial_id, trial_name = ctx.get_trial_id(), ctx.get_trial_name()
    knobs = dict(config)
    client = context.sweep_run.client()
    run_id = tracking.trial_run(context.sweep_run, trial_id, trial_name, knobs)
    import ray

    client.set_tag(run_id, "node", ray.get_runtime_context().get_node_id())  # where it ran (last)
    out_dir = Path(context.students_dir) / trial_id
    # A restarted trial (its node died, or the sweep is resumed) continues after its last
    # finished step, from the progress file run_trial keeps beside the student on shared
    # storage. Not from a Tune checkpoint: Tune deletes the older one before its next
    # experiment snapshot, so a driver killed in between could not restore the trial at all.
    progress = out_dir / "progress.pt"
    restore = progress if progress.is_file() else None

    def report(metrics: dict[str, Any], _progress_file: Path | None) -> None:
        tracking.log_metrics(client, run_id, metrics, step=int(metrics["recipe_step"]))
        tune.report(metrics)

    try:
        if restore is None and (out_dir / "student.pt").is_file():
            # It finished, but a killed driver never recorded that: report what it measured.
            result = finished_result(context.spec, out_dir)
            report(result, None)
        else:
            result = run_trial(context.spec, knobs, context.teacher_path, out_dir,
                               TimedReporter(report, started), device=_device(context.spec.device),
                               restore=restore)
    except Exception as exc:
        tracking.fail_trial_run(client, run_id, exc)
        raise
    tracking.finish_trial_run(client, run_id, result)


def _device(preference: str) -> str:
    # "auto" means the GPU Ray assigned this trial, if any: Ray sets CUDA_VISIBLE_DEVICES.
    import torch

    if preference == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return preference
