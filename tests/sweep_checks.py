"""Checks the fault tests share: a sweep's results folder and its MLflow store agree."""

import pandas as pd
from mlflow import MlflowClient


def assert_sweep_complete(folder, experiment, n):
    """n finished trials, each once in results.csv and as an MLflow run; every run FINISHED and
    every trial run holding its student and samples. Returns (results table, client, trial runs)."""
    table = pd.read_csv(folder / "results.csv", dtype={"trial_id": str})
    assert len(table) == n and table["trial_id"].is_unique and (table["status"] == "finished").all()
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    trials = [r for r in runs if r.data.tags.get("gansearch.role") == "trial"]
    assert sorted(r.data.tags["gansearch.trial_id"] for r in trials) == sorted(table["trial_id"])
    assert all(r.info.status == "FINISHED" for r in runs)
    for r in trials:
        assert {"student", "samples.png"} <= {a.path for a in client.list_artifacts(r.info.run_id)}
    return table, client, trials
