"""Quality and cost of a student, measured on the student itself.

Quality compares what the student generates with real images: for SinGAN, samples against the
training image (its patch distribution); for DCGAN, samples against the data set; for the
ResNet generator, translations of source images against their targets. Cost is
``gansearch.profile`` on the student as it is stored and run (pruned shapes, masks, dtype).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from gansearch.config import check_range, check_seed
from gansearch.errors import ConfigError
from gansearch.metrics.cost import profile

# Quality metrics and the direction that is better.
QUALITY = {"swd": "min", "fid": "min", "kid": "min", "sifid": "min", "psnr": "max", "ssim": "max"}
COST = {"params": "min", "nonzero_params": "min", "macs": "min", "effective_macs": "min",
        "weight_bytes": "min", "peak_activation_bytes": "min", "latency_ms": "min"}
# Which quality metrics make sense for which family.
FITS = {"singan": ("swd", "sifid"), "dcgan": ("swd", "fid", "kid"),
        "resnet": ("swd", "psnr", "ssim", "fid", "kid")}


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


def check_metric_fits(model: str, metric: str) -> None:
    if metric not in FITS[model]:
        raise ConfigError(f"quality metric {metric!r} does not apply to {model}; "
                          f"use one of {', '.join(FITS[model])}")


@torch.no_grad()
def generated_and_real(model: str, generator, data, samples: int, seed: int
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """(generated, real) images in [-1, 1], float32 on the CPU, as the metric compares them."""
    generator.eval()
    param = next(generator.parameters())
    gen = torch.Generator(device=param.device).manual_seed(seed)
    if model == "singan":
        fake = generator.sample(samples, generator=gen)
        real = data
    elif model == "dcgan":
        z = torch.randn(samples, generator.config.latent_dim, generator=gen, device=param.device)
        fake = generator(z.to(param.dtype))
        picks = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:samples]
        real = torch.stack([data[int(i)][0] for i in picks])  # items are (image,) tuples
    else:
        pairs = [data[i] for i in range(min(samples, len(data)))]
        source = torch.stack([p[0] for p in pairs]).to(param.device, param.dtype)
        real = torch.stack([p[1] for p in pairs])
        fake = generator(source)
    return fake.float().clamp(-1, 1).cpu(), real.float().cpu()


def quality(model: str, generator, data, metrics: list[str], cfg: EvalConfig) -> dict[str, float]:
    """Each of ``metrics`` for ``generator`` on ``data`` (see ``QUALITY``)."""
    fake, real = generated_and_real(model, generator, data, cfg.samples, cfg.seed)
    out: dict[str, float] = {}
    inception = None
    for name in metrics:
        check_metric_fits(model, name)
        if name == "swd":
            from gansearch.metrics.swd import swd

            out[name] = swd(real, fake, seed=cfg.seed)
        elif name in ("psnr", "ssim"):
            from gansearch.metrics import reference

            out[name] = getattr(reference, name)(fake, real)
        else:
            from gansearch.metrics import frechet, kid
            from gansearch.metrics.inception import InceptionConfig, load_inception

            if inception is None:
                inception = load_inception(InceptionConfig(path=cfg.inception_weights))
            fn = {"fid": frechet.fid, "sifid": frechet.sifid, "kid": kid.kid}[name]
            out[name] = float(fn(real, fake, inception))
    return out


def cost(generator, example_input, latency_runs: int) -> dict[str, Any]:
    figures = profile(generator, example_input, latency_runs=latency_runs).as_dict()
    return {k: figures[k] for k in (*COST, "sparsity") if figures.get(k) is not None}
