"""How good a front do multi-objective TPE, NSGA-II and random search find for a fixed budget?

One small, discrete search space on a tiny SinGAN teacher (trained once, shared by every sweep):
filter pruning ``prune_filters.amount`` x ``prune_filters.criterion`` x ``precision.dtype``,
with the pruned pyramid fine-tuned in ``--epochs`` steps between them. The objectives are those
of the quickstart: SWD (quality), weight bytes and MACs, all to minimize. Every sweep is a real
``run_sweep`` (Ray Tune trials, Optuna samplers, one MLflow store for the whole benchmark).

- Reference: an exhaustive grid of the space; its Pareto front is the best any search can find.
- Hypervolume: each objective is normalised by the grid front's ideal (-> 0) and nadir (-> 1)
  values; the reference point lies at 1.1 on every axis (``gansearch.report.hypervolume``'s
  nudge beyond the nadir). Results are the percentage of the grid front's hypervolume. A trial
  worse than the front's nadir by more than that nudge on any objective adds nothing.
- Budget: trial-epochs, the reports trials make to Ray Tune (one per recipe step, plus the
  final measurement; ASHA's time unit). A full trial costs ``epochs + 3``. Sweeps are replayed
  in the order their reports reached MLflow (millisecond timestamps), so the hypervolume after
  any number of trial-epochs is what the sweep had found by then, concurrency included.
  Trial-epochs do not cost the same time: fine-tuning epochs dominate, the pruning step and the
  measurements are cheap, so ASHA (which stops trials after their first reports) spends less
  wall time on the same budget.
- ASHA: the same sweeps with ASHA early stopping on SWD (grace period 1, reduction factor 2),
  launched with ``--asha-oversample`` times as many trials, cut at the same trial-epoch budget.
  Early-stopped trials are kept off the front, as ``run_sweep`` keeps them (their last costs
  were measured before the precision step).

Trials are seeded (``evaluation.seed``): the same configuration gives the same objective values
in every sweep (measured: identical to the last digit). The benchmark checks this on every run,
comparing each search trial with the grid trial of the same knobs, and prints the largest
difference. Sweeps without ASHA repeat exactly from run to run; what varies with the seed is
which configurations a search tries. ASHA's decisions depend on which trials report first, so
its sweeps vary from run to run.

With the library's sampler defaults (``search.startup_trials`` and ``search.population_size``:
a quarter of the trials, within Optuna's own 10 and 50), TPE draws its first 3 of 12 trials at
random and NSGA-II breeds generations of 3, both starting from Optuna's RandomSampler seeded
alike, so their first trials coincide. The default (3 seeds x 3 algorithms,
TPE and random also with ASHA, 24-point grid) takes 7.5 to 9.5 minutes on 2 CPU cores shared
with light other work (17 minutes under heavy load); flags scale up.

    python -m benchmarks.search_quality
    python -m benchmarks.search_quality --seeds 10 --budget 240 --dtypes float32 float16 bfloat16 int8 \\
        --concurrency 8 --device cuda
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchmarks.machine import describe
from gansearch.report.hypervolume import NUDGE, hypervolume
from gansearch.search.pareto import minimized, pareto_front
from gansearch.search.spec import SearchConfig, SweepSpec, parse_spec
from gansearch.search.sweep import SweepOptions, SweepResult, run_sweep

OBJECTIVES = {"swd": "min", "weight_bytes": "min", "macs": "min"}
KNOBS = ("prune_filters.amount", "prune_filters.criterion", "precision.dtype")
TARGET = 0.95  # share of the reference hypervolume a search must reach


@dataclass
class Run:
    """One search sweep, replayed report by report."""

    algorithm: str
    scheduler: str  # none | asha
    seed: int
    hv: np.ndarray  # share of the reference hypervolume after 1, 2, ... trial-epochs (to the budget)
    trials: np.ndarray  # trials begun by then
    finished: int  # trials finished within the budget
    spent: int  # trial-epochs it ran within the budget
    table: pd.DataFrame
    wall: float

    @property
    def label(self) -> str:
        return self.algorithm + (" + ASHA" if self.scheduler == "asha" else "")


@dataclass(frozen=True)
class Scale:
    """The objectives mapped so that the grid front's best value is 0 and its worst is 1."""

    ideal: np.ndarray
    nadir: np.ndarray

    @classmethod
    def of_front(cls, front: pd.DataFrame) -> Scale:
        points = minimized(front, OBJECTIVES)
        return cls(points.min(axis=0), points.max(axis=0))

    def normalise(self, table: pd.DataFrame) -> pd.DataFrame:
        span = np.where(self.nadir > self.ideal, self.nadir - self.ideal, 1.0)
        points = (minimized(table, OBJECTIVES) - self.ideal) / span
        return pd.DataFrame(points, columns=list(OBJECTIVES), index=table.index)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="sweeps per algorithm (seeds 0..N-1)")
    ap.add_argument("--budget", type=int, default=72, help="trial-epochs per sweep")
    ap.add_argument("--algorithms", nargs="+", default=["tpe", "nsga2", "random"],
                    choices=["tpe", "nsga2", "random"])
    ap.add_argument("--asha", nargs="*", default=["tpe", "random"],
                    choices=["tpe", "nsga2", "random"], help="algorithms also run with ASHA (none: skip)")
    ap.add_argument("--asha-oversample", type=float, default=3.0,
                    help="ASHA sweeps launch this many times the trials the budget allows full ones")
    ap.add_argument("--amounts", type=float, nargs="+", default=[0.125, 0.25, 0.375, 0.5, 0.625, 0.75],
                    help="prune_filters.amount values (k/8: one more of every 8 filters each)")
    ap.add_argument("--criteria", nargs="+", default=["l1", "fpgm"], help="prune_filters.criterion values")
    ap.add_argument("--dtypes", nargs="+", default=["float32", "float16"], help="precision.dtype values")
    ap.add_argument("--epochs", type=int, default=3, help="fine-tuning steps after pruning")
    ap.add_argument("--iterations", type=int, default=4, help="fine-tuning iterations per scale and epoch")
    ap.add_argument("--image-size", type=int, default=32, help="long side of the teacher's photograph")
    ap.add_argument("--filters", type=int, default=8, help="teacher filters (doubled every 4th scale)")
    ap.add_argument("--teacher-iterations", type=int, default=30, help="teacher iterations per scale")
    ap.add_argument("--concurrency", type=int, default=2, help="trials at once (CPUs given to Ray)")
    ap.add_argument("--device", default="cpu", help="where trials run: cpu, cuda")
    ap.add_argument("--out", default="runs/benchmarks/search_quality",
                    help="output folder (its sweeps/ and logs/ are replaced on every run)")
    args = ap.parse_args(argv)
    if args.budget < args.epochs + 3:
        ap.error(f"--budget must allow one full trial ({args.epochs + 3} trial-epochs)")
    started = time.perf_counter()
    out = Path(args.out)
    for old in ("sweeps", "logs"):
        shutil.rmtree(out / old, ignore_errors=True)
    (out / "logs").mkdir(parents=True)
    quiet_libraries()
    torch.set_num_threads(1)  # the tiny teacher trains fastest on one; more only spin on a busy machine

    teacher, teacher_s = train_teacher_once(out / "teacher", args)
    ray_s = start_ray(args)
    full = args.epochs + 3  # prune, epochs, precision, final measurement
    print(f"Search quality: SinGAN teacher (astronaut {args.image_size}px, {args.filters} filters, "
          f"{args.teacher_iterations} iterations per scale, trained once in {teacher_s:.0f} s)")
    print(describe(args.device))
    print(f"space: amount {fmt_list(args.amounts)} x criterion {fmt_list(args.criteria)} x dtype "
          f"{fmt_list(args.dtypes)} = {grid_size(args)} configurations; recipe prune_filters, "
          f"{args.epochs} x finetune ({args.iterations} iterations per scale), precision")
    print(f"budget: {args.budget} trial-epochs per sweep = {args.budget // full} full trials of {full} "
          f"reports; {args.seeds} seeds; {args.concurrency} trials at once; one local Ray for all "
          f"sweeps (started in {ray_s:.1f} s)")
    print()

    storage = out / "sweeps"
    uri = f"sqlite:///{(storage / 'mlflow.db').resolve()}"
    grid, grid_s = sweep(make_spec(teacher, "grid", "grid", 1, 0, "none", args), storage, uri, out)
    grid_table = grid.table
    print(f"grid: {len(grid_table)} trials{errors(grid_table)}, front of {len(grid.front)}, {grid_s:.0f} s",
          flush=True)
    scale = Scale.of_front(grid.front)
    reference = front_hypervolume(grid_table, scale)

    variants = [(a, "none") for a in args.algorithms] + [(a, "asha") for a in args.asha]
    runs = [search(teacher, algorithm, scheduler, seed, scale, reference, storage, uri, out, args)
            for algorithm, scheduler in variants for seed in range(args.seeds)]

    print()
    print_method(reference, scale, grid_table, full)
    print_repeatability(grid_table, runs)
    print()
    print_quality(runs, args.algorithms, grid_table, full, args.budget)
    print()
    print_budget_to_target(runs, variants, full)
    if args.asha:
        print()
        print_asha(runs, args.asha)
    plot = plot_convergence(runs, variants, out / "convergence.png", args)
    save_curves(runs, out / "curves.csv")
    print()
    print(f"convergence plot: {plot}; curves: {out / 'curves.csv'}; sweeps (MLflow store "
          f"{storage / 'mlflow.db'}): {storage}")
    print(f"wall time {time.perf_counter() - started:.0f} s")


