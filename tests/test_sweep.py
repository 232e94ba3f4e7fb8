"""Real sweeps on a local Ray with 2 CPUs: multi-objective Optuna, MLflow (local store and a
real server), a diverging trial, the Pareto front, students that reload."""

import subprocess
import sys
import time

import optuna
import pytest
from helpers import free_port, spec
from mlflow import MlflowClient

import gansearch
from gansearch.checkpoint import load_checkpoint
from gansearch.errors import ConfigError
from gansearch.families import example_input
from gansearch.report.build import build_report
from gansearch.search.pareto import pareto_front
from gansearch.search.sweep import SweepOptions, run_sweep

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("local_ray")]


def _spec(teacher, **changes):
    return spec(teacher, **{
        "recipe": [{"prune_filters": {"amount": 0.5}}, {"finetune": {"iterations": 1}},
                   {"precision": {"dtype": "float32"}}],
        "space": {"prune_filters.amount": {"uniform": [0.1, 0.8]},
                  "precision.dtype": {"choice": ["float32", "float16"]}},
        "objectives": [{"metric": "swd"}, {"metric": "weight_bytes"}, {"metric": "macs"}],
        "search": {"algorithm": "tpe", "num_samples": 4, "seed": 0, "max_concurrent": 2},
        "evaluation": {"samples": 2, "latency_runs": 1}, **changes})


def _children(uri, name):
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("gansearch.role") == "sweep"]
    children = [r for r in runs if r.data.tags.get("gansearch.role") == "trial"]
    return client, parents, children


def test_multi_objective_sweep_tracks_every_trial(tiny_singan_teacher, tmp_path):
    from ray.tune import Callback

    class Completions(Callback):
        def __init__(self):
            self.done = []

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.done.append(trial.trial_id)

    spec = _spec(tiny_singan_teacher)
    completions = Completions()
    result = run_sweep(spec, SweepOptions(storage=str(tmp_path), verbose=0, callbacks=(completions,)))
    table = result.table
    assert len(table) == 4 and (table["status"] == "finished").all()
    assert sorted(completions.done) == sorted(table["trial_id"])
    assert (table["core_seconds"] > 0).all() and (table["core_seconds"] < table["trial_seconds"]).all()
    assert (table["torch_threads"] >= 1).all()
    assert (result.folder / "results.csv").is_file() and (result.folder / "pareto.csv").is_file()
    objectives = {"swd": "min", "weight_bytes": "min", "macs": "min"}
    assert list(result.front["trial_id"]) == list(pareto_front(table, objectives)["trial_id"])
    for _, row in table[~table["trial_id"].isin(result.front["trial_id"])].iterrows():  # each beaten
        assert any(all(f[k] <= row[k] for k in objectives) for _, f in result.front.iterrows())

    study = optuna.load_study(study_name="t", storage=f"sqlite:///{result.folder / 'optuna.db'}")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4 and all(len(t.values) == 3 for t in complete)
    assert study.directions == [optuna.study.StudyDirection.MINIMIZE] * 3

    client, parents, children = _children(result.tracking_uri, "t")
    assert len(parents) == 1 and parents[0].info.run_id == result.parent_run_id
    assert {"spec.yaml", "results.csv", "pareto.csv"} <= {
        a.path for a in client.list_artifacts(result.parent_run_id)}
    experiment = client.get_experiment_by_name("t")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # opens on runs
    assert len(children) == 4
    for run in children:
        assert run.data.tags["mlflow.parentRunId"] == result.parent_run_id
        assert run.data.tags["gansearch.sweep"] == "t"
        assert run.info.status == "FINISHED"
        assert {"prune_filters.amount", "precision.dtype"} <= set(run.data.params)
        assert {"swd", "weight_bytes", "macs", "params", "peak_activation_bytes", "latency_ms"} \
            <= set(run.data.metrics)
        assert not {"final", "stage", "recipe_step"} & set(run.data.metrics)  # bookkeeping: tags
        assert run.data.tags["final"] == "1" and run.data.tags["recipe_step"] == "3"
        trial_id = run.data.tags["gansearch.trial_id"]
        amount = float(run.data.params["prune_filters.amount"])
        assert run.info.run_name.startswith(f"{trial_id} amount={amount:.3g} dtype=")
        history = client.get_metric_history(run.info.run_id, "swd")
        assert len(history) == 4  # after each of the 3 steps, and the final measurement
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"samples.png", "student"} <= artifacts

    for _, row in table.iterrows():  # the reported cost is the reloaded student's own
        student = load_checkpoint(row["student_file"]).generator
        cost = gansearch.profile(student, example_input(student), latency_runs=0)
        assert cost.weight_bytes == row["weight_bytes"] and cost.macs == row["macs"]
        half = row["precision.dtype"] == "float16"
        assert (next(student.parameters()).dtype == __import__("torch").float16) == half

    # The finished sweep is not run over: a second start asks for --resume or another name.
    with pytest.raises(ConfigError, match="--resume"):
        run_sweep(spec, SweepOptions(storage=str(tmp_path), verbose=0))


