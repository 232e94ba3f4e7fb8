"""Which Ray Tune searcher and scheduler a sweep runs, from its spec.

- ``cost_aware`` (default): knows every candidate's costs before it trains, learns quality with
  a Gaussian process, never repeats a student; for cost objectives known before training;
- ``gp``: Optuna's GPSampler (a GP per objective, log-EHVI); when a cost is measured only after
  training (latency);
- ``tpe``, ``nsga2``: Optuna's multi-objective TPE and NSGA-II; large budgets;
- ``random``: a baseline; ``grid``: every value of every ``grid`` and ``choice`` knob.

The Optuna algorithms keep their study in the sweep folder (``optuna.db``), and
``search.warm_start`` seeds it with the finished trials of earlier sweeps of the same space.
Early stopping (``scheduler: {type: asha}``) is multi-objective successive halving
(``gansearch.search.schedulers``); a trial it stops is told to Optuna as PRUNED, not as a
complete trial with half-finished values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gansearch.config import load_yaml
from gansearch.errors import ConfigError
from gansearch.search.folder import read_table
from gansearch.search.spec import SearchConfig, SweepSpec

OPTUNA_ALGORITHMS = ("cost_aware", "gp", "tpe", "nsga2")


def searcher(spec: SweepSpec, num_samples: int, folder: Path, name: str, param_space: dict[str, Any],
             teacher_path: Path):
    """The Tune searcher of ``spec`` (None: Tune's own grid)."""
    search = spec.search
    if search.algorithm == "random":
        from ray.tune.search.basic_variant import BasicVariantGenerator

        # Tune limits concurrency only for its Searchers; the variant generator limits itself.
        return BasicVariantGenerator(random_state=search.seed, max_concurrent=search.max_concurrent or 0)
    if search.algorithm not in OPTUNA_ALGORITHMS:
        return None
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    distributions = OptunaSearch.convert_search_space(param_space)
    lookup = PlanLookup(spec, str(teacher_path)) if search.algorithm == "cost_aware" else None
    storage = optuna.storages.RDBStorage(f"sqlite:///{folder / 'optuna.db'}")
    if search.warm_start:
        study = optuna.create_study(storage=storage, study_name=name, load_if_exists=True,
                                    directions=["minimize" if o.direction == "min" else "maximize"
                                                for o in spec.objectives])
        if not study.get_trials(deepcopy=False):
            warm_start(study, spec, distributions)
    return StudySearch(metric=[o.metric for o in spec.objectives],
                       mode=[o.direction for o in spec.objectives],
                       sampler=sampler(search, num_samples, distributions, lookup), storage=storage,
                       study_name=name)


def sampler(search: SearchConfig, num_samples: int, distributions: dict, lookup=None):
    """The Optuna sampler of ``search.algorithm`` for a study of ``num_samples`` trials over
    ``distributions``. ``cost_aware`` asks ``lookup`` (a ``PlanLookup``, or anything with its
    ``costs``, ``fingerprint`` and ``feasible``) what each configuration costs and makes."""
    import optuna

    startup = search.tpe_startup(num_samples)
    if search.algorithm == "tpe":
        return optuna.samplers.TPESampler(seed=search.seed, n_startup_trials=startup)
    if search.algorithm == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=search.seed,
                                             population_size=search.nsga2_population(num_samples))
    if search.algorithm == "gp":
        return optuna.samplers.GPSampler(seed=search.seed, n_startup_trials=startup)
    if search.algorithm == "random":
        return optuna.samplers.RandomSampler(seed=search.seed)
    if search.algorithm != "cost_aware" or lookup is None:
        raise ConfigError(f"search.algorithm {search.algorithm!r} has no Optuna sampler here")
    from gansearch.search.samplers import CostAwareSampler

    return CostAwareSampler(lookup.costs, seed=search.seed, search_space=distributions,
                            startup_trials=startup, fingerprint_fn=lookup.fingerprint,
                            feasible_fn=lookup.feasible)