def quiet_libraries() -> None:
    """Keep the benchmark's own lines readable: Ray Tune's console output goes to logs/, and
    Ray, Optuna and MLflow log only what goes wrong."""
    import mlflow  # noqa: F401 - it sets its loggers' levels on import: import first, then lower them
    import optuna
    import ray  # noqa: F401

    # Every checkpoint forces Tune to save its experiment state; it warns about that on each one.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    for name in ("ray", "mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Tune warns that random search ignores max_concurrent_trials: Ray's CPUs bound it instead.
    logging.getLogger("ray.tune").setLevel(logging.ERROR)
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def train_teacher_once(folder: Path, args) -> tuple[Path, float]:
    from gansearch.families.teacher import parse_teacher_config, train_teacher

    start = time.perf_counter()
    cfg = parse_teacher_config({
        "model": "singan", "data": {"source": "image", "name": "astronaut", "max_size": args.image_size},
        "generator": {"filters": args.filters},
        "train": {"iterations": args.teacher_iterations, "min_size": 16}, "device": args.device})
    train_teacher(cfg, folder, progress=False)
    return (folder / "teacher.pt").resolve(), time.perf_counter() - start


def start_ray(args) -> float:
    """One local Ray for every sweep: ``run_sweep`` joins a Ray that is already running."""
    import ray

    start = time.perf_counter()
    ray.init(address="local", num_cpus=args.concurrency, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)
    return time.perf_counter() - start