def test_diverging_trial_fails_with_its_reason_and_the_sweep_goes_on(tiny_singan_teacher, tmp_path):
    spec = _spec(tiny_singan_teacher, space={"finetune.lr_factor": {"grid": [1.0, 1e30]}},
                 search={"algorithm": "grid", "num_samples": 1}, max_failures=0)
    result = run_sweep(spec, SweepOptions(storage=str(tmp_path), verbose=0))
    table = result.table.set_index("finetune.lr_factor")
    assert table.loc[1.0, "status"] == "finished"
    assert table.loc[1e30, "status"] == "error" and "diverged" in table.loc[1e30, "error"]
    assert len(result.front) == 1
    _, _, children = _children(result.tracking_uri, "t")
    failed = [r for r in children if r.info.status == "FAILED"]
    assert len(failed) == 1 and "diverged" in failed[0].data.tags["error"]


def test_trial_out_of_memory_is_recorded_as_failed_and_counted(tiny_singan_teacher, tmp_path):
    # 200k filters ask for a 1.3 TiB weight: the allocator refuses it at once, as it would on a GPU.
    spec = _spec(tiny_singan_teacher, recipe=[{"scratch": {"filters": 4}}, {"finetune": {"iterations": 1}}],
                 space={"scratch.filters": {"grid": [4, 200_000]}}, objectives=[{"metric": "swd"},
                                                                             {"metric": "weight_bytes"}],
                 search={"algorithm": "grid", "num_samples": 1}, max_failures=0)
    result = run_sweep(spec, SweepOptions(storage=str(tmp_path), verbose=0))
    table = result.table.set_index("scratch.filters")
    assert table.loc[4, "status"] == "finished"
    assert table.loc[200_000, "status"] == "error"
    assert table.loc[200_000, "error"].startswith("TrialOutOfMemory: out of memory on cpu in step scratch")
    assert list(result.front["scratch.filters"]) == [4]
    client, _, children = _children(result.tracking_uri, "t")
    failed = [r for r in children if r.info.status == "FAILED"]
    assert len(failed) == 1 and "out of memory" in failed[0].data.tags["error"]

    report = build_report(result.folder)
    assert report.counts.splitlines()[0] == "2 trials: 1 finished, 1 failed, 0 stopped early"
    assert "out of memory on cpu" in report.counts.splitlines()[1]
    assert "2 trials: 1 finished, 1 failed" in (result.folder / "report.html").read_text()


@pytest.mark.slow
def test_sweep_logs_to_a_real_mlflow_server(tiny_singan_teacher, tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--default-artifact-root", str(tmp_path / "server-artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                MlflowClient(uri).search_experiments()
                break
            except Exception:
                if time.time() > deadline or server.poll() is not None:
                    raise
                time.sleep(1)
        spec = _spec(tiny_singan_teacher, search={"algorithm": "random", "num_samples": 2,
                                                  "max_concurrent": 2})
        result = run_sweep(spec, SweepOptions(storage=str(tmp_path / "runs"), tracking_uri=uri,
                                              verbose=0))
        assert result.tracking_uri == uri
        client, parents, children = _children(uri, "t")
        assert len(parents) == 1 and len(children) == 2
        assert all(r.info.status == "FINISHED" for r in children)
        assert {"samples.png", "student"} <= {a.path for a in client.list_artifacts(children[0].info.run_id)}
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_asha_stops_trials_early_and_keeps_them_off_the_front(tiny_singan_teacher, tmp_path):
    spec = _spec(tiny_singan_teacher, search={"algorithm": "random", "num_samples": 6, "max_concurrent": 2},
                 scheduler={"type": "asha", "grace_period": 1, "reduction_factor": 2})
    result = run_sweep(spec, SweepOptions(storage=str(tmp_path), verbose=0))
    table = result.table
    assert len(table) == 6 and set(table["status"]) <= {"finished", "stopped"}
    stopped = table[table["status"] == "stopped"]
    assert (stopped["final"] == 0).all() and (stopped["recipe_step"] < 4).all()
    assert set(result.front["trial_id"]) <= set(table.loc[table["status"] == "finished", "trial_id"])
    _, _, children = _children(result.tracking_uri, "t")  # none left RUNNING by the scheduler's stop
    want = {"finished": "FINISHED", "stopped": "KILLED"}
    status = dict(zip(table["trial_id"], table["status"], strict=True))
    assert {r.info.status for r in children} <= {"FINISHED", "KILLED"}
    assert all(r.info.status == want[status[r.data.tags["gansearch.trial_id"]]] for r in children)


@pytest.mark.gpu
@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA device")
def test_trial_runs_on_the_gpu_with_mixed_precision(tiny_singan_teacher, tmp_path):
    from gansearch.search.trial import run_trial

    spec = _spec(tiny_singan_teacher, device="cuda")
    spec = spec.__class__(**{**spec.__dict__, "recipe": spec.recipe.with_knobs(
        {"finetune.mixed_precision": True})})
    reports = []
    result = run_trial(spec, {"prune_filters.amount": 0.5}, tiny_singan_teacher, tmp_path,
                       lambda m, _: reports.append(m))
    assert result["final"] == 1 and len(reports) == 4
    student = load_checkpoint(result["student_file"], map_location="cuda").generator
    assert next(student.parameters()).is_cuda
