"""The ResNet generator of pix2pix and CycleGAN (Johnson et al. 2016), paired translation."""

from __future__ import annotations

from torch import nn

from gansearch.families.translation import Translation
from gansearch.models.resnet import ResnetBlock, ResnetConfig, ResnetGenerator


class Resnet(Translation):
    name = "resnet"
    description = "pix2pix / CycleGAN ResNet generator (resnet_9blocks, resnet_6blocks)"
    generator_config = ResnetConfig

    def build_generator(self, config: ResnetConfig) -> ResnetGenerator:
        return ResnetGenerator(config)

    def size_multiple(self, config: ResnetConfig) -> int:
        return 2**config.n_downsampling

    def distill_taps(self, generator):
        """Every top-level activation and residual block; L_T over consecutive ones on the trunk
        (where eq. 4 applies: equal spatial size)."""
        seq = generator.model
        layers = [f"model.{i}" for i, m in enumerate(seq) if isinstance(m, (nn.ReLU, ResnetBlock))]
        blocks = [i for i, m in enumerate(seq) if isinstance(m, ResnetBlock)]
        trunk = [f"model.{blocks[0] - 1}"] + [f"model.{i}" for i in blocks] if blocks else []
        return tuple(layers), tuple(zip(trunk, trunk[1:], strict=False))
