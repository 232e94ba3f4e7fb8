"""How much of the exhaustive Pareto front does each search algorithm find for a trial budget?

Any search space (``--space FILE``, a sweep YAML: teacher, recipe, space, objectives with the
quality metric first). Its teacher is trained once; every distinct student of the space is then
trained and measured once in a real grid sweep (``benchmarks.search_table``): the exhaustive
front, the best any search can find. Then the searches, at equal trial-epochs:

- sweeps (default): real ``run_sweep`` sweeps (Ray Tune, Optuna, MLflow) of every algorithm,
  with and without early stopping (MO-ASHA), ``--seeds`` seeds each, cut at ``--budget``. A
  sweep's reports are replayed in the order MLflow received them, so the hypervolume after any
  number of trial-epochs is what the sweep had found by then, concurrency included.
- ``--tabular``: the same searches replayed on the table (``benchmarks.search_replay``), 20
  seeds in minutes; ``--table DIR`` reuses a table saved by an earlier run.

Measures. Trial-epochs: the reports a trial makes (one per recipe step, then the final
measurement; ASHA's unit of time); the exhaustive budget is every distinct student's full
trial. Hypervolume: objectives normalised by the exhaustive front (ideal -> 0, nadir -> 1),
reference point 1.1 on every axis, as a share of the exhaustive front's. Trials are seeded, so
a student measures the same in every sweep, and a search is judged by what it chose.

    python -m benchmarks.search_quality --tabular              # table (about 25 min), replays
    python -m benchmarks.search_quality --tabular --table runs/benchmarks/search_quality/table
    python -m benchmarks.search_quality --seeds 5              # real sweeps: hours on 2 cores
    python -m benchmarks.search_quality --space my_space.yaml --budget 0.3 --device cuda
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchmarks.machine import describe
from benchmarks.search_table import Scale, Table, build

DEFAULT_SPACE = Path(__file__).parent / "spaces" / "singan_search.yaml"
ALGORITHMS = ("cost_aware", "gp", "tpe", "nsga2", "random")
TARGET = 0.95  # share of the exhaustive front's hypervolume a search must reach
SHARES = (0.1, 0.2, 0.3, 0.5)  # budgets the tables report, as shares of the exhaustive one


@dataclass
class Curve:
    """One search: its hypervolume share after each trial-epoch."""

    algorithm: str
    early: bool
    seed: int
    hv: np.ndarray
    trials: np.ndarray
    seconds: float

    @property
    def label(self) -> str:
        return self.algorithm + (" + MO-ASHA" if self.early else "")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", type=Path, default=DEFAULT_SPACE, help="the search space (a sweep YAML)")
    ap.add_argument("--tabular", action="store_true", help="replay the searches on the table, not as sweeps")
    ap.add_argument("--table", type=Path, help="a table saved by an earlier run (skips the exhaustive sweep)")
    ap.add_argument("--seeds", type=int, help="searches per algorithm (default: 5 sweeps, 20 replays)")
    ap.add_argument("--budget", type=float, default=0.2,
                    help="sweeps: trial-epochs per search, as a share of the exhaustive budget")
    ap.add_argument("--replay-budget", type=float, default=0.5,
                    help="replays: trial-epochs per search, as a share of the exhaustive budget")
    ap.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS), choices=ALGORITHMS)
    ap.add_argument("--early-stopping", nargs="*", default=list(ALGORITHMS), choices=ALGORITHMS,
                    help="algorithms also run with MO-ASHA (none: skip)")
    ap.add_argument("--asha-oversample", type=float, default=3.0,
                    help="sweeps with early stopping launch this many times the trials of full ones")
    ap.add_argument("--concurrency", type=int, default=2, help="trials at once (CPUs given to Ray)")
    ap.add_argument("--workers", type=int, default=2, help="replays at once (processes)")
    ap.add_argument("--device", default="cpu", help="where trials run: cpu, cuda")
    ap.add_argument("--out", type=Path, default=Path("runs/benchmarks/search_quality"),
                    help="output folder (its sweeps/ and logs/ are replaced on every run)")
    args = ap.parse_args(argv)
    seeds = args.seeds or (20 if args.tabular else 5)
    started = time.perf_counter()
    quiet_libraries()
    torch.set_num_threads(1)  # small students train fastest on one thread each
    out = args.out
    for old in ("sweeps", "logs"):
        shutil.rmtree(out / old, ignore_errors=True)
    (out / "logs").mkdir(parents=True)
    storage, uri = out / "sweeps", f"sqlite:///{(out / 'sweeps' / 'mlflow.db').resolve()}"

    spec, teacher = None, None
    if args.table is None or not args.tabular:
        spec, teacher, teacher_s = prepare(args, out)
        start_ray(args.concurrency)
        print(f"Search quality: {args.space.name}, teacher trained once in {teacher_s:.0f} s")
    else:
        print(f"Search quality: the table in {args.table}")
    print(describe(args.device))
    if args.table is not None:
        table = Table.load(args.table)
    else:
        table = build(spec, teacher, storage, uri, log=lambda line: print(line, flush=True),
                      sweep_log=out / "logs" / "exhaustive.txt")
        table.about["machine"] = describe(args.device)
        table.save(out / "table")
    scale = Scale.of(table)
    exhaustive = table.exhaustive_trial_epochs
    print(space_line(table))
    took = table.about.get("sweep_seconds")
    print(f"exhaustive budget: {len(table.students)} students x {table.stages} trial-epochs = {exhaustive}; "
          f"its front: {front_size(table)} students" + (f"; the sweep took {took:.0f} s" if took else ""))
    variants = [(a, False) for a in args.algorithms] + [(a, True) for a in args.early_stopping]
    if args.tabular:
        budget = max(1, round(args.replay_budget * exhaustive))
        curves = run_replays(table, scale, variants, seeds, budget, args)
        how = f"replayed on the table, {seeds} seeds, {args.concurrency} trials at once"
    else:
        budget = max(table.stages, round(args.budget * exhaustive))
        curves = run_sweeps(spec, teacher, table, scale, variants, seeds, budget, storage, uri, out, args)
        how = f"real sweeps, {seeds} seeds, {args.concurrency} trials at once"
    print()
    print(f"Searches: {how}; budget {budget} trial-epochs ({budget / exhaustive:.0%} of exhaustive)")
    print_hypervolume(curves, variants, exhaustive, budget)
    print()
    print_to_target(curves, variants, exhaustive, table.stages)
    plot = plot_convergence(curves, variants, exhaustive, out / "convergence.png")
    save_curves(curves, out / "curves.csv")
    print()
    print(f"convergence plot: {plot}; curves: {out / 'curves.csv'}; table: {args.table or out / 'table'}")
    print(f"wall time {time.perf_counter() - started:.0f} s")


def quiet_libraries() -> None:
    """Ray Tune's console output goes to logs/; Ray, Optuna and MLflow log only what goes wrong."""
    import mlflow  # noqa: F401 - it sets its loggers' levels on import: import first, then lower them
    import optuna
    import ray  # noqa: F401

    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    for name in ("ray", "mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("ray.tune").setLevel(logging.ERROR)
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def prepare(args, out: Path):
    """The space's spec, for the benchmark's device and concurrency, and its teacher (trained once)."""
    from gansearch.config import load_yaml
    from gansearch.search.spec import parse_spec
    from gansearch.search.teacher import prepare_teacher

    raw = load_yaml(args.space)
    raw["device"] = args.device
    raw["search"] = {**raw.get("search", {}), "max_concurrent": args.concurrency}
    raw["resources"] = {"cpus": 1, "gpus": 1 / args.concurrency if args.device.startswith("cuda") else 0}
    spec = parse_spec(raw, base=args.space.resolve().parent, where=str(args.space))
    start = time.perf_counter()
    with open(out / "logs" / "teacher.txt", "w") as log, contextlib.redirect_stdout(log):
        teacher = prepare_teacher(spec, out / "teacher").resolve()
    raw = {**raw, "teacher": {"checkpoint": str(teacher)}}
    return parse_spec(raw, base=args.space.resolve().parent), teacher, time.perf_counter() - start


def start_ray(cpus: int) -> None:
    """One local Ray for every sweep: ``run_sweep`` joins a Ray that is already running."""
    import ray

    ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)


