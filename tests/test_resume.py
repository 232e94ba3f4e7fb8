"""An interrupted sweep resumes: the remaining trials run, finished ones are not repeated in
Ray's results, Optuna's study or MLflow."""

import signal
import subprocess
import sys
import time

import optuna
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

pytestmark = pytest.mark.timeout(600)


def test_interrupted_sweep_resumes_without_duplicates(tiny_singan_teacher, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({
        "name": "r", "teacher": {"checkpoint": str(tiny_singan_teacher)},
        "recipe": [{"prune_filters": {"amount": 0.5}}, {"finetune": {"iterations": 2}}],
        "space": {"prune_filters.amount": {"uniform": [0.1, 0.8]}},
        "objectives": [{"metric": "swd"}, {"metric": "weight_bytes"}],
        "search": {"algorithm": "tpe", "num_samples": 5, "max_concurrent": 1},
        "evaluation": {"samples": 2, "latency_runs": 1}, "device": "cpu"}))
    command = [sys.executable, "-m", "gansearch.cli", "sweep", str(space), "--storage",
               str(tmp_path / "runs"), "--quiet"]
    folder = tmp_path / "runs" / "r"
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while len(list(folder.glob("students/*/student.pt"))) < 2:
        assert first.poll() is None, first.stdout.read()
        assert time.time() < deadline
        time.sleep(0.5)
    first.send_signal(signal.SIGINT)  # what Ctrl-C does
    out, _ = first.communicate(timeout=120)
    assert first.returncode == 130, out
    assert "--resume" in out
    before = pd.read_csv(folder / "results.csv", dtype={"trial_id": str})
    done_before = set(before.query("final == 1")["trial_id"])
    assert 2 <= len(done_before) < 5

    second = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stdout + second.stderr
    table = pd.read_csv(folder / "results.csv", dtype={"trial_id": str})
    assert len(table) == 5 and table["trial_id"].is_unique and (table["final"] == 1).all()
    assert done_before <= set(table["trial_id"])

    study = optuna.load_study(study_name="r", storage=f"sqlite:///{folder / 'optuna.db'}")
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) == 5
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("r").experiment_id])
    trials = [r.data.tags["gansearch.trial_id"] for r in runs if r.data.tags.get("gansearch.role") == "trial"]
    assert sorted(trials) == sorted(table["trial_id"])
    assert sum(r.data.tags.get("gansearch.role") == "sweep" for r in runs) == 1
