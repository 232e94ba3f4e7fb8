import pytest
import torch
from torch import nn

from gansearch.errors import ConfigError
from gansearch.families import build
from gansearch.models import (
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    PatchGANConfig,
    PatchGANDiscriminator,
    ResnetConfig,
    ResnetGenerator,
    SinGANConfig,
    SinGANDiscriminator,
    SinGANGenerator,
    pyramid_sizes,
)


def test_pyramid_sizes_follow_the_reference_schedule():
    sizes = pyramid_sizes(250, 250, min_size=25, max_size=250, scale_factor=0.75)
    assert len(sizes) == 10  # ceil(log(25/250) / log(0.75)) + 1
    assert sizes[0] == (25, 25) and sizes[-1] == (250, 250)
    ratios = [b[0] / a[0] for a, b in zip(sizes, sizes[1:], strict=False)]
    assert all(1.25 < r < 1.40 for r in ratios)  # about 1 / 0.75, adjusted to land on 25
    # Larger images are shrunk to max_size on their long side first.
    assert max(pyramid_sizes(500, 1000, max_size=250)[-1]) == 250


def test_filters_double_every_fourth_scale():
    cfg = SinGANConfig(sizes=((25, 25),) * 10, filters=32)
    assert [cfg.filters_at(k) for k in range(10)] == [32] * 4 + [64] * 4 + [128] * 2
    g = SinGANGenerator(cfg)
    assert g.scales[5].body[0][0].out_channels == 64
    pruned = SinGANConfig(sizes=((25, 25),) * 5, filters=4)  # SinGAN method 1
    assert [pruned.filters_at(k) for k in range(5)] == [4, 4, 4, 4, 8]


def test_singan_scale_has_five_conv_bn_lrelu_blocks_and_generates_a_residual():
    cfg = SinGANConfig(sizes=((10, 12), (13, 16)), filters=8)
    g = SinGANGenerator(cfg)
    convs = [m for m in g.scales[0].modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in g.scales[0].modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == 5 and len(bns) == 4
    # With the last conv zeroed, tanh(0) = 0: the scale returns the upsampled coarser image.
    tail = convs[-1]
    nn.init.zeros_(tail.weight)
    nn.init.zeros_(tail.bias)
    prev = torch.randn(1, 3, 10, 12)
    assert torch.equal(g.scales[0].eval()(torch.randn(1, 3, 10, 12), prev), prev)


def test_singan_samples_at_any_scale_and_any_size():
    cfg = SinGANConfig(sizes=((10, 12), (13, 16), (18, 21)), filters=4)
    g = SinGANGenerator(cfg).eval()
    for k, (h, w) in enumerate(cfg.sizes):
        assert g.sample(2, up_to=k).shape == (2, 3, h, w)
    wide = g(*g.noise(1, size_factor=(1.0, 2.0)))
    assert wide.shape == (1, 3, 18, 42)
    d = SinGANDiscriminator(cfg)
    assert d(torch.randn(1, 3, 18, 21), scale=2).shape == (1, 1, 8, 11)


@pytest.mark.parametrize("size", [8, 16, 32, 64])
def test_dcgan_shapes(size):
    cfg = DCGANConfig(image_size=size, channels=3, latent_dim=16, filters=8)
    g, d = DCGANGenerator(cfg), DCGANDiscriminator(cfg)
    img = g(torch.randn(4, 16))
    assert img.shape == (4, 3, size, size) and img.abs().max() <= 1
    assert d(img).shape == (4, 1)


def test_dcgan_spectral_norm_replaces_batchnorm_in_d():
    d = DCGANDiscriminator(DCGANConfig(image_size=32, filters=8, spectral_norm=True))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert all(hasattr(m, "parametrizations") for m in convs)


def test_resnet_generator_and_patchgan_shapes():
    g = ResnetGenerator(ResnetConfig(filters=8, n_blocks=2))
    x = torch.randn(2, 3, 32, 32)
    assert g(x).shape == x.shape
    d = PatchGANDiscriminator(PatchGANConfig(filters=8))
    assert d(torch.cat([x, x], 1)).shape == (2, 1, 2, 2)  # 70x70 patches on a 32x32 image
    bn = ResnetGenerator(ResnetConfig(filters=8, n_blocks=1, norm="batch"))
    assert any(isinstance(m, nn.BatchNorm2d) for m in bn.modules())


def test_bad_model_configs_name_the_problem():
    with pytest.raises(ConfigError, match="unknown model 'stylegan'"):
        build("stylegan", "generator", {})
    with pytest.raises(ConfigError, match="unknown key.*'ngf'"):
        build("resnet", "generator", {"ngf": 64})
    with pytest.raises(ConfigError, match="power of two"):
        build("dcgan", "generator", {"image_size": 24})
    with pytest.raises(ConfigError, match="filters"):
        build("resnet", "generator", {"filters": 0})
