"""What the search system costs around the compression core: Ray Tune, MLflow and the sweep itself.

Every trial is a real ``run_sweep`` trial on a small SinGAN teacher (L1 filter pruning, fine-tuning,
precision; Optuna TPE; MLflow in the sweep's SQLite store). Three measurements:

1. Overhead per trial, one trial at a time (``--threads`` CPUs each), for short and long fine-tuning.
   The trainable times the compression core itself (``core_seconds``: the time inside ``run_trial``
   less the time spent reporting) and the whole trainable (``trial_seconds``); a Ray Tune callback
   on the driver times each trial from start to completion and the gaps between trials. Overhead
   per trial = its time on the driver + the gap before it - its core time. The baseline is the
   same trial run by ``run_trial`` in this process, without Ray, with the MLflow logging a trial
   does (timed apart from the core the same way). The sweep's fixed cost (Ray start and stop,
   teacher check, MLflow and Tune set-up, results writing) = sweep wall time - the trials and
   the gaps between them.
2. Throughput on the CPU with 1, 2 and 4 concurrent trials, the same trials each time, every
   trial given an equal share of the cores (fractional CPUs pack them), and one trial on one CPU
   to tell the effect of threads from that of concurrency. The trainable does not set torch's
   threads: Ray sets OMP_NUM_THREADS to the trial's whole CPUs (at least 1), so 4 trials on 2
   cores run 4 threads on 2 cores; the table prints the threads trials really ran with.
3. GPU (``--device cuda``): trials per hour with 1, 2, 4 and 8 trials packed on one GPU (1/k GPU
   each), GPU utilization sampled with nvidia-smi during the trials, for each model size
   (``--filters``). Skipped, and said so, where no CUDA device is present.

Times on a shared machine are noisy: the load average is printed before and after. Ray, Tune and
MLflow log to stderr; the tables go to stdout.

    python -m benchmarks.system_cost    # CPU; 12 minutes on 2 cores shared at load average 10, half of
                                        # it the 2-thread trials the load slows most
    python -m benchmarks.system_cost --short-trials 12 --long-trials 6 --long-iterations 200 \\
        --concurrency 1 2 4 8 --throughput-trials 16
    python -m benchmarks.system_cost --device cuda --parts overhead gpu --filters 32 64 128 \\
        --max-size 128 --gpu-trials 16 --gpu-iterations 200
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmarks.machine import describe
from gansearch.search import tracking
from gansearch.search.spec import SweepSpec, parse_spec
from gansearch.search.sweep import SweepOptions, connect_ray, run_sweep
from gansearch.search.trial import TimedReporter, run_trial


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", nargs="+", default=["overhead", "throughput", "gpu"],
                    choices=["overhead", "throughput", "gpu"])
    ap.add_argument("--device", default="cpu", help="where part 1's trials run (cpu, cuda); part 2 is CPU")
    ap.add_argument("--short-iterations", type=int, default=2, help="fine-tuning iterations per scale")
    ap.add_argument("--long-iterations", type=int, default=50)
    ap.add_argument("--short-trials", type=int, default=6)
    ap.add_argument("--long-trials", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="CPUs (so torch threads) of a part-1 trial; one keeps a shared machine steady")
    ap.add_argument("--baseline-repeats", type=int, default=3, help="run_trial calls without Ray")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4], help="CPU trials at once")
    ap.add_argument("--throughput-trials", type=int, default=8, help="trials per CPU sweep")
    ap.add_argument("--throughput-iterations", type=int, default=5)
    ap.add_argument("--gpu-concurrency", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--gpu-trials", type=int, default=8, help="trials per GPU sweep")
    ap.add_argument("--gpu-iterations", type=int, default=50)
    ap.add_argument("--filters", type=int, nargs="+", default=[16], help="SinGAN filters (model sizes)")
    ap.add_argument("--max-size", type=int, default=32, help="long side of the teacher's finest scale")
    ap.add_argument("--algorithm", default="tpe", choices=["tpe", "random"])
    ap.add_argument("--samples", type=int, default=4, help="generated images per quality measurement")
    ap.add_argument("--storage", default=None, help="keep the sweeps here (default: a temporary folder)")
    args = ap.parse_args(argv)

    cuda = torch.cuda.is_available()
    if args.device.startswith("cuda") and not cuda:
        ap.error("--device cuda: no CUDA device is present")
    storage = Path(args.storage or tempfile.mkdtemp(prefix="system_cost_"))
    storage.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        print(f"SinGAN teacher filters {args.filters[0]}, finest scale {args.max_size} px; recipe "
              f"prune_filters (amount searched) -> finetune -> precision; {args.algorithm.upper()} search, "
              f"MLflow SQLite store")
        print(describe(args.device))
        print(f"load average at start: {_load()}")
        if "overhead" in args.parts:
            overhead(args, storage)
        if "throughput" in args.parts:
            throughput(args, storage)
        if "gpu" in args.parts:
            if not cuda:
                print("\nGPU: skipped, no CUDA device is present (no figures are made up); run with "
                      "--device cuda on a machine with a GPU")
            elif not args.device.startswith("cuda"):
                print("\nGPU: not run; pass --device cuda")
            else:
                gpu(args, storage)
        print(f"\nload average at end: {_load()}; benchmark wall time {time.perf_counter() - started:.0f} s")
    finally:
        if args.storage is None:
            shutil.rmtree(storage, ignore_errors=True)


# --- the sweeps ---------------------------------------------------------------------------------


def make_teacher(storage: Path, filters: int, max_size: int, device: str) -> Path:
    """A SinGAN teacher trained for one iteration per scale: its quality does not matter here,
    its size does."""
    from gansearch.families.teacher import parse_teacher_config, train_teacher

    out = storage / f"teacher-f{filters}-s{max_size}"
    if not (out / "teacher.pt").is_file():
        cfg = parse_teacher_config({
            "model": "singan", "data": {"source": "image", "name": "astronaut", "max_size": max_size},
            "generator": {"filters": filters}, "train": {"iterations": 1, "min_size": 16},
            "device": device})
        train_teacher(cfg, out, progress=False)
    return out / "teacher.pt"


def make_spec(teacher: Path, args, *, iterations: int, trials: int, concurrent: int, cpus: float,
              gpus: float = 0.0, device: str = "cpu") -> SweepSpec:
    return parse_spec({
        "name": "bench",
        "teacher": {"checkpoint": str(teacher)},
        "recipe": [{"prune_filters": {"amount": 0.5}}, {"finetune": {"iterations": iterations}},
                   {"precision": {"dtype": "float32"}}],
        # With a fixed seed, TPE's first 10 trials are seeded random draws: every sweep of up to 10
        # trials runs the same knob values, whatever its concurrency.
        "space": {"prune_filters.amount": {"uniform": [0.3, 0.7]}},
        "objectives": [{"metric": "swd"}, {"metric": "weight_bytes"}, {"metric": "macs"}],
        "search": {"algorithm": args.algorithm, "num_samples": trials, "seed": 0,
                   "max_concurrent": concurrent},
        "resources": {"cpus": cpus, "gpus": gpus},
        "evaluation": {"samples": args.samples, "latency_runs": 2},
        "device": device,
        "max_failures": 0,
    }, base=teacher.parent)


def trial_clock():
    """A Ray Tune callback noting on the driver when each trial starts and completes."""
    from ray.tune import Callback

    class TrialClock(Callback):
        def __init__(self) -> None:
            self.start: dict[str, float] = {}
            self.end: dict[str, float] = {}

        def on_trial_start(self, iteration, trials, trial, **info):
            self.start.setdefault(trial.trial_id, time.perf_counter())

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.end[trial.trial_id] = time.perf_counter()

        on_trial_error = on_trial_complete

    return TrialClock()


@dataclass
class Timed:
    """One sweep, timed from outside (driver clocks) and inside (the trainable's own figures)."""

    table: Any  # the sweep's results table
    trials: list[dict[str, float]]  # finished trials by start: start, end (driver), core, trial, threads
    errors: int
    ray_start: float
    sweep: float  # run_sweep, Ray already started
    ray_stop: float
    began: float  # run_sweep called (perf_counter)

    @property
    def wall(self) -> float:
        return self.ray_start + self.sweep + self.ray_stop

    @property
    def phase(self) -> float:
        """From the first trial's start to the last one's completion."""
        return max(t["end"] for t in self.trials) - min(t["start"] for t in self.trials)


def timed_sweep(spec: SweepSpec, storage: Path, name: str, *, need_gpu: bool = False) -> Timed:
    import ray

    clock = trial_clock()
    t0 = time.perf_counter()
    connect_ray(None)  # what run_sweep would do first, timed apart
    t1 = time.perf_counter()
    try:
        if need_gpu and ray.cluster_resources().get("GPU", 0) < 1:
            raise SystemExit("Ray sees no GPU on this machine; the GPU table needs one")
        with contextlib.redirect_stdout(sys.stderr):  # Tune's banners; the tables stay on stdout
            result = run_sweep(spec, SweepOptions(storage=str(storage), name=name, verbose=0,
                                                  callbacks=(clock,)))
        t2 = time.perf_counter()
    finally:
        ray.shutdown()
    t3 = time.perf_counter()
    table = result.table
    trials = []
    for _, row in table[table["status"] == "finished"].iterrows():
        tid = row["trial_id"]
        trials.append({"start": clock.start[tid], "end": clock.end[tid], "core": row["core_seconds"],
                       "trial": row["trial_seconds"], "threads": int(row["torch_threads"])})
    trials.sort(key=lambda t: t["start"])
    if not trials and not need_gpu:  # on a GPU, packing too many trials may fail them all: a row says so
        raise SystemExit(f"{name}: no trial finished; {table['error'].iloc[0] if len(table) else ''}")
    return Timed(table, trials, int((table["status"] != "finished").sum()), t1 - t0, t2 - t1, t3 - t2, t1)


# --- 1. overhead per trial ----------------------------------------------------------------------


def overhead(args, storage: Path) -> None:
    teacher = make_teacher(storage, args.filters[0], args.max_size, args.device)
    gpus = 1.0 if args.device.startswith("cuda") else 0.0
    kinds = [("short", args.short_iterations, args.short_trials),
             ("long", args.long_iterations, args.long_trials)]
    sweeps, direct = {}, {}
    default_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)  # the direct runs get what a trial gets
    try:
        # loads the teacher and warms torch in this process, as a Ray worker's first trial does (untimed)
        run_trial(make_spec(teacher, args, iterations=1, trials=1, concurrent=1, cpus=1, device=args.device),
                  {}, teacher, storage / "warm-up", Reports())
        for kind, iterations, trials in kinds:
            spec = make_spec(teacher, args, iterations=iterations, trials=trials, concurrent=1,
                             cpus=args.threads, gpus=gpus, device=args.device)
            sweeps[kind] = timed_sweep(spec, storage, f"overhead-{kind}", need_gpu=bool(gpus))
            direct[kind] = direct_trials(spec, teacher, storage / f"direct-{kind}", args.baseline_repeats)
    finally:
        torch.set_num_threads(default_threads)

    threads = sorted({t["threads"] for s in sweeps.values() for t in s.trials})
    print(f"\n1. Overhead per trial, one trial at a time ({args.threads} CPU{'s' if args.threads > 1 else ''}"
          f"{', 1 GPU' if gpus else ''} per trial, torch threads in trials: {_join(threads)}); "
          f"seconds, median [min-max]")
    cols = {k: f"{k}: finetune {it} it., {len(sweeps[k].trials)} trials" for k, it, _ in kinds}
    width = max(len(c) for c in cols.values()) + 2

    def row(label: str, values: dict[str, str]) -> None:
        print(f"{label:<50}" + "".join(f"{values[k]:>{width}}" for k in cols))

    row("", cols)
    parts = {k: per_trial(s) for k, s in sweeps.items()}
    med = statistics.median
    print("in a Ray Tune sweep")
    for key, label in [("core", "  compression core (core_seconds)"),
                       ("inside", "  + MLflow run, reports, progress files"),
                       ("after", "  + after the final report (artifacts, Ray)"),
                       ("gap", "  + between trials (searcher, actor reuse)"),
                       ("overhead", "  = overhead per trial"),
                       ("total", "  trial time (core + overhead)")]:
        row(label, {k: _spread(p[key]) for k, p in parts.items()})
    row("  overhead share of trial time (medians)",
        {k: f"{med(parts[k]['overhead']) / med(parts[k]['total']):.0%}" for k in cols})
    print(f"run_trial in this process with a trial's MLflow logging, no Ray ({args.baseline_repeats} runs)")
    row("  compression core (core_seconds)", {k: _spread(direct[k]["core"]) for k in cols})
    row("  + MLflow run, metrics, artifacts", {k: _spread(direct[k]["mlflow"]) for k in cols})
    row("  trial time", {k: _spread(direct[k]["wall"]) for k in cols})
    row("Ray's part of the overhead (medians: overhead - MLflow)",
        {k: f"{med(parts[k]['overhead']) - med(direct[k]['mlflow']):.2f}" for k in cols})
    errors = {k: s.errors for k, s in sweeps.items() if s.errors}
    if errors:
        print(f"failed trials, left out: {errors}")

    print("\nSweep fixed cost (one trial at a time), seconds")
    row("", cols)
    fixed = {k: fixed_cost(s) for k, s in sweeps.items()}
    for key, label in [("ray_start", "Ray start"),
                       ("before", "before the first trial (teacher, MLflow, Tune)"),
                       ("after", "after the last trial (results, front, MLflow)"),
                       ("ray_stop", "Ray stop"),
                       ("fixed", "= fixed cost"),
                       ("trials", "trials and the gaps between them"),
                       ("wall", "sweep wall time")]:
        row(label, {k: f"{f[key]:.2f}" for k, f in fixed.items()})
    print("core_seconds: time inside run_trial less the time spent in its reporter (what compressing, "
          "fine-tuning and measuring cost); a fresh worker's first trial also loads the teacher. "
          "'before the first trial' includes starting the trial's worker process")