def grid_size(args) -> int:
    return len(args.amounts) * len(args.criteria) * len(args.dtypes)


def make_spec(teacher: Path, name: str, algorithm: str, samples: int, seed: int, scheduler: str,
              args) -> SweepSpec:
    # The grid enumerates (grid:); the searches draw from the same values (choice:).
    kind = "grid" if algorithm == "grid" else "choice"
    values = {"prune_filters.amount": args.amounts, "prune_filters.criterion": args.criteria,
              "precision.dtype": args.dtypes}
    raw = {
        "name": name,
        "teacher": {"checkpoint": str(teacher)},
        "recipe": [{"prune_filters": {"amount": 0.5}},
                   *[{"finetune": {"iterations": args.iterations}}] * args.epochs,
                   {"precision": {"dtype": "float32"}}],
        "space": {knob: {kind: list(values[knob])} for knob in KNOBS},
        "objectives": [{"metric": m} for m in OBJECTIVES],
        "search": {"algorithm": algorithm, "num_samples": samples, "seed": seed,
                   "max_concurrent": args.concurrency},
        "scheduler": {"type": scheduler},
        "resources": {"cpus": 1, "gpus": 1 / args.concurrency if args.device.startswith("cuda") else 0},
        "evaluation": {"samples": 8, "latency_runs": 0, "seed": 0},
        "device": args.device,
    }
    return parse_spec(raw, base=teacher.parent)


def sweep(spec: SweepSpec, storage: Path, uri: str, out: Path) -> tuple[SweepResult, float]:
    """Run one sweep; Ray Tune's console output goes to logs/NAME.txt."""
    start = time.perf_counter()
    with open(out / "logs" / f"{spec.name}.txt", "w") as log, contextlib.redirect_stdout(log):
        result = run_sweep(spec, SweepOptions(storage=str(storage), tracking_uri=uri, verbose=0))
    return result, time.perf_counter() - start


