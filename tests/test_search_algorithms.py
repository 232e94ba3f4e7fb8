"""The search: the cost-aware sampler against random search on a synthetic table, no student run
twice, constraints, multi-objective successive halving, and its stopped trials PRUNED."""

from types import SimpleNamespace

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from ray.tune.schedulers import TrialScheduler

from gansearch.errors import ConfigError
from gansearch.search.hypervolume import _volume, expected_improvement
from gansearch.search.pareto import pareto_mask
from gansearch.search.samplers import CostAwareSampler
from gansearch.search.schedulers import MultiObjectiveASHA, Rungs, nondominated_order

optuna.logging.set_verbosity(optuna.logging.WARNING)

# A table of 120 configurations: quality falls with pruning and rises with fine-tuning; the
# costs (bytes, MACs) are known functions of the knobs, as a compression sweep's are.
AMOUNTS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
SPACE = {"amount": CategoricalDistribution(AMOUNTS), "iterations": CategoricalDistribution([1, 4, 16]),
         "dtype": CategoricalDistribution(["float32", "float16", "int8"]),
         "criterion": CategoricalDistribution(["l1", "fpgm"])}
BYTES = {"float32": 4, "float16": 2, "int8": 1}


def quality(p):
    loss = (1 + 3 * p["amount"] ** 2) * (0.5 + 1 / (1 + 0.3 * p["iterations"]))
    rounding = {"float32": 1, "float16": 1.01, "int8": 1.1}[p["dtype"]]
    return loss * (1.05 if p["criterion"] == "l1" else 1.0) * rounding


def costs(p):
    width = (1 - p["amount"]) ** 2
    return [width * BYTES[p["dtype"]], width * 1e9]


TABLE = [dict(amount=a, iterations=i, dtype=d, criterion=c) for a in AMOUNTS for i in (1, 4, 16)
         for d in BYTES for c in ("l1", "fpgm")]
POINTS = np.array([[quality(p), *costs(p)] for p in TABLE])


def _share(found):
    """Hypervolume of what a search found, as a share of the whole table's."""
    lo, hi = POINTS.min(0), POINTS.max(0)
    ref = np.full(3, 1.1)

    def volume(x):
        x = (np.asarray(x) - lo) / (hi - lo)
        x = x[pareto_mask(x)]
        return _volume(x[np.all(x < ref, 1)], ref)

    return volume(found) / volume(POINTS)


def _search(sampler, budget):
    study = optuna.create_study(directions=["minimize"] * 3, sampler=sampler)
    found = []
    for _ in range(budget):
        trial = study.ask(SPACE)
        values = [quality(trial.params), *costs(trial.params)]
        study.tell(trial, values)
        found.append(values)
    return study, found


def test_the_cost_aware_sampler_beats_random_search_on_a_table():
    budget = len(TABLE) // 8  # 15 of 144
    aware = [_share(_search(CostAwareSampler(costs, seed=s, search_space=SPACE), budget)[1])
             for s in range(3)]
    random = [_share(_search(optuna.samplers.RandomSampler(seed=s), budget)[1]) for s in range(3)]
    assert min(aware) > 0.97 and min(aware) > max(random) + 0.03, (aware, random)


def test_no_configuration_runs_twice_and_constraints_hold():
    # The two criteria make the same student here: one fingerprint; costs over 2 bytes are refused.
    def fingerprint(p):
        return (p["amount"], p["iterations"], p["dtype"])

    sampler = CostAwareSampler(costs, seed=0, search_space=SPACE, fingerprint_fn=fingerprint,
                               feasible_fn=lambda p: costs(p)[0] <= 2.0)
    study, found = _search(sampler, 30)
    prints = [fingerprint(t.params) for t in study.trials]
    assert len(set(prints)) == len(prints)
    assert all(bytes_ <= 2.0 for _, bytes_, _ in found)


def test_costs_must_be_numbers():
    sampler = CostAwareSampler(lambda p: [float("nan"), 1.0], seed=0, search_space=SPACE)
    with pytest.raises(ConfigError, match="costs must be finite"):
        _search(sampler, 1)