def per_trial(s: Timed) -> dict[str, list[float]]:
    """Each trial's time split into core and overhead; the gap before a trial is its own (the
    first trial's start-up is the sweep's fixed cost)."""
    out: dict[str, list[float]] = {k: [] for k in ("core", "inside", "after", "gap", "overhead", "total")}
    # the first trial's gap is the sweep's start-up, counted in its fixed cost
    for i, t in enumerate(s.trials):
        gap = t["start"] - s.trials[i - 1]["end"] if i else 0.0
        on_driver = t["end"] - t["start"]
        out["core"].append(t["core"])
        out["inside"].append(t["trial"] - t["core"])
        out["after"].append(on_driver - t["trial"])
        if i:
            out["gap"].append(gap)
        out["overhead"].append(on_driver + gap - t["core"])
        out["total"].append(on_driver + gap)
    return out


def fixed_cost(s: Timed) -> dict[str, float]:
    first, last = s.trials[0]["start"], max(t["end"] for t in s.trials)
    before = first - s.began
    after = s.began + s.sweep - last
    return {"ray_start": s.ray_start, "before": before, "after": after, "ray_stop": s.ray_stop,
            "fixed": s.ray_start + before + after + s.ray_stop, "trials": last - first, "wall": s.wall}


def direct_trials(spec: SweepSpec, teacher: Path, folder: Path, repeats: int) -> dict[str, list[float]]:
    """The same trial without Ray, with the MLflow logging the trainable does: its wall time, its
    core time (the same reporter timing it as in a sweep) and the rest, MLflow's cost."""
    knobs = {"prune_filters.amount": 0.5}
    sweep_run = tracking.start_sweep_run(tracking.local_store(folder), "direct", folder, {"spec": spec.raw})
    out: dict[str, list[float]] = {"wall": [], "core": [], "mlflow": []}
    for i in range(repeats):
        reports = Reports()
        start = time.perf_counter()
        mlflow_trial(sweep_run, spec, knobs, teacher, folder / str(i), f"direct{i}", reports)
        wall = time.perf_counter() - start
        out["wall"].append(wall)
        out["core"].append(reports.final["core_seconds"])
        out["mlflow"].append(wall - reports.final["core_seconds"])
    return out


