"""Search algorithms beyond Optuna's own: the cost-aware sampler.

In a compression sweep the cost objectives (bytes, MACs, parameters) of a configuration are
known before it trains: they are measured on the untrained student (``gansearch.search.plans``).
Only the quality metric has to be learned. ``CostAwareSampler`` models quality with a Gaussian
process over the knobs and proposes, among candidates whose costs it knows, the one with the
largest expected hypervolume improvement of the front (exact for known costs and a Gaussian
quality; ``gansearch.search.hypervolume.expected_improvement``). It never proposes a
configuration whose student is the same as one already run or running, nor one whose known
costs break a constraint.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from gansearch.errors import ConfigError
from gansearch.search.gp import GaussianProcess
from gansearch.search.hypervolume import NUDGE, expected_improvement
from gansearch.search.pareto import pareto_mask

GRID = 64  # levels a continuous knob is sampled on: a knob's candidates repeat, and their costs are cached


class CostAwareSampler(optuna.samplers.BaseSampler):
    """Multi-objective sampler for studies whose first objective is quality and whose others are
    costs known before a trial runs.

    ``cost_fn(params)`` returns objectives 2..k (in the study's order and directions) for a
    complete parameter dict, or None for a configuration that cannot be made (it is skipped).
    ``fingerprint_fn(params)`` says which configurations make the same trial (default: equal
    parameters). ``feasible_fn(params)`` refuses configurations that break a constraint (known
    before they run, as their costs are). ``search_space`` (optional) is the space of every
    trial; without it the space is learned from the first trial, which is drawn at random. The
    first ``startup_trials`` are spread over the known costs (farthest-point in cost space)
    before the quality model takes over; ``candidates`` is how many configurations each proposal compares.
    """

    def __init__(self, cost_fn: Callable[[dict[str, Any]], Sequence[float]], *, seed: int | None = None,
                 search_space: dict[str, BaseDistribution] | None = None, startup_trials: int = 4,
                 candidates: int = 256, fingerprint_fn: Callable[[dict[str, Any]], Hashable] | None = None,
                 feasible_fn: Callable[[dict[str, Any]], bool] | None = None) -> None:
        if startup_trials < 1 or candidates < 1:
            raise ConfigError(f"CostAwareSampler: startup_trials and candidates must be at least 1, got "
                              f"{startup_trials} and {candidates}")
        self.cost_fn, self.fingerprint_fn, self.feasible_fn = cost_fn, fingerprint_fn, feasible_fn
        self.search_space = search_space
        self.startup_trials, self.candidates = startup_trials, candidates
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self._random = optuna.samplers.RandomSampler(seed=seed)
        self._costs: dict[Hashable, np.ndarray | None] = {}
        self._theta: np.ndarray | None = None  # the quality model's last fit, where the next starts
        self._fingerprints: dict[Hashable, Hashable] = {}

    def reseed_rng(self) -> None:
        self.rng = np.random.default_rng()
        self._random.reseed_rng()

    # -- the BaseSampler contract --------------------------------------------------------------

    def infer_relative_search_space(self, study, trial) -> dict[str, BaseDistribution]:
        if self.search_space is not None:
            return dict(self.search_space)
        return optuna.search_space.intersection_search_space(study.get_trials(deepcopy=False))

    def sample_relative(self, study, trial, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        if len(study.directions) < 2:
            raise ConfigError("CostAwareSampler needs a multi-objective study: quality first, then costs")
        trials = study.get_trials(deepcopy=False)
        done = [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None
                and all(n in t.params for n in search_space)]
        taken = {self._fingerprint(t.params) for t in trials if t.number != trial.number
                 and all(n in t.params for n in search_space)}
        pending = [t for t in trials if t.state == TrialState.RUNNING and t.number != trial.number
                   and all(n in t.params for n in search_space)]
        candidates = self._candidates(search_space, done, taken)
        if not candidates:  # every configuration was run: a repeat, which the sweep answers from its record
            return {n: self._random.sample_independent(study, trial, n, d) for n, d in search_space.items()}
        minimize = optuna.study.StudyDirection.MINIMIZE
        signs = np.array([1.0 if d == minimize else -1.0 for d in study.directions])
        costs = np.array([self._cost(c) for c in candidates]) * signs[1:]
        if len(done) < self.startup_trials or len(done) < 2:
            known = [c * signs[1:] for t in [*done, *pending] if (c := self._cost(t.params)) is not None]
            return candidates[self._spread(costs, np.array(known).reshape(-1, costs.shape[1]))]
        return candidates[self._best(search_space, candidates, costs, done, pending, signs)]

    def sample_independent(self, study, trial, param_name: str, param_distribution: BaseDistribution) -> Any:
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    # -- candidates ------------------------------------------------------------------------------

    def _candidates(self, space: dict[str, BaseDistribution], done: list[FrozenTrial], taken: set
                    ) -> list[dict]:
        sizes = [_size(d) for d in space.values()]
        if math.prod(sizes) <= max(self.candidates, 1024):
            pool = _every(space)  # small and discrete (or continuous on its grid): all of it
        else:
            pool = [{n: _draw(d, self.rng) for n, d in space.items()} for _ in range(self.candidates)]
            for t in sorted(done, key=lambda t: t.values[0])[:8]:  # and near the best so far
                pool += [_neighbour(t.params, space, self.rng) for _ in range(4)]
        seen, out = set(), []
        for params in pool:
            key = self._fingerprint(params)
            if key in seen or key in taken:
                continue
            seen.add(key)
            cost = self._cost(params)
            if cost is not None and (self.feasible_fn is None or self.feasible_fn(dict(params))):
                out.append(params)
        return out

    def _fingerprint(self, params: dict[str, Any]) -> Hashable:
        key = _key(params)
        if key not in self._fingerprints:
            fingerprint = self.fingerprint_fn
            self._fingerprints[key] = key if fingerprint is None else fingerprint(dict(params))
        return self._fingerprints[key]

    def _cost(self, params: dict[str, Any]) -> np.ndarray | None:
        key = _key(params)
        if key not in self._costs:
            values = self.cost_fn(dict(params))
            if values is None:
                self._costs[key] = None
                return None
            values = np.asarray(values, float)
            if not np.isfinite(values).all():
                raise ConfigError(f"CostAwareSampler: cost_fn gave {values.tolist()} for {params}; "
                                  "costs must be finite numbers")
            self._costs[key] = values
        return self._costs[key]

    # -- choosing ----------------------------------------------------------------------------------

    def _spread(self, costs: np.ndarray, known: np.ndarray) -> int:
        """The candidate farthest (in normalized cost) from every configuration tried so far."""
        if not len(known):
            return int(self.rng.integers(len(costs)))
        lo, hi = costs.min(0), costs.max(0)
        span = np.where(hi > lo, hi - lo, 1.0)
        a, b = (costs - lo) / span, (known - lo) / span
        distance = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).min(1)
        best = np.flatnonzero(distance >= distance.max() - 1e-12)
        return int(self.rng.choice(best))

    def _best(self, space, candidates, costs, done, pending, signs) -> int:
        x_done = np.array([_encode(t.params, space) for t in done])
        quality = np.array([t.values[0] for t in done]) * signs[0]
        model = GaussianProcess(seed=int(self.rng.integers(2**31)), start=self._theta).fit(x_done, quality)
        self._theta = model.theta
        mean, std = model.predict(np.array([_encode(c, space) for c in candidates]))
        known = np.array([np.asarray(t.values[1:], float) for t in done]) * signs[1:]
        observed = np.column_stack([quality, known])
        pending = [t for t in pending if self._cost(t.params) is not None]
        if pending:  # running trials count as if they scored what the model expects (kriging believer)
            believed = model.predict(np.array([_encode(t.params, space) for t in pending]))[0]
            observed = np.vstack([observed, np.column_stack(
                [believed, np.array([self._cost(t.params) for t in pending]) * signs[1:]])])
        lo = np.minimum(observed.min(0), np.r_[mean.min(), costs.min(0)])
        hi = np.maximum(observed.max(0), np.r_[mean.max(), costs.max(0)])
        span = np.where(hi > lo, hi - lo, 1.0)
        front = observed[pareto_mask(observed)]
        # A candidate the front beats even at an optimistic quality (mean - 3 std) cannot expect
        # to improve it by more than a rounding error: only the others are worth the exact integral.
        hopeful = ~_dominated(np.column_stack([mean - 3 * std, costs]), front)
        gain = np.zeros(len(candidates))
        gain[hopeful] = expected_improvement(
            (front - lo) / span, np.full(observed.shape[1], 1 + NUDGE), (costs[hopeful] - lo[1:]) / span[1:],
            (mean[hopeful] - lo[0]) / span[0], std[hopeful] / span[0])
        if gain.max() <= 1e-12:  # nothing expected to improve the front: learn where least is known
            gain = std
        best = np.flatnonzero(gain >= gain.max() * (1 - 1e-9))
        return int(self.rng.choice(best))


def _dominated(points: np.ndarray, front: np.ndarray) -> np.ndarray:
    """Which rows of ``points`` some row of ``front`` dominates (all objectives minimized)."""
    no_worse = (front[None, :, :] <= points[:, None, :]).all(-1)
    better = (front[None, :, :] < points[:, None, :]).any(-1)
    return (no_worse & better).any(1)


# -- parameters as numbers ---------------------------------------------------------------------------


def _size(d: BaseDistribution) -> int:
    if isinstance(d, CategoricalDistribution):
        return len(d.choices)
    if isinstance(d, IntDistribution):
        return (d.high - d.low) // d.step + 1 if not d.log else min(GRID, d.high - d.low + 1)
    if isinstance(d, FloatDistribution) and d.step is not None:
        return int(round((d.high - d.low) / d.step)) + 1
    return GRID


def levels(d: BaseDistribution) -> list[Any]:
    """The values the sampler proposes for ``d``: its values, or GRID levels of a continuous range."""
    if isinstance(d, CategoricalDistribution):
        return list(d.choices)
    if isinstance(d, IntDistribution) and not d.log:
        return list(range(d.low, d.high + 1, d.step))
    if isinstance(d, FloatDistribution) and d.step is not None:
        return [min(d.high, d.low + i * d.step) for i in range(_size(d))]
    u = np.linspace(0, 1, _size(d))
    if d.log:
        values = np.exp(np.log(d.low) + u * (np.log(d.high) - np.log(d.low)))
    else:
        values = d.low + u * (d.high - d.low)
    return [int(round(v)) for v in values] if isinstance(d, IntDistribution) else [float(v) for v in values]


def _every(space: dict[str, BaseDistribution]) -> list[dict[str, Any]]:
    import itertools

    names = list(space)
    grid = itertools.product(*(levels(space[n]) for n in names))
    return [dict(zip(names, values, strict=True)) for values in grid]


def _draw(d: BaseDistribution, rng: np.random.Generator) -> Any:
    values = levels(d)
    return values[int(rng.integers(len(values)))]


def _neighbour(params: dict[str, Any], space: dict[str, BaseDistribution], rng: np.random.Generator) -> dict:
    name = list(space)[int(rng.integers(len(space)))]
    values = levels(space[name])
    out = dict(params)
    if isinstance(space[name], CategoricalDistribution):
        out[name] = values[int(rng.integers(len(values)))]
    else:
        here = int(np.argmin([abs(float(v) - float(params[name])) for v in values]))
        out[name] = values[int(np.clip(here + rng.choice([-2, -1, 1, 2]), 0, len(values) - 1))]
    return out


def _encode(params: dict[str, Any], space: dict[str, BaseDistribution]) -> list[float]:
    """Parameters as numbers in [0, 1] (log scale where the distribution is); categories one-hot,
    except numeric choices (``choice: [2, 4, 8]``), which are ordered: their value, scaled (log
    scale when they span a factor of 10 or more)."""
    out: list[float] = []
    for name, d in space.items():
        v = params[name]
        if isinstance(d, CategoricalDistribution) and _numeric(d.choices):
            values = np.array(d.choices, float)
            if values.min() > 0 and values.max() >= 10 * values.min():
                values, v = np.log(values), math.log(float(v))
            span = (values.max() - values.min()) or 1.0
            out.append((float(v) - values.min()) / span)
        elif isinstance(d, CategoricalDistribution):
            out += [1.0 if c == v else 0.0 for c in d.choices]
        elif d.log:
            out.append((math.log(v) - math.log(d.low)) / (math.log(d.high) - math.log(d.low)))
        else:
            out.append((float(v) - d.low) / ((d.high - d.low) or 1.0))
    return out


def _numeric(choices) -> bool:
    return all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices)


def _key(params: dict[str, Any]) -> tuple:
    return tuple(sorted((k, round(v, 12) if isinstance(v, float) else v) for k, v in params.items()))
