"""Does removing filters make a ResNet generator faster, as much as its MACs say?

Dense vs structurally pruned (L1 filter pruning, 50% and 75% of every layer's filters) vs
unstructured 90% sparsity, on the pix2pix/CycleGAN ResNet generator: measured MACs and median
latency, each as a ratio to the dense model. Unstructured sparsity (masks made permanent) cuts
the effective MACs but, with dense kernels, not the time: it is there to show that. The models
take turns run by run, so a slow spell of a shared machine falls on all of them alike.

    python -m benchmarks.pruning_speed                      # 128x128, CPU, a few minutes
    python -m benchmarks.pruning_speed --size 256 --device cuda --runs 50
"""

from __future__ import annotations

import argparse
import copy

import torch

import gansearch
from benchmarks.machine import describe
from benchmarks.timing import interleaved_latency
from gansearch.compress import make_permanent, prune_filters, prune_unstructured
from gansearch.metrics.cost import human
from gansearch.models import ResnetConfig, ResnetGenerator


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128, help="input side in pixels (papers: 256)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--filters", type=int, default=64, help="ngf (papers: 64)")
    ap.add_argument("--blocks", type=int, default=9, help="residual blocks (papers: 9)")
    ap.add_argument("--runs", type=int, default=10, help="timed forward passes per model")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)

    torch.manual_seed(0)
    dense = ResnetGenerator(ResnetConfig(filters=args.filters, n_blocks=args.blocks)).to(args.device)
    x = torch.randn(args.batch, 3, args.size, args.size, device=args.device)
    models = {
        "dense": dense,
        "filters -50% (L1)": prune_filters(dense, x, 0.5),
        "filters -75% (L1)": prune_filters(dense, x, 0.75),
        "unstructured 90%": make_permanent(prune_unstructured(copy.deepcopy(dense), 0.9)),
    }
    print(f"ResNet generator ngf={args.filters}, {args.blocks} blocks, input {args.batch}x3x"
          f"{args.size}x{args.size}, median of {args.runs} runs")
    print(describe(args.device))
    header = f"{'model':<20} {'params':>9} {'MACs':>9} {'eff. MACs':>9} {'latency':>11} " \
             f"{'MACs ratio':>10} {'eff. ratio':>10} {'time ratio':>10}"
    print(header)
    print("-" * len(header))
    costs = {name: gansearch.profile(m, x, latency_runs=0) for name, m in models.items()}
    latency = interleaved_latency({name: (m, (x,)) for name, m in models.items()}, args.runs)
    base, base_ms = costs["dense"], latency["dense"]
    for name, cost in costs.items():
        ms = latency[name]
        print(f"{name:<20} {human(cost.params):>9} {human(cost.macs):>9} {human(cost.effective_macs):>9} "
              f"{ms:>8.1f} ms {cost.macs / base.macs:>10.3f} {cost.effective_macs / base.macs:>10.3f} "
              f"{ms / base_ms:>10.3f}")


if __name__ == "__main__":
    main()