class Reports:
    """A reporter keeping what it is given."""

    def __init__(self) -> None:
        self.all: list[dict] = []

    def __call__(self, metrics: dict, progress_file) -> None:
        self.all.append(metrics)

    @property
    def final(self) -> dict:
        return self.all[-1]


def mlflow_trial(sweep_run, spec: SweepSpec, knobs: dict, teacher: Path, out_dir: Path, trial_id: str,
                 collect) -> None:
    """run_trial with the MLflow calls of gansearch.search.trainable, in the same order; ``collect``
    receives each report."""
    client = sweep_run.client()
    run_id = tracking.trial_run(sweep_run, trial_id, trial_id, knobs)
    client.set_tag(run_id, "node", "local")

    def report(metrics, progress_file):
        tracking.log_metrics(client, run_id, metrics, step=int(metrics["recipe_step"]))
        collect(metrics, progress_file)

    result = run_trial(spec, knobs, teacher, out_dir, TimedReporter(report))
    tracking.finish_trial_run(client, run_id, result)


# --- 2. CPU throughput --------------------------------------------------------------------------


def throughput(args, storage: Path) -> None:
    teacher = make_teacher(storage, args.filters[0], args.max_size, "cpu")
    cores = os.cpu_count() or 1
    shapes = [(k, cores / k) for k in args.concurrency]
    if (1, cores) in shapes and cores > 1:  # one trial, one thread: threads apart from concurrency
        shapes.insert(shapes.index((1, cores)) + 1, (1, 1.0))
    runs = []
    for k, cpus in shapes:
        spec = make_spec(teacher, args, iterations=args.throughput_iterations, trials=args.throughput_trials,
                         concurrent=k, cpus=cpus)
        runs.append((k, cpus, timed_sweep(spec, storage, f"cpu-k{k}-c{cpus:g}")))
    print(f"\n2. CPU throughput: {args.throughput_trials} trials (finetune {args.throughput_iterations} it.) "
          f"per sweep on {cores} cores; trials per hour over the trials' phase (first start to last "
          f"completion)")
    header = (f"{'concurrent':>10} {'cpus/trial':>10} {'threads':>7} {'threads/core':>12} {'trials':>6} "
              f"{'phase s':>8} {'trials/h':>8} {'speedup':>7} {'core s (median)':>15} {'sweep wall s':>12}")
    print(header)
    print("-" * len(header))
    base = None
    for k, cpus, s in runs:
        rate = len(s.trials) / s.phase * 3600
        base = base or rate
        threads = sorted({t["threads"] for t in s.trials})
        print(f"{k:>10} {cpus:>10.2f} {_join(threads):>7} {k * max(threads) / cores:>12.1f} "
              f"{len(s.trials):>6} {s.phase:>8.1f} {rate:>8.0f} {rate / base:>6.2f}x "
              f"{statistics.median(t['core'] for t in s.trials):>15.2f} {s.wall:>12.1f}")
        if s.errors:
            print(f"{'':>10} {s.errors} failed trials left out")
    print("threads: torch's intra-op threads inside the trials (Ray sets OMP_NUM_THREADS to the trial's "
          "whole CPUs, at least 1; the trainable leaves it). threads/core above 1 is oversubscription: the "
          "trials share the cores and each one's core time grows. Speedup is against the first row; on a "
          "machine other work also loads, multi-threaded trials lose most (compare the two 1-trial rows)")


