"""Running a sweep: the teacher once, then Ray Tune trials, MLflow runs, and the results table.

Layout of a sweep folder (``<storage>/<name>/``, see ``gansearch.search.folder``)::

    spec.yaml        the search space as run; sweep.json: its fingerprint and the teacher's
    teacher_samples.png   the teacher's samples, drawn as each trial draws its student's
    teacher/         the teacher, when the sweep trained it
    ray/             Ray Tune's experiment (trials, searcher state; what --resume restores)
    students/<id>/   each trial's compacted student.pt, samples.png (progress.pt while it runs)
    optuna.db        the Optuna study (multi-objective TPE / NSGA-II)
    mlflow.db, mlartifacts/   the default MLflow store
    results.csv      one row per trial, rewritten as trials end (search.results); pareto.csv: the front
    report.html      written by the command line as trials end and at the end (gansearch.report)
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gansearch.errors import ConfigError, first_line
from gansearch.search import folder as sweep_files
from gansearch.search import tracking
from gansearch.search.spec import SweepSpec
from gansearch.search.teacher import (
    check_teacher,
    load_teacher,
    prepare_teacher,
    save_teacher_samples,
    teacher_quality,
)
from gansearch.search.trainable import TrialContext, trainable


@dataclass(frozen=True)
class SweepOptions:
    storage: str = "runs/sweeps"  # results folder (or a shared path on a cluster)
    name: str | None = None  # default: the spec's name
    address: str | None = None  # an existing Ray cluster; default a local embedded Ray
    tracking_uri: str | None = None  # default: a SQLite store in the sweep folder
    num_samples: int | None = None  # overrides search.num_samples
    gpus_per_trial: float | None = None  # overrides resources.gpus
    resume: bool = False
    verbose: int = 1  # 0: quiet; 1: a line per trial as it ends (search.console); 2: Tune's own tables
    callbacks: tuple[Any, ...] = ()  # extra ray.tune.Callback objects (a fresh sweep; not --resume)
    # Called with the sweep folder each time results.csv is rewritten as a trial ends (a fresh
    # sweep; not --resume): the command line rebuilds the report page there.
    on_update: Callable[[Path], None] | None = None


@dataclass
class SweepResult:
    folder: Path
    table: Any  # pandas.DataFrame, one row per trial
    front: Any  # the Pareto-optimal finished trials
    tracking_uri: str
    parent_run_id: str
    unfinished: int = 0  # trials left pending or running by an interruption (resume them)
    teacher: dict[str, float] | None = None  # the teacher's quality and cost, measured as a trial's


def sweep_folder(spec: SweepSpec, options: SweepOptions) -> Path:
    """``<storage>/<name>``; a name that would lead outside the storage folder is refused."""
    return sweep_files.sweep_folder(options.storage, options.name or spec.name)


def connect_ray(address: str | None, quiet: bool = False) -> None:
    """Join the cluster at ``address``, or start a local Ray; one clear line if it fails.
    ``quiet`` keeps Ray's own startup messages (warnings included) off the console."""
    import logging

    import ray

    if ray.is_initialized():
        return
    if address and address != "auto":
        _check_listening(address)
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            # "local": a fresh embedded Ray, never a cluster some other process left running.
            ray.init(address="local", include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR if quiet else logging.INFO)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"cannot connect to Ray at {address or 'a local instance'} ({first_line(exc)}); "
                          f"check --address (host:port of the head, or auto)") from None


def local_resources() -> dict[str, float]:
    """The CPUs and GPUs a local Ray would find on this machine, without starting it."""
    import torch

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return {"CPU": cpus, "GPU": torch.cuda.device_count() if torch.cuda.is_available() else 0}


def check_resources(spec: SweepSpec, options: SweepOptions, have: dict[str, float] | None = None) -> None:
    """A trial that asks for more than the Ray cluster has (``have``: default, what the connected
    Ray reports) would wait forever: refused on a local Ray, told on a cluster (whose autoscaler
    may still add the nodes)."""
    from gansearch.train.loop import resolve_device

    if have is None:
        import ray

        have = ray.cluster_resources()
    gpus = options.gpus_per_trial if options.gpus_per_trial is not None else spec.resources.gpus
    lacking = [f"{need:g} {kind} (the cluster has {have.get(kind, 0):g})"
               for kind, need in (("CPU", spec.resources.cpus), ("GPU", gpus)) if need > have.get(kind, 0)]
    if options.address is None:
        if spec.device != "auto":
            resolve_device(spec.device)  # this machine runs the trials: it must have the device
        if lacking:
            raise ConfigError(f"each trial asks for {' and '.join(lacking)}; lower resources.cpus / "
                              "resources.gpus (or --gpus-per-trial), or run on a cluster with --address")
    elif lacking:
        print(f"gansearch: note: each trial asks for {' and '.join(lacking)}; trials wait until the "
              "cluster's autoscaler adds such nodes", flush=True)


