"""The Ray Tune trainable: ``run_trial`` with Tune's reporting, restarts and MLflow logging.

Before a trial trains, its student is planned (``gansearch.search.plans``): a student the
sweep has made already (the same untrained structure and training settings: a grid's two
amounts that round to one filter count, a sampler's repeat) is not trained again; the trial
reports the earlier trial's result, marked ``repeat_of``, and gets a copy of its files. Two such
trials running at once take turns on the fingerprint's lock, so the second finds the first's
result. A student whose known costs break a ``constraints:`` bound is not trained either: it is
reported ``infeasible``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gansearch.search import tracking
from gansearch.search.spec import SweepSpec
from gansearch.search.trial import TimedReporter, finished_result, plan_trial, run_trial


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
    trial_id = ctx.get_trial_id()
    knobs = dict(config)
    client = context.sweep_run.client()
    run_id = tracking.trial_run(context.sweep_run, trial_id, tracking.run_name(trial_id, knobs), knobs)
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
            plan = plan_trial(context.spec, knobs, context.teacher_path)
            broken = violated(context.spec.constraints, plan.costs)
            if broken:
                result = {**(plan.costs or {}), "infeasible": 1, "recipe_step": 0, "stage": 1, "final": 0,
                          "error": broken}
                report(result, None)
                client.set_tag(run_id, "infeasible", broken)
                tracking.stop_trial_run(client, run_id, "infeasible")
                return
            with FingerprintLock(Path(context.students_dir), plan.fingerprint):
                earlier = earlier_student(Path(context.students_dir), plan.fingerprint, trial_id)
                if earlier is not None:
                    result = repeat_result(context.spec, earlier, out_dir)
                    report(result, None)
                    client.set_tag(run_id, "repeat_of", earlier.name)
                else:
                    out_dir.mkdir(parents=True, exist_ok=True)
                    (out_dir / FINGERPRINT).write_text(plan.fingerprint)
                    result = run_trial(context.spec, knobs, context.teacher_path, out_dir,
                                       TimedReporter(report, started), device=_device(context.spec.device),
                                       restore=restore)
    except Exception as exc:
        tracking.fail_trial_run(client, run_id, exc)
        raise
    tracking.finish_trial_run(client, run_id, result)


FINGERPRINT = "fingerprint.txt"  # beside a trial's student: which student it is (plans.Plan)


class FingerprintLock:
    """One trial at a time per student fingerprint (``flock`` on SWEEP/.students.lock/FP, on the
    storage every node shares), so a repeat waits for the first and reuses its result. Beside
    students/, which holds only trial folders."""

    def __init__(self, students: Path, fingerprint: str) -> None:
        self.path = students.parent / ".students.lock" / fingerprint

    def __enter__(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "a")  # noqa: SIM115 - held until __exit__
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()  # releases the lock


def earlier_student(students: Path, fingerprint: str, trial_id: str) -> Path | None:
    """The folder of a finished trial of the sweep that made the same student, if any."""
    for marker in sorted(students.glob(f"*/{FINGERPRINT}")):
        folder = marker.parent
        if folder.name != trial_id and (folder / "student.pt").is_file() and \
                not (folder / "progress.pt").exists() and marker.read_text().strip() == fingerprint:
            return folder
    return None


def repeat_result(spec, earlier: Path, out_dir: Path) -> dict[str, Any]:
    """What ``earlier`` measured, reported again by this trial with copies of its files."""
    import shutil

    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("student.pt", "samples.png", FINGERPRINT):
        shutil.copy(earlier / name, out_dir / name)
    return {**finished_result(spec, out_dir), "repeat_of": earlier.name}


def violated(constraints: dict, costs: dict[str, float] | None) -> str:
    """The first ``constraints:`` bound ``costs`` break, as words; '' when none (or unknown)."""
    for metric, bound in (constraints or {}).items():
        value = None if costs is None else costs.get(metric)
        if value is None:
            continue
        if bound.max is not None and value > bound.max:
            return f"{metric} {value:.6g} above its bound {bound.max:.6g}"
        if bound.min is not None and value < bound.min:
            return f"{metric} {value:.6g} below its bound {bound.min:.6g}"
    return ""


def _device(preference: str) -> str:
    # "auto" means the GPU Ray assigned this trial, if any: Ray sets CUDA_VISIBLE_DEVICES.
    import torch

    if preference == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return preference