# -- the searches ----------------------------------------------------------------------------------


def run_replays(table: Table, scale: Scale, variants, seeds: int, budget: int, args) -> list[Curve]:
    jobs = [(a, early, seed) for a, early in variants for seed in range(seeds)]
    samples = max(1, round(args.budget * len(table.students)))  # the trials a sweep at --budget would ask
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(_replay, table, scale, a, seed, early, budget, samples, args.concurrency)
                   for a, early, seed in jobs]
        curves = []
        for (_, _, seed), future in zip(jobs, futures, strict=True):
            curves.append(future.result())
            if seed == seeds - 1:
                group = curves[-seeds:]
                print(f"{group[0].label}: {seeds} replays, {np.mean([c.seconds for c in group]):.1f} s each",
                      flush=True)
    return curves


def _replay(table, scale, algorithm, seed, early, budget, samples, concurrency) -> Curve:
    from benchmarks.search_replay import replay

    quiet_libraries()
    r = replay(table, scale, algorithm, seed, early=early, budget=budget, num_samples=samples,
               concurrency=concurrency)
    return Curve(algorithm, early, seed, r.hv, r.trials, r.seconds)


def run_sweeps(spec, teacher: Path, table: Table, scale: Scale, variants, seeds: int, budget: int,
               storage: Path, uri: str, out: Path, args) -> list[Curve]:
    from gansearch.search.spec import parse_spec
    from gansearch.search.sweep import SweepOptions, run_sweep

    curves = []
    for algorithm, early in variants:
        for seed in range(seeds):
            samples = budget // table.stages
            if early:
                samples = math.ceil(samples * args.asha_oversample)
            name = f"{algorithm}-{'asha' if early else 'none'}-seed{seed}"
            raw = {**spec.raw, "name": name,
                   "search": {**spec.raw.get("search", {}), "algorithm": algorithm, "num_samples": samples,
                              "seed": seed},
                   "scheduler": {"type": "asha" if early else "fifo"}}
            start = time.perf_counter()
            with open(out / "logs" / f"{name}.txt", "w") as log, contextlib.redirect_stdout(log):
                result = run_sweep(parse_spec(raw, base=spec.base),
                                   SweepOptions(storage=str(storage), tracking_uri=uri, verbose=0))
            wall = time.perf_counter() - start
            hv, trials = replay_sweep(report_times(uri, name), result.table, scale, table, budget)
            curves.append(Curve(algorithm, early, seed, hv, trials, wall))
            print(f"{name}: {len(result.table)} trials, {hv[-1]:.1%} of the exhaustive front at the budget, "
                  f"{wall:.0f} s", flush=True)
    return curves


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


