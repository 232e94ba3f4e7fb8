"""DCGAN generator and discriminator (Radford et al., ICLR 2016) for small image sets.

Fractionally strided convolutions from a 4x4 seed up to ``image_size``, BatchNorm and ReLU in
the generator, strided convolutions with LeakyReLU(0.2) in the discriminator; the
discriminator may use spectral normalization (Miyato et al. 2018) instead of BatchNorm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from gansearch.config import check_range
from gansearch.errors import ConfigError
from gansearch.models.layers import init_weights


@dataclass(frozen=True)
class DCGANConfig:
    image_size: int = 32  # a power of two, at least 8
    channels: int = 1  # 1 for digits and faces in grey, 3 for colour
    latent_dim: int = 100  # length of z
    filters: int = 64  # ngf / ndf: filters of the widest-resolution layer
    spectral_norm: bool = False  # spectral norm in D (replaces its BatchNorm)

    def __post_init__(self) -> None:
        if self.image_size < 8 or self.image_size & (self.image_size - 1):
            raise ConfigError(f"dcgan.image_size must be a power of two >= 8, got {self.image_size}")
        check_range("dcgan.channels", self.channels, 1)
        check_range("dcgan.latent_dim", self.latent_dim, 1)
        check_range("dcgan.filters", self.filters, 1)

    @property
    def num_upsamplings(self) -> int:
        """Stride-2 stages between the 4x4 seed and the image."""
        return int(math.log2(self.image_size)) - 2


class DCGANGenerator(nn.Module):
    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        self.config = cfg
        ch = cfg.filters * 2 ** (cfg.num_upsamplings - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(cfg.latent_dim, ch, 4, 1, 0, bias=False),  # 1x1 -> 4x4
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
        ]
        for _ in range(cfg.num_upsamplings - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2),
                       nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, cfg.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))  # (B, latent) -> (B, C, S, S)


class DCGANDiscriminator(nn.Module):
    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        self.config = cfg
        sn = _spectral_norm if cfg.spectral_norm else (lambda m: m)
        ch = cfg.filters
        layers: list[nn.Module] = [sn(nn.Conv2d(cfg.channels, ch, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        for _ in range(cfg.num_upsamplings - 1):
            layers.append(sn(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=cfg.spectral_norm)))
            if not cfg.spectral_norm:
                layers.append(nn.BatchNorm2d(ch * 2))
            layers.append(nn.LeakyReLU(0.2, True))
            ch *= 2
        layers.append(sn(nn.Conv2d(ch, 1, 4, 1, 0)))  # 4x4 -> one logit
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, image: Tensor) -> Tensor:
        return self.net(image).flatten(1)  # (B, 1) logits
