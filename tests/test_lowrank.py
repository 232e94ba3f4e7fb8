import io

import pytest
import torch
from torch import nn

import gansearch
from gansearch.compress.lowrank import (
    LowRankConv,
    factorize,
    factorize_conv,
    factorized_params,
    full_rank,
)
from gansearch.compress.precision import quantize_int8
from gansearch.errors import ConfigError
from gansearch.families import build, example_input

CONFIGS = {
    "singan": {"sizes": [[8, 8], [11, 11], [14, 14]], "filters": 8, "double_every": 2},
    "dcgan": {"image_size": 16, "channels": 3, "latent_dim": 16, "filters": 8},
    "resnet": {"filters": 8, "n_blocks": 2},
}

LAYERS = {  # built inside each test, after the seed is set
    "conv": lambda: nn.Conv2d(6, 5, 3),
    "conv-strided": lambda: nn.Conv2d(6, 5, 3, stride=2, padding=1, bias=False),
    "conv-dilated-reflect": lambda: nn.Conv2d(6, 5, 3, padding=2, dilation=2, padding_mode="reflect"),
    "convT-output-padding": lambda: nn.ConvTranspose2d(6, 5, 3, stride=2, padding=1, output_padding=1),
    "convT-dcgan": lambda: nn.ConvTranspose2d(6, 5, 4, stride=2, padding=1, bias=False),
    "convT-dilated": lambda: nn.ConvTranspose2d(6, 5, 3, stride=3, padding=2, output_padding=1,
                                                dilation=2),
}


def generator(family: str) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    g = build(family, "generator", CONFIGS[family]).eval()
    return g, example_input(g, batch=2, size=32)


