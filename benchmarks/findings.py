"""What the search finds: the seed methods at their papers' settings against the searched front.

For each setting (a teacher family, its data and its quality metric):

1. **Teachers trained enough to judge**, each with ``--seeds`` seeds (``gansearch train``'s
   code). Every seed's teacher is measured as every trial measures its student; the spread of
   the quality metric over the seeds is what "no measurable loss" means: a student is *within
   the spread* when its quality is no worse than the worst of the equally trained teachers.
2. **Each seed method at its paper's default setting**, on the seed-0 teacher, run as a one-trial
   recipe (``gansearch.search.trial.run_trial``, the code every sweep trial runs):
   - L1 filter pruning (Li et al. 2017) of 50% of every layer's filters, then fine-tuning;
   - iterative prune-distill (Gong et al.): filters by distance to the filter centre, f_step 5%,
     distilling after each step, until the student's PSNR to the teacher falls under the
     tolerance or f is reached; then a last distillation (seeds/001_*.txt, Fig. 1, eq. 8);
   - GAN Slimming (Wang et al. 2020): distillation, L1 on norm scales (rho 1e-2) and 8-bit
     quantization-aware training in one objective, channels cut at |gamma| <= 1e-3, int8 storage;
   - Re-GAN (Saxena et al., Algorithm 1): prune-and-regrow every g = 100 iterations at rho 0.3;
   - SinGAN compression's four methods (seeds/000_*.txt sec. 3): half the filters from scratch,
     50% unstructured magnitude pruning, 50% L1 filter pruning, and filter pruning in float16.
3. **The searched front**: a sweep with the default algorithm (``cost_aware``) over a space that
   mixes filter pruning, low rank, distillation and precision, for a fixed number of trials;
   its compute is stated in trial core-seconds and wall-clock time.
4. **The answer**: for each method's point, whether a front member dominates it (at least as
   good on quality, weight bytes and MACs, better on one), and the largest MAC and parameter
   reduction on the front whose quality is within the teachers' spread, next to the papers'
   figures; a picture of samples along the front (``findings_<setting>.jpg``).

The settings: DCGAN on the bundled digits, SinGAN on the astronaut photograph, and a pix2pix
generator on a paired set the benchmark writes in pix2pix's aligned folder layout from the
bundled photographs, split by region (``write_photo_pairs``; ``--pairs`` picks the task: denoising
by default, grey to colour, edges to photo or x4 super-resolution). Translation settings also
measure a generator that returns its input, so a teacher can be seen to beat it.

Results are kept in ``--out`` (teachers, method students, sweeps), so a rerun reuses what is
done and a failed run continues. The CPU default takes about 80 minutes on 2 cores:

    python -m benchmarks.findings
    python -m benchmarks.findings --preset gpu --device cuda     # the scaled-up configuration
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.machine import describe

QUALITY_DIRECTION = {"swd": "min", "psnr": "max", "fid": "min", "kid": "min", "sifid": "min", "ssim": "max"}

# The bundled colour photographs the paired set is cut from (motorcycle_right, the other view of
# motorcycle_left, would put near-copies of training pixels into the test split).
PAIR_PHOTOS = ("astronaut", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry",
               "motorcycle_left", "rocket")


# The paired tasks write_photo_pairs makes (source -> photo): the task, and what returning the
# source is.
PAIR_TASKS = {"noise": ("denoising (sigma 25/255)", "the noisy photo"),
              "grey": ("grey to colour", "the grey photo"),
              "edges": ("edges to photo", "the edge map"),
              "blur": ("x4 super-resolution", "bicubic upsampling")}

# Rows of each photograph (as fractions of its height) the splits are cut from: the test band
# lies between two training bands, 3% of the height away from each.
TRAIN_BANDS = ((0.0, 0.5), (0.78, 1.0))
TEST_BANDS = ((0.53, 0.75),)


def write_photo_pairs(root: Path, image_size: int, train: int, test: int, seed: int = 0,
                      source: str = "grey") -> Path:
    """A paired set in pix2pix's aligned layout (``root/train``, ``root/test``, each PNG the source
    and the photo side by side), cut from the bundled colour photographs. The source is one of
    ``PAIR_TASKS``: the crop's grey version (pix2pix's BW -> colour task, the default), its Canny
    edge map, its x4 bicubic downsampling brought back up, or the crop with Gaussian noise. The
    pairs are written at ``image_size``, to be read with ``data.load_size = image_size``: no
    resize, so noise keeps its statistics.

    It is split as pix2pix split its map<->aerial set: by region of the same source, with a buffer
    between so no training pixel is in a test crop (Isola et al. 2017, appendix, data sets); here
    a band across the middle of every photograph is held out, so the test crops come from the
    photographs the generator learned from (with whole photographs held out, as ``edges2photos``
    does, their colours cannot be learned at all). ``root/crops.csv`` says where each pair was cut.
    """
    import numpy as np
    from PIL import Image

    from gansearch.data.images import load_image, resize

    if (root / "test").is_dir() and (root / "train").is_dir():
        return root
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    rng = np.random.default_rng(seed)
    photos = [load_image(name, channels=3) for name in PAIR_PHOTOS]
    crops = []
    for split, count, bands in (("train", train, TRAIN_BANDS), ("test", test, TEST_BANDS)):
        (partial / split).mkdir(parents=True)
        for i in range(count):
            photo = photos[i % len(photos)]
            h, w = photo.shape[-2:]
            low, high = (int(f * h) for f in bands[i // len(photos) % len(bands)])
            crop = int(rng.integers(int(0.15 * min(h, w)), min(int(0.22 * min(h, w)), high - low) + 1))
            top, left = int(rng.integers(low, high - crop + 1)), int(rng.integers(0, w - crop + 1))
            target = resize(photo[:, top: top + crop, left: left + crop], size=(image_size, image_size))
            rgb = ((target.permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
            a = _source_image(rgb, source, rng)
            Image.fromarray(np.concatenate([a, rgb], axis=1)).save(partial / split / f"{i:05d}.png")
            crops.append({"file": f"{split}/{i:05d}.png", "photo": PAIR_PHOTOS[i % len(photos)],
                          "top": top, "left": left, "side": crop})
    pd.DataFrame(crops).to_csv(partial / "crops.csv", index=False)
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    return root


def _source_image(rgb, source: str, rng):
    """The source of a pair whose target is the uint8 photo crop ``rgb`` (H, W, 3)."""
    import numpy as np
    from PIL import Image

    if source == "blur":  # x4 down, bicubic back up: super-resolution's input
        h, w = rgb.shape[:2]
        small = Image.fromarray(rgb).resize((w // 4, h // 4), Image.BICUBIC)
        return np.asarray(small.resize((w, h), Image.BICUBIC))
    if source == "noise":  # additive Gaussian noise, sigma 25 of 255
        return (rgb + rng.normal(0, 25, rgb.shape)).round().clip(0, 255).astype(np.uint8)
    grey = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601 luma
    if source == "edges":  # black on white, as edges2photos
        from skimage.feature import canny

        grey = (~canny(grey / 255, sigma=1.0)).astype(np.float32) * 255
    elif source != "grey":
        raise ValueError(f"unknown source {source!r}: grey, edges, blur or noise")
    return np.repeat(grey.round().clip(0, 255).astype(np.uint8)[..., None], 3, axis=2)


@dataclass(frozen=True)
class Setting:
    name: str
    title: str
    teacher: dict[str, Any]  # a gansearch train config (its seed is set per run)
    metric: str
    evaluation: dict[str, Any]
    methods: dict[str, list[dict[str, Any]]]  # label -> recipe
    papers: dict[str, str]  # label -> what the paper reports for it
    front_recipe: list[dict[str, Any]]
    front_space: dict[str, Any]
    trials: int  # the sweep's budget
    notes: list[str] = field(default_factory=list)
    prepare: Callable[[], Any] | None = None  # writes the setting's data set before its teachers train
    baseline: Callable[[], tuple[str, float]] | None = None  # a trivial generator and its quality


def copy_psnr(root: Path, image_size: int, samples: int) -> float:
    """The PSNR of a generator that returns its input, on the held-out pairs a trial is judged on."""
    import torch

    from gansearch.data.translation import AlignedPairs
    from gansearch.metrics.reference import psnr

    pairs = AlignedPairs(root, "test", image_size, train=False)
    items = [pairs[i] for i in range(min(samples, len(pairs)))]
    return psnr(torch.stack([a for a, _ in items]), torch.stack([b for _, b in items]))


def settings(preset: str, device: str, out: Path = Path("runs/findings"), pairs_source: str = "noise"
             ) -> list[Setting]:
    big = preset == "gpu"
    digits_iterations = 20000 if big else 4000
    digits = Setting(
        name="dcgan_digits", title="DCGAN on the bundled digits (16x16), quality SWD to the digits",
        teacher={"model": "dcgan", "data": {"source": "digits", "image_size": 16},
                 "generator": {"filters": 64 if big else 32, "latent_dim": 64},
                 "discriminator": {"spectral_norm": False},
                 "train": {"iterations": digits_iterations, "batch_size": 64}, "device": device},
        metric="swd", evaluation={"samples": 256, "latency_runs": 5},
        methods={
            "L1 filters 50% + fine-tune (Li et al.)": [
                {"prune_filters": {"amount": 0.5, "criterion": "l1"}}, {"finetune": {"iterations": 1000}}],
            "prune-distill, f_step 5% (Gong et al.)": [
                {"prune_distill": {"step_ratio": 0.05, "target_ratio": 0.9, "iterations_per_step": 50,
                                   "min_psnr": 20.0, "batch_size": 32}},
                {"distill": {"iterations": 500, "batch_size": 32}}],
            "GAN Slimming (Wang et al.)": [
                {"slim": {"iterations": 1000, "sparsity": 0.01, "bits": 8, "threshold": 0.001,
                          "batch_size": 32}},
                {"precision": {"dtype": "int8"}}],
            "Re-GAN, rho 0.3, g 100 (Saxena et al.)": [
                {"regan": {"iterations": 1000, "sparsity": 0.3, "update_interval": 100, "network": "G",
                           "keep": "sparse"}}],
        },
        papers={"L1 filters 50% + fine-tune (Li et al.)": "SinGAN compr.: 50% filters at equal SIFID",
                "prune-distill, f_step 5% (Gong et al.)": "CycleGAN 51.68x params, 36.20x MACs, no FID loss",
                "GAN Slimming (Wang et al.)": "up to 47x MACs (CycleGAN)",
                "Re-GAN, rho 0.3, g 100 (Saxena et al.)": "30% sparse G, FID at or below dense"},
        front_recipe=[{"prune_filters": {"amount": 0.5, "criterion": "l1"}}, {"lowrank": {"rank_ratio": 1.0}},
                      {"distill": {"iterations": 300, "batch_size": 32, "alpha_gan": 0.0}},
                      {"precision": {"dtype": "float32"}}],
        front_space={"prune_filters.amount": {"uniform": [0.05, 0.9]},
                     "lowrank.rank_ratio": {"choice": [0.25, 0.5, 1.0]},
                     "distill.alpha_gan": {"choice": [0.0, 1.0]},
                     "precision.dtype": {"choice": ["float32", "float16", "int8"]}},
        trials=48 if big else 20)
    singan_iterations = 2000 if big else 600  # per scale; SinGAN's own 2000, a third of it on a CPU
    singan = Setting(
        name="singan", title="SinGAN on the bundled astronaut photograph, quality SWD to the photograph",
        teacher={"model": "singan",
                 "data": {"source": "image", "name": "astronaut", "max_size": 96 if big else 48},
                 "generator": {"filters": 32 if big else 16},
                 "train": {"iterations": singan_iterations, "min_size": 16, "scale_factor": 0.75},
                 "device": device},
        metric="swd", evaluation={"samples": 64, "latency_runs": 5},
        methods={
            "method 1: half the filters, from scratch": [
                {"scratch": {"filters": 16 if big else 8}},
                {"finetune": {"iterations": singan_iterations}}],
            "method 2: 50% unstructured + fine-tune": [
                {"prune_unstructured": {"sparsity": 0.5}},
                {"finetune": {"iterations": singan_iterations // 2}}],
            "method 3: 50% L1 filters + fine-tune": [
                {"prune_filters": {"amount": 0.5, "criterion": "l1"}},
                {"finetune": {"iterations": singan_iterations // 2}}],
            "method 4: method 3 in float16": [
                {"prune_filters": {"amount": 0.5, "criterion": "l1"}},
                {"finetune": {"iterations": singan_iterations // 2}}, {"precision": {"dtype": "float16"}}],
        },
        papers={"method 1: half the filters, from scratch": "16 of 32 filters at equal SIFID",
                "method 2: 50% unstructured + fine-tune": "50% sparse at equal SIFID",
                "method 3: 50% L1 filters + fine-tune": "50% filters at equal SIFID",
                "method 4: method 3 in float16": "half the bytes of method 3 at equal SIFID"},
        front_recipe=[{"prune_filters": {"amount": 0.5, "criterion": "l1"}},
                      {"prune_unstructured": {"sparsity": 0.0}},
                      {"finetune": {"iterations": singan_iterations // 2}},
                      {"precision": {"dtype": "float32"}}],
        front_space={"prune_filters.amount": {"uniform": [0.05, 0.85]},
                     "prune_unstructured.sparsity": {"choice": [0.0, 0.3, 0.6]},
                     "precision.dtype": {"choice": ["float32", "float16"]}},
        trials=32 if big else 12)
    # A paired task on pairs split by region (write_photo_pairs): by default denoising, the one
    # of the four sources whose teacher beats copying its input in the CPU budget. On the CPU the
    # pix2pix U-Net (64 px, 6 downsamplings, BatchNorm as pix2pix); on a GPU the ResNet-9 at 256 px.
    size = 256 if big else 64
    tuning = 5000 if big else 1000  # iterations every method and trial trains the student for
    pairs = out.resolve() / "data" / f"{pairs_source}_{size}"
    held_out = 112  # test pairs, every one of them judged
    model = {"model": "resnet", "generator": {"filters": 64, "n_blocks": 9}} if big else \
        {"model": "unet", "generator": {"filters": 16, "num_downs": 6}}
    translation = Setting(
        name=f"pix2pix_{pairs_source}",
        title=f"pix2pix {'ResNet-9' if big else 'U-Net'}: {PAIR_TASKS[pairs_source][0]} on {size}x{size} "
              "crops of the bundled photographs, quality PSNR to the held-out band",
        teacher={**model, "data": {"source": "aligned", "path": str(pairs), "image_size": size,
                                   "load_size": size},
                 "discriminator": {"filters": 64 if big else 32},
                 "train": {"iterations": 20000 if big else 3000, "batch_size": 4}, "device": device},
        metric="psnr", evaluation={"samples": held_out, "latency_runs": 5},
        methods={
            "L1 filters 50% + fine-tune (Li et al.)": [
                {"prune_filters": {"amount": 0.5, "criterion": "l1"}},
                {"finetune": {"iterations": tuning}}],
            "prune-distill, f_step 5% (Gong et al.)": [
                {"prune_distill": {"step_ratio": 0.05, "target_ratio": 0.9,
                                   "iterations_per_step": 500 if big else 30, "min_psnr": 25.0}},
                {"distill": {"iterations": tuning}}],
            **({} if big else {"GAN Slimming (Wang et al.)": [
                {"slim": {"iterations": tuning, "sparsity": 0.01, "bits": 8, "threshold": 0.001}},
                {"precision": {"dtype": "int8"}}]}),
        },
        papers={"L1 filters 50% + fine-tune (Li et al.)": "-",
                "prune-distill, f_step 5% (Gong et al.)": "CycleGAN 51.68x params, 36.20x MACs, no FID loss",
                "GAN Slimming (Wang et al.)": "up to 47x MACs (CycleGAN)"},
        front_recipe=[{"prune_filters": {"amount": 0.5, "criterion": "l1"}}, {"lowrank": {"rank_ratio": 1.0}},
                      {"distill": {"iterations": tuning, "alpha_gan": 1.0}},
                      {"precision": {"dtype": "float32"}}],
        front_space={"prune_filters.amount": {"uniform": [0.05, 0.9]},
                     "lowrank.rank_ratio": {"choice": [0.25, 0.5, 1.0]},
                     "distill.alpha_gan": {"choice": [0.0, 1.0]},
                     "precision.dtype": {"choice": ["float32", "float16", "int8"]}},
        trials=32 if big else 12,
        notes=["GAN Slimming needs norm layers with a scale (BatchNorm): the ResNet-9 of the GPU "
               "preset has instance norms, so there it is not run."] if big else [],
        prepare=lambda: write_photo_pairs(pairs, size, train=2000 if big else 700, test=held_out,
                                          source=pairs_source),
        baseline=lambda: (f"a generator returning its input ({PAIR_TASKS[pairs_source][1]})",
                          copy_psnr(pairs, size, held_out)))
    every = [digits, singan, translation]
    return [_shrunk(s) for s in every] if preset == "smoke" else every


def _shrunk(setting: Setting) -> Setting:
    """The smoke preset: every code path in seconds (iterations cut to 2%, 3 trials)."""
    from dataclasses import replace

    def shrink(value):
        if isinstance(value, dict):
            return {k: max(2, int(v * 0.02)) if k.startswith("iterations") else shrink(v)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [shrink(v) for v in value]
        return value

    return replace(setting, teacher=shrink(setting.teacher), methods=shrink(setting.methods),
                   front_recipe=shrink(setting.front_recipe), trials=3,
                   evaluation={**setting.evaluation, "samples": 8})


def spec_for(setting: Setting, teacher: Path, recipe: list, space: dict, trials: int = 1, name: str = "m"):
    from gansearch.search.spec import parse_spec

    raw = {"name": name, "teacher": {"checkpoint": str(teacher)}, "recipe": recipe, "space": space,
           "objectives": [{"metric": setting.metric}, {"metric": "weight_bytes"}, {"metric": "macs"}],
           "search": {"num_samples": trials, "seed": 0, "max_concurrent": 2},
           "resources": {"cpus": 1, "gpus": 0}, "evaluation": setting.evaluation,
           "device": setting.teacher.get("device", "auto")}
    return parse_spec(raw, base=Path("."))


def train_teachers(setting: Setting, seeds: int, out: Path, log) -> list[Path]:
    from gansearch.families.teacher import parse_teacher_config, train_teacher

    paths = []
    for seed in range(seeds):
        folder = out / "teachers" / f"{setting.name}_{_key(setting.teacher)}_seed{seed}"
        if not (folder / "teacher.pt").is_file():
            started = time.perf_counter()
            train_teacher(parse_teacher_config({**setting.teacher, "seed": seed}, setting.name), folder,
                          progress=False)
            log(f"  teacher {setting.name} seed {seed}: trained in {time.perf_counter() - started:.0f} s")
        paths.append(folder / "teacher.pt")
    return paths


def measure_teachers(setting: Setting, paths: list[Path]) -> list[dict[str, float]]:
    from gansearch.search.teacher import load_teacher, teacher_quality

    measured = []
    for path in paths:
        spec = spec_for(setting, path, setting.front_recipe[:1], {})
        measured.append(teacher_quality(load_teacher(path, spec), spec))
    return measured


def run_method(setting: Setting, label: str, recipe: list, teacher: Path, out: Path, log) -> dict[str, Any]:
    from gansearch.search.trial import run_trial

    key = _key(recipe, str(teacher), setting.evaluation)
    folder = out / "methods" / setting.name / f"{_slug(label)}_{key}"
    done = folder / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    if folder.exists():
        shutil.rmtree(folder)  # a run cut short: start it again
    spec = spec_for(setting, teacher, recipe, {})
    started = time.perf_counter()
    final = run_trial(spec, {}, teacher, folder, lambda metrics, progress: None)
    result = {k: v for k, v in final.items() if isinstance(v, (int, float))}
    result["seconds"] = time.perf_counter() - started
    result["samples"] = str(folder / "samples.png")
    done.write_text(json.dumps(result, indent=1))
    log(f"  {label}: {setting.metric} {result[setting.metric]:.4g}, {result['seconds']:.0f} s")
    return result


def run_front(setting: Setting, teacher: Path, out: Path, trials: int) -> tuple[pd.DataFrame, float]:
    from gansearch.search.sweep import SweepOptions, run_sweep

    storage = out / "sweeps"
    key = _key(setting.front_recipe, setting.front_space, trials, str(teacher), setting.evaluation)
    name = f"{setting.name}-{key}"
    folder = storage / name
    timing = folder / "wall_seconds.txt"
    if timing.is_file() and (folder / "results.csv").is_file():
        return pd.read_csv(folder / "results.csv", dtype={"trial_id": str}), float(timing.read_text())
    if folder.exists():
        shutil.rmtree(folder)
    spec = spec_for(setting, teacher, setting.front_recipe, setting.front_space, trials, name)
    started = time.perf_counter()
    result = run_sweep(spec, SweepOptions(storage=str(storage), verbose=0))
    wall = time.perf_counter() - started
    timing.write_text(f"{wall:.1f}\n")
    return result.table, wall


def dominated_by(point: dict[str, float], front: pd.DataFrame, metric: str) -> str | None:
    """The id of a front member at least as good as ``point`` on every objective and better on
    one, if any."""
    sign = 1 if QUALITY_DIRECTION[metric] == "min" else -1
    for _, row in front.iterrows():
        mine = [sign * point[metric], point["weight_bytes"], point["macs"]]
        theirs = [sign * row[metric], row["weight_bytes"], row["macs"]]
        if all(t <= m for t, m in zip(theirs, mine, strict=True)) and any(
                t < m for t, m in zip(theirs, mine, strict=True)):
            return str(row["trial_id"])
    return None


def within(quality: float, threshold: float, metric: str) -> bool:
    return quality <= threshold if QUALITY_DIRECTION[metric] == "min" else quality >= threshold


def analyse(setting: Setting, teachers: list[dict[str, float]], methods: dict[str, dict],
            table: pd.DataFrame, wall: float, baseline: tuple[str, float] | None = None) -> list[str]:
    from gansearch.search.pareto import pareto_front

    metric = setting.metric
    finished = table[table["status"] == "finished"]
    front = pareto_front(finished, {metric: QUALITY_DIRECTION[metric], "weight_bytes": "min", "macs": "min"})
    qualities = [t[metric] for t in teachers]
    worst = max(qualities) if QUALITY_DIRECTION[metric] == "min" else min(qualities)
    base = teachers[0]
    direction = "lower" if QUALITY_DIRECTION[metric] == "min" else "higher"
    lines = [f"### {setting.title}", "",
             f"Teachers ({len(teachers)} seeds): {metric} " + ", ".join(f"{q:.4g}" for q in qualities)
             + f" ({direction} is better; spread {max(qualities) - min(qualities):.3g}); params "
             f"{_count(base['params'])}, MACs {_count(base['macs'])}, weight bytes "
             f"{_bytes(base['weight_bytes'])}. "
             f"Within the spread: {metric} {'<=' if direction == 'lower' else '>='} {worst:.4g}."
             + (f" For scale, {baseline[0]} scores {metric} {baseline[1]:.4g}." if baseline else ""), ""]
    lines += [f"| method (seed-0 teacher) | {metric} | within spread | params | MACs | weight bytes | "
              "dominated by the front | the paper reports |", "| --- " * 8 + "|"]
    for label, m in methods.items():
        by = dominated_by(m, front, metric)
        ok = "yes" if within(m[metric], worst, metric) else "no"
        lines.append(f"| {label} | {m[metric]:.4g} | {ok} | "
                     f"{_count(m['params'])} (x{base['params'] / m['params']:.2f}) | "
                     f"{_count(m['macs'])} (x{base['macs'] / m['macs']:.2f}) | {_bytes(m['weight_bytes'])} "
                     f"(x{base['weight_bytes'] / m['weight_bytes']:.2f}) | "
                     f"{('yes, by ' + by) if by else 'no'} | "
                     f"{setting.papers.get(label, '-')} |")
    good = front[[within(q, worst, metric) for q in front[metric]]]
    cores = finished["core_seconds"].sum() if "core_seconds" in finished else float("nan")
    lines += ["", f"Searched front: {len(front)} of {len(finished)} finished trials ({len(table)} run, "
              f"2 at a time; {wall / 60:.1f} min wall, {cores / 60:.1f} trial core-minutes), "
              f"algorithm cost_aware over {', '.join(setting.front_space)}."]
    if len(good):
        parts = []
        for cost, word in (("macs", "MACs"), ("params", "params"), ("weight_bytes", "weight bytes")):
            best = good.loc[good[cost].idxmin()]
            parts.append(f"{word} x{base[cost] / best[cost]:.2f} (trial {best['trial_id']}, "
                         f"{metric} {best[metric]:.4g})")
        lines.append("Largest reduction on the front within the teachers' spread: " + ", ".join(parts) + ".")
    else:
        lines.append("No front member is within the teachers' spread.")
    lines += ["", "| front trial | " + " | ".join(setting.front_space) + f" | {metric} | params | MACs | "
              "weight bytes |", "| --- " * (len(setting.front_space) + 5) + "|"]
    for _, row in front.sort_values("macs").iterrows():
        knobs = " | ".join(_knob(row.get(k)) for k in setting.front_space)
        lines.append(f"| {row['trial_id']} | {knobs} | {row[metric]:.4g} | {_count(row['params'])} | "
                     f"{_count(row['macs'])} | {_bytes(row['weight_bytes'])} |")
    lines += [f"- {note}" for note in setting.notes]
    return lines


def sample_sheet(setting: Setting, teacher_samples: Path, methods: dict[str, dict], table: pd.DataFrame,
                 out: Path) -> Path:
    """One picture: the teacher's samples, each method's, and the front's from largest to smallest."""
    from PIL import Image, ImageDraw

    from gansearch.search.pareto import pareto_front

    metric = setting.metric
    finished = table[table["status"] == "finished"]
    front = pareto_front(finished, {metric: QUALITY_DIRECTION[metric], "weight_bytes": "min", "macs": "min"})
    tiles = [("teacher (seed 0)", teacher_samples)]
    tiles += [(label, Path(m["samples"])) for label, m in methods.items()]
    tiles += [(f"front {r['trial_id']}: MACs {_count(r['macs'])}, {metric} {r[metric]:.3g}",
               Path(r["student_file"]).parent / "samples.png")
              for _, r in front.sort_values("macs", ascending=False).iterrows()]
    side, caption, columns = 300, 30, 4
    rows = math.ceil(len(tiles) / columns)
    sheet = Image.new("RGB", (columns * side, rows * (side + caption)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, path) in enumerate(tiles):
        x, y = (i % columns) * side, (i // columns) * (side + caption)
        draw.text((x + 4, y + 4), label[:48], fill="black")
        if path.is_file():
            image = Image.open(path).convert("RGB")
            image.thumbnail((side - 8, side - 8))
            sheet.paste(image, (x + 4, y + caption))
    path = out / f"findings_{setting.name}.jpg"  # a photograph-like sheet: a tenth of the PNG's bytes
    sheet.save(path, quality=85)
    return path


def _key(*parts: Any) -> str:
    """A short digest of what a result was made from: a rerun reuses a result only when its
    configuration is unchanged."""
    import hashlib

    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:8]


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")[:60]


def _count(value: float) -> str:
    from gansearch.metrics.cost import human

    return human(float(value))


def _bytes(value: float) -> str:
    from gansearch.metrics.cost import human_bytes

    return human_bytes(float(value))


def _knob(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/findings"), help="where teachers, students "
                    "and sweeps are kept (a rerun reuses them)")
    ap.add_argument("--preset", choices=("cpu", "gpu", "smoke"), default="cpu",
                    help="cpu: about 80 minutes on 2 cores; gpu: the paper-size models (ResNet-9 at 256x256, "
                    "SinGAN at 2000 iterations); smoke: every code path in minutes, no meaning")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    ap.add_argument("--seeds", type=int, default=3,
                    help="teachers per setting (their spread is the tolerance)")
    ap.add_argument("--only", nargs="*", help="settings to run (dcgan_digits, singan, pix2pix_noise)")
    ap.add_argument("--pairs", choices=tuple(PAIR_TASKS), default="noise",
                    help="the paired task: " + ", ".join(f"{k}: {v}" for k, (v, _) in PAIR_TASKS.items()))
    ap.add_argument("--trials", type=int, help="override each setting's sweep budget")
    args = ap.parse_args(argv)
    import os

    import ray

    args.out.mkdir(parents=True, exist_ok=True)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    started = time.perf_counter()

    def log(text: str) -> None:
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] {text}", flush=True)

    report = [f"Machine: {describe(args.device)}; preset {args.preset}, {args.seeds} teacher seeds.", ""]
    for setting in settings(args.preset, args.device, args.out, args.pairs):
        if args.only and setting.name not in args.only:
            continue
        if setting.prepare:
            setting.prepare()
        log(f"{setting.name}: teachers")
        paths = train_teachers(setting, args.seeds, args.out, log)
        teachers = measure_teachers(setting, paths)
        log(f"{setting.name}: seed methods")
        methods = {label: run_method(setting, label, recipe, paths[0], args.out, log)
                   for label, recipe in setting.methods.items()}
        log(f"{setting.name}: searched front")
        table, wall = run_front(setting, paths[0], args.out, args.trials or setting.trials)
        baseline = setting.baseline() if setting.baseline else None
        lines = analyse(setting, teachers, methods, table, wall, baseline)
        sheet = sample_sheet(setting, paths[0].parent / "samples.png", methods, table, args.out)
        report += [*lines, "", f"Samples: {sheet}", ""]
        print("\n".join(lines), flush=True)
    report.append(f"Total time: {(time.perf_counter() - started) / 60:.1f} min.")
    (args.out / "findings.md").write_text("\n".join(report) + "\n", encoding="utf-8")
    print(f"written: {args.out / 'findings.md'}")


if __name__ == "__main__":
    main()