def _check_listening(address: str) -> None:
    # Ray retries an absent head for minutes; a closed port is known in a second.
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5):
            pass
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot connect to Ray at {address} ({exc}); start the head with 'ray start "
                          f"--head' or fix --address (host:port of the head, or auto)") from None


def run_sweep(spec: SweepSpec, options: SweepOptions) -> SweepResult:
    """Run (or ``options.resume``) the sweep ``spec`` describes; see the module docstring."""
    folder = sweep_folder(spec, options)
    name = folder.name
    # Everything that can be checked is checked before anything is written: a mistake leaves
    # no half-made sweep folder and no MLflow run behind.
    check_teacher(spec)  # against the spec, before anything is written and any teacher trains
    if options.tracking_uri:
        tracking.check_reachable(options.tracking_uri)
    storage_existed = folder.parent.exists()
    try:
        with sweep_files.SweepLock(folder.parent, name):
            return _run_locked(spec, options, folder)
    finally:
        if not storage_existed and folder.parent.is_dir() and not any(folder.parent.iterdir()):
            folder.parent.rmdir()  # made only to hold the lock of a sweep that never started


def _run_locked(spec: SweepSpec, options: SweepOptions, folder: Path) -> SweepResult:
    from ray import tune

    from gansearch.search.results import results_table, write_csv

    name = folder.name
    ray_dir = folder / "ray"
    if options.resume and not ray_dir.is_dir():
        raise ConfigError(f"--resume: no sweep to resume at {folder}; run it without --resume first")
    if not options.resume and ray_dir.is_dir():
        raise ConfigError(f"{folder} already holds a sweep; pass --resume to continue it, or "
                          f"--name / --storage for a new one")
    given_teacher = spec.resolve(spec.teacher.checkpoint).resolve() if spec.teacher.checkpoint else None
    if options.resume:
        sweep_files.check_same_spec(folder, spec.raw, given_teacher)
    connect_ray(options.address, quiet=options.verbose < 2)
    check_resources(spec, options)
    fresh = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not options.resume:
            (folder / "spec.yaml").write_text(yaml.safe_dump(spec.raw, sort_keys=False), encoding="utf-8")
        teacher_path = prepare_teacher(spec, folder)
        teacher = load_teacher(teacher_path, spec)
        if not options.resume:
            sweep_files.update_record(folder, spec=sweep_files.fingerprint(spec.raw),
                                      teacher=sweep_files.file_fingerprint(teacher_path),
                                      teacher_path=str(teacher_path))
        baseline = sweep_files.read_record(folder).get("teacher_quality")
        if baseline is None:
            print("measuring the teacher as every trial is measured", flush=True)
            baseline = teacher_quality(teacher, spec)
            save_teacher_samples(teacher, folder / "teacher_samples.png", spec.evaluation.seed)
            sweep_files.update_record(folder, teacher_quality=baseline)
        tracking_uri = options.tracking_uri or tracking.local_store(folder)
        sweep_run = tracking.start_sweep_run(tracking_uri, name, folder, {
            "spec": spec.raw, "teacher": str(teacher_path), "model": teacher.family.name})
        tracking.log_metrics(sweep_run.client(), sweep_run.parent_run_id,
                             {f"teacher.{k}": v for k, v in baseline.items()})
    except BaseException:
        if fresh:
            shutil.rmtree(folder, ignore_errors=True)
        raise

    resources = {"cpu": spec.resources.cpus,
                 "gpu": options.gpus_per_trial if options.gpus_per_trial is not None
                 else spec.resources.gpus}
    context = TrialContext(spec, str(teacher_path), str(folder / "students"), sweep_run)
    fn = tune.with_resources(tune.with_parameters(trainable, context=context), resources)
    if options.resume:
        tuner = tune.Tuner.restore(str(ray_dir), fn, resume_unfinished=True, resume_errored=False)
    else:
        exhaustive = spec.search.algorithm == "grid"
        param_space = {k: d.to_tune(exhaustive) for k, d in spec.space.items()}
        tuner = tune.Tuner(fn, param_space=param_space,
                           tune_config=_tune_config(spec, options, folder, param_space, teacher_path),
                           run_config=_run_config(spec, options, folder))
    sweep_files.update_record(folder, results_rows=None)  # results.csv now grows as trials end
    with _tune_console(options.verbose):
        grid = tuner.fit()
    # Ctrl-C makes Tune save its state and return early: trials left PENDING or RUNNING.
    trials = tune.ExperimentAnalysis(str(ray_dir)).trials
    unfinished = {t.trial_id for t in trials if t.status not in ("TERMINATED", "ERROR")}
    # Ctrl-C between two trials leaves none unfinished, only some never started.
    not_started = 0 if spec.search.time_budget_s else max(
        spec.planned_trials(options.num_samples) - len(trials), 0)
    table = results_table(grid, spec, interrupted=unfinished)
    from gansearch.search.pareto import pareto_front

    tracking.settle_trial_runs(sweep_run, {r.trial_id: (r.status, r.error) for r in table.itertuples()})
    if not unfinished and not not_started:
        settle_study(folder, name)
        _remove_lost_students(folder, set(table["trial_id"]))
    write_csv(table, folder / "results.csv")
    sweep_files.update_record(folder, results_rows=len(table))
    front = pareto_front(table[table["status"] == "finished"], spec.objectives) if len(table) else table
    write_csv(front, folder / "pareto.csv")
    finished = int((table["status"] == "finished").sum()) if len(table) else 0
    for table_file in ("results.csv", "pareto.csv"):
        sweep_run.client().log_artifact(sweep_run.parent_run_id, str(folder / table_file))
    tracking.finish_sweep_run(sweep_run, {"trials": len(table), "finished": finished,
                                          "front_size": len(front)},
                              status="KILLED" if unfinished or not_started else "FINISHED")
    return SweepResult(folder, table, front, tracking_uri, sweep_run.parent_run_id,
                       len(unfinished) + not_started, baseline)


