"""The SinGAN compression paper's four methods in miniature, on one bundled photograph.

Every row is a SinGAN pyramid trained from random weights on the same image, with the same
iterations per scale and the same seed (seeds/000_*.txt sec. 3-4, Figs. 5 and 6):

- baseline: the dense pyramid, 32 filters doubled every 4th scale (sec. 4);
- method 1, pruning from scratch (sec. 3.1, Fig. 5): the same pyramid built with 16, 12 and 4
  filters;
- method 2, unstructured (sec. 3.2): each scale's generator pruned globally by L1 magnitude to
  50% and 90% sparsity after a warm-up of half its iterations, masks kept through the fine-tune;
- method 3, L1 filter pruning (sec. 3.3, Li et al.): 50% and 90% of every layer's filters
  removed after a warm-up of 5% of the iterations;
- method 4 (sec. 3.4): method 3 at 50%, each scale's weights lowered to float16 once it is
  fine-tuned. Methods 2-4 are compared in Fig. 6.

Discriminators are never pruned. Costs are measured by ``gansearch.profile`` on each generator
for one sample at the trained size; latency is the median of repeated forward passes, the
models taking turns run by run so a slow spell of a shared machine falls on all alike. Quality:
the sliced Wasserstein distance (SWD) of samples to the photograph, and SIFID (the paper's
metric) when Inception weights are present. One sample per row (the same noise for all) is
saved as a PNG beside a labelled grid.

The small default (a 32-pixel image, 5 scales, 80 iterations per scale instead of 2000) takes
about 4 minutes of CPU time; its costs are exact, but its samples are still noisy (--iterations
200 makes them recognisable) and SWD differences between rows are small. SIFID needs weights and
an image of about 72 pixels or more. Flags scale up to the paper's setting:

    python -m benchmarks.singan_methods
    python -m benchmarks.singan_methods --size 250 --min-size 25 --iterations 2000 --device cuda \\
        --inception-weights PATH
"""

from __future__ import annotations

import argparse
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

import gansearch
from benchmarks.machine import describe
from benchmarks.timing import interleaved_latency
from gansearch.compress.pipeline import SinGANPruneConfig, train_prune_finetune
from gansearch.data.images import BUNDLED_IMAGES, load_image
from gansearch.errors import ConfigError, GansearchError, ResourceMissingError
from gansearch.families import example_input
from gansearch.families.singan import SinGANTrainConfig, build_singan, train_singan
from gansearch.metrics import WEIGHTS_ENV, Cost, InceptionConfig, load_inception, sifid, swd
from gansearch.metrics.cost import human, human_bytes
from gansearch.models import SinGANGenerator

PAPER_ITERATIONS = 2000  # per scale (seeds/000_*.txt sec. 4); the pipeline's splits are shares of it


@dataclass
class Row:
    label: str
    generator: SinGANGenerator
    cost: Cost
    latency_ms: float
    swd: float
    sifid: float | None
    sample: Tensor  # the first sample, (C, H, W) in [-1, 1]
    png: Path


