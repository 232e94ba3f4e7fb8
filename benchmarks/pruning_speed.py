"""Does removing filters make a ResNet generator faster, as much as its MACs say, and where?

Dense vs structurally pruned (L1 filter pruning, 50% and 75% of every layer's filters) vs
unstructured 90% sparsity, on the pix2pix/CycleGAN ResNet generator, timed under each
deployment runtime (``gansearch.compress.runtime``: eager, channels_last, torch.compile, ONNX
Runtime). Torch-Pruning's students at the same ratios (its L1 magnitude importance, uniform per
layer) run side by side when it is installed, to show whether the same cut runs as fast. The
speedup is dense latency over the model's, under the same runtime; "of MAC cut" divides it by
the MAC reduction (1.0: the time fell exactly as the MACs did). Unstructured sparsity (masks made
permanent) cuts the effective MACs but, with dense kernels, not the time: it is there to show
that. All models and runtimes take turns run by run, so a slow spell of a shared machine falls
on all of them alike.

    python -m benchmarks.pruning_speed                      # 128x128, CPU, a few minutes
    python -m benchmarks.pruning_speed --size 256 --runtimes all --runs 5
    python -m benchmarks.pruning_speed --size 256 --device cuda --runtimes all --runs 50
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import warnings

import torch

import gansearch
from benchmarks.machine import describe
from benchmarks.timing import interleaved_latency
from gansearch.compress import make_permanent, prune_filters, prune_unstructured
from gansearch.compress.runtime import check_runtimes, fold_batchnorm, prepare
from gansearch.metrics.cost import human
from gansearch.models import ResnetConfig, ResnetGenerator


def torch_pruning_student(dense: torch.nn.Module, x: torch.Tensor, amount: float) -> torch.nn.Module:
    """Torch-Pruning's student: L1 magnitude importance, the same share of every layer's filters,
    the output convolution's image channels kept."""
    import torch_pruning as tp

    model = copy.deepcopy(dense)
    output = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    pruner = tp.pruner.MetaPruner(model, x, importance=tp.importance.MagnitudeImportance(p=1),
                                  pruning_ratio=amount, ignored_layers=[output])
    pruner.step()
    return model


def main(argv: list[str] | None = None) -> None:
    with warnings.catch_warnings():  # exporters and compilers speak a lot; the table says it all
        warnings.simplefilter("ignore")
        run(argv)


def run(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128, help="input side in pixels (papers: 256)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--filters", type=int, default=64, help="ngf (papers: 64)")
    ap.add_argument("--blocks", type=int, default=9, help="residual blocks (papers: 9)")
    ap.add_argument("--runs", type=int, default=10, help="timed forward passes per model and runtime")
    ap.add_argument("--runtimes", default="eager,channels_last,onnxruntime",
                    help="comma-separated, from eager, channels_last, compile, onnxruntime; or all")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    runtimes = check_runtimes(args.runtimes)

    torch.manual_seed(0)
    dense = ResnetGenerator(ResnetConfig(filters=args.filters, n_blocks=args.blocks)).to(args.device).eval()
    x = torch.randn(args.batch, 3, args.size, args.size, device=args.device)
    models = {"dense": dense,
              "filters -50% (L1)": prune_filters(dense, x, 0.5),
              "filters -75% (L1)": prune_filters(dense, x, 0.75)}
    has_tp = importlib.util.find_spec("torch_pruning") is not None
    if has_tp:
        models["Torch-Pruning -50%"] = torch_pruning_student(dense, x, 0.5)
        models["Torch-Pruning -75%"] = torch_pruning_student(dense, x, 0.75)
    models["unstructured 90%"] = make_permanent(prune_unstructured(copy.deepcopy(dense), 0.9))
    costs = {name: gansearch.profile(m, x, latency_runs=0) for name, m in models.items()}

    prepared, failed = {}, {}
    with torch.no_grad():
        for name, model in models.items():
            folded, _ = fold_batchnorm(model)
            for runtime in runtimes:
                try:
                    prepared[name, runtime] = (prepare(folded, (x,), runtime), (x,))
                except Exception as exc:  # noqa: BLE001 - reported in the table
                    failed[name, runtime] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
    latency = interleaved_latency({f"{n}|{r}": v for (n, r), v in prepared.items()}, args.runs, warmup=3)

    print(f"ResNet generator ngf={args.filters}, {args.blocks} blocks, input {args.batch}x3x"
          f"{args.size}x{args.size}, median of {args.runs} runs per model and runtime")
    print(describe(args.device))
    if not has_tp:
        print("Torch-Pruning is not installed (pip install torch-pruning): its rows are left out")
    head = f"{'model':<20} {'params':>8} {'MACs':>8} {'MAC cut':>8}"
    for runtime in runtimes:
        head += f" | {runtime + ' ms':>18} {'speedup':>7} {'of cut':>6}"
    print(head)
    print("-" * len(head))
    base = costs["dense"]
    for name, cost in costs.items():
        cut = base.macs / cost.macs
        line = f"{name:<20} {human(cost.params):>8} {human(cost.macs):>8} {cut:>7.2f}x"
        for runtime in runtimes:
            ms, dense_ms = latency.get(f"{name}|{runtime}"), latency.get(f"dense|{runtime}")
            if ms is None or dense_ms is None:
                line += f" | {'failed':>18} {'-':>7} {'-':>6}"
                continue
            speedup = dense_ms / ms
            line += f" | {ms:>18.1f} {speedup:>6.2f}x {speedup / cut:>6.2f}"
        print(line)
    for (name, runtime), why in failed.items():
        print(f"{name} under {runtime} did not run: {why}")


if __name__ == "__main__":
    main()
