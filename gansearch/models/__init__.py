"""Generators and discriminators of the GAN families gansearch compresses.

``FAMILIES`` maps a family name (the ``model`` key of a training config and of a checkpoint) to
its generator and discriminator classes and their config dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from gansearch.config import from_dict
from gansearch.errors import ConfigError
from gansearch.models.dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from gansearch.models.resnet import (
    PatchGANConfig,
    PatchGANDiscriminator,
    ResnetConfig,
    ResnetGenerator,
)
from gansearch.models.singan import (
    SinGANConfig,
    SinGANDiscriminator,
    SinGANGenerator,
    pyramid_sizes,
)


@dataclass(frozen=True)
class Family:
    name: str
    generator: type[nn.Module]
    generator_config: type
    discriminator: type[nn.Module]
    discriminator_config: type


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("singan", SinGANGenerator, SinGANConfig, SinGANDiscriminator, SinGANConfig),
        Family("dcgan", DCGANGenerator, DCGANConfig, DCGANDiscriminator, DCGANConfig),
        Family("resnet", ResnetGenerator, ResnetConfig, PatchGANDiscriminator, PatchGANConfig),
    )
}


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known models are {', '.join(FAMILIES)}") from None


def build(name: str, role: str, config: Any) -> nn.Module:
    """Build the ``role`` ("generator" or "discriminator") of family ``name`` from a config."""
    fam = family(name)
    cls, cfg_cls = (
        (fam.generator, fam.generator_config) if role == "generator"
        else (fam.discriminator, fam.discriminator_config)
    )
    if isinstance(config, dict):
        config = from_dict(cfg_cls, config, f"{name}.{role}")
    return cls(config)


__all__ = [
    "FAMILIES",
    "DCGANConfig",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "Family",
    "PatchGANConfig",
    "PatchGANDiscriminator",
    "ResnetConfig",
    "ResnetGenerator",
    "SinGANConfig",
    "SinGANDiscriminator",
    "SinGANGenerator",
    "build",
    "example_input",
    "family",
    "pyramid_sizes",
]


def example_input(generator: nn.Module, batch: int = 1, size: int | None = None
                  ) -> tuple[Any, ...]:
    """Positional inputs for one forward pass of ``generator`` (for profiling and export).

    SinGAN: one noise map per scale at the trained sizes; DCGAN: a latent batch; ResNet: a
    ``size`` x ``size`` image (256, the papers' resolution, by default).
    """
    import torch

    # Inputs in the generator's own floating dtype (a half-precision student takes half inputs).
    param = next(p for p in generator.parameters() if p.is_floating_point())
    like = {"device": param.device, "dtype": param.dtype}
    if isinstance(generator, SinGANGenerator):
        return tuple(n.expand(batch, -1, -1, -1) for n in generator.noise(1))
    if isinstance(generator, DCGANGenerator):
        return (torch.randn(batch, generator.config.latent_dim, **like),)
    if isinstance(generator, ResnetGenerator):
        s = size or 256
        return (torch.randn(batch, generator.config.input_channels, s, s, **like),)
    raise ConfigError(f"no example input known for {type(generator).__name__}")
