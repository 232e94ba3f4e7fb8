"""Image-to-image translation, as pix2pix (Isola et al. 2017) and CycleGAN (Zhu et al. 2017):
what the ResNet and U-Net generator families share.

The generator maps a source image to a target image. On paired data (``edges2photos``,
``aligned``) it trains against a conditional PatchGAN that sees the source beside the real or
generated target, with lambda * L1 to the target (lambda = 100), and is judged on held-out
pairs: its translations of the sources against their targets. On unpaired data
(``unaligned``, CycleGAN's layout) the PatchGAN sees target-domain images alone, the
reconstruction loss of distillation is to the teacher's output (Gong et al. eq. 7, unpaired),
and quality compares its translations of held-out sources with held-out target images (FID /
KID, as the compression papers report), or with the teacher's (``evaluation.reference``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import torch

from gansearch.config import check_range, from_dict
from gansearch.data.config import DataConfig
from gansearch.data.translation import held_out_split
from gansearch.errors import ConfigError
from gansearch.families.base import Family, square_images
from gansearch.models.resnet import PatchGANConfig, PatchGANDiscriminator
from gansearch.train.adversarial import Batch, LoopConfig, PlainLoss
from gansearch.train.loop import batches_forever


@dataclass(frozen=True)
class AdversarialTrainConfig:
    """Hyperparameters of the image-set families' training: Adam on both networks."""

    iterations: int = 5000
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    loss: Literal["vanilla", "lsgan"] = "vanilla"  # vanilla = non-saturating BCE

    def __post_init__(self) -> None:
        check_range("train.iterations", self.iterations, 1)
        check_range("train.batch_size", self.batch_size, 1)
        check_range("train.lr_g", self.lr_g, 0, low_open=True)
        check_range("train.lr_d", self.lr_d, 0, low_open=True)
        check_range("train.beta1", self.beta1, 0, 1, high_open=True)

    def loop(self) -> LoopConfig:
        return LoopConfig(iterations=self.iterations, lr_g=self.lr_g, lr_d=self.lr_d, beta1=self.beta1,
                          loss=self.loss)


@dataclass(frozen=True)
class Pix2PixTrainConfig(AdversarialTrainConfig):
    batch_size: int = 4
    lambda_l1: float = 100.0  # weight of the L1 loss to the target

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("train.lambda_l1", self.lambda_l1, 0)


def paired_batches(data, batch_size: int, seed: int = 0):
    """(source, target) pairs, as pix2pix: the target is the ground truth and D's real image, the
    source its condition."""
    for source, target in batches_forever(data, batch_size, seed):
        yield Batch((source,), target=target, real=target, condition=source)


def unpaired_batches(data, batch_size: int, seed: int = 0):
    """(source, target-domain image) items of unpaired data: the source is the input, the other
    image only what the discriminator calls real; no ground truth, so a reconstruction loss is to
    the teacher's output."""
    for source, target in batches_forever(data, batch_size, seed):
        yield Batch((source,), real=target)


def paired(data) -> bool:
    """Whether the data's targets are the ground truth of their sources (not CycleGAN's unpaired
    sets); a subset (``data.fraction``) is what its set is."""
    while not hasattr(data, "paired") and hasattr(data, "dataset"):
        data = data.dataset
    return getattr(data, "paired", True)


def patchgan_layers(size: int, wanted: int = 3) -> int:
    """PatchGAN layers that fit an image of side ``size`` (3, pix2pix's 70x70 patches, when they do)."""
    return max(1, min(wanted, size.bit_length() - 3))


class Translation(Family):
    """Base of the paired image-to-image families; subclasses build the generator."""

    discriminator_config = PatchGANConfig
    train_config = Pix2PixTrainConfig
    inputs = "image"
    data_sources = ("edges2photos", "aligned", "unaligned")
    metrics = ("swd", "psnr", "ssim", "fid", "kid")

    def build_discriminator(self, config: PatchGANConfig) -> PatchGANDiscriminator:
        return PatchGANDiscriminator(config)

    def configs(self, generator, discriminator, data, params):
        source, target = data[0]
        channels = {"input_channels": source.shape[0], "output_channels": target.shape[0]}
        gcfg = from_dict(self.generator_config, {**channels, **generator}, "generator")
        size = source.shape[-1]
        self.check_size(gcfg, size)
        seen = source.shape[0] + target.shape[0] if paired(data) else target.shape[0]  # D's input
        dcfg = from_dict(PatchGANConfig, {"input_channels": seen,
                                          "n_layers": patchgan_layers(size), **discriminator},
                         "discriminator")
        if size < 2 ** (dcfg.n_layers + 2):
            raise ConfigError(f"data.image_size {size} is too small for a PatchGAN with n_layers "
                              f"{dcfg.n_layers}; use at least {2 ** (dcfg.n_layers + 2)} or fewer "
                              "discriminator layers")
        return gcfg, dcfg

    def check_size(self, config: Any, size: int) -> None:
        multiple = self.size_multiple(config)
        if size % multiple:
            raise ConfigError(f"data.image_size {size} must be a multiple of {multiple} for this "
                              f"{self.name} generator")

    def size_multiple(self, config: Any) -> int:
        """The generator's input side must be a multiple of this (its downsamplings)."""
        return 1

    def example_input(self, generator, batch=1, size=None):
        return square_images(batch, generator.config.input_channels, size or 256, self.like(generator))

    def fixed_inputs(self, generator, data, n, seed):
        picks = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
        return (torch.stack([data[int(i)][0] for i in picks]).to(**self.like(generator)),)

    def held_out(self, data: DataConfig):
        # Images the generator never trained on, preprocessed as for testing (resized, not cropped).
        split = held_out_split(data.path, data.source) if data.path else "test"
        return self.load(replace(data, split=split))

    def image_size(self, data) -> int:
        return int(data[0][0].shape[-1])

    def objective(self, params):
        return PlainLoss(alpha_rec=params.lambda_l1, rec_norm="l1")

    def batches(self, generator, data, batch_size, seed=0):
        batches = paired_batches if paired(data) else unpaired_batches
        return batches(data, batch_size, seed)

    def generate(self, generator, data, n, seed):
        like = self.like(generator)
        pairs = [data[i] for i in range(min(n, len(data)))]
        source = torch.stack([p[0] for p in pairs]).to(**like)
        with torch.no_grad():
            fake = generator.eval()(source)
        return fake.float().clamp(-1, 1).cpu(), torch.stack([p[1] for p in pairs]).float()

    def sample_grid(self, generator, data, seed=0):
        fake, target = self.generate(generator, data, 8, seed)
        source = torch.stack([data[i][0] for i in range(len(fake))]).float()
        if not paired(data):  # no ground truth: source and output
            return torch.stack([source, fake], 1).flatten(0, 1), 4
        return torch.stack([source, fake, target], 1).flatten(0, 1), 6  # rows: source, output, target

    def sample_caption(self, data):
        return ("in threes: source, output, real target" if paired(data)
                else "in pairs: source, output")
