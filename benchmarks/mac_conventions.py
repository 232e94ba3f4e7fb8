"""MACs under the conventions papers use, on the ResNet-9 teacher and GAN Compression's layout.

The figures differ by what is counted: gansearch's default counts convolutions and matrix
products (a transposed convolution at its output resolution, as the GAN-compression papers);
``norm_macs`` adds one MAC per instance-norm output element, as GAN Compression's profiler
does; ``transposed_conv="input"`` counts transposed convolutions at their input resolution, as
``torch.utils.flop_counter`` and fvcore do. Costs are exact, so one run says everything.

    python -m benchmarks.mac_conventions              # 256x256, a few seconds per model
"""

from __future__ import annotations

import argparse

import torch

import gansearch
from benchmarks.layouts import MobileResnetGenerator
from benchmarks.machine import describe
from gansearch.models import ResnetConfig, ResnetGenerator


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256, help="input side in pixels (papers: 256)")
    args = ap.parse_args(argv)
    models = {
        "ResNet-9, ngf 64 (teacher)": ResnetGenerator(ResnetConfig(filters=64, n_blocks=9)),
        "mobile ResNet-9, ngf 64": MobileResnetGenerator(64),
        "mobile ResNet-9, ngf 32": MobileResnetGenerator(32),
        "mobile ResNet-9, ngf 16": MobileResnetGenerator(16),
    }
    x = torch.randn(1, 3, args.size, args.size)
    print(f"MACs per 1x3x{args.size}x{args.size} forward pass under three conventions")
    print(describe())
    header = (f"{'model':<28} {'params':>10} {'default':>15} {'+ norms':>15} {'norm share':>10} "
              f"{'transposed at input':>20}")
    print(header)
    print("-" * len(header))
    for name, model in models.items():
        base = gansearch.profile(model, x, latency_runs=0)
        norms = gansearch.profile(model, x, latency_runs=0, norm_macs=True).macs
        low = gansearch.profile(model, x, latency_runs=0, transposed_conv="input").macs
        print(f"{name:<28} {base.params:>10,} {base.macs:>15,} {norms:>15,} "
              f"{(norms - base.macs) / norms:>10.2%} {low:>20,}")


if __name__ == "__main__":
    main()
