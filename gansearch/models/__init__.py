"""Generators and discriminators of the families gansearch compresses, and the layers of their
compressed forms. What gansearch knows about each family beyond its modules (data, training,
judging) is in ``gansearch.families``."""

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
from gansearch.models.unet import UnetConfig, UnetGenerator

__all__ = [
    "DCGANConfig",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "PatchGANConfig",
    "PatchGANDiscriminator",
    "ResnetConfig",
    "ResnetGenerator",
    "SinGANConfig",
    "SinGANDiscriminator",
    "SinGANGenerator",
    "UnetConfig",
    "UnetGenerator",
    "pyramid_sizes",
]
