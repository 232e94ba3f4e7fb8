"""Training a teacher: the uncompressed generator every trial of a sweep starts from.

``gansearch train CONFIG.yaml`` reads a :class:`TeacherConfig`, trains the model it names (a
registered family) on its data, and writes, into the output folder, ``teacher.pt`` (a
checkpoint that loads with ``weights_only=True``), ``samples.png`` (a grid to look at) and
``losses.csv``. Everything is validated before training starts, and nothing is written unless
training ends.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gansearch import families
from gansearch.checkpoint import Checkpoint, save_checkpoint
from gansearch.config import check_device, check_seed, from_dict, to_dict
from gansearch.data.config import DataConfig
from gansearch.families.base import Family
from gansearch.train.loop import ProgressBar, resolve_device


@dataclass(frozen=True)
class TeacherConfig:
    model: str  # a registered family: singan, dcgan, resnet, unet, module
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
        self.family.check_data(self.data)

    @property
    def family(self) -> Family:
        family = families.get(self.model)
        return family.specialize(self.generator) if family.needs_code else family

    @property
    def train_params(self):
        return from_dict(self.family.train_config, self.train, "train")


def parse_teacher_config(data: dict[str, Any], where: str = "config") -> TeacherConfig:
    cfg = from_dict(TeacherConfig, data, where)
    cfg.train_params  # noqa: B018 - validates the train: section now, not mid-run
    return cfg


def build_models(cfg: TeacherConfig, data):
    """Untrained generator and discriminator for ``cfg`` (sizes and channels from the data)."""
    family = cfg.family
    gcfg, dcfg = family.configs(cfg.generator, cfg.discriminator, data, cfg.train_params)
    return family.build_generator(gcfg), family.build_discriminator(dcfg)


def train_teacher(cfg: TeacherConfig, out: str | Path, *, progress: bool = True) -> Checkpoint:
    """Train the teacher ``cfg`` describes and write it, its samples and losses into ``out``."""
    out = Path(out)
    device = resolve_device(cfg.device)
    family = cfg.family
    torch.manual_seed(cfg.seed)
    data = family.load(cfg.data)
    generator, discriminator = build_models(cfg, data)
    generator.to(device)
    discriminator.to(device)
    if isinstance(data, torch.Tensor):
        data = data.to(device)
    params = cfg.train_params
    start = time.perf_counter()
    callbacks = [ProgressBar(f"{cfg.model} teacher", total_iterations(generator, params))] if progress else []
    history = family.train(generator, discriminator, data, params, seed=cfg.seed, callbacks=callbacks)
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
    write_losses(out / "losses.csv", history)
    save_samples(family, generator, data, out / "samples.png", seed=cfg.seed)
    return ckpt


def total_iterations(generator, params) -> int:
    """The iterations a training run takes, for its progress bar (a SinGAN trains every scale)."""
    scales = getattr(getattr(generator, "config", None), "num_scales", 1)
    return params.iterations * scales


TILE = 128  # pixels a grid image is shown at, at least: small generators make small images


def save_samples(family: Family, generator, data, path: Path, seed: int = 0) -> Path:
    """The family's sample grid of ``generator`` as a PNG: each image enlarged (nearest
    neighbour, so pixels stay pixels) to at least TILE pixels, under a caption saying what the
    grid shows (``Family.sample_caption``)."""
    from PIL import Image, ImageDraw

    images, columns = family.sample_grid(generator, data, seed)
    images = images.float().cpu() * 0.5 + 0.5
    factor = max(1, -(-TILE // max(images.shape[-2:])))
    images = torch.nn.functional.interpolate(images, scale_factor=factor, mode="nearest")
    grid = _grid(images.clamp(0, 1), columns)
    picture = Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
    caption = family.sample_caption(data)
    canvas = Image.new("RGB", (picture.width, picture.height + 22), "white")
    canvas.paste(picture.convert("RGB"), (0, 22))
    ImageDraw.Draw(canvas).text((6, 5), caption, fill="black")
    canvas.save(path)
    return path


def _grid(images: torch.Tensor, columns: int, padding: int = 4) -> torch.Tensor:
    """(N, C, H, W) images in rows of ``columns`` on white, as RGB (3, rows*(H+p)+p, ...).
    Written here rather than torchvision's make_grid: importing torchvision costs every Ray
    worker seconds before its first trial can end."""
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    n, c, h, w = images.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    grid = torch.ones(c, rows * (h + padding) + padding, columns * (w + padding) + padding)
    for i, image in enumerate(images):
        top, left = padding + (i // columns) * (h + padding), padding + (i % columns) * (w + padding)
        grid[:, top:top + h, left:left + w] = image
    return grid


def write_losses(path: Path, history: list[dict[str, Any]]) -> None:
    keys = list(dict.fromkeys(k for row in history for k in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)