def test_expected_improvement_is_exact_for_a_known_cost():
    """One front point (quality 0.5, cost 0.5), reference (1, 1): a candidate of cost 0.25 and
    quality exactly 0.25 adds 1 * 0.75 - ... computed by hand; with spread it averages."""
    front, ref = np.array([[0.5, 0.5]]), np.array([1.0, 1.0])
    sure = expected_improvement(front, ref, np.array([[0.25]]), np.array([0.25]), np.array([1e-9]))
    # The point (0.25, 0.25) dominates the box up to (1, 1): 0.75 * 0.75 of which 0.5 * 0.5 was covered.
    assert sure[0] == pytest.approx(0.75 * 0.75 - 0.5 * 0.5, abs=1e-6)
    rng = np.random.default_rng(0)
    draws = rng.normal(0.4, 0.2, 200_000)
    def improvement(q):
        q = np.minimum(q, 1.0)
        return (1 - q) * 0.75 - np.clip(1 - np.maximum(q, 0.5), 0, None) * 0.5
    spread = expected_improvement(front, ref, np.array([[0.25]]), np.array([0.4]), np.array([0.2]))
    assert spread[0] == pytest.approx(improvement(draws).mean(), rel=1e-2)


def _report(scheduler, trial_id, stage, **metrics):
    return scheduler.on_trial_result(None, SimpleNamespace(trial_id=trial_id), {"stage": stage, **metrics})


def test_mo_asha_keeps_a_newcomer_that_dominates_every_earlier_trial():
    # The case Syne Tune's MOASHA ranks wrongly (an index error): the newest trial dominates all.
    scheduler = MultiObjectiveASHA({"swd": "min", "macs": "min"}, grace_period=1, reduction_factor=2, max_t=4)
    for i, (q, m) in enumerate([(3.0, 1.0), (2.0, 2.0), (1.0, 3.0), (2.5, 2.5)]):
        _report(scheduler, f"t{i}", 1, swd=q, macs=m)
    assert _report(scheduler, "new", 1, swd=0.5, macs=0.5) == TrialScheduler.CONTINUE
    assert _report(scheduler, "bad", 1, swd=4.0, macs=4.0) == TrialScheduler.STOP  # beaten by all
    assert _report(scheduler, "new", 2, swd=0.1, macs=0.5) == TrialScheduler.CONTINUE  # between rungs
    # Ranking: the dominating point first, the dominated last, fronts in between by crowding.
    points = np.array([[3.0, 1.0], [2.0, 2.0], [1.0, 3.0], [0.5, 0.5], [4.0, 4.0]])
    order = nondominated_order(points)
    assert order[0] == 3 and order[-1] == 4


def test_mo_asha_ranks_by_costs_too_where_quality_alone_would_stop():
    # The cheapest student scores worst right after pruning: quality-only ASHA stops it, MO-ASHA not.
    scheduler = MultiObjectiveASHA({"swd": "min", "macs": "min"}, grace_period=1, reduction_factor=2, max_t=4)
    for i, q in enumerate([1.0, 1.1, 1.2]):
        _report(scheduler, f"t{i}", 1, swd=q, macs=100.0)
    assert _report(scheduler, "cheap", 1, swd=9.0, macs=10.0) == TrialScheduler.CONTINUE
    quality_only = MultiObjectiveASHA({"swd": "min"}, grace_period=1, reduction_factor=2, max_t=4)
    for i, q in enumerate([1.0, 1.1, 1.2]):
        _report(quality_only, f"t{i}", 1, swd=q)
    assert _report(quality_only, "cheap", 1, swd=9.0) == TrialScheduler.STOP


def test_mo_asha_lets_the_first_trials_through():
    rungs = Rungs(grace_period=1, reduction_factor=3, max_t=10)
    assert list(rungs.recorded) == [1, 3, 9]
    assert rungs.record(1, "a", np.array([5.0]))
    assert rungs.record(1, "b", np.array([9.0]))  # fewer than reduction_factor trials: no cut yet
    assert not rungs.record(1, "c", np.array([10.0]))
    assert rungs.record(2, "c", np.array([10.0]))  # not a rung


def test_the_space_is_learned_from_the_first_trial_without_a_search_space():
    sampler = CostAwareSampler(lambda p: [1 - p["x"]], seed=0, startup_trials=2)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(lambda t: (t.suggest_float("x", 0, 1) ** 2, 1 - t.params["x"]), n_trials=6)
    assert len(study.trials) == 6 and len({round(t.params["x"], 9) for t in study.trials}) == 6
    assert all(isinstance(t.distributions["x"], FloatDistribution) for t in study.trials)
