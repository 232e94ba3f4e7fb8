"""The Ray Tune trainable: ``run_trial`` with Tune's reporting, checkpoints and MLflow logging."""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gansearch.search import tracking
from gansearch.search.spec import SweepSpec
from gansearch.search.trial import TimedReporter, run_trial


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
    restore = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:  # a restarted trial: continue after its last finished step
        with checkpoint.as_directory() as d:
            restore = out_dir / "restored.pt"
            out_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(Path(d) / "progress.pt", restore)

    def report(metrics: dict[str, Any], progress_file: Path | None) -> None:
        tracking.log_metrics(client, run_id, metrics, step=int(metrics["recipe_step"]))
        if progress_file is None:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(progress_file, Path(tmp) / "progress.pt")
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(tmp))

    try:
        result = run_trial(context.spec, knobs, context.teacher_path, out_dir, TimedReporter(report, started),
                           device=_device(context.spec.device), restore=restore)
    except Exception as exc:
        client.set_tag(run_id, "status", "failed")
        client.set_tag(run_id, "error", f"{type(exc).__name__}: {exc}"[:5000])
        client.log_text(run_id, traceback.format_exc(), "error.txt")
        client.set_terminated(run_id, status="FAILED")
        raise
    client.log_artifact(run_id, result["student_file"], "student")
    client.log_artifact(run_id, result["samples_file"])
    client.set_tag(run_id, "status", "finished")
    client.set_tag(run_id, "student_file", result["student_file"])
    client.set_terminated(run_id, status="FINISHED")


def _device(preference: str) -> str:
    # "auto" means the GPU Ray assigned this trial, if any: Ray sets CUDA_VISIBLE_DEVICES.
    import torch

    if preference == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return preference
