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
from typing import Any

from gansearch.config import check_range, check_seed
from gansearch.families import Family
from gansearch.metrics.cost import profile

# Quality metrics and the direction that is better.
QUALITY = {"swd": "min", "fid": "min", "kid": "min", "sifid": "min", "psnr": "max", "ssim": "max"}
COST = {"params": "min", "nonzero_params": "min", "macs": "min", "effective_macs": "min",
        "weight_bytes": "min", "peak_activation_bytes": "min", "latency_ms": "min"}
@dataclass(frozen=True)
class EvalConfig:
    samples: int = 16  # generated images (ResNet: translated pairs) per quality measurement
    seed: int = 0  # fixes the noise, the pairs and the metric's own randomness
    latency_runs: int = 10  # timed forward passes of the final student (0: no timing)
    inception_weights: str | None = None  # local Inception file for FID/KID/SIFID

    def __post_init__(self) -> None:
        check_range("evaluation.samples", self.samples, 1)
        check_seed("evaluation.seed", self.seed)
        check_range("evaluation.latency_runs", self.latency_runs, 0)


def quality(family: Family, generator, data, metrics: list[str], cfg: EvalConfig) -> dict[str, float]:
    """Each of ``metrics`` for ``generator`` (of ``family``) on ``data`` (see ``QUALITY``)."""
    fake, real = family.generate(generator, data, cfg.samples, cfg.seed)
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
            from gansearch.metrics.frechet import fid, sifid
            from gansearch.metrics.kid import kid

            fn = {"fid": fid, "sifid": sifid, "kid": kid}[name]
            out[name] = float(fn(real, fake, inception(cfg.inception_weights)))
    return out


@functools.lru_cache(maxsize=2)
def inception(path: str | None):
    """The Inception network, loaded once per process (a Ray worker reuses it across trials)."""
    from gansearch.metrics.inception import InceptionConfig, load_inception

    return load_inception(InceptionConfig(path=path))


def cost(generator, example_input, latency_runs: int) -> dict[str, Any]:
    figures = profile(generator, example_input, latency_runs=latency_runs).as_dict()
    return {k: figures[k] for k in (*COST, "sparsity") if figures.get(k) is not None}
