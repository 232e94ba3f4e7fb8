"""A finished sweep folder, read back: its trials, its objectives, and its teacher's cost."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gansearch.errors import ConfigError, short
from gansearch.search.folder import read_record, read_table

MEASURED = ("params", "macs", "weight_bytes", "sparsity")  # results columns beside the objectives


@dataclass(frozen=True)
class SweepResults:
    folder: Path
    name: str
    table: Any  # pandas.DataFrame, results.csv: one row per trial
    objectives: dict[str, str]  # {column: "min" | "max"}, the quality metric first
    knobs: list[str]  # the searched settings, columns of ``table``
    teacher: Path | None  # the teacher checkpoint, where the folder still finds it

    @property
    def quality(self) -> str:
        return next(iter(self.objectives))

    @property
    def costs(self) -> list[str]:
        return list(self.objectives)[1:]

    @property
    def finished(self):
        """The trials that ran to the end: only they compete for the front."""
        return self.table[self.table["status"] == "finished"]


def trial_counts(table) -> str:
    """``12 trials: 9 finished, 2 failed, 1 stopped early`` (other outcomes named when present),
    then one ``failed: reason`` line per distinct reason."""
    counts = table["status"].value_counts() if len(table) else {}
    words = {"finished": "finished", "error": "failed", "stopped": "stopped early",
             "infeasible": "over a constraint (not trained)", "interrupted": "interrupted (resume the sweep)",
             "running": "running", "pending": "waiting"}
    parts = [f"{int(counts.get(k, 0))} {w}" for k, w in words.items()
             if k in ("finished", "error", "stopped") or counts.get(k, 0)]
    lines = [f"{len(table)} trials: " + ", ".join(parts)]
    if len(table) and "error" in table.columns:
        for reason, n in table.loc[table["status"] == "error", "error"].fillna("").value_counts().items():
            lines.append(f"  failed ({n}): {reason}")
    return "\n".join(lines)


def load_sweep(folder: str | Path) -> SweepResults:
    from gansearch.config import load_yaml
    from gansearch.search.spec import Objective

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such sweep folder; give the folder 'gansearch sweep' wrote "
                          f"(runs/sweeps/NAME by default)")
    for needed in ("results.csv", "spec.yaml"):
        if not (folder / needed).is_file():
            raise ConfigError(f"{folder}: no {needed}; is this a sweep folder? run 'gansearch sweep' "
                              f"(or --resume it) to write one")
    spec = load_yaml(folder / "spec.yaml")
    try:
        objectives = {o.metric: o.direction for o in (Objective(**raw) for raw in spec["objectives"])}
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{folder / 'spec.yaml'}: cannot read its objectives ({short(exc)}); each "
                          f"needs a metric: and an optional mode: min|max") from None
    record = read_record(folder)
    table = read_table(folder / "results.csv", [*objectives, *MEASURED], rows=record.get("results_rows"))
    missing = [c for c in objectives if c not in table.columns]
    if missing:
        raise ConfigError(f"{folder / 'results.csv'}: no column(s) {', '.join(missing)}; the spec's "
                          f"objectives must be columns of the results")
    space = spec.get("space")
    knobs = [k for k in space if k in table.columns] if isinstance(space, dict) else []
    return SweepResults(folder.resolve(), folder.resolve().name, table, objectives, knobs,
                        _teacher_path(folder, spec))


def _teacher_path(folder: Path, spec: dict[str, Any]) -> Path | None:
    trained = folder / "teacher" / "teacher.pt"
    if trained.is_file():
        return trained
    teacher = spec.get("teacher")
    given = read_record(folder).get("teacher_path") or (
        teacher.get("checkpoint") if isinstance(teacher, dict) else None)
    return Path(given) if isinstance(given, str) and Path(given).is_file() else None


def teacher_baseline(sweep: SweepResults) -> dict[str, float]:
    """The teacher's quality and cost, as the sweep measured them before its trials (measured
    with the trials' metric, evaluation and input size; ``sweep.json``). A folder written before
    sweeps measured the teacher gives its cost alone, profiled on its checkpoint, when that
    loads without running code of the user's."""
    measured = read_record(sweep.folder).get("teacher_quality")
    if isinstance(measured, dict):
        return {k: float(v) for k, v in measured.items() if isinstance(v, (int, float))}
    if sweep.teacher is None:
        return {}
    from gansearch.checkpoint import load_checkpoint
    from gansearch.errors import CheckpointError
    from gansearch.families import example_input
    from gansearch.metrics.cost import profile
    from gansearch.search.evaluate import COST

    try:
        generator = load_checkpoint(sweep.teacher).generator
    except CheckpointError:
        return {}
    figures = profile(generator, example_input(generator), latency_runs=0).as_dict()
    return {k: float(figures[k]) for k in COST if figures.get(k) is not None}
