"""Gong et al. Tables 2 and 3 in miniature: how to recover a pruned pix2pix ResNet generator.

A small ResNet generator is trained as a pix2pix teacher on the bundled edges2photos pairs, then
pruned by distance to the filter center in steps of f_step of its original filters up to the
target f, recovering after every step (seeds/001_*.txt sec. 4.3):

- Table 2: recovery by plain training (the pix2pix objective: GAN + 100 L1), by feature KD
  (L_F, the KD of GAN Compression [14]) and by KD with transformation information (L_T + L_F).
  The KD columns keep the plain objective's GAN and L1 terms (a3 = 1, a2 = 100, L1), so each
  column adds terms to the one before it and nothing else changes;
- Table 3: full KD with f_step 3%, 5%, 7% and 10%, the same iterations per step.

Quality is PSNR and SSIM against the ground truth of held-out pairs (photos the teacher never
saw). The tolerance is off, so every run reaches the target and quality is compared at the same
compression. The small defaults (ngf 8, 2 blocks, 32x32, 300 teacher and 10 recovery iterations
per step) take about 5 minutes on 2 CPU cores; flags scale up.

    python -m benchmarks.prune_distill
    python -m benchmarks.prune_distill --size 64 --filters 32 --blocks 6 --teacher-iterations 3000 \\
        --step-iterations 200 --device cuda
"""

from __future__ import annotations

import argparse
import copy
import math
import time

import torch

from benchmarks.machine import describe
from gansearch.compress.distill import KDConfig
from gansearch.compress.finetune import FinetuneConfig, PlainLoss, paired_batches
from gansearch.compress.prune_distill import (
    PruneDistillConfig,
    PruneDistillResult,
    distill_recovery,
    paired_quality,
    prune_distill,
    training_recovery,
)
from gansearch.data.sets import edges2photos
from gansearch.metrics import ssim
from gansearch.metrics.cost import human
from gansearch.models import PatchGANConfig, PatchGANDiscriminator, ResnetConfig, ResnetGenerator
from gansearch.train.pix2pix import Pix2PixTrainConfig, train_pix2pix


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=32, help="image side in pixels")
    ap.add_argument("--filters", type=int, default=8, help="ngf of the teacher")
    ap.add_argument("--blocks", type=int, default=2, help="residual blocks of the teacher")
    ap.add_argument("--train-pairs", type=int, default=64)
    ap.add_argument("--test-pairs", type=int, default=16)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--teacher-iterations", type=int, default=300)
    ap.add_argument("--step-iterations", type=int, default=10, help="recovery iterations per step")
    ap.add_argument("--target", type=float, default=0.5, help="f: share of the filters removed")
    ap.add_argument("--step", type=float, default=0.05, help="f_step of Table 2")
    ap.add_argument("--steps", default="0.03,0.05,0.07,0.10", help="f_step values of Table 3")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    started = time.perf_counter()

    torch.manual_seed(args.seed)
    train = edges2photos(args.size, args.train_pairs, "train", seed=args.seed)
    source, target = (t.to(args.device) for t in edges2photos(args.size, args.test_pairs, "test",
                                                                 seed=args.seed + 1).tensors)
    teacher = ResnetGenerator(ResnetConfig(filters=args.filters, n_blocks=args.blocks)).to(args.device)
    discriminator = PatchGANDiscriminator(PatchGANConfig(filters=args.filters, n_layers=2)).to(args.device)
    train_pix2pix(train, teacher, discriminator,
                  Pix2PixTrainConfig(iterations=args.teacher_iterations, batch_size=args.batch),
                  seed=args.seed)
    teacher.eval()
    example = source[:1]
    finetune = FinetuneConfig(iterations=args.step_iterations)
    plain = PlainLoss(alpha_rec=100.0, rec_norm="l1")
    kd_feature = KDConfig(alpha_feature=1.0, alpha_rec=100.0, alpha_gan=1.0, rec_norm="l1", pairs=())
    kd_full = KDConfig(alpha_feature=1.0, alpha_rec=100.0, alpha_gan=1.0, rec_norm="l1")

    def run(recovery: str, step: float) -> tuple[PruneDistillResult, float]:
        torch.manual_seed(args.seed)
        d = copy.deepcopy(discriminator)  # every run starts from the teacher's discriminator
        batches = paired_batches(train, args.batch, args.seed)
        recover = (training_recovery(d, batches, plain, finetune) if recovery == "train" else
                   distill_recovery(teacher, d, batches, example,
                                    kd_feature if recovery == "kd" else kd_full, finetune))
        config = PruneDistillConfig(step_ratio=step, target_ratio=args.target, tolerance=math.inf)
        result = prune_distill(teacher, example, recover, paired_quality(source, target), config)
        return result, paired_quality(source, target, metric=ssim)(result.student)

    table2 = {name: run(name, args.step) for name in ("train", "kd", "ours")}
    table3 = {step: (table2["ours"] if math.isclose(step, args.step) else run("ours", step))
              for step in (float(s) for s in args.steps.split(","))}

    teacher_psnr = paired_quality(source, target)(teacher)
    teacher_ssim = paired_quality(source, target, metric=ssim)(teacher)
    result = table2["ours"][0]
    print(f"Gong et al. Tables 2-3 in miniature: pix2pix ResNet generator ngf={args.filters}, "
          f"{args.blocks} blocks, edges2photos {args.size}x{args.size} ({args.train_pairs} train / "
          f"{args.test_pairs} held-out pairs)")
    print(describe(args.device))
    print(f"teacher: {args.teacher_iterations} pix2pix iterations, batch {args.batch}; "
          f"{human(result.teacher_params)} params, {human(result.teacher_macs)} MACs; held-out "
          f"PSNR {teacher_psnr:.2f} dB, SSIM {teacher_ssim:.3f} (vs ground truth)")
    print(f"recovery: {args.step_iterations} iterations after every pruning step (fpgm), "
          f"target f = {args.target:.0%} of the filters; wall time {time.perf_counter() - started:.0f} s")
    print()
    print(f"Table 2: recovery after pruning to f = {args.target:.0%} with f_step = {args.step:.0%}")
    _table([(label, *table2[key]) for key, label in (("train", "Train (GAN + L1)"),
                                                     ("kd", "KD (L_F) [14]"),
                                                     ("ours", "KD (L_T + L_F), Gong et al."))], args)
    print()
    print("Table 3: step compression ratio f_step, full KD")
    _table([(f"f_step {step:.0%}", *res) for step, res in table3.items()], args)
    print()
    print("PSNR/SSIM: gansearch.metrics, mean over held-out images in [-1, 1] against the ground truth; "
          "higher is better.")


def _table(rows: list[tuple[str, PruneDistillResult, float]], args) -> None:
    header = f"{'recovery':<30} {'steps':>5} {'iters':>6} {'params':>8} {'MACs':>8} {'PSNR dB':>8} " \
             f"{'SSIM':>6}  stop"
    print(header)
    print("-" * len(header))
    for label, result, ssim_value in rows:
        last = result.steps[-1]
        print(f"{label:<30} {len(result.steps):>5} {len(result.steps) * args.step_iterations:>6} "
              f"{human(last.params):>8} {human(last.macs):>8} {last.quality:>8.2f} {ssim_value:>6.3f}  "
              f"{result.stop_reason}")


if __name__ == "__main__":
    main()
