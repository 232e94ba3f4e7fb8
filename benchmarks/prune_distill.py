"""Gong et al. Tables 1-3 in miniature: how far, and how, to prune a pix2pix ResNet generator.

A small ResNet generator is trained as a pix2pix teacher on the bundled edges2photos pairs, then
pruned by distance to the filter center in steps of f_step of its original filters up to the
target f, recovering after every step (seeds/001_*.txt sec. 3, 4.1-4.3):

- Table 1: the compression reached at a quality tolerance. Full KD, f_step 5% and a high target
  (90%); the loop stops at the first step whose recovered student is more than the tolerance
  (1 dB PSNR) below the teacher, and keeps the step before, as the paper's "until the
  performance of the compressed GAN can't restore" (sec. 4.1). Parameters and MACs of teacher
  and student, measured on the models, and their ratios, as the paper's Table 1 prints them;
- Table 2: recovery by plain training (the pix2pix objective: GAN + 100 L1), by feature KD
  (L_F, the KD of GAN Compression [14]) and by KD with transformation information (L_T + L_F).
  The KD columns keep the plain objective's GAN and L1 terms (a3 = 1, a2 = 100, L1), so each
  column adds terms to the one before it and nothing else changes;
- Table 3: full KD with f_step 3%, 5%, 7% and 10%, the same iterations per step.

Quality is PSNR and SSIM against the ground truth of held-out pairs (photos the teacher never
saw). In Tables 2 and 3 the tolerance is off, so every run reaches the target and quality is
compared at the same compression. The small defaults (ngf 8, 2 blocks, 32x32, 300 teacher and
10 recovery iterations per step) take a few minutes on 2 CPU cores, Table 1 about a fifth of
that; flags scale up.

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

import gansearch
from benchmarks.machine import describe
from gansearch.compress.distill import KDConfig
from gansearch.compress.prune_distill import (
    NOT_RESTORED,
    PruneDistillConfig,
    PruneDistillResult,
    distill_recovery,
    paired_quality,
    prune_distill,
    training_recovery,
)
from gansearch.data.sets import edges2photos
from gansearch.families.resnet import Resnet
from gansearch.families.translation import Pix2PixTrainConfig, paired_batches
from gansearch.metrics import ssim
from gansearch.metrics.cost import human
from gansearch.models import PatchGANConfig, PatchGANDiscriminator, ResnetConfig, ResnetGenerator
from gansearch.train.adversarial import LoopConfig, PlainLoss


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
    ap.add_argument("--step", type=float, default=0.05, help="f_step of Tables 1 and 2")
    ap.add_argument("--steps", default="0.03,0.05,0.07,0.10", help="f_step values of Table 3")
    ap.add_argument("--t1-target", type=float, default=0.9, help="f of Table 1 (the loop may stop first)")
    ap.add_argument("--tolerance", type=float, default=1.0,
                    help="Table 1: dB of held-out PSNR the student may lose to the teacher")
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
    params = Pix2PixTrainConfig(iterations=args.teacher_iterations, batch_size=args.batch)
    Resnet().train(teacher, discriminator, train, params, seed=args.seed)
    teacher.eval()
    example = source[:1]
    finetune = LoopConfig(iterations=args.step_iterations)
    plain = PlainLoss(alpha_rec=100.0, rec_norm="l1")
    kd_feature = KDConfig(alpha_feature=1.0, alpha_rec=100.0, alpha_gan=1.0, rec_norm="l1", pairs=())
    kd_full = KDConfig(alpha_feature=1.0, alpha_rec=100.0, alpha_gan=1.0, rec_norm="l1")

    def run(recovery: str, step: float, f: float = args.target, tolerance: float = math.inf
            ) -> tuple[PruneDistillResult, float]:
        torch.manual_seed(args.seed)
        d = copy.deepcopy(discriminator)  # every run starts from the teacher's discriminator
        batches = paired_batches(train, args.batch, args.seed)
        recover = (training_recovery(d, batches, plain, finetune) if recovery == "train" else
                   distill_recovery(teacher, d, batches, example,
                                    kd_feature if recovery == "kd" else kd_full, finetune))
        config = PruneDistillConfig(step_ratio=step, target_ratio=f, tolerance=tolerance)
        result = prune_distill(teacher, example, recover, paired_quality(source, target), config)
        return result, paired_quality(source, target, metric=ssim)(result.student)

    table1 = run("ours", args.step, args.t1_target, args.tolerance)
    table2 = {name: run(name, args.step) for name in ("train", "kd", "ours")}
    table3 = {step: (table2["ours"] if math.isclose(step, args.step) else run("ours", step))
              for step in (float(s) for s in args.steps.split(","))}

    teacher_psnr = paired_quality(source, target)(teacher)
    teacher_ssim = paired_quality(source, target, metric=ssim)(teacher)
    result = table2["ours"][0]
    print(f"Gong et al. Tables 1-3 in miniature: pix2pix ResNet generator ngf={args.filters}, "
          f"{args.blocks} blocks, edges2photos {args.size}x{args.size} ({args.train_pairs} train / "
          f"{args.test_pairs} held-out pairs)")
    print(describe(args.device))
    print(f"teacher: {args.teacher_iterations} pix2pix iterations, batch {args.batch}; "
          f"{human(result.teacher_params)} params, {human(result.teacher_macs)} MACs; held-out "
          f"PSNR {teacher_psnr:.2f} dB, SSIM {teacher_ssim:.3f} (vs ground truth)")
    print(f"recovery: {args.step_iterations} iterations after every pruning step (fpgm), Tables 2-3 "
          f"prune to f = {args.target:.0%} of the filters; wall time {time.perf_counter() - started:.0f} s")
    print()
    print(f"Table 1: compression reached within {args.tolerance:g} dB of the teacher's held-out PSNR "
          f"(full KD, f_step {args.step:.0%}, target f = {args.t1_target:.0%})")
    _table1(*table1, teacher_ssim, example, args.tolerance)
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


def _table1(result: PruneDistillResult, student_ssim: float, teacher_ssim: float, example: torch.Tensor,
            tolerance: float) -> None:
    student = gansearch.profile(result.student, example, latency_runs=0)  # the last restored step's
    kept = [s for s in result.steps if s.restored]
    student_psnr = kept[-1].quality if kept else result.reference_quality
    header = f"{'model':<8} {'params':>8} {'MACs':>8} {'params x':>8} {'MACs x':>7} {'PSNR dB':>8} " \
             f"{'SSIM':>6} {'f':>4}"
    print(header)
    print("-" * len(header))
    print(f"{'teacher':<8} {human(result.teacher_params):>8} {human(result.teacher_macs):>8} {1:>8.2f} "
          f"{1:>7.2f} {result.reference_quality:>8.2f} {teacher_ssim:>6.3f} {0:>4.0%}")
    print(f"{'student':<8} {human(student.params):>8} {human(student.macs):>8} "
          f"{result.teacher_params / student.params:>8.2f} {result.teacher_macs / student.macs:>7.2f} "
          f"{student_psnr:>8.2f} {student_ssim:>6.3f} {result.ratio:>4.0%}")
    print("PSNR after each step: " + ", ".join(f"{s.ratio:.0%} {s.quality:.2f}" for s in result.steps))
    if result.stop_reason == NOT_RESTORED:
        last = result.steps[-1]
        print(f"stopped: {result.stop_reason} at f = {last.ratio:.0%} ({last.quality:.2f} dB < "
              f"{result.reference_quality:.2f} - {tolerance:g}); the student is the step before")
    else:
        print(f"stopped: {result.stop_reason}, every step within {tolerance:g} dB of the teacher")
    if student_psnr > result.reference_quality:
        print("note: the student outscores the teacher on held-out PSNR; at this size the metric hardly "
              "separates the models, so the tolerance has nothing to stop")


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