# --- 3. GPU packing -----------------------------------------------------------------------------


def gpu(args, storage: Path) -> None:
    cores = os.cpu_count() or 1
    print(f"\n3. GPU packing: {args.gpu_trials} trials (finetune {args.gpu_iterations} it.) per sweep, "
          f"k trials sharing one GPU (1/k GPU, {cores}/k CPUs each); finest scale {args.max_size} px")
    header = (f"{'filters':>7} {'params':>9} {'concurrent':>10} {'trials':>6} {'phase s':>8} {'trials/h':>8} "
              f"{'speedup':>7} {'core s (median)':>15} {'GPU util mean':>13} {'max':>4} {'GPU mem max':>11}")
    print(header)
    print("-" * len(header))
    for filters in args.filters:
        teacher = make_teacher(storage, filters, args.max_size, args.device)
        params = _params(teacher)
        base = None
        for k in args.gpu_concurrency:
            spec = make_spec(teacher, args, iterations=args.gpu_iterations, trials=args.gpu_trials,
                             concurrent=k, cpus=cores / k, gpus=1.0 / k, device="cuda")
            with GpuSampler() as sampler:
                s = timed_sweep(spec, storage, f"gpu-f{filters}-k{k}", need_gpu=True)
            if not s.trials:
                print(f"{filters:>7} {params:>9} {k:>10} all {s.errors} trials failed")
                continue
            rate = len(s.trials) / s.phase * 3600
            base = base or rate
            first, last = min(t["start"] for t in s.trials), max(t["end"] for t in s.trials)
            util, mem = sampler.during(first, last)
            print(f"{filters:>7} {params:>9} {k:>10} {len(s.trials):>6} {s.phase:>8.1f} {rate:>8.0f} "
                  f"{rate / base:>6.2f}x {statistics.median(t['core'] for t in s.trials):>15.2f} "
                  f"{_pct(util, statistics.mean):>13} {_pct(util, max):>4} "
                  f"{(f'{max(mem):.0f} MiB' if mem else '-'):>11}")
            if s.errors:
                print(f"{'':>7} {s.errors} failed trials left out (out of memory?): "
                      f"{s.table.loc[s.table['status'] != 'finished', 'error'].iloc[0]}")
    print(f"GPU util: {GpuSampler.source()}, every 0.25 s between the first trial's start and the last one's "
          f"completion; mem: all processes on the busiest GPU")