def search(teacher: Path, algorithm: str, scheduler: str, seed: int, scale: Scale, reference: float,
           storage: Path, uri: str, out: Path, args) -> Run:
    """One search sweep at the budget (ASHA's oversampled), replayed against the reference."""
    full = args.epochs + 3
    samples = args.budget // full
    if scheduler == "asha":
        samples = math.ceil(samples * args.asha_oversample)
    name = f"{algorithm}-{scheduler}-seed{seed}"
    spec = make_spec(teacher, name, algorithm, samples, seed, scheduler, args)
    result, wall = sweep(spec, storage, uri, out)
    curve = replay(report_times(uri, name), result.table, scale, reference, args.budget)
    run = Run(algorithm, scheduler, seed, *curve, table=result.table, wall=wall)
    print(f"{name}: {len(result.table)} trials{errors(result.table)}, {run.finished} finished within the "
          f"budget, {run.spent} trial-epochs, {run.hv[-1]:.1%} of the reference, {wall:.0f} s", flush=True)
    return run


def report_times(uri: str, name: str) -> pd.DataFrame:
    """One row per report of the sweep ``name``: the trial and when MLflow received it (ms)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id], "tags.`gansearch.role` = 'trial'",
                              max_results=50_000)
    rows = [(run.data.tags["gansearch.trial_id"], m.timestamp)
            for run in runs for m in client.get_metric_history(run.info.run_id, "recipe_step")]
    return pd.DataFrame(rows, columns=["trial_id", "time"]).sort_values(["time", "trial_id"], kind="stable")


def front_hypervolume(table: pd.DataFrame, scale: Scale) -> float:
    """Hypervolume of the finished trials of ``table``, normalised by ``scale``."""
    done = table[table["status"] == "finished"]
    if not len(done):
        return 0.0
    points = scale.normalise(done)
    minimize = dict.fromkeys(OBJECTIVES, "min")
    return hypervolume(pareto_front(points, minimize), minimize,
                       reference=dict.fromkeys(OBJECTIVES, 1 + NUDGE))


def replay(reports: pd.DataFrame, table: pd.DataFrame, scale: Scale, reference: float, budget: int
           ) -> tuple[np.ndarray, np.ndarray, int, int]:
    """A sweep's ``reports`` (in order) replayed and cut at ``budget`` trial-epochs: hypervolume
    (share of the reference) and trials begun after each trial-epoch, trials finished and
    trial-epochs spent."""
    table = table.set_index("trial_id")
    last = reports.drop_duplicates("trial_id", keep="last")  # a finished trial's last report is its final one
    finishing = {i for i, tid in zip(last.index, last["trial_id"], strict=True)
                 if table.loc[tid, "status"] == "finished"}
    reports = reports.head(budget)
    hv, trials, done, begun = [], [], [], set()
    current = 0.0
    for i, tid in zip(reports.index, reports["trial_id"], strict=True):
        begun.add(tid)
        if i in finishing:
            done.append(tid)
            current = front_hypervolume(table.loc[done], scale) / reference
        hv.append(current)
        trials.append(len(begun))
    pad = budget - len(hv)  # a sweep that spent less than the budget keeps its last value
    hv += [current] * pad
    trials += [len(begun)] * pad
    return np.array(hv), np.array(trials), len(done), len(reports)


def reached(run: Run) -> tuple[float, float]:
    """Trial-epochs and trials after which ``run`` first held TARGET of the reference (inf: never)."""
    hit = np.flatnonzero(run.hv >= TARGET - 1e-12)
    return (float(hit[0] + 1), float(run.trials[hit[0]])) if len(hit) else (math.inf, math.inf)


def print_method(reference: float, scale: Scale, grid_table: pd.DataFrame, full: int) -> None:
    ranges = ", ".join(f"{m} {lo:.4g}..{hi:.4g}" for m, lo, hi in zip(OBJECTIVES, scale.ideal, scale.nadir,
                                                                      strict=True))
    print(f"hypervolume: objectives normalised by the grid front (ideal -> 0, nadir -> 1: {ranges}), "
          f"reference point {1 + NUDGE:g} on every axis (gansearch.report.hypervolume); grid front "
          f"= {reference:.4f} = 100%")
    print(f"trial-epochs: reports to Ray Tune (recipe steps + final measurement); a full trial is "
          f"{full}, the grid {len(grid_table) * full}")


def print_repeatability(grid_table: pd.DataFrame, runs: list[Run]) -> None:
    """Do search trials reproduce the grid's values for the same knobs?"""
    ref = grid_table[grid_table["status"] == "finished"].set_index(list(KNOBS))[list(OBJECTIVES)]
    worst, matched = dict.fromkeys(OBJECTIVES, 0.0), 0
    for run in runs:
        done = run.table[run.table["status"] == "finished"]
        joined = done.merge(ref.reset_index(), on=list(KNOBS), suffixes=("", "_grid"))
        matched += len(joined)
        for m in OBJECTIVES:
            diff = (joined[m] - joined[f"{m}_grid"]).abs() / joined[f"{m}_grid"].abs()
            worst[m] = max(worst[m], float(diff.max()) if len(diff) else 0.0)
    same = all(v == 0 for v in worst.values())
    detail = ", ".join(f"{m} {v:.2e}" for m, v in worst.items())
    print(f"repeatability: {matched} finished search trials re-ran a grid configuration; "
          + ("objective values identical in all of them" if same else
             f"largest relative difference to the grid: {detail}"))


