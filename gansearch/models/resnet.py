"""The ResNet generator of pix2pix / CycleGAN and the PatchGAN discriminator.

Johnson et al. 2016 as used by Isola et al. 2017 and Zhu et al. 2017: c7s1-ngf, two stride-2
downsamplings, ``n_blocks`` residual blocks, two transposed-conv upsamplings, c7s1-out, tanh.
With ngf 64, 9 blocks and InstanceNorm this is the 11.38M-parameter, 56.8G-MAC (256x256)
generator that the compression papers start from (seeds/001_*.txt Table 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor, nn

from gansearch.config import check_range
from gansearch.models.layers import init_weights, norm_layer


@dataclass(frozen=True)
class ResnetConfig:
    input_channels: int = 3
    output_channels: int = 3
    filters: int = 64  # ngf
    n_blocks: int = 9  # residual blocks (6 for 128x128 in CycleGAN)
    n_downsampling: int = 2
    norm: Literal["instance", "batch"] = "instance"
    dropout: bool = False  # dropout 0.5 inside residual blocks (pix2pix option)

    def __post_init__(self) -> None:
        check_range("resnet.filters", self.filters, 1)
        check_range("resnet.n_blocks", self.n_blocks, 0)
        check_range("resnet.n_downsampling", self.n_downsampling, 0)

    @property
    def use_bias(self) -> bool:
        # InstanceNorm without affine parameters cannot absorb a bias; BatchNorm can.
        return self.norm == "instance"


class ResnetBlock(nn.Module):
    def __init__(self, channels: int, cfg: ResnetConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=cfg.use_bias),
            norm_layer(cfg.norm, channels),
            nn.ReLU(True),
        ]
        if cfg.dropout:
            layers.append(nn.Dropout(0.5))
        layers += [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=cfg.use_bias),
            norm_layer(cfg.norm, channels),
        ]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, cfg: ResnetConfig) -> None:
        super().__init__()
        self.config = cfg
        ngf, bias = cfg.filters, cfg.use_bias
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(cfg.input_channels, ngf, 7, bias=bias),
            norm_layer(cfg.norm, ngf),
            nn.ReLU(True),
        ]
        for i in range(cfg.n_downsampling):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, c * 2, 3, 2, 1, bias=bias), norm_layer(cfg.norm, c * 2),
                       nn.ReLU(True)]
        width = ngf * 2**cfg.n_downsampling
        layers += [ResnetBlock(width, cfg) for _ in range(cfg.n_blocks)]
        for i in range(cfg.n_downsampling):
            c = ngf * 2 ** (cfg.n_downsampling - i)
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias),
                       norm_layer(cfg.norm, c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, cfg.output_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


@dataclass(frozen=True)
class PatchGANConfig:
    input_channels: int = 6  # source and target images, concatenated (conditional D)
    filters: int = 64  # ndf
    n_layers: int = 3  # 3 gives the 70x70 receptive field of pix2pix
    norm: Literal["instance", "batch"] = "instance"

    def __post_init__(self) -> None:
        check_range("patchgan.filters", self.filters, 1)
        check_range("patchgan.n_layers", self.n_layers, 1)


class PatchGANDiscriminator(nn.Module):
    """Classifies overlapping patches as real or fake; one logit per patch."""

    def __init__(self, cfg: PatchGANConfig) -> None:
        super().__init__()
        self.config = cfg
        bias = cfg.norm == "instance"
        ndf = cfg.filters
        layers: list[nn.Module] = [nn.Conv2d(cfg.input_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, cfg.n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < cfg.n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=bias),
                       norm_layer(cfg.norm, ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)
