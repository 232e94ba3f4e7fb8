"""Search-space YAML: everything wrong is caught before Ray starts, naming the key."""

from pathlib import Path

import pytest
import yaml

from gansearch.cli import main
from gansearch.errors import ConfigError
from gansearch.search.recipe import parse_recipe
from gansearch.search.spec import load_spec, parse_spec

REPO = Path(__file__).parent.parent
GOOD = {
    "name": "t",
    "teacher": {"checkpoint": "teacher.pt"},
    "recipe": [{"prune_filters": {"amount": 0.5}}, "finetune", {"precision": {"dtype": "float16"}}],
    "space": {"prune_filters.amount": {"uniform": [0.1, 0.9]},
              "precision.dtype": {"choice": ["float32", "float16"]},
              "finetune.iterations": {"int": [2, 8]}},
    "objectives": [{"metric": "swd"}, {"metric": "weight_bytes"}, {"metric": "macs"}],
}


def _spec(**changes):
    raw = {**GOOD, **changes}
    return parse_spec(raw, base=__import__("pathlib").Path("."))


def test_good_spec_resolves():
    spec = _spec(objectives=[{"metric": "swd"}, {"metric": "weight_bytes"}, {"metric": "macs"}])
    assert spec.recipe.addresses == ("prune_filters", "finetune", "precision")
    assert spec.quality.metric == "swd" and spec.quality.direction == "min"
    assert [o.metric for o in spec.costs] == ["weight_bytes", "macs"]
    assert spec.space["finetune.iterations"].size() == 7


@pytest.mark.parametrize("changes,match", [
    ({"colour": 1}, "unknown key.*'colour'"),
    ({"space": {"prune_filters.amont": {"uniform": [0.1, 0.5]}}}, "prune_filters.amont is not a setting"),
    ({"space": {"prune_filters.amount": {"uniform": [0.1, 1.2]}}}, "space.prune_filters.amount allows 1.2"),
    ({"space": {"prune_filters.amount": {"uniform": [0.5, 0.1]}}}, "low 0.5 must be below high 0.1"),
    ({"space": {"prune_filters.amount": {"gaussian": [0, 1]}}}, "unknown distribution 'gaussian'"),
    ({"space": {"precision.dtype": {"choice": ["float8"]}}}, "space.precision.dtype allows 'float8'"),
    ({"recipe": [{"prune": {}}]}, r"recipe\[0\]: unknown step 'prune'"),
    ({"recipe": [{"prune_filters": {"amout": 0.5}}]}, "unknown key.*'amout'"),
    ({"recipe": [{"precision": {}}, "finetune"]}, "precision must come after every training step"),
    ({"objectives": [{"metric": "macs"}, {"metric": "swd"}]}, r"objectives\[0\] must be a quality metric"),
    ({"objectives": [{"metric": "swd"}]}, "at least one cost metric"),
    ({"teacher": {}}, "exactly one of checkpoint"),
    ({"search": {"algorithm": "grid"}}, "grid needs grid: or choice:"),
    ({"search": {"num_samples": 0}}, "num_samples"),
    ({"search": {"max_concurrent": 0}}, "search.max_concurrent"),
    ({"search": {"time_budget_s": 0}}, "search.time_budget_s"),
])
def test_bad_spec_names_the_key(changes, match):
    with pytest.raises(ConfigError, match=match):
        _spec(**changes)


def test_repeated_steps_are_addressed_by_occurrence():
    recipe = parse_recipe(["finetune", {"prune_filters": {}}, {"finetune": {"iterations": 7}}])
    assert recipe.addresses == ("finetune#1", "prune_filters", "finetune#2")
    assert recipe.with_knobs({"finetune#2.iterations": 3}).knobs()["finetune#2.iterations"] == 3


def test_knob_values_from_a_search_are_validated():
    recipe = parse_recipe([{"prune_filters": {}}])
    with pytest.raises(ConfigError, match="amount"):
        recipe.with_knobs({"prune_filters.amount": 1.5})
    import numpy as np

    assert recipe.with_knobs({"prune_filters.amount": np.float64(0.25)}).steps[0][1].amount == 0.25


