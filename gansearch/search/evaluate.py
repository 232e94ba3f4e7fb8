"""Quality and cost of a student, measured on the student itself.

Quality compares what the student generates with real images, as its family says
(``Family.generate``): for SinGAN, samples against the training image (its patch
distribution); for DCGAN, samples against the data set; for the translators, translations of
held-out source images against their targets. Cost is ``gansearch.profile`` on the student as
it is stored and run (pruned shapes, masks, dtype).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

from gansearch.config import check_range, check_seed
from gansearch.data.config import DataConfig
from gansearch.errors import ConfigError
from gansearch.families import Family
from gansearch.metrics.cost import profile

# Quality metrics and the direction that is better.
QUALITY = {"swd": "min", "fid": "min", "kid": "min", "sifid": "min", "psnr": "max", "ssim": "max"}
COST = {"params": "min", "nonzero_params": "min", "macs": "min", "effective_macs": "min",
        "weight_bytes": "min", "peak_activation_bytes": "min", "latency_ms": "min"}
INCEPTION_METRICS = ("fid", "kid", "sifid")


@dataclass(frozen=True)
class EvalConfig:
    samples: int = 16  # generated images (ResNet: translated pairs) per quality measurement
    seed: int = 0  # fixes the noise, the pairs and the metric's own randomness
    latency_runs: int = 10  # timed forward passes of the final student (0: no timing)
    inception_weights: str | None = None  # local Inception file for FID/KID/SIFID
    # What generated images are compared with: the data's real images (translation: the ground
    # truth of paired data, target-domain images of unpaired data), or the teacher's outputs for
    # the same inputs (PSNR / SSIM on unpaired data need it).
    reference: Literal["data", "teacher"] = "data"

    def __post_init__(self) -> None:
        check_range("evaluation.samples", self.samples, 1)
        check_seed("evaluation.seed", self.seed)
        check_range("evaluation.latency_runs", self.latency_runs, 0)


def quality(family: Family, generator, data, metrics: list[str], cfg: EvalConfig, teacher=None
            ) -> dict[str, float]:
    """Each of ``metrics`` for ``generator`` (of ``family``) on ``data`` (see ``QUALITY``);
    ``teacher``: the generator ``cfg.reference: teacher`` compares with."""
    fake, real = family.generate(generator, data, cfg.samples, cfg.seed)
    if cfg.reference == "teacher":
        if teacher is None:
            raise ConfigError("evaluation.reference: teacher needs the teacher to compare with")
        real, _ = family.generate(teacher, data, cfg.samples, cfg.seed)  # the same inputs
    out: dict[str, float] = {}
    for name in metrics:
        family.check_metric(name)
        if name == "swd":
            from gansearch.metrics.swd import swd

            out[name] = swd(real, fake, seed=cfg.seed)
        elif name in ("psnr", "ssim"):
            from gansearch.metrics import reference

            out[name] = getattr(reference, name)(fake, real)
        else:
            from gansearch.metrics import fid, kid, sifid

            fn = {"fid": fid, "sifid": sifid, "kid": kid}[name]
            out[name] = float(fn(real, fake, inception(cfg.inception_weights)))
    return out


@functools.lru_cache(maxsize=2)
def inception(path: str | None):
    """The Inception network, loaded once per process (a Ray worker reuses it across trials)."""
    from gansearch.metrics.inception import InceptionConfig, load_inception

    return load_inception(InceptionConfig(path=path))


def check_evaluation(cfg: EvalConfig, metric: str, data: DataConfig, where: str = "evaluation") -> None:
    """What a trial's measurement needs and can be known before anything runs: the Inception
    weights file of FID / KID / SIFID, and a reference for PSNR / SSIM on unpaired data."""
    if metric in INCEPTION_METRICS:
        from gansearch.metrics.inception import InceptionConfig, weights_path

        weights_path(InceptionConfig(path=cfg.inception_weights))  # a missing file: one line, now
    if metric in ("psnr", "ssim") and data.source == "unaligned" and cfg.reference != "teacher":
        raise ConfigError(f"{where}: {metric} compares outputs with a reference, and unpaired data has no "
                          "ground truth; set evaluation.reference: teacher or use fid / kid / swd")


def cost(generator, example_input, latency_runs: int) -> dict[str, Any]:
    figures = profile(generator, example_input, latency_runs=latency_runs).as_dict()
    return {k: figures[k] for k in (*COST, "sparsity") if figures.get(k) is not None}
