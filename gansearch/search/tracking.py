"""MLflow tracking: one parent run per sweep, one nested child run per trial.

The driver creates the store, the experiment and the parent run before any trial starts
(several processes creating a fresh SQLite store at once race on its schema). Trials log from
their workers through ``MlflowClient`` with explicit run ids, never through MLflow's global
"active run", so concurrent trials in one process cannot cross. A trial finds its child run by
its trial-id tag, so a restarted or resumed trial keeps logging to the run it started, and
counts its attempts. When Tune has the last word on every trial, ``settle_trial_runs`` brings the
child runs in line with it: no run is left RUNNING by a dead worker or driver, and a run that a
killed driver started for a trial Tune never recorded (it reruns under a new id) is deleted.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gansearch.errors import ConfigError, first_line, short

SWEEP_TAG = "gansearch.sweep"
TRIAL_TAG = "gansearch.trial_id"
PARENT_TAG = "mlflow.parentRunId"
ROLE_TAG = "gansearch.role"  # sweep (the parent run) or trial
FOLDER_TAG = "gansearch.folder"  # where the sweep's results live, for `gansearch report NAME`


def quote(value: str) -> str:
    """``value`` as a string literal of an MLflow search filter. MLflow's filter language has
    no escapes: a value is wrapped in whichever quote it does not contain."""
    value = str(value)
    for mark in ("'", '"'):
        if mark not in value:
            return f"{mark}{value}{mark}"
    raise ConfigError(f"{short(value)} holds both kinds of quotes, which MLflow cannot search for; "
                      "rename it")


def where(**tags: str) -> str:
    """An MLflow run filter matching every tag (``where(**{"gansearch.role": "sweep"})``)."""
    return " and ".join(f"tags.`{key}` = {quote(value)}" for key, value in tags.items())


def local_store(sweep_dir: Path) -> str:
    """The default tracking URI: a SQLite store in the sweep's folder."""
    return f"sqlite:///{(sweep_dir / 'mlflow.db').resolve()}"


@dataclass(frozen=True)
class SweepRun:
    """Where trials log: picklable, sent to every trial."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    name: str  # the sweep's

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri)


def check_reachable(tracking_uri: str) -> None:
    """One clear line if the MLflow store at ``tracking_uri`` cannot be reached."""
    import socket
    from urllib.parse import urlparse

    from mlflow import MlflowClient

    url = urlparse(tracking_uri)
    if url.scheme in ("http", "https"):  # MLflow retries a dead server for minutes; a socket knows now
        try:
            with socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)),
                                          timeout=5):
                pass
        except OSError as exc:
            raise ConfigError(f"cannot reach the MLflow server {tracking_uri} ({exc}); start it "
                              f"('mlflow server') or fix --tracking-uri") from None
    try:
        MlflowClient(tracking_uri=tracking_uri).search_experiments(max_results=1)
    except Exception as exc:  # MLflow raises its own, requests' and SQLAlchemy's errors here
        raise ConfigError(f"cannot reach the MLflow store {tracking_uri} ({type(exc).__name__}: "
                          f"{first_line(exc)}); start it or fix --tracking-uri") from None


def start_sweep_run(tracking_uri: str, name: str, sweep_dir: Path, params: dict[str, Any]
                    ) -> SweepRun:
    """Create (or, on resume, find) the sweep's experiment and parent run."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        experiment = client.get_experiment_by_name(name)
    except Exception as exc:  # MLflow raises its own and requests' errors for an unreachable store
        raise ConfigError(f"cannot reach the MLflow store {tracking_uri} ({type(exc).__name__}: "
                          f"{first_line(exc)}); start it or pass --tracking-uri") from None
    if experiment is None:
        artifacts = (sweep_dir / "mlartifacts").resolve().as_uri() if tracking_uri.startswith("sqlite") \
            else None
        experiment_id = client.create_experiment(name, artifact_location=artifacts)
    else:
        experiment_id = experiment.experiment_id
    # MLflow 3's UI opens an experiment on its traces page unless told it holds training runs.
    client.set_experiment_tag(experiment_id, "mlflow.experimentKind", "custom_model_development")
    found = client.search_runs([experiment_id], where(**{SWEEP_TAG: name, ROLE_TAG: "sweep"}),
                               max_results=1)
    if found:
        run_id = found[0].info.run_id
        client.update_run(run_id, status="RUNNING")
    else:
        run = client.create_run(experiment_id, tags={SWEEP_TAG: name, ROLE_TAG: "sweep",
                                                     FOLDER_TAG: str(sweep_dir)}, run_name=name)
        run_id = run.info.run_id
        log_params(client, run_id, params)
        if (sweep_dir / "spec.yaml").is_file():
            client.log_artifact(run_id, str(sweep_dir / "spec.yaml"))
    return SweepRun(tracking_uri, experiment_id, run_id, name)


