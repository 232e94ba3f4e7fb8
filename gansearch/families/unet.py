"""The U-Net generator of pix2pix (unet_128, unet_256), paired translation."""

from __future__ import annotations

from gansearch.families.translation import Translation
from gansearch.models.unet import UnetBlock, UnetConfig, UnetGenerator


class Unet(Translation):
    name = "unet"
    description = "pix2pix U-Net generator (unet_128, unet_256)"
    generator_config = UnetConfig

    def build_generator(self, config: UnetConfig) -> UnetGenerator:
        return UnetGenerator(config)

    def size_multiple(self, config: UnetConfig) -> int:
        return 2**config.num_downs

    def distill_taps(self, generator):
        """The output of every level below the outermost (its input and its inner result,
        concatenated), and L_T between each level's down convolution and the level's norm,
        which have one spatial size."""
        levels, name, module = [], "model.model.1", generator.model.model[1]
        while isinstance(module, UnetBlock):
            levels.append(name)
            inner = [i for i, m in enumerate(module.model) if isinstance(m, UnetBlock)]
            if not inner:
                break
            name, module = f"{name}.model.{inner[0]}", module.model[inner[0]]
        pairs = tuple((f"{n}.model.1", f"{n}.model.2") for n in levels[:-1])  # down conv, down norm
        return tuple(levels), pairs
