"""DCGAN (Radford et al. 2016): images from latent vectors, trained on an image set."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gansearch.config import from_dict
from gansearch.families.base import Family
from gansearch.families.translation import AdversarialTrainConfig
from gansearch.models.dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from gansearch.train.adversarial import Batch
from gansearch.train.loop import batches_forever


@dataclass(frozen=True)
class DCGANTrainConfig(AdversarialTrainConfig):
    """Radford et al. 2016: batches of 64, Adam 2e-4 with beta1 0.5."""


def latent_batches(latent_dim: int, batch_size: int, seed: int = 0, data=None):
    """Latent vectors; D's real images come from ``data`` if given (else the loop calls the
    teacher's output real: distillation). L_rec, if any, is to the teacher's output for the same
    latent (unpaired, Gong et al. eq. 7)."""
    rng = torch.Generator().manual_seed(seed)
    reals = batches_forever(data, batch_size, seed) if data is not None else None
    while True:
        real = next(reals)[0] if reals is not None else None
        n = real.shape[0] if real is not None else batch_size
        yield Batch((torch.randn(n, latent_dim, generator=rng),), real=real)


class LatentImages(Family):
    """Generators of images from latent vectors, judged against the image set they learned."""

    train_config = DCGANTrainConfig
    data_sources = ("digits", "faces", "folder", "torchvision")
    metrics = ("swd", "fid", "kid")
    inputs = "latent"

    def latent_dim(self, generator) -> int:
        """The length of the latent vectors the generator takes."""
        return generator.config.latent_dim

    def example_input(self, generator, batch=1, size=None):
        return (torch.randn(batch, self.latent_dim(generator), **self.like(generator)),)

    def batches(self, generator, data, batch_size, seed=0):
        return latent_batches(self.latent_dim(generator), batch_size, seed, data=data)

    def generate(self, generator, data, n, seed):
        like = self.like(generator)
        z = torch.randn(n, self.latent_dim(generator), generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            fake = generator.eval()(z.to(**like))
        picks = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
        real = torch.stack([data[int(i)][0] for i in picks])  # items are (image,) tuples
        return fake.float().clamp(-1, 1).cpu(), real.float()

    def sample_grid(self, generator, data, seed=0):
        fake, _ = self.generate(generator, data, 64, seed)
        return fake, 8


class DCGAN(LatentImages):
    name = "dcgan"
    description = "DCGAN on an image set (Radford et al. 2016)"
    generator_config = DCGANConfig
    discriminator_config = DCGANConfig

    def build_generator(self, config: DCGANConfig) -> DCGANGenerator:
        return DCGANGenerator(config)

    def build_discriminator(self, config: DCGANConfig) -> DCGANDiscriminator:
        return DCGANDiscriminator(config)

    def configs(self, generator, discriminator, data, params):
        image = data[0][0]
        shape = {"image_size": image.shape[-1], "channels": image.shape[0]}
        gcfg = from_dict(DCGANConfig, {**shape, **generator}, "generator")
        dcfg = from_dict(DCGANConfig, {**shape, "filters": gcfg.filters, **discriminator}, "discriminator")
        return gcfg, dcfg

    def distill_taps(self, generator):
        """Every hidden activation; L_T between each stage's convolution and its activation, the
        only layers of equal size (every stage doubles the resolution)."""
        acts = [i for i, m in enumerate(generator.net) if isinstance(m, nn.ReLU)]
        return tuple(f"net.{i}" for i in acts), tuple((f"net.{i - 2}", f"net.{i}") for i in acts)
