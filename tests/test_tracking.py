"""Settling a sweep's records once every trial has ended: MLflow child runs say what Tune says,
the starts a killed driver never recorded are removed, and the Optuna study holds nothing
RUNNING. Real MLflow and Optuna stores, no Ray."""

import optuna

from gansearch.search.sweep import settle_study
from gansearch.search.tracking import local_store, log_metrics, settle_trial_runs, start_sweep_run, trial_run


def test_child_runs_end_as_their_trials_did_and_lost_starts_are_deleted(tmp_path):
    sweep = start_sweep_run(local_store(tmp_path), "s", tmp_path, {})
    client = sweep.client()
    ids = {t: trial_run(sweep, t, t, {"amount": 0.5}) for t in ("done", "crashed", "cut", "paused", "lost")}
    client.set_terminated(ids["done"], status="FINISHED")  # as the trainable ends a finished trial

    settle_trial_runs(sweep, {"done": ("finished", ""), "crashed": ("error", "RayActorError: node died"),
                              "cut": ("stopped", ""), "paused": ("interrupted", "")})
    runs = {t: client.get_run(i) for t, i in ids.items()}
    assert {t: r.info.status for t, r in runs.items() if t != "lost"} == {
        "done": "FINISHED", "crashed": "FAILED", "cut": "KILLED", "paused": "KILLED"}
    assert runs["crashed"].data.tags["error"] == "RayActorError: node died"
    assert runs["cut"].data.tags["status"] == "stopped"
    assert runs["lost"].info.lifecycle_stage == "deleted"

    # The paused trial resumes: same run, its attempts counted, RUNNING again.
    assert trial_run(sweep, "paused", "paused", {"amount": 0.5}) == ids["paused"]
    resumed = client.get_run(ids["paused"])
    assert resumed.info.status == "RUNNING" and resumed.data.tags["attempts"] == "2"


def test_the_study_keeps_no_trial_running(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="s", storage=storage, directions=["minimize", "minimize"])
    done = study.ask()
    study.tell(done, [1.0, 2.0])
    study.ask()  # asked for by a driver that was then killed
    settle_study(tmp_path, "s")
    states = [t.state for t in optuna.load_study(study_name="s", storage=storage).trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL]


def test_a_repeated_steps_knobs_are_tracked_under_keys_mlflow_allows(tmp_path):
    space = {"finetune#2.lr_factor": {"choice": [0.5, 1.0]}}
    sweep = start_sweep_run(local_store(tmp_path), "s", tmp_path, {"spec": {"space": space}})
    run_id = trial_run(sweep, "t1", "t1", {"finetune#2.lr_factor": 0.5})
    log_metrics(sweep.client(), run_id, {"swd@finetune#2": 3.0})
    run = sweep.client().get_run(run_id)
    assert run.data.params == {"finetune_2.lr_factor": "0.5"} and run.data.metrics == {"swd_finetune_2": 3.0}
    parent = sweep.client().get_run(sweep.parent_run_id).data.params
    assert parent == {"spec.space.finetune_2.lr_factor.choice": "[0.5, 1.0]"}