@contextlib.contextmanager
def _tune_console(verbose: int):
    """Tune's new console output prints its configuration box and paths even at verbosity 0;
    below --verbose, its legacy output (silent at 0) is asked for while the sweep runs."""
    before = os.environ.get("RAY_AIR_NEW_OUTPUT")
    if verbose < 2:
        os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
        else:
            os.environ["RAY_AIR_NEW_OUTPUT"] = before


def settle_study(folder: Path, name: str) -> None:
    """Fail the Optuna trials a killed driver asked for but Tune never recorded (the resumed
    search asked again), so the study holds no trial RUNNING forever. Call it only when every
    trial of the sweep has ended."""
    if not (folder / "optuna.db").is_file():  # random and grid search keep no study
        return
    import optuna

    study = optuna.load_study(study_name=name, storage=f"sqlite:///{folder / 'optuna.db'}")
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)


def _remove_lost_students(folder: Path, trial_ids: set[str]) -> None:
    # Files of trials the sweep does not know (see settle_study): nothing refers to them.
    for student in (folder / "students").glob("*"):
        ours = sweep_files.TRIAL_ID.fullmatch(student.name) and student.is_dir()
        if ours and student.name not in trial_ids:
            shutil.rmtree(student)


def _tune_config(spec: SweepSpec, options: SweepOptions, folder: Path, param_space: dict[str, Any],
                 teacher_path: Path):
    from ray import tune

    from gansearch.search import algorithms

    num_samples = options.num_samples or spec.search.num_samples
    return tune.TuneConfig(
        search_alg=algorithms.searcher(spec, num_samples, folder, folder.name, param_space, teacher_path),
        scheduler=algorithms.scheduler(spec, teacher_path), num_samples=num_samples,
        max_concurrent_trials=spec.search.max_concurrent, time_budget_s=spec.search.time_budget_s,
        reuse_actors=True)


def _run_config(spec: SweepSpec, options: SweepOptions, folder: Path):
    from ray import tune

    from gansearch.search.results import LiveResults

    callbacks = [*options.callbacks, LiveResults(spec, folder, options.on_update)]
    if options.verbose == 1:
        from gansearch.search.console import TrialLines

        planned = None if spec.search.time_budget_s else spec.planned_trials(options.num_samples)
        callbacks.append(TrialLines([(o.metric, o.direction) for o in spec.objectives], list(spec.space),
                                    planned))
    return tune.RunConfig(
        name="ray", storage_path=str(folder),
        failure_config=tune.FailureConfig(max_failures=spec.max_failures),
        verbose=2 if options.verbose >= 2 else 0, callbacks=callbacks,
    )