def replay_sweep(reports: pd.DataFrame, results: pd.DataFrame, scale: Scale, table: Table, budget: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """A sweep's reports, in order, cut at ``budget``: the hypervolume share and trials begun
    after each. A trial counts once its final report is in."""
    from gansearch.search.pareto import minimized

    results = results.set_index("trial_id")
    last = reports.drop_duplicates("trial_id", keep="last")
    finishing = {i for i, tid in zip(last.index, last["trial_id"], strict=True)
                 if results.loc[tid, "status"] == "finished"}
    hv, trials, done, begun, current = [], [], [], set(), 0.0
    for i, tid in zip(reports.index[:budget], reports["trial_id"][:budget], strict=True):
        begun.add(tid)
        if i in finishing:
            done.append(tid)
            current = scale.volume(minimized(results.loc[done], table.objectives))
        hv.append(current)
        trials.append(len(begun))
    pad = budget - len(hv)
    return np.array(hv + [current] * pad), np.array(trials + [len(begun)] * pad)


# -- tables -----------------------------------------------------------------------------------------


def space_line(table: Table) -> str:
    parts = []
    for knob, d in table.distributions.items():
        values = getattr(d, "choices", None)
        parts.append(f"{knob} {{{', '.join(map(str, values))}}}" if values is not None
                     else f"{knob} [{d.low:g}, {d.high:g}]{' log' if d.log else ''}")
    objectives = ", ".join(f"{m} ({d})" for m, d in table.objectives.items())
    return f"space: {' x '.join(parts)}; objectives {objectives}"


def front_size(table: Table) -> int:
    from gansearch.search.pareto import pareto_front

    return len(pareto_front(table.students, table.objectives))


def at(curve: Curve, trial_epochs: int) -> float:
    return float(curve.hv[min(trial_epochs, len(curve.hv)) - 1])


def reached(curve: Curve) -> float:
    """Trial-epochs after which ``curve`` first held TARGET (inf: never)."""
    hit = np.flatnonzero(curve.hv >= TARGET - 1e-12)
    return float(hit[0] + 1) if len(hit) else math.inf


def print_hypervolume(curves: list[Curve], variants, exhaustive: int, budget: int) -> None:
    shares = [s for s in SHARES if round(s * exhaustive) <= budget]
    if not shares or round(shares[-1] * exhaustive) < budget:
        shares.append(budget / exhaustive)
    print("(1) Hypervolume, % of the exhaustive front's, at a share of the exhaustive budget "
          "(median [min-max] over seeds)")
    header = f"{'search':<22}" + "".join(f"{f'{s:.0%} budget':>20}" for s in shares)
    print(header)
    print("-" * len(header))
    for algorithm, early in variants:
        group = [c for c in curves if c.algorithm == algorithm and c.early == early]
        cells = []
        for s in shares:
            v = 100 * np.array([at(c, max(1, round(s * exhaustive))) for c in group])
            cells.append(f"{np.median(v):.1f} [{v.min():.0f}-{v.max():.0f}]")
        print(f"{group[0].label:<22}" + "".join(f"{c:>20}" for c in cells))


def print_to_target(curves: list[Curve], variants, exhaustive: int, stages: int) -> None:
    print(f"(2) Budget to reach {TARGET:.0%} of the exhaustive front's hypervolume (median over seeds)")
    header = (f"{'search':<22} {'trial-epochs':>12} {'% exhaustive':>12} {'x random':>9} "
              f"{'seeds reaching':>14}")
    print(header)
    print("-" * len(header))
    medians = {}
    for algorithm, early in variants:
        group = [c for c in curves if c.algorithm == algorithm and c.early == early]
        hits = [reached(c) for c in group]
        medians[(algorithm, early)] = float(np.median(hits))
    for algorithm, early in variants:
        group = [c for c in curves if c.algorithm == algorithm and c.early == early]
        m = medians[(algorithm, early)]
        baseline = medians.get(("random", early), medians.get(("random", False), math.inf))
        ratio = "" if math.isinf(m) or math.isinf(baseline) else f"{m / baseline:.2f}"
        count = sum(math.isfinite(reached(c)) for c in group)
        print(f"{group[0].label:<22} {fmt(m):>12} {fmt(100 * m / exhaustive, '%'):>12} {ratio:>9} "
              f"{f'{count}/{len(group)}':>14}")
    print(f"not reached: the median seed did not reach {TARGET:.0%} within the budget. A full trial is "
          f"{stages} trial-epochs; x random: this budget over random search's (with MO-ASHA: over random "
          "with MO-ASHA)")


def fmt(value: float, unit: str = "") -> str:
    return "not reached" if math.isinf(value) else f"{value:.0f}{unit}"


def plot_convergence(curves: list[Curve], variants, exhaustive: int, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    algorithms = list(dict.fromkeys(a for a, _ in variants))
    for algorithm, early in variants:
        group = [c for c in curves if c.algorithm == algorithm and c.early == early]
        values = 100 * np.stack([c.hv for c in group])
        x = 100 * np.arange(1, values.shape[1] + 1) / exhaustive
        color = f"C{algorithms.index(algorithm)}"
        ax.plot(x, np.median(values, axis=0), "--" if early else "-", color=color, label=group[0].label)
        if not early:
            ax.fill_between(x, np.percentile(values, 25, axis=0), np.percentile(values, 75, axis=0),
                            color=color, alpha=0.12)
    ax.axhline(100 * TARGET, color="grey", lw=0.8, ls=":", label=f"{TARGET:.0%}")
    ax.set_xlabel("trial-epochs, % of the exhaustive budget")
    ax.set_ylabel("hypervolume, % of the exhaustive front")
    ax.set_title("Median over seeds (band: interquartile range, no early stopping)")
    ax.set_ylim(0, 102)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def save_curves(curves: list[Curve], path: Path) -> None:
    rows = [{"algorithm": c.algorithm, "early_stopping": c.early, "seed": c.seed, "trial_epochs": i + 1,
             "trials": int(t), "hypervolume_share": float(h)}
            for c in curves for i, (h, t) in enumerate(zip(c.hv, c.trials, strict=True))]
    pd.DataFrame(rows).to_csv(path, index=False)


if __name__ == "__main__":
    main()