def print_quality(runs: list[Run], algorithms: list[str], grid_table: pd.DataFrame, full: int,
                  budget: int) -> None:
    print(f"(1) Hypervolume at {budget} trial-epochs, % of the grid front (median, min-max over seeds)")
    header = f"{'search':<16} {'seeds':>5} {'trials':>6} {'HV median':>9} {'HV min-max':>15} " \
             f"{'% of ref':>8} {'% min-max':>11} {'front':>5}"
    print(header)
    print("-" * len(header))
    print(f"{'grid (reference)':<16} {1:>5} {len(grid_table):>6} {'':>9} {'':>15} {100:>7.0f}% {'':>11} "
          f"{'':>5}  {len(grid_table) * full} trial-epochs")
    for algorithm in algorithms:
        group = [r for r in runs if r.algorithm == algorithm and r.scheduler == "none"]
        share = np.array([r.hv[-1] for r in group])
        fronts = [len(pareto_front(r.table[r.table["status"] == "finished"], OBJECTIVES)) for r in group]
        print(f"{algorithm:<16} {len(group):>5} {np.median([r.finished for r in group]):>6.0f} "
              f"{np.median(share):>9.3f} {share.min():>7.3f}-{share.max():<7.3f} "
              f"{100 * np.median(share):>7.1f}% {100 * share.min():>5.1f}-{100 * share.max():<5.1f} "
              f"{np.median(fronts):>5.0f}")
    print("HV columns are the share of the reference hypervolume (1 = the grid front's).")
    trials = budget // full
    search = SearchConfig(num_samples=trials)
    tpe, nsga2 = search.tpe_startup(), search.nsga2_population()
    print(f"Optuna samplers as the library sets them for {trials} trials: TPE draws its first {tpe} at "
          f"random and models the other {max(0, trials - tpe)}; NSGA-II breeds generations of {nsga2}.")
    if {"tpe", "nsga2"} <= set(algorithms):
        shared = ", ".join(map(str, shared_start(runs, "tpe", "nsga2")))
        print(f"TPE and NSGA-II proposed the same first {shared} trials (seed by seed): both start "
              f"from Optuna's RandomSampler with the sweep's seed.")


def shared_start(runs: list[Run], a: str, b: str) -> list[int]:
    """For each seed, how many first trials the sweeps of algorithms ``a`` and ``b`` had alike
    (the results table lists trials in the order they were created)."""
    plain = {(r.algorithm, r.seed): r for r in runs if r.scheduler == "none"}
    counts = []
    for (algorithm, seed), run in plain.items():
        other = plain.get((b, seed))
        if algorithm != a or other is None:
            continue
        mine, theirs = (list(x.table[list(KNOBS)].itertuples(index=False, name=None)) for x in (run, other))
        n = 0
        while n < min(len(mine), len(theirs)) and mine[n] == theirs[n]:
            n += 1
        counts.append(n)
    return counts