class GpuSampler:
    """Samples GPU utilization (%) and memory (MiB) in a thread, stamped with perf_counter."""

    def __init__(self, every: float = 0.25) -> None:
        self.every = every
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def source() -> str:
        return "nvidia-smi" if shutil.which("nvidia-smi") else "torch.cuda.utilization (no nvidia-smi)"

    def __enter__(self) -> GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            # a failed reading is a missed sample, not a wrong one
            with contextlib.suppress(OSError, RuntimeError, ValueError, subprocess.SubprocessError):
                self.samples.append((time.perf_counter(), *self.read()))
            self._stop.wait(self.every)

    @staticmethod
    def read() -> tuple[float, float]:
        """(utilization %, memory MiB) of the busiest GPU now."""
        if shutil.which("nvidia-smi"):
            out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                                  "--format=csv,noheader,nounits"], capture_output=True, text=True,
                                 timeout=5, check=True).stdout
            return max(tuple(float(v) for v in line.split(",")) for line in out.strip().splitlines())
        return max(float(torch.cuda.utilization(i)) for i in range(torch.cuda.device_count())), float("nan")

    def during(self, first: float, last: float) -> tuple[list[float], list[float]]:
        inside = [(u, m) for t, u, m in self.samples if first <= t <= last]
        return [u for u, _ in inside], [m for _, m in inside if m == m]  # m == m: not NaN


# --- small helpers ------------------------------------------------------------------------------


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


def _join(values) -> str:
    return "/".join(str(v) for v in values) or "-"


def _pct(values: list[float], fn) -> str:
    return f"{fn(values):.0f}%" if values else "-"


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg()) + " (1, 5, 15 min)"


def _params(teacher: Path) -> str:
    from gansearch.checkpoint import load_checkpoint
    from gansearch.metrics.cost import human

    return human(sum(p.numel() for p in load_checkpoint(teacher).generator.parameters()))


if __name__ == "__main__":
    main()
