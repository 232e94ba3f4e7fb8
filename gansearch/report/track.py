"""The report in MLflow: its files on the sweep's parent run, ``pareto`` tags on the trial runs."""

from __future__ import annotations

from pathlib import Path

from gansearch.search.tracking import PARENT_TAG, ROLE_TAG, SWEEP_TAG, TRIAL_TAG, where


def track_report(tracking_uri: str, sweep_name: str, files: list[Path], front_ids: set[str]) -> str | None:
    """Log ``files`` under ``report/`` on the sweep's parent run and tag each child run
    ``pareto=true`` or ``pareto=false``; the parent run's id, or None when the store holds no
    run of this sweep."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(sweep_name)
    if experiment is None:
        return None
    parents = client.search_runs([experiment.experiment_id],
                                 where(**{SWEEP_TAG: sweep_name, ROLE_TAG: "sweep"}), max_results=1)
    if not parents:
        return None
    parent = parents[0].info.run_id
    for path in files:
        client.log_artifact(parent, str(path), artifact_path="report")
    children = client.search_runs([experiment.experiment_id], where(**{PARENT_TAG: parent}),
                                  max_results=50000)
    for run in children:
        member = run.data.tags.get(TRIAL_TAG) in front_ids
        client.set_tag(run.info.run_id, "pareto", "true" if member else "false")
    return parent
