"""The search in real sweeps (Ray Tune, Optuna, MLflow): the cost-aware sampler by default, a
student never trained twice, constraints known before training, multi-objective early stopping
telling Optuna PRUNED, and a study warm-started from an earlier sweep."""

import optuna
import pandas as pd
import pytest
from helpers import spec
from mlflow import MlflowClient

from gansearch.search.sweep import SweepOptions, run_sweep
from gansearch.search.trial import plans_for

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("local_ray")]
OBJECTIVES = [{"metric": "swd"}, {"metric": "weight_bytes"}, {"metric": "macs"}]


def _study(result):
    storage = f"sqlite:///{result.folder / 'optuna.db'}"
    return optuna.load_study(study_name=result.folder.name, storage=storage)


def test_the_default_search_knows_each_students_costs_before_it_trains(tiny_singan_teacher, tmp_path):
    s = spec(tiny_singan_teacher, name="aware", objectives=OBJECTIVES,
             search={"num_samples": 4, "max_concurrent": 2, "seed": 1})
    assert s.search.algorithm == "cost_aware"
    result = run_sweep(s, SweepOptions(storage=str(tmp_path), verbose=0))
    table = result.table
    assert (table["status"] == "finished").all() and len(table) == 4
    plans = plans_for(s, tiny_singan_teacher)
    for row in table.to_dict("records"):
        plan = plans.plan({"prune_filters.amount": row["prune_filters.amount"]})
        assert plan.costs["weight_bytes"] == row["weight_bytes"] and plan.costs["macs"] == row["macs"]
    prints = [plans.plan({"prune_filters.amount": a}).fingerprint for a in table["prune_filters.amount"]]
    assert len(set(prints)) == 4  # four different students
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in _study(result).trials) == 4


def test_two_knob_values_that_make_one_student_train_it_once(tiny_singan_teacher, tmp_path):
    # 0.45 and 0.55 of 8 filters both remove 4 (3.6 and 4.4 round to 4): one student.
    s = spec(tiny_singan_teacher, name="twice", space={"prune_filters.amount": {"grid": [0.45, 0.55]}},
             search={"algorithm": "grid", "num_samples": 1, "max_concurrent": 2})
    result = run_sweep(s, SweepOptions(storage=str(tmp_path), verbose=0))
    table = pd.read_csv(result.folder / "results.csv", dtype={"trial_id": str, "repeat_of": str})
    assert (table["status"] == "finished").all()
    repeats = table[table["repeat_of"].notna()]
    assert len(repeats) == 1 and repeats["repeat_of"].iloc[0] in set(table["trial_id"])
    first, again = (result.folder / "students" / t / "student.pt" for t in
                    (repeats["repeat_of"].iloc[0], repeats["trial_id"].iloc[0]))
    assert first.read_bytes() == again.read_bytes()
    assert table["swd"].nunique() == 1  # the same measurement, reported twice
    client = MlflowClient(result.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("twice").experiment_id])
    tagged = [r for r in runs if r.data.tags.get("repeat_of")]
    assert len(tagged) == 1 and tagged[0].info.status == "FINISHED"
    assert len(result.front) == 1  # one point for the one student


def test_constraints_known_before_training_keep_students_out(tiny_singan_teacher, tmp_path):
    s = spec(tiny_singan_teacher, name="bounded", space={"prune_filters.amount": {"grid": [0.25, 0.75]}},
             constraints={"weight_bytes": {"max": 10000}}, objectives=OBJECTIVES,
             search={"algorithm": "grid", "num_samples": 1, "max_concurrent": 2})
    result = run_sweep(s, SweepOptions(storage=str(tmp_path), verbose=0))
    table = result.table.set_index("prune_filters.amount")
    assert table.loc[0.75, "status"] == "finished" and table.loc[0.25, "status"] == "infeasible"
    assert "above its bound" in table.loc[0.25, "error"] and table.loc[0.25, "weight_bytes"] > 10000
    trial = table.loc[0.25, "trial_id"]
    assert not (result.folder / "students" / trial / "student.pt").exists()  # never trained
    assert list(result.front["prune_filters.amount"]) == [0.75]


def test_early_stopping_ranks_by_every_objective_and_tells_optuna_pruned(tiny_singan_teacher, tmp_path):
    s = spec(tiny_singan_teacher, name="asha", objectives=OBJECTIVES,
             recipe=[{"prune_filters": {"amount": 0.5}}, {"finetune": {"iterations": 1}},
                     {"finetune": {"iterations": 1}}],
             search={"algorithm": "tpe", "num_samples": 6, "max_concurrent": 2, "seed": 0},
             scheduler={"type": "asha", "grace_period": 1, "reduction_factor": 2})
    result = run_sweep(s, SweepOptions(storage=str(tmp_path), verbose=0))
    table = result.table
    stopped = set(table.loc[table["status"] == "stopped", "trial_id"])
    assert stopped and set(table["status"]) <= {"finished", "stopped"}
    states = [t.state for t in _study(result).trials]
    assert states.count(optuna.trial.TrialState.PRUNED) == len(stopped)
    assert states.count(optuna.trial.TrialState.COMPLETE) == (table["status"] == "finished").sum()


def test_a_warm_start_seeds_the_study_with_an_earlier_sweep(tiny_singan_teacher, tmp_path):
    first = run_sweep(spec(tiny_singan_teacher, name="first", search={"algorithm": "tpe", "num_samples": 2}),
                      SweepOptions(storage=str(tmp_path), verbose=0))
    second = run_sweep(spec(tiny_singan_teacher, name="second",
                            search={"algorithm": "tpe", "num_samples": 2, "warm_start": [str(first.folder)]}),
                       SweepOptions(storage=str(tmp_path), verbose=0))
    trials = _study(second).trials
    assert len(trials) == 4 and {t.params["prune_filters.amount"] for t in trials[:2]} == \
        set(first.table["prune_filters.amount"])