def composed_kernel(f: LowRankConv, layer: nn.Module) -> torch.Tensor:
    """The single kernel the two factors amount to, in the layer's own weight layout."""
    first, second = f[0].weight.detach(), f[1].weight.detach()
    if isinstance(layer, nn.ConvTranspose2d):  # (r, Cin, 1, 1) then (r, Cout, k, k)
        return torch.einsum("ri,rokl->iokl", first[:, :, 0, 0], second)
    return torch.einsum("or,rikl->oikl", second[:, :, 0, 0], first)  # (Cout, r, 1, 1), (r, Cin, k, k)


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_full_rank_factorization_reproduces_the_layer(make):
    layer = make()
    x = torch.randn(2, 6, 7, 7)
    f = factorize_conv(layer, full_rank(layer))
    assert isinstance(f, LowRankConv) and len(f) == 2
    assert (f[1].bias is None) == (layer.bias is None)
    torch.testing.assert_close(f(x), layer(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_truncation_error_is_the_discarded_singular_values(make):
    # Eckart-Young: the best rank-r kernel misses by the norm of the singular values it drops.
    layer, rank = make(), 2
    f = factorize_conv(layer, rank)
    w = layer.weight.detach()
    rows = w.shape[0]
    s = torch.linalg.svdvals(w.double().reshape(rows, -1))
    error = (composed_kernel(f, layer) - w).double().norm()
    assert error == pytest.approx(float(s[rank:].norm()), rel=1e-4)
    assert sum(p.numel() for p in f.parameters() if p.dim() > 1) == factorized_params(layer, rank)


def test_a_kernel_of_low_rank_is_reproduced_at_that_rank():
    layer = nn.ConvTranspose2d(8, 6, 4, stride=2, padding=1)
    with torch.no_grad():
        layer.weight.copy_((torch.randn(8, 2) @ torch.randn(2, 6 * 16)).reshape(8, 6, 4, 4))
    x = torch.randn(1, 8, 5, 5)
    torch.testing.assert_close(factorize_conv(layer, 2)(x), layer(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("family", list(CONFIGS))
def test_factorizing_cuts_measured_params_and_macs_and_keeps_shapes(family):
    g, x = generator(family)
    dense = gansearch.profile(g, x, latency_runs=0)
    shape = g(*x).shape
    factorize(g, 0.25)
    cost = gansearch.profile(g, x, latency_runs=0)
    assert any(isinstance(m, LowRankConv) for m in g.modules())
    assert g(*x).shape == shape
    assert cost.params < 0.6 * dense.params
    assert cost.macs < 0.6 * dense.macs
    assert cost.weight_bytes < 0.6 * dense.weight_bytes


@pytest.mark.parametrize("family", list(CONFIGS))
def test_ratio_one_changes_nothing(family):
    # At full rank two factors never hold fewer weights than the kernel, so no layer is replaced.
    g, x = generator(family)
    out = g(*x)
    before = {k: v.clone() for k, v in g.state_dict().items()}
    assert factorize(g, 1.0) is g
    assert not any(isinstance(m, LowRankConv) for m in g.modules())
    assert g.state_dict().keys() == before.keys()
    assert torch.equal(g(*x), out)


def test_only_layers_that_shrink_are_factorized():
    net = nn.Sequential(nn.Conv2d(64, 64, 3), nn.Conv2d(64, 64, 3, groups=4), nn.Conv2d(64, 64, 1))
    factorize(net, 0.5)
    assert isinstance(net[0], LowRankConv) and net[0][0].out_channels == 32  # 32 x (64 + 576) weights
    assert isinstance(net[1], nn.Conv2d)  # grouped
    assert isinstance(net[2], nn.Conv2d)  # 1x1 at half rank: 32 x (64 + 64) = 64 x 64, no saving
    factorize(net, 0.5)  # the factors themselves are left alone
    assert isinstance(net[0][0], nn.Conv2d) and net[0][0].out_channels == 32


def test_factorized_state_dict_reloads_with_weights_only_and_reproduces_outputs():
    g, x = generator("resnet")
    factorize(g, 0.5)
    out = g(*x)
    buffer = io.BytesIO()
    torch.save(g.state_dict(), buffer)
    buffer.seek(0)
    fresh = factorize(build("resnet", "generator", CONFIGS["resnet"]).eval(), 0.5)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(fresh(*x), out)


@pytest.mark.parametrize("ratio", [0, 0.0, -0.5, 1.5, True, "0.5"])
def test_rank_ratio_out_of_range_is_a_config_error(ratio):
    g, _ = generator("dcgan")
    with pytest.raises(ConfigError, match=r"rank_ratio must be in \(0, 1\]"):
        factorize(g, ratio)


def test_bad_layers_and_ranks_are_config_errors():
    with pytest.raises(ConfigError, match="grouped convolutions"):
        factorize_conv(nn.Conv2d(4, 4, 3, groups=2), 1)
    with pytest.raises(ConfigError, match=r"rank must be in 1\.\.5"):
        factorize_conv(nn.Conv2d(6, 5, 3), 6)
    g, _ = generator("dcgan")
    with pytest.raises(ConfigError, match="apply factorize before quantize_int8"):
        factorize(quantize_int8(g), 0.5)


class StandardizedConv2d(nn.Conv2d):
    """Weight standardization (Qiao et al. 2019): the kernel of each output channel is centred
    and scaled to unit variance on every forward."""

    def forward(self, x):
        w = self.weight
        w = (w - w.mean((1, 2, 3), keepdim=True)) / (w.std((1, 2, 3), keepdim=True) + 1e-5)
        return self._conv_forward(x, w, self.bias)


class NamedConv2d(nn.Conv2d):
    """A subclass that computes what Conv2d computes: rewritten like one."""


@pytest.mark.parametrize("technique", ["factorize", "quantize_int8", "share_weights"])
def test_a_layer_that_computes_its_own_way_is_refused_and_left_untouched(technique):
    from gansearch.compress.weight_sharing import share_weights

    apply = {"factorize": lambda m: factorize(m, 0.25), "quantize_int8": quantize_int8,
             "share_weights": lambda m: share_weights(m, 2)}[technique]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), StandardizedConv2d(8, 8, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ConfigError, match=f"{technique}: layer '2' is a StandardizedConv2d, a subclass of "
                                          f"Conv2d with its own forward"):
        apply(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert type(model[2]) is StandardizedConv2d

    plain = nn.Sequential(NamedConv2d(3, 8, 3), nn.ReLU(), NamedConv2d(8, 8, 3))
    apply(plain)  # no error: its output is a Conv2d's
