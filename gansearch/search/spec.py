"""The search-space YAML, parsed and checked before Ray starts.

A sweep names its teacher (a checkpoint, or a teacher config trained once for the sweep), the
recipe every trial applies, the knobs of the recipe to search and their distributions, the
objectives (one quality metric, then one or more cost metrics), the search algorithm, the
scheduler, the budget and the resources of a trial. Every mistake (an unknown key, a knob that
is not in the recipe, a bound outside what a step accepts) is reported with the key that holds
it, before anything runs.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from gansearch.config import check_device, check_range, check_seed, from_dict, load_yaml
from gansearch.data.config import DataConfig
from gansearch.errors import ConfigError, short
from gansearch.families import Family
from gansearch.search.evaluate import COST, QUALITY, EvalConfig
from gansearch.search.folder import check_sweep_name
from gansearch.search.plans import KNOWN_COSTS
from gansearch.search.recipe import Recipe, parse_recipe

DISTRIBUTIONS = ("uniform", "loguniform", "int", "quniform", "choice", "grid")


@dataclass(frozen=True)
class Dimension:
    """One searched knob: ``{uniform: [lo, hi]}``, ``{loguniform: [lo, hi]}``, ``{int: [lo, hi]}``
    (both ends included), ``{quniform: [lo, hi, q]}``, ``{choice: [a, b, ...]}`` or
    ``{grid: [a, b, ...]}`` (every value, in every combination with the other grid knobs)."""

    kind: str
    values: tuple[Any, ...]

    def extremes(self) -> tuple[Any, ...]:
        """The values that bound what a trial may receive (for validation)."""
        return self.values[:2] if self.kind in ("uniform", "loguniform", "int", "quniform") else self.values

    def to_tune(self, exhaustive: bool = False):
        """The Ray Tune domain for this dimension; ``exhaustive`` (grid search) runs every
        value of a ``choice`` too, as ``grid`` always does."""
        from ray import tune

        v = self.values
        if self.kind == "uniform":
            return tune.uniform(*v)
        if self.kind == "loguniform":
            return tune.loguniform(*v)
        if self.kind == "int":
            return tune.randint(v[0], v[1] + 1)  # randint leaves out its upper bound
        if self.kind == "quniform":
            return tune.quniform(*v)
        if self.kind == "choice" and not exhaustive:
            return tune.choice(list(v))
        return tune.grid_search(list(v))

    def size(self) -> float:
        """How many distinct values it has (inf for continuous ones)."""
        if self.kind in ("choice", "grid"):
            return len(self.values)
        if self.kind == "int":
            return self.values[1] - self.values[0] + 1
        if self.kind == "quniform":
            return math.floor((self.values[1] - self.values[0]) / self.values[2]) + 1
        return math.inf


def parse_dimension(data: Any, where: str) -> Dimension:
    if not isinstance(data, dict) or len(data) != 1:
        raise ConfigError(f"{where}: a dimension is one '<distribution>: [...]' mapping with a "
                          f"distribution among {', '.join(DISTRIBUTIONS)}; got {short(data)}")
    (kind, values), = data.items()
    if kind not in DISTRIBUTIONS:
        raise ConfigError(f"{where}: unknown distribution {short(kind)}; use one of "
                          f"{', '.join(DISTRIBUTIONS)}")
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}.{kind}: expected a non-empty list, got {short(values)}")
    if kind in ("choice", "grid"):
        return Dimension(kind, tuple(values))
    need = 3 if kind == "quniform" else 2
    if len(values) != need or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                      and math.isfinite(v) for v in values):
        shape = "[low, high, step]" if kind == "quniform" else "[low, high]"
        raise ConfigError(f"{where}.{kind}: expected {shape} finite numbers, got {short(values)}")
    lo, hi = values[:2]
    if not lo < hi:
        raise ConfigError(f"{where}.{kind}: low {lo} must be below high {hi}")
    if kind == "loguniform" and lo <= 0:
        raise ConfigError(f"{where}.loguniform: low must be > 0 for a log scale, got {lo}")
    if kind == "int" and not all(isinstance(v, int) for v in values):
        raise ConfigError(f"{where}.int: bounds must be integers, got {short(values)}")
    if kind == "quniform" and not 0 < values[2] <= hi - lo:
        raise ConfigError(f"{where}.quniform: step must be in (0, high - low], got {values[2]}")
    return Dimension(kind, tuple(values))


@dataclass(frozen=True)
class Objective:
    metric: str
    mode: Literal["min", "max"] | None = None  # default: the metric's better direction

    @property
    def direction(self) -> str:
        return self.mode or {**QUALITY, **COST}[self.metric]


@dataclass(frozen=True)
class TeacherSource:
    checkpoint: str | None = None  # a teacher.pt from 'gansearch train' or 'gansearch import'
    config: str | None = None  # a teacher config, trained once for the sweep
    trust_code: bool = False  # the checkpoint names code of yours to build it (gansearch import module)

    def __post_init__(self) -> None:
        if (self.checkpoint is None) == (self.config is None):
            raise ConfigError("teacher: give exactly one of checkpoint: (a teacher.pt) or config: "
                              "(a teacher YAML, trained once for the sweep)")


@dataclass(frozen=True)
class SearchConfig:
    # cost_aware: known costs, learned quality (gansearch.search.samplers); tpe, nsga2, gp:
    # Optuna's multi-objective samplers; random; grid: every value of grid and choice knobs.
    # Unset, cost_aware becomes tpe where some cost is known only after training (parse_spec).
    algorithm: Literal["cost_aware", "gp", "tpe", "nsga2", "random", "grid"] = "cost_aware"
    num_samples: int = 8  # trials (grid: repetitions of the whole grid)
    seed: int = 0
    max_concurrent: int | None = None  # default: as many as the resources allow
    time_budget_s: float | None = None  # stop starting trials after this long
    # Trials before a model of the results takes over (cost_aware, TPE, GP), and NSGA-II's
    # generation size. Default: a quarter of the trials, at least 2 and at most Optuna's own
    # defaults (10 and 50), so that a small sweep is not all random start.
    startup_trials: int | None = None
    population_size: int | None = None
    warm_start: tuple[str, ...] = ()  # folders of earlier sweeps of this space: their trials seed the study

    def __post_init__(self) -> None:
        check_range("search.num_samples", self.num_samples, 1)
        check_seed("search.seed", self.seed)
        if self.max_concurrent is not None:
            check_range("search.max_concurrent", self.max_concurrent, 1)
        if self.time_budget_s is not None:
            check_range("search.time_budget_s", self.time_budget_s, 0, low_open=True)
        if self.startup_trials is not None:
            check_range("search.startup_trials", self.startup_trials, 1)
        if self.population_size is not None:
            check_range("search.population_size", self.population_size, 2)

    def tpe_startup(self, num_samples: int | None = None) -> int:
        return self.startup_trials or self._quarter(num_samples, 10)

    def nsga2_population(self, num_samples: int | None = None) -> int:
        return self.population_size or self._quarter(num_samples, 50)

    def _quarter(self, num_samples: int | None, optuna_default: int) -> int:
        return min(max((num_samples or self.num_samples) // 4, 2), optuna_default)


@dataclass(frozen=True)
class Bound:
    """A constraint on a cost known before training: ``{max: 2.0e9}``, ``{min: ...}`` or both."""

    max: float | None = None
    min: float | None = None

    def __post_init__(self) -> None:
        if self.max is None and self.min is None:
            raise ConfigError("constraints: give a bound as {max: VALUE} and/or {min: VALUE}")


@dataclass(frozen=True)
class SchedulerConfig:
    type: Literal["none", "asha"] = "none"
    grace_period: int = 1  # reports (recipe steps) before ASHA may stop a trial
    reduction_factor: float = 2.0

    def __post_init__(self) -> None:
        check_range("scheduler.grace_period", self.grace_period, 1)
        check_range("scheduler.reduction_factor", self.reduction_factor, 1, low_open=True)


@dataclass(frozen=True)
class Resources:
    cpus: float = 1.0
    gpus: float = 0.0  # fractions pack several trials on one GPU

    def __post_init__(self) -> None:
        check_range("resources.cpus", self.cpus, 0, low_open=True)
        check_range("resources.gpus", self.gpus, 0)


@dataclass(frozen=True)
class _SpecFile:
    name: str
    teacher: TeacherSource
    recipe: list[Any]
    objectives: list[Objective]
    space: dict[str, Any] = field(default_factory=dict)
    search: SearchConfig = field(default_factory=SearchConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    resources: Resources = field(default_factory=Resources)
    evaluation: EvalConfig = field(default_factory=EvalConfig)
    data: DataConfig | None = None  # the data trials train and are judged on; default: the teacher's
    constraints: dict[str, Bound] = field(default_factory=dict)  # known costs a student must keep to
    device: str = "auto"  # where trials run: auto (the GPU Ray assigns, else CPU), cpu, cuda
    max_failures: int = 1  # restarts of a crashed trial from its last checkpoint


@dataclass(frozen=True)
class SweepSpec:
    name: str
    teacher: TeacherSource
    recipe: Recipe
    space: dict[str, Dimension]
    objectives: tuple[Objective, ...]
    search: SearchConfig
    scheduler: SchedulerConfig
    resources: Resources
    evaluation: EvalConfig
    data: DataConfig | None
    constraints: dict[str, Bound]
    device: str
    max_failures: int
    base: Path  # the folder of the YAML file: relative paths in it start there
    raw: dict[str, Any]  # the YAML as written (kept with the results)

    @property
    def quality(self) -> Objective:
        return self.objectives[0]

    @property
    def costs(self) -> tuple[Objective, ...]:
        return self.objectives[1:]

    def resolve(self, path: str) -> Path:
        return _absolute(path, self.base)

    def grid_size(self) -> float:
        return math.prod(d.size() for d in self.space.values())

    def planned_trials(self, num_samples: int | None = None) -> int:
        """The trials the search will start (``num_samples`` overrides the spec's), unless a
        time budget ends it sooner."""
        n = num_samples or self.search.num_samples
        if self.search.algorithm == "grid":
            return int(n * self.grid_size())
        if self.search.algorithm == "random":  # Tune's variant generator runs each grid point n times
            return int(n * math.prod(d.size() for d in self.space.values() if d.kind == "grid"))
        return n


def load_spec(path: str | Path, overrides: dict[str, Any] | None = None,
              sets: dict[str, Any] | None = None) -> SweepSpec:
    """The spec in the YAML file ``path``. ``overrides`` gives knob values (a trial's);
    ``sets`` changes the file's own settings first (``sweep --set``, see :func:`with_sets`)."""
    path = Path(path)
    raw = load_yaml(path)
    if sets:
        raw = with_sets(raw, sets, str(path))
    return parse_spec(raw, base=path.parent.resolve(), where=str(path), overrides=overrides)


_SECTIONS = {f.name for f in fields(_SpecFile)} - {"recipe", "space", "objectives"}


def with_sets(raw: dict[str, Any], sets: dict[str, Any], where: str = "spec") -> dict[str, Any]:
    """A copy of the spec ``raw`` with each ``KEY=VALUE`` of ``sets`` written into it.

    A key names a setting of the file (``search.num_samples``, ``teacher.checkpoint``,
    ``evaluation.samples``, ``name``) or of a recipe step (``finetune.iterations``, or
    ``finetune#2.iterations`` for the second ``finetune``). A step setting the space searches
    is fixed to the value and leaves the space. The result is what the sweep records as its
    spec, so a resumed or repeated sweep sees the same settings.
    """
    raw = copy.deepcopy(raw)
    for key, value in sets.items():
        head, _, rest = key.partition(".")
        if head in _SECTIONS:
            node = raw
            parts = key.split(".")
            for part in parts[:-1]:
                child = node.get(part) if isinstance(node, dict) else None
                if child is None:
                    child = node[part] = {}
                if not isinstance(child, dict):
                    raise ConfigError(f"--set {key}: {part} is not a section of {where}")
                node = child
            node[parts[-1]] = value
            continue
        if not rest:
            raise ConfigError(f"--set {key}: expected SECTION.SETTING (search.num_samples) or "
                              f"STEP.SETTING (finetune.iterations)")
        step, _, nth = head.partition("#")
        index = int(nth) if nth.isdigit() else 1
        found = [i for i, item in enumerate(raw.get("recipe") or [])
                 if (next(iter(item)) if isinstance(item, dict) and item else item) == step]
        if len(found) < index:
            steps = [str(next(iter(i)) if isinstance(i, dict) and i else i) for i in raw.get("recipe") or []]
            raise ConfigError(f"--set {key}: {where} has no recipe step {head}; steps are "
                              f"{', '.join(steps)}")
        i = found[index - 1]
        item = raw["recipe"][i]
        settings = dict((item.get(step) or {}) if isinstance(item, dict) else {})
        settings[rest] = value
        raw["recipe"][i] = {step: settings}
        (raw.get("space") or {}).pop(key, None)
    return raw


def parse_spec(raw: dict[str, Any], *, base: Path, where: str = "spec",
               overrides: dict[str, Any] | None = None) -> SweepSpec:
    f = from_dict(_SpecFile, raw, where)
    recipe = parse_recipe(f.recipe, f"{where}: recipe")
    if overrides:
        recipe = recipe.with_knobs(overrides)
    space = {k: parse_dimension(v, f"{where}: space.{k}") for k, v in f.space.items()}
    _check_space(recipe, space, where)
    _check_objectives(f.objectives, where)
    if f.search.algorithm == "grid":
        loose = [k for k, d in space.items() if d.kind not in ("grid", "choice")]
        if loose:
            raise ConfigError(f"{where}: search.algorithm grid needs grid: or choice: dimensions; "
                              f"{', '.join(loose)} are continuous")
    check_range(f"{where}: max_failures", f.max_failures, 0)
    check_device(f"{where}: device", f.device)
    check_sweep_name(f.name, f"{where}: name")
    evaluation = f.evaluation
    if evaluation.inception_weights:
        evaluation = replace(evaluation, inception_weights=str(_absolute(evaluation.inception_weights, base)))
    constraints = _constraints(f.constraints, where)
    search = replace(f.search, warm_start=tuple(str(_absolute(p, base)) for p in f.search.warm_start))
    if search.warm_start and search.algorithm in ("random", "grid"):
        raise ConfigError(f"{where}: search.warm_start seeds a model of the results; {search.algorithm} "
                          "keeps none (use cost_aware, gp, tpe or nsga2)")
    if search.algorithm == "cost_aware":
        unknown = _costs_unknown(recipe, space, f.objectives)
        if unknown and "algorithm" in (raw.get("search") or {}):
            raise ConfigError(f"{where}: search.algorithm cost_aware needs costs known before training, "
                              f"and {unknown}; use gp or tpe")
        if unknown:  # the default where costs are learned like quality: TPE
            search = replace(search, algorithm="tpe")
    return SweepSpec(f.name, f.teacher, recipe, space, tuple(f.objectives), search, f.scheduler,
                     f.resources, evaluation, _anchored(f.data, base), constraints, f.device, f.max_failures,
                     base, raw)


def _costs_unknown(recipe: Recipe, space: dict[str, Dimension], objectives) -> str | None:
    """Why some cost objective is not known before a trial trains, for some knob value (or None)."""
    unknown = [o.metric for o in objectives[1:] if o.metric not in KNOWN_COSTS]
    if unknown:
        return f"{', '.join(unknown)} is measured only after it"
    for knobs in [{}, *({k: v} for k, d in space.items() for v in d.extremes())]:
        for address, step in recipe.with_knobs(knobs).steps:
            if not getattr(step, "costs_known", True):
                return f"step {address} decides them while it trains"
    return None


def _absolute(path: str, base: Path) -> Path:
    """``path`` of the spec file: relative paths start at its folder ``base``."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else base / p


def _constraints(raw: dict[str, Any], where: str) -> dict[str, Bound]:
    out = {}
    for metric, bound in raw.items():
        if metric not in KNOWN_COSTS:
            raise ConfigError(f"{where}: constraints.{short(metric)}: bounds are on costs known before "
                              f"training: {', '.join(KNOWN_COSTS)}")
        out[metric] = from_dict(Bound, bound, f"{where}: constraints.{metric}")
    return out


def _anchored(data: DataConfig | None, base: Path) -> DataConfig | None:
    """``data`` with its relative file and folder paths taken from the spec's folder (trials run
    elsewhere)."""
    from gansearch.data.images import BUNDLED_IMAGES

    if data is None:
        return None
    changes = {}
    if data.path is not None:
        changes["path"] = str(_absolute(data.path, base))
    if data.source == "image" and data.name not in BUNDLED_IMAGES and not Path(data.name).is_absolute():
        changes["name"] = str(base / data.name)
    return replace(data, **changes) if changes else data


def _check_space(recipe: Recipe, space: dict[str, Dimension], where: str) -> None:
    known = recipe.knobs()
    for key, dim in space.items():
        if key not in known:
            raise ConfigError(f"{where}: space.{key} is not a setting of the recipe; "
                              f"settings are {', '.join(sorted(known))}")
        for value in dim.extremes():  # a bound a step would refuse fails now, not in a trial
            try:
                recipe.with_knobs({key: value})
            except ConfigError as exc:
                raise ConfigError(f"{where}: space.{key} allows {short(value)}, which the recipe "
                                  f"refuses ({exc})") from None


def _check_objectives(objectives: list[Objective], where: str) -> None:
    if len(objectives) < 2:
        raise ConfigError(f"{where}: objectives needs one quality metric and at least one cost "
                          f"metric, e.g. [{{metric: swd}}, {{metric: weight_bytes}}]")
    first, *rest = objectives
    if first.metric not in QUALITY:
        raise ConfigError(f"{where}: objectives[0] must be a quality metric ({', '.join(QUALITY)}), "
                          f"got {short(first.metric)}")
    for i, o in enumerate(rest, 1):
        if o.metric not in COST:
            raise ConfigError(f"{where}: objectives[{i}] must be a cost metric ({', '.join(COST)}), "
                              f"got {short(o.metric)}")
    names = [o.metric for o in objectives]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: objectives repeat a metric: {names}")


def check_teacher_fits(spec: SweepSpec, family: Family) -> None:
    """Errors that need the teacher's family (known once its checkpoint or config is read): the
    quality metric and every recipe step must apply to it."""
    family.check_metric(spec.quality.metric)
    spec.recipe.check_family(family)
