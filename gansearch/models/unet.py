"""The U-Net generator of pix2pix (Isola et al. 2017, sec. 3.1 and appendix 6.1.1).

``num_downs`` stride-2 4x4 convolutions take the image down to 1x1 (7 for 128x128 images:
``unet_128``; 8 for 256x256: ``unet_256``), and as many transposed convolutions bring it back;
each level's input is concatenated to what its inner levels return (the skips). Widths are
ngf, 2 ngf, 4 ngf, then 8 ngf for every deeper level. Down: LeakyReLU(0.2), conv, norm; up:
ReLU, transposed conv, norm, and dropout 0.5 in the levels between the 8 ngf ones and the
innermost when asked (pix2pix trains with it). The outermost level has no norm and ends in
tanh; the innermost no down-norm. The modules nest as the reference code nests them
(``model.model.1.model.3...``), so its state dicts load as they are
(``gansearch import pix2pix``); the prune-distill paper compresses this generator
(seeds/001_*.txt sec. 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from gansearch.config import check_range
from gansearch.models.layers import init_weights, norm_layer


@dataclass(frozen=True)
class UnetConfig:
    input_channels: int = 3
    output_channels: int = 3
    filters: int = 64  # ngf
    num_downs: int = 8  # 8: unet_256, 7: unet_128; images must be 2^num_downs pixels or a multiple
    norm: Literal["batch", "instance"] = "batch"  # pix2pix's default
    dropout: bool = False  # dropout 0.5 in the inner up paths (pix2pix trains with it)

    def __post_init__(self) -> None:
        check_range("unet.input_channels", self.input_channels, 1)
        check_range("unet.output_channels", self.output_channels, 1)
        check_range("unet.filters", self.filters, 1)
        check_range("unet.num_downs", self.num_downs, 5)

    @property
    def use_bias(self) -> bool:
        return self.norm == "instance"  # a BatchNorm after the conv absorbs its bias


class UnetBlock(nn.Module):
    """One level: down to ``inner`` channels, the deeper levels, up to ``outer``; its input is
    concatenated to its output except at the outermost level."""

    def __init__(self, outer: int, inner: int, cfg: UnetConfig, *, input_channels: int | None = None,
                 submodule: nn.Module | None = None, outermost: bool = False, dropout: bool = False) -> None:
        super().__init__()
        self.outermost = outermost
        bias = cfg.use_bias
        down = nn.Conv2d(input_channels or outer, inner, 4, 2, 1, bias=bias)
        if outermost:
            layers = [down, submodule, nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1),
                      nn.Tanh()]
        elif submodule is None:  # innermost
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True),
                      nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=bias), norm_layer(cfg.norm, outer)]
        else:
            layers = [nn.LeakyReLU(0.2, True), down, norm_layer(cfg.norm, inner), submodule, nn.ReLU(True),
                      nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=bias), norm_layer(cfg.norm, outer)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    def __init__(self, cfg: UnetConfig) -> None:
        super().__init__()
        self.config = cfg
        ngf = cfg.filters
        block = UnetBlock(ngf * 8, ngf * 8, cfg)  # innermost: 1x1
        for _ in range(cfg.num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, cfg, submodule=block, dropout=cfg.dropout)
        for mult in (4, 2, 1):
            block = UnetBlock(ngf * mult, ngf * mult * 2, cfg, submodule=block)
        self.model = UnetBlock(cfg.output_channels, ngf, cfg, input_channels=cfg.input_channels,
                               submodule=block, outermost=True)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)
