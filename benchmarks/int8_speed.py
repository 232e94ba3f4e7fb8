"""What int8 buys in time: weight-only int8 against int8 kernels, on a ResNet generator.

The pix2pix/CycleGAN ResNet generator with batch norm (so that static quantization covers its
convolutions), timed on the CPU: float32 eager and in ONNX Runtime; weight-only int8
(``precision: int8``: one byte a weight, computed in float); static int8 on PyTorch's int8
kernels (``gansearch.compress.static_int8``, lowered to oneDNN) and its reference form in ONNX
Runtime (which runs the quantize / de-quantize graph on its own int8 kernels). The error is the
largest output difference from float32 as a share of the output range, with random weights and
inputs: it shows the kernels agree, not what a trained model loses. All take turns run by run.

    python -m benchmarks.int8_speed                 # 128x128, a few minutes
    python -m benchmarks.int8_speed --size 256 --runs 10
"""

from __future__ import annotations

import argparse
import copy
import warnings

import torch

import gansearch
from benchmarks.machine import describe
from benchmarks.timing import interleaved_latency
from gansearch.compress import quantize_int8
from gansearch.compress.runtime import prepare
from gansearch.compress.static_int8 import quantize_static
from gansearch.metrics.cost import human_bytes
from gansearch.models import ResnetConfig, ResnetGenerator


def main(argv: list[str] | None = None) -> None:
    with warnings.catch_warnings():  # exporters and quantizers speak a lot; the table says it all
        warnings.simplefilter("ignore")
        run(argv)


def run(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--filters", type=int, default=64)
    ap.add_argument("--blocks", type=int, default=9)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args(argv)

    torch.manual_seed(0)
    dense = ResnetGenerator(ResnetConfig(filters=args.filters, n_blocks=args.blocks, norm="batch")).eval()
    x = torch.randn(1, 3, args.size, args.size)
    calibration = [torch.randn(2, 3, args.size, args.size) for _ in range(4)]
    weight_only = quantize_int8(copy.deepcopy(dense))
    with torch.no_grad():
        lowered = quantize_static(dense, calibration, example_input=x)
        reference = quantize_static(dense, calibration, lower=False)
        runners = {
            "float32, eager": (dense, dense),
            "float32, ONNX Runtime": (prepare(dense, (x,), "onnxruntime"), dense),
            "weight-only int8, eager": (weight_only, weight_only),
            "static int8, x86 kernels": (lowered, None),
            "static int8, ONNX Runtime": (prepare(reference, (x,), "onnxruntime"), None),
        }
        expected = dense(x)
        span = float(expected.max() - expected.min())
        errors = {name: float((run(x) - expected).abs().max()) / span for name, (run, _) in runners.items()}
    latency = interleaved_latency({name: (run, (x,)) for name, (run, _) in runners.items()}, args.runs,
                                  warmup=3)

    print(f"ResNet generator ngf={args.filters}, {args.blocks} blocks, batch norm, input 1x3x"
          f"{args.size}x{args.size}, median of {args.runs} runs")
    print(describe())
    header = f"{'model':<28} {'weights':>10} {'latency':>11} {'vs fp32':>8} {'max error':>10}"
    print(header)
    print("-" * len(header))
    base = latency["float32, eager"]
    for name, (_, module) in runners.items():
        weights = human_bytes(gansearch.profile(module, x, latency_runs=0).weight_bytes) if module else "-"
        print(f"{name:<28} {weights:>10} {latency[name]:>8.1f} ms {latency[name] / base:>8.2f} "
              f"{errors[name]:>9.2%}")


if __name__ == "__main__":
    main()