def finish_sweep_run(sweep: SweepRun, metrics: dict[str, float], status: str = "FINISHED") -> None:
    client = sweep.client()
    log_metrics(client, sweep.parent_run_id, metrics)
    client.set_terminated(sweep.parent_run_id, status=status)


def trial_run(sweep: SweepRun, trial_id: str, trial_name: str, params: dict[str, Any]) -> str:
    """The child run of ``trial_id``: found if it exists (a restarted trial), else created."""
    client = sweep.client()
    found = client.search_runs([sweep.experiment_id],
                               where(**{PARENT_TAG: sweep.parent_run_id, TRIAL_TAG: trial_id}), max_results=1)
    if found:
        run_id = found[0].info.run_id
        attempts = int(found[0].data.tags.get("attempts", "1")) + 1
        client.update_run(run_id, status="RUNNING")
        client.set_tag(run_id, "attempts", str(attempts))
        client.set_tag(run_id, "status", "running")
        return run_id
    run = client.create_run(sweep.experiment_id, run_name=trial_name, tags={
        PARENT_TAG: sweep.parent_run_id, SWEEP_TAG: sweep.name, TRIAL_TAG: trial_id,
        ROLE_TAG: "trial", "status": "running", "attempts": "1"})
    log_params(client, run.info.run_id, params)
    return run.info.run_id


def finish_trial_run(client, run_id: str, result: dict[str, Any]) -> None:
    """A trial ran to the end: its student and samples go with its run, then the run is FINISHED
    (so a FINISHED run always has its files)."""
    client.log_artifact(run_id, result["student_file"], "student")
    client.log_artifact(run_id, result["samples_file"])
    client.set_tag(run_id, "status", "finished")
    client.set_tag(run_id, "student_file", result["student_file"])
    client.set_terminated(run_id, status="FINISHED")


def stop_trial_run(client, run_id: str, status: str) -> None:
    """A trial ended without training (``infeasible``): the run is KILLED with that status."""
    client.set_tag(run_id, "status", status)
    client.set_terminated(run_id, status="KILLED")


def fail_trial_run(client, run_id: str, exc: BaseException) -> None:
    """A trial raised ``exc``: the run is FAILED with the reason in a tag and the traceback."""
    import traceback

    client.set_tag(run_id, "status", "error")
    client.set_tag(run_id, "error", f"{type(exc).__name__}: {exc}"[:5000])
    client.log_text(run_id, "".join(traceback.format_exception(exc)), "error.txt")
    client.set_terminated(run_id, status="FAILED")


# A trial's outcome in the results table -> the MLflow status of its run.
RUN_STATUS = {"finished": "FINISHED", "error": "FAILED", "stopped": "KILLED", "interrupted": "KILLED",
              "infeasible": "KILLED"}


def trial_runs(sweep: SweepRun) -> list:
    """Every child run of the sweep's parent run."""
    client = sweep.client()
    runs, token = [], None
    while True:
        page = client.search_runs([sweep.experiment_id], where(**{PARENT_TAG: sweep.parent_run_id}),
                                  max_results=1000, page_token=token)
        runs += list(page)
        token = page.token
        if not token:
            return runs