def main(argv: list[str] | None = None) -> list[Row]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="astronaut", help=f"one of {', '.join(BUNDLED_IMAGES)}, or a path")
    ap.add_argument("--size", type=int, default=32, help="long side of the finest scale (paper: 250)")
    ap.add_argument("--min-size", type=int, default=12, help="short side of the coarsest scale (paper: 25)")
    ap.add_argument("--filters", type=int, default=32, help="baseline filters, doubled every 4th scale")
    ap.add_argument("--iterations", type=int, default=80, help="per scale, every row (paper: 2000)")
    ap.add_argument("--scratch-filters", type=int, nargs="+", default=[16, 12, 4], help="method 1")
    ap.add_argument("--sparsities", type=float, nargs="+", default=[0.5, 0.9], help="method 2")
    ap.add_argument("--amounts", type=float, nargs="+", default=[0.5, 0.9], help="method 3")
    ap.add_argument("--half-amount", type=float, default=0.5, help="method 4: filters removed before fp16")
    ap.add_argument("--samples", type=int, default=16, help="samples per row for SWD and SIFID")
    ap.add_argument("--runs", type=int, default=20, help="timed forward passes per model")
    ap.add_argument("--inception-weights", default=None,
                    help=f"Inception-v3 weights file for SIFID (or set {WEIGHTS_ENV})")
    ap.add_argument("--out", default="runs/benchmarks/singan_methods", help="folder for the sample PNGs")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1,
                    help="CPU threads (one keeps times steady on a shared machine)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()

    image = load_image(args.image, max_size=args.size)[None]
    inception, no_sifid = _inception(args, ap, image)
    train = SinGANTrainConfig(iterations=args.iterations, min_size=args.min_size)
    scale = args.iterations / PAPER_ITERATIONS

    # The four methods, seeds/000_*.txt sec. 3.1-3.4; iterations and splits as sec. 4.1.
    methods: list[tuple[str, int, SinGANPruneConfig | None]] = [("baseline", args.filters, None)]
    methods += [(f"scratch {f} filters", f, None) for f in args.scratch_filters]
    methods += [(f"unstructured {s:.0%}", args.filters,
                 SinGANPruneConfig("unstructured", sparsity=s, scope="global", norm="l1",
                                   scale_iterations=scale)) for s in args.sparsities]
    methods += [(f"L1 filters {a:.0%}", args.filters,
                 SinGANPruneConfig("structured", amount=a, criterion="l1", scale_iterations=scale))
                for a in args.amounts]
    methods.append((f"L1 filters {args.half_amount:.0%} + fp16", args.filters,
                    SinGANPruneConfig("structured", amount=args.half_amount, criterion="l1",
                                      scale_iterations=scale, dtype="float16")))

    generators = {label: _train(image, train, filters, prune, args) for label, filters, prune in methods}

    torch.manual_seed(args.seed)
    inputs = {label: example_input(g) for label, g in generators.items()}
    costs = {label: gansearch.profile(g, inputs[label], latency_runs=0) for label, g in generators.items()}
    latency = interleaved_latency({label: (g, inputs[label]) for label, g in generators.items()}, args.runs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    real = image.to(args.device)
    save_png(image[0], out / "real.png")
    rows, problems = [], []
    for i, (label, g) in enumerate(generators.items(), 1):
        fake = _samples(g, args)
        single = None if inception is None else _sifid(real, fake.to(args.device), inception, problems)
        png = save_png(fake[0], out / f"{i:02d}_{_slug(label)}.png")
        rows.append(Row(label, g, costs[label], latency[label], swd(image, fake, seed=args.seed), single,
                        fake[0], png))
    grid = save_grid([("real image", image[0])] + [(r.label, r.sample) for r in rows], out / "grid.png")

    sizes = generators["baseline"].config.sizes
    split = {m: SinGANPruneConfig(m, scale_iterations=scale).split() for m in ("structured", "unstructured")}
    print(f"SinGAN compression, the four methods of seeds/000 (Figs. 5-6) in miniature: {args.image} "
          f"{sizes[-1][1]}x{sizes[-1][0]}, {len(sizes)} scales from {sizes[0][1]}x{sizes[0][0]}, scale "
          f"factor {train.scale_factor}, {args.filters} filters doubled every 4th scale")
    print(describe(args.device))
    print(f"training: every row {args.iterations} iterations per scale (paper: {PAPER_ITERATIONS}), "
          f"{train.g_steps} G + {train.d_steps} D steps, seed {args.seed}; warm-up + fine-tune "
          f"structured {split['structured'][0]} + {split['structured'][1]}, unstructured "
          f"{split['unstructured'][0]} + {split['unstructured'][1]} (paper: 100 + 1900, 1000 + 1000); "
          f"wall time {time.perf_counter() - started:.0f} s")
    print()
    _table(rows, with_sifid=inception is not None)
    print()
    print("params: all parameters of the pyramid, non-zero: those not pruned away (unstructured rows keep "
          "the zeros); weights: bytes as stored (dtype; sparse tensors in their smallest encoding), "
          "vs base: ratio to the baseline")
    print(f"MACs: per sample at the trained size, eff. MACs: scaled by weight density (sparse rows); "
          f"peak act.: most activation bytes alive at once; latency: median of {args.runs} runs, batch 1, "
          f"models taking turns")
    print(f"SWD: sliced Wasserstein distance (x1e3) of {args.samples} samples to the photograph, lower is "
          "better")
    if inception is None:
        print(f"SIFID column omitted: {no_sifid}")
        print(f"  Give --inception-weights PATH or set {WEIGHTS_ENV}; either Inception file works "
              "(inception_v3_google-0cc3c7bd.pth is the network SinGAN's SIFID code used).")
    else:
        print(f"SIFID: single-image FID of each sample to the photograph ({inception.variant} weights), "
              "averaged; lower is better (the paper's Figs. 5-6 print it x1e-5)")
        if problems:
            positions = inception.early_features(real).shape[-2:].numel()
            print(f"SIFID n/a: {problems[0]}. At this size the feature map has {positions} positions for "
                  "192 features; from about 72 pixels a side (--size) it has more positions than features.")
    print(f"samples (the same noise for every row) in {out}:")
    for r in rows:
        print(f"  {r.label:<24} {r.png}")
    print(f"  {'grid with labels':<24} {grid}")
    return rows


def _inception(args, ap: argparse.ArgumentParser, image: Tensor):
    """The SIFID network, or None and why not. Weights named by flag or env must work."""
    named = args.inception_weights or os.environ.get(WEIGHTS_ENV)
    try:
        net = load_inception(InceptionConfig(path=args.inception_weights), device=args.device)
    except ResourceMissingError as exc:
        if named:
            ap.error(str(exc))
        return None, str(exc)
    except ConfigError as exc:
        ap.error(str(exc))
    try:  # fail before training on an image Inception's early layers cannot take
        sifid(image.to(args.device), image.to(args.device), net)
    except (ConfigError, RuntimeError) as exc:  # RuntimeError: a kernel wider than the feature map
        ap.error(f"SIFID cannot measure a {image.shape[-1]}x{image.shape[-2]} image ({exc}); "
                 "raise --size to 32 or more, or run without Inception weights")
    return net, None


def _sifid(real: Tensor, fake: Tensor, inception, problems: list[str]) -> float | None:
    """SIFID, or None where the covariance of the few feature positions a tiny image has is
    not positive semi-definite (the reason goes to ``problems``)."""
    try:
        return sifid(real, fake, inception)
    except GansearchError as exc:
        problems.append(str(exc))
        return None


def _train(image: Tensor, train: SinGANTrainConfig, filters: int, prune: SinGANPruneConfig | None,
           args) -> SinGANGenerator:
    torch.manual_seed(args.seed)
    generator, discriminator = build_singan(image, train, filters=filters)
    generator, discriminator = generator.to(args.device), discriminator.to(args.device)
    if prune is None:  # the baseline and method 1: plain training
        train_singan(image, generator, discriminator, train)
    else:
        generator, _ = train_prune_finetune(image, generator, discriminator, train, prune)
    return generator.eval()


def _samples(generator: SinGANGenerator, args) -> Tensor:
    noise = torch.Generator(device=args.device).manual_seed(args.seed + 1)
    return generator.sample(args.samples, generator=noise).float().clamp(-1, 1).cpu()


def _table(rows: list[Row], with_sifid: bool) -> None:
    header = (f"{'method':<24} {'params':>8} {'non-zero':>8} {'weights':>10} {'vs base':>7} {'MACs':>8} "
              f"{'eff. MACs':>9} {'peak act.':>10} {'latency':>10} {'SWD':>7}")
    header += " SIFID" if with_sifid else ""
    print(header)
    print("-" * len(header))
    base = rows[0].cost
    for r in rows:
        c = r.cost
        effective = human(c.effective_macs) if c.sparsity >= 0.01 else "-"
        line = (f"{r.label:<24} {human(c.params):>8} {human(c.nonzero_params):>8} "
                f"{human_bytes(c.weight_bytes):>10} {c.weight_bytes / base.weight_bytes:>7.3f} "
                f"{human(c.macs):>8} {effective:>9} {human_bytes(c.peak_activation_bytes):>10} "
                f"{r.latency_ms:>7.2f} ms {r.swd:>7.1f}")
        if with_sifid:
            line += " n/a" if r.sifid is None else f" {r.sifid:.3g}"
        print(line)


def save_png(image: Tensor, path: Path) -> Path:
    """A (C, H, W) image in [-1, 1] as an 8-bit PNG at its own size."""
    from PIL import Image

    Image.fromarray(_to_uint8(image)).save(path)
    return path


def save_grid(tiles: list[tuple[str, Tensor]], path: Path, columns: int = 5, side: int = 128) -> Path:
    """The images enlarged (nearest neighbour, so the pixels stay what they are) with a label under each."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = max(side, *(int(probe.textlength(label, font=font)) + 8 for label, _ in tiles))
    label_h = 18
    rows = -(-len(tiles) // columns)
    grid = Image.new("RGB", (columns * width, rows * (side + label_h)), "white")
    draw = ImageDraw.Draw(grid)
    for i, (label, image) in enumerate(tiles):
        x, y = (i % columns) * width, (i // columns) * (side + label_h)
        h, w = image.shape[-2:]
        scale = side / max(h, w)
        tile = Image.fromarray(_to_uint8(image)).resize((round(w * scale), round(h * scale)), Image.NEAREST)
        grid.paste(tile, (x + (width - tile.width) // 2, y))
        draw.text((x + (width - probe.textlength(label, font=font)) / 2, y + side + 3), label,
                  fill="black", font=font)
    grid.save(path)
    return path


def _to_uint8(image: Tensor):
    image = image.detach().float().cpu().clamp(-1, 1)
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return ((image + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


if __name__ == "__main__":
    main()
