"""Small building blocks shared by the generators and discriminators."""

from __future__ import annotations

from torch import nn

from gansearch.errors import ConfigError


def norm_layer(kind: str, channels: int) -> nn.Module:
    """The normalization layers the seed architectures use.

    ``instance`` follows pix2pix/CycleGAN (affine=False, no running stats); ``batch`` is
    BatchNorm2d with affine scale and shift (what GAN Slimming's sparsity acts on).
    """
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(f"norm must be 'batch', 'instance' or 'none', got {kind!r}")


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN-style init (Radford et al.): conv weights N(0, 0.02), norm scales N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