def settle_trial_runs(sweep: SweepRun, outcomes: dict[str, tuple[str, str]]) -> None:
    """Make each child run say what Tune says of its trial: ``outcomes`` maps trial id to
    (status, error), status one of ``RUN_STATUS``. A worker that died mid-trial left its run
    RUNNING; a driver killed mid-sweep may have started runs for trials it never recorded."""
    client = sweep.client()
    for run in trial_runs(sweep):
        run_id, tags = run.info.run_id, run.data.tags
        outcome = outcomes.get(tags.get(TRIAL_TAG, ""))
        if outcome is None:  # its trial is not in the sweep: the resumed search ran it anew
            client.set_tag(run_id, "status", "lost")
            client.set_terminated(run_id, status="KILLED")
            client.delete_run(run_id)
            continue
        status, error = outcome
        if status == "error" and error and not tags.get("error"):
            client.set_tag(run_id, "error", error[:5000])
        if tags.get("status") != status:
            client.set_tag(run_id, "status", status)
        if run.info.status != RUN_STATUS[status]:
            client.set_terminated(run_id, status=RUN_STATUS[status])


def log_params(client, run_id: str, params: dict[str, Any]) -> None:
    from mlflow.entities import Param

    items = [Param(mlflow_key(k), str(v)[:6000]) for k, v in _flat(params).items()]
    for i in range(0, len(items), 100):  # MLflow takes at most 100 params a batch
        client.log_batch(run_id, params=items[i:i + 100])


# What a trial reports to say where it is, not what it measured: tags of its run, not metrics.
BOOKKEEPING = ("final", "stage", "recipe_step", "step_name", "infeasible", "error", "repeat_of")


def log_metrics(client, run_id: str, metrics: dict[str, Any], step: int = 0) -> None:
    """Numeric measurements as metrics at ``step``; the bookkeeping keys as tags."""
    from mlflow.entities import Metric, RunTag

    now = int(time.time() * 1000)
    items = [Metric(mlflow_key(k), float(v), now, step) for k, v in metrics.items()
             if k not in BOOKKEEPING and isinstance(v, (int, float)) and not isinstance(v, bool)]
    tags = [RunTag(k, str(metrics[k])[:5000]) for k in BOOKKEEPING if metrics.get(k) not in (None, "")]
    if items or tags:
        client.log_batch(run_id, metrics=items, tags=tags)


def run_name(trial_id: str, knobs: dict[str, Any], limit: int = 90) -> str:
    """A trial's run name: its id, then its knobs as ``setting=value`` (the step's name only where
    two steps share a setting name), short enough for the runs table."""
    settings = [k.rsplit(".", 1)[-1] for k in knobs]
    parts = [trial_id]
    for key, value in knobs.items():
        name = key.rsplit(".", 1)[-1]
        name = key if settings.count(name) > 1 else name
        parts.append(f"{name}={short_value(value)}")
    text = " ".join(parts)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def short_value(value: Any) -> str:
    """A knob value as run names and console lines show it (floats to 3 significant digits)."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def mlflow_key(name: str) -> str:
    """``name`` as MLflow allows a param or metric key: a repeated step's knob ``finetune#2.lr_factor``
    becomes ``finetune_2.lr_factor`` (MLflow takes letters, digits and ``_-. :/`` only)."""
    return re.sub(r"[^\w\-. :/]", "_", name, flags=re.ASCII)


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def sweep_folder_of(tracking_uri: str, name: str):
    """The results folder of the sweep ``name`` tracked at ``tracking_uri``."""
    from pathlib import Path

    from mlflow import MlflowClient

    check_reachable(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id], where(**{ROLE_TAG: "sweep"}),
                              max_results=1) if experiment else []
    folder = runs[0].data.tags.get(FOLDER_TAG) if runs else None
    if folder is None:
        raise ConfigError(f"no sweep {name!r} in the MLflow store {tracking_uri}; pass a sweep folder or "
                          f"another --tracking-uri")
    return Path(folder)