def print_budget_to_target(runs: list[Run], variants: list[tuple[str, str]], full: int) -> None:
    print(f"(2) Budget to reach {TARGET:.0%} of the grid front's hypervolume (median over seeds)")
    header = f"{'search':<16} {'trial-epochs':>12} {'trials':>11} {'seeds reaching':>14}  " \
             "per seed (trial-epochs)"
    print(header)
    print("-" * len(header))
    for algorithm, scheduler in variants:
        group = [r for r in runs if r.algorithm == algorithm and r.scheduler == scheduler]
        hits = [reached(r) for r in group]
        epochs = float(np.median([h[0] for h in hits]))
        trials = float(np.median([h[1] for h in hits]))
        count = sum(math.isfinite(h[0]) for h in hits)
        per_seed = " ".join("-" if math.isinf(h[0]) else f"{h[0]:.0f}" for h in hits)
        print(f"{group[0].label:<16} {fmt_budget(epochs):>12} {fmt_budget(trials):>11} "
              f"{f'{count}/{len(group)}':>14}  {per_seed}")
    print(f"not reached: the median seed did not reach {TARGET:.0%} within the budget; '-': that seed did "
          f"not. A full trial is {full} trial-epochs.")


def print_asha(runs: list[Run], algorithms: list[str]) -> None:
    print("(3) ASHA against no early stopping at the same trial-epoch budget (medians over seeds)")
    header = f"{'search':<10} {'scheduler':<9} {'trials':>6} {'finished':>8} {'trial-epochs':>12} " \
             f"{'% of ref':>8} {'% min-max':>11} {'wall s':>6}"
    print(header)
    print("-" * len(header))
    for algorithm in algorithms:
        for scheduler in ("none", "asha"):
            group = [r for r in runs if r.algorithm == algorithm and r.scheduler == scheduler]
            if not group:
                continue
            share = np.array([r.hv[-1] for r in group])
            print(f"{algorithm:<10} {scheduler:<9} {np.median([r.trials[-1] for r in group]):>6.0f} "
                  f"{np.median([r.finished for r in group]):>8.0f} "
                  f"{np.median([r.spent for r in group]):>12.0f} {100 * np.median(share):>7.1f}% "
                  f"{100 * share.min():>5.1f}-{100 * share.max():<5.1f} "
                  f"{np.median([r.wall for r in group]):>6.0f}")
    print("trials: begun within the budget; finished: ran to the end (only those can be on the front); "
          "wall s: the whole sweep, ASHA's including trials past the budget")


def plot_convergence(runs: list[Run], variants: list[tuple[str, str]], path: Path, args) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    x = np.arange(1, args.budget + 1)
    algorithms = list(dict.fromkeys(a for a, _ in variants))
    for algorithm, scheduler in variants:
        group = [r for r in runs if r.algorithm == algorithm and r.scheduler == scheduler]
        curves = 100 * np.stack([r.hv for r in group])
        color = f"C{algorithms.index(algorithm)}"
        style = "-" if scheduler == "none" else "--"
        ax.plot(x, np.median(curves, axis=0), style, color=color, label=group[0].label)
        if scheduler == "none":
            ax.fill_between(x, curves.min(axis=0), curves.max(axis=0), color=color, alpha=0.12)
    ax.axhline(100 * TARGET, color="grey", lw=0.8, ls=":", label=f"{TARGET:.0%} target")
    ax.set_xlabel("trial-epochs (reports to Ray Tune)")
    ax.set_ylabel("hypervolume, % of the grid front")
    ax.set_title(f"Median over {args.seeds} seeds (band: min-max, no early stopping)")
    ax.set_ylim(0, 105)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def save_curves(runs: list[Run], path: Path) -> None:
    rows = [{"algorithm": r.algorithm, "scheduler": r.scheduler, "seed": r.seed, "trial_epochs": i + 1,
             "trials": int(t), "hypervolume_share": float(h)}
            for r in runs for i, (h, t) in enumerate(zip(r.hv, r.trials, strict=True))]
    pd.DataFrame(rows).to_csv(path, index=False)


def errors(table: pd.DataFrame) -> str:
    failed = table[table["status"] == "error"]
    return f" ({len(failed)} failed: {failed['error'].iloc[0]})" if len(failed) else ""


def fmt_list(values) -> str:
    return "{" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values) + "}"


def fmt_budget(value: float) -> str:
    return "not reached" if math.isinf(value) else f"{value:.0f}"


if __name__ == "__main__":
    main()
