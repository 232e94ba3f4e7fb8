"""Training a teacher: the uncompressed generator every trial of a sweep starts from.

``gansearch train CONFIG.yaml`` reads a :class:`TeacherConfig`, trains the model it names on its
data, and writes, into the output folder, ``teacher.pt`` (a checkpoint that loads with
``weights_only=True``), ``samples.png`` (a grid to look at) and ``losses.csv``.
Everything is validated before training starts, and nothing is written unless training ends.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torchvision.utils import save_image

from gansearch.checkpoint import Checkpoint, save_checkpoint
from gansearch.config import check_device, check_seed, from_dict, to_dict
from gansearch.data.config import DataConfig, load_data
from gansearch.errors import ConfigError
from gansearch.models import (
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    PatchGANConfig,
    PatchGANDiscriminator,
    ResnetConfig,
    ResnetGenerator,
)
from gansearch.train.dcgan import DCGANTrainConfig, train_dcgan
from gansearch.train.loop import ProgressBar, resolve_device
from gansearch.train.pix2pix import Pix2PixTrainConfig, train_pix2pix
from gansearch.train.singan import SinGANTrainConfig, build_singan, train_singan

TRAIN_CONFIGS = {"singan": SinGANTrainConfig, "dcgan": DCGANTrainConfig,
                 "resnet": Pix2PixTrainConfig}
# Which data sources each model trains on.
DATA_SOURCES = {"singan": ("image",), "dcgan": ("digits", "faces", "folder", "torchvision"),
                "resnet": ("edges2photos",)}


@dataclass(frozen=True)
class TeacherConfig:
    model: Literal["singan", "dcgan", "resnet"]
    data: DataConfig
    generator: dict[str, Any] = field(default_factory=dict)  # overrides of the model's config
    discriminator: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)  # the model's training hyperparameters
    seed: int = 0
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    out: str | None = None  # output folder (default: runs/teachers/<config name>)

    def __post_init__(self) -> None:
        check_seed("seed", self.seed)
        check_device("device", self.device)
        if self.data.source not in DATA_SOURCES[self.model]:
            raise ConfigError(f"data.source {self.data.source!r} does not fit model {self.model!r}; "
                              f"use one of {', '.join(DATA_SOURCES[self.model])}")
        if self.model == "singan" and self.discriminator:
            raise ConfigError("discriminator: SinGAN's discriminators share the generator's "
                              "config; set filters and blocks under generator:")

    @property
    def train_params(self):
        return from_dict(TRAIN_CONFIGS[self.model], self.train, "train")


def parse_teacher_config(data: dict[str, Any], where: str = "config") -> TeacherConfig:
    try:
        cfg = from_dict(TeacherConfig, data, where)
        cfg.train_params  # noqa: B018 - validates the train: section now, not mid-run
        return cfg
    except ValueError as exc:
        raise ConfigError(str(exc) if isinstance(exc, ConfigError) else f"{where}: {exc}") from None


def build_models(cfg: TeacherConfig, data):
    """Untrained generator and discriminator for ``cfg`` (sizes and channels from the data)."""
    c = cfg.data.resolved_channels
    try:
        if cfg.model == "singan":
            return build_singan(data, cfg.train_params, **cfg.generator)
        if cfg.model == "dcgan":
            gcfg = from_dict(DCGANConfig, {"image_size": cfg.data.image_size, "channels": c,
                                           **cfg.generator}, "generator")
            dkeys = {"image_size": gcfg.image_size, "channels": c, "filters": gcfg.filters,
                     **cfg.discriminator}
            return DCGANGenerator(gcfg), DCGANDiscriminator(from_dict(DCGANConfig, dkeys,
                                                                      "discriminator"))
        gcfg = from_dict(ResnetConfig, {"input_channels": c, "output_channels": c,
                                        **cfg.generator}, "generator")
        dcfg = from_dict(PatchGANConfig, {"input_channels": 2 * c, **cfg.discriminator},
                         "discriminator")
        size = cfg.data.image_size
        if size % 2**gcfg.n_downsampling:
            raise ConfigError(f"data.image_size {size} must be divisible by 2^n_downsampling = "
                              f"{2**gcfg.n_downsampling} for the ResNet generator")
        if size < 2 ** (dcfg.n_layers + 2):
            raise ConfigError(f"data.image_size {size} is too small for a PatchGAN with "
                              f"n_layers {dcfg.n_layers}; use at least {2 ** (dcfg.n_layers + 2)}"
                              " or fewer discriminator layers")
        return ResnetGenerator(gcfg), PatchGANDiscriminator(dcfg)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def train_teacher(cfg: TeacherConfig, out: str | Path, *, progress: bool = True) -> Checkpoint:
    """Train the teacher ``cfg`` describes and write it, its samples and losses into ``out``."""
    out = Path(out)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    data = load_data(cfg.data)
    generator, discriminator = build_models(cfg, data)
    generator.to(device)
    discriminator.to(device)
    params = cfg.train_params
    start = time.perf_counter()
    if cfg.model == "singan":
        total = params.iterations * generator.config.num_scales
        callbacks = [ProgressBar(f"SinGAN, {generator.config.num_scales} scales", total)]
        history = train_singan(data, generator, discriminator, params,
                               callbacks=callbacks if progress else ())
    else:
        callbacks = [ProgressBar(cfg.model)] if progress else []
        trainer = train_dcgan if cfg.model == "dcgan" else train_pix2pix
        history = trainer(data, generator, discriminator, params, seed=cfg.seed,
                          callbacks=callbacks)
    wall = time.perf_counter() - start
    generator.eval()
    discriminator.eval()
    ckpt = Checkpoint(cfg.model, generator, discriminator, meta={
        "config": to_dict(cfg),
        "iterations": len(history),
        "train_seconds": wall,
        "final_losses": {k: v for k, v in history[-1].items() if k not in ("step", "scale")},
        "device": str(device),
    })
    save_checkpoint(out / "teacher.pt", ckpt)
    _write_losses(out / "losses.csv", history)
    save_image(sample_grid(cfg.model, generator, data, seed=cfg.seed) * 0.5 + 0.5,
               out / "samples.png", nrow=_grid_columns(cfg.model), padding=2)
    return ckpt


@torch.no_grad()
def sample_grid(model: str, generator, data, *, seed: int = 0, count: int = 8) -> torch.Tensor:
    """Images to look at: SinGAN, the real image then samples; DCGAN, samples; ResNet, rows of
    (source, generated, target) on the data's first pairs."""
    device = next(generator.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    generator.eval()
    if model == "singan":
        real = data.to(device)
        return torch.cat([real, generator.sample(count - 1, generator=gen)]).clamp(-1, 1).cpu()
    if model == "dcgan":
        z = torch.randn(count * 8, generator.config.latent_dim, generator=gen, device=device)
        return generator(z).cpu()
    source, target = data[:count]
    fake = generator(source.to(device)).cpu()
    return torch.stack([source, fake, target], 1).flatten(0, 1)


def _grid_columns(model: str) -> int:
    return {"singan": 4, "dcgan": 8, "resnet": 6}[model]


def _write_losses(path: Path, history: list[dict[str, Any]]) -> None:
    keys = list(dict.fromkeys(k for row in history for k in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)