class PlanLookup:
    """What the cost-aware sampler asks of the sweep's plans: a configuration's costs, its
    fingerprint, whether it keeps to the constraints. Small to pickle (Tune saves the searcher
    with the sweep): the plans themselves are rebuilt per process (``trial.plans_for``)."""

    def __init__(self, spec: SweepSpec, teacher_path: str) -> None:
        self.spec, self.teacher_path = spec, teacher_path
        self.names = [o.metric for o in spec.costs]

    def _plan(self, params: dict[str, Any]):
        from gansearch.search.trial import plans_for

        return plans_for(self.spec, self.teacher_path).plan(params)

    def _built(self, params: dict[str, Any]):
        """The plan of ``params``, or None for a student too large to build (its trial could
        not run either)."""
        from gansearch.errors import TrialOutOfMemory
        from gansearch.search.trial import memory_errors

        try:
            with memory_errors("cpu", ["planning"]):
                return self._plan(params)
        except TrialOutOfMemory:
            return None

    def costs(self, params: dict[str, Any]) -> list[float] | None:
        plan = self._built(params)
        if plan is None:
            return None
        if plan.costs is None:
            raise ConfigError(f"cost_aware: the costs of {params} are decided by training (a step with "
                              "costs_known false); use search.algorithm gp or tpe")
        return [plan.costs[c] for c in self.names]

    def known(self, params: dict[str, Any]) -> dict[str, float] | None:
        """Every cost known before training (``plans.KNOWN_COSTS``), or None."""
        plan = self._built(params)
        return None if plan is None else plan.costs

    def fingerprint(self, params: dict[str, Any]) -> str:
        return self._plan(params).fingerprint

    def feasible(self, params: dict[str, Any]) -> bool:
        """Whether ``params`` keeps to the sweep's ``constraints:`` (on any known cost, an
        objective or not)."""
        from gansearch.search.trainable import violated

        return not self.spec.constraints or not violated(self.spec.constraints, self.known(params))


def scheduler(spec: SweepSpec, teacher_path: Path):
    if spec.scheduler.type != "asha":
        return None
    from gansearch.search.schedulers import MultiObjectiveASHA

    return MultiObjectiveASHA({o.metric: o.direction for o in spec.objectives}, time_attr="stage",
                              grace_period=spec.scheduler.grace_period,
                              reduction_factor=spec.scheduler.reduction_factor,
                              max_t=len(spec.recipe.steps) + 1,
                              known_costs=PlanLookup(spec, str(teacher_path)).known)


def _study_search_class():
    from ray.tune.search.optuna import OptunaSearch

    class _StudySearch(OptunaSearch):
        """OptunaSearch that tells Optuna a trial ended early (stopped, or over a constraint) as
        PRUNED: its last values are not a finished student's."""

        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
            if result is not None and not error and result.get("final") != 1:
                result = None  # OptunaSearch tells a trial without a result as PRUNED
            super().on_trial_complete(trial_id, result, error)

    return _StudySearch


def StudySearch(**kwargs):  # noqa: N802 - a class made on first use, so importing this needs no Ray
    return _study_search_class()(**kwargs)


def warm_start(study, spec: SweepSpec, distributions: dict) -> int:
    """Add the finished trials of ``spec.search.warm_start`` folders to ``study``; returns how many.
    Each folder must hold a sweep of the same space (recipe, knobs, objectives)."""
    import optuna

    added = 0
    for folder in map(Path, spec.search.warm_start):
        if not (folder / "spec.yaml").is_file():
            raise ConfigError(f"search.warm_start: {folder} holds no sweep (no spec.yaml)")
        earlier = load_yaml(folder / "spec.yaml")
        for key in ("recipe", "space", "objectives"):
            if earlier.get(key) != spec.raw.get(key):
                raise ConfigError(f"search.warm_start: {folder} searched another {key}; warm starts need the "
                                  "same recipe, space and objectives")
        table = read_table(folder / "results.csv", [o.metric for o in spec.objectives])
        for row in table[table["status"] == "finished"].to_dict("records"):
            params = {k: _typed(row[k], d) for k, d in distributions.items()}
            study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions,
                                                      values=[float(row[o.metric]) for o in spec.objectives]))
            added += 1
    return added


def _typed(value: Any, distribution) -> Any:
    """A CSV cell as its distribution's type (an integer knob comes back as 4.0)."""
    import optuna

    if isinstance(distribution, optuna.distributions.IntDistribution):
        return int(value)
    if isinstance(distribution, optuna.distributions.FloatDistribution):
        return float(value)
    matches = [c for c in distribution.choices if str(c) == str(value) or c == value]
    return matches[0] if matches else value