def test_cli_rejects_a_bad_space_with_one_line_and_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**GOOD, "space": {"prune_filters.amount": {"uniform": [0, 2]}}}))
    assert main(["sweep", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "space.prune_filters.amount allows 2" in err
    assert not (tmp_path / "runs").exists()


def test_dry_run_prints_the_resolved_space(capsys):
    assert main(["sweep", str(REPO / "search_spaces" / "quickstart.yaml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "8 trials" in out and "prune_filters.amount: uniform" in out
    assert "teacher family: dcgan; data: digits, 1797 item(s) to train on" in out
    assert "teacher: checkpoint " in out and "quickstart_digits.pt" in out
    assert "resources: each trial asks for 1 CPU(s) and 0 GPU(s)" in out


def test_planned_trials_follow_how_each_search_runs_its_grid():
    space = {"precision.dtype": {"choice": ["float32", "float16"]},
             "finetune.iterations": {"grid": [2, 4, 8]}}
    grid = _spec(space=space, search={"algorithm": "grid", "num_samples": 2})
    assert grid.planned_trials() == 12 and grid.planned_trials(1) == 6
    # Grid search runs every value of a choice too; random search samples it.
    assert grid.space["precision.dtype"].to_tune(exhaustive=True) == {"grid_search": ["float32", "float16"]}
    assert _spec(space=space, search={"algorithm": "random", "num_samples": 2}).planned_trials() == 6
    assert _spec(search={"algorithm": "tpe", "num_samples": 5}).planned_trials() == 5


def test_optuna_settings_are_checked():
    assert _spec(search={"algorithm": "tpe", "startup_trials": 3}).search.startup_trials == 3
    with pytest.raises(ConfigError, match="population_size"):
        _spec(search={"algorithm": "nsga2", "population_size": 1})


def test_load_spec_reports_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_spec(tmp_path / "nope.yaml")


@pytest.mark.parametrize("path", sorted(p for p in __import__("pathlib").Path("search_spaces").rglob("*.yaml")
                                        if "teachers" not in p.parts), ids=str)
def test_shipped_search_spaces_validate(path):
    spec = load_spec(path)
    assert spec.space and spec.recipe.steps
    if spec.teacher.config:
        assert spec.resolve(spec.teacher.config).is_file()


def test_the_default_search_is_cost_aware_where_every_cost_is_known_before_training():
    assert _spec().search.algorithm == "cost_aware"
    # Latency is measured on the trained student; GAN Slimming decides the channels while it trains.
    latency = [{"metric": "swd"}, {"metric": "latency_ms"}]
    slim = [{"slim": {"iterations": 2}}]
    assert _spec(objectives=latency).search.algorithm == "tpe"
    assert _spec(recipe=slim, space={"slim.iterations": {"int": [1, 3]}}).search.algorithm == "tpe"
    with pytest.raises(ConfigError, match="cost_aware needs costs known before training, and latency_ms"):
        _spec(objectives=latency, search={"algorithm": "cost_aware"})
    with pytest.raises(ConfigError, match="step slim decides them while it trains; use gp or tpe"):
        _spec(recipe=slim, space={"slim.iterations": {"int": [1, 3]}}, search={"algorithm": "cost_aware"})


def test_set_changes_file_settings_and_fixes_searched_knobs():
    from gansearch.search.spec import with_sets

    raw = with_sets(GOOD, {"search.num_samples": 3, "finetune.iterations": 5,
                           "precision.dtype": "float16", "evaluation.samples": 4})
    spec = parse_spec(raw, base=Path("."))
    assert spec.search.num_samples == 3 and spec.evaluation.samples == 4
    assert set(spec.space) == {"prune_filters.amount"}  # the two set knobs are fixed now
    assert raw["recipe"][1] == {"finetune": {"iterations": 5}}
    assert GOOD["recipe"][1] == "finetune" and "precision.dtype" in GOOD["space"]  # a copy
    with pytest.raises(ConfigError, match="no recipe step distill"):
        with_sets(GOOD, {"distill.iterations": 3})
    with pytest.raises(ConfigError, match="unknown key"):
        parse_spec(with_sets(GOOD, {"search.budget": 3}), base=Path("."))


def test_sweep_set_on_the_command_line(capsys):
    space = str(REPO / "search_spaces" / "quickstart.yaml")
    assert main(["sweep", space, "--dry-run", "--set", "search.num_samples=3",
                 "--set", "precision.dtype=float16"]) == 0
    out = capsys.readouterr().out
    assert "3 trials" in out and "precision.dtype: float16" in out
    assert main(["sweep", space, "--dry-run", "--set", "num_samples"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err
