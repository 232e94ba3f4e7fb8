"""GAN Slimming: fake quantization with a straight-through gradient, the proximal L1 step that
zeroes norm scales, and the cut into a physically smaller model."""

import math

import pytest
import torch
from torch import nn

import gansearch
from gansearch.compress.dependency import NORMS
from gansearch.compress.distill import KDConfig
from gansearch.compress.fake_quant import (
    attach_fake_quant,
    detach_fake_quant,
    fake_quantize,
    is_fake_quantized,
)
from gansearch.compress.slimming import SlimmingConfig, cut_by_scale, slim
from gansearch.data.sets import edges2photos
from gansearch.errors import ConfigError
from gansearch.families import build
from gansearch.families.dcgan import latent_batches
from gansearch.families.translation import paired_batches
from gansearch.train.adversarial import LoopConfig

X = torch.randn(1, 3, 32, 32)
Z = torch.randn(2, 100)


def _resnet(norm="batch"):
    torch.manual_seed(0)
    return build("resnet", "generator", {"filters": 8, "n_blocks": 2, "norm": norm})


def _cost(model, example):
    return gansearch.profile(model, example, latency_runs=0)


def test_fake_quantize_rounds_to_the_grid_and_passes_gradients_straight_through():
    x = torch.linspace(-1.5, 1.5, 101, requires_grad=True)
    q = fake_quantize(x, 3, 1.0)  # 3 levels each side of zero over [-1, 1]
    assert set(torch.round(q.detach() * 3).tolist()) == {-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0}
    assert float((q.detach() - x.detach().clamp(-1, 1)).abs().max()) <= 1 / 6 + 1e-6
    q.sum().backward()
    inside = x.detach().abs() <= 1
    assert torch.equal(x.grad, inside.float())  # identity inside the range, zero where clipped


def test_attach_and_detach_fake_quant():
    g = _resnet()
    before = {k for k in g.state_dict()}
    attach_fake_quant(g, 4)
    assert is_fake_quantized(g)
    g.train()
    g(X).mean().backward()
    convs = [m for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert all(float(c.act_range) > 0 for c in convs[1:])  # ranges observed in training
    assert not hasattr(convs[0], "act_range")  # the input image is not quantized
    assert convs[0].parametrizations.weight.original.grad is not None
    detach_fake_quant(g)
    assert not is_fake_quantized(g) and set(g.state_dict()) == before
    assert all(c.weight.unique().numel() <= 2**4 - 1 for c in convs)  # 7 levels each side of 0
    assert not any(m._forward_pre_hooks for m in g.modules())


def test_cut_removes_only_channels_whose_scales_are_all_small():
    g = _resnet().eval()
    seq = g.model
    with torch.no_grad():
        seq[2].weight[:3] = 0.0  # stem: 3 of 8 channels
        seq[13].weight[:] = 0.0  # first upsampling: every channel, so one must stay
        for block in (seq[10], seq[11]):
            block.conv_block[2].weight[:5] = 0.0  # inner: 5 of 32 in each block
        seq[8].weight[:2] = 0.0  # the trunk: zero on the downsampling norm only ...
    cut, removed = cut_by_scale(g, X, threshold=0.0)
    assert cut.model[1].out_channels == 5
    assert cut.model[12].out_channels == 1
    assert [b.conv_block[1].out_channels for b in (cut.model[10], cut.model[11])] == [27, 27]
    assert cut.model[7].out_channels == 32  # ... the blocks' norms still carry the trunk channels
    assert removed == 3 + 15 + 5 + 5
    assert _cost(cut, X).params < _cost(g, X).params
    assert g.model[1].out_channels == 8  # the input model is untouched


def test_slimming_zeroes_scales_and_cuts_a_smaller_dcgan():
    torch.manual_seed(0)
    teacher = build("dcgan", "generator", {"filters": 8})  # in train mode, as built
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    D = build("dcgan", "discriminator", {"filters": 8})
    config = SlimmingConfig(sparsity=8.0, lr_scale=0.1, bits=8)
    result = slim(teacher, D, latent_batches(100, 4), Z, config, LoopConfig(iterations=4))
    # the teacher ran in eval mode: its BatchNorm statistics did not move
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    zeros = sum(int((s == 0).sum()) for s in result.scales.values())
    assert zeros > 0 and result.channels_removed > 0
    assert result.cost.params < result.dense_cost.params and result.cost.macs < result.dense_cost.macs
    assert result.dense_cost.params == _cost(teacher, Z).params
    assert not is_fake_quantized(result.student)
    out = result.student(Z)
    assert out.shape == teacher(Z).shape and torch.isfinite(out).all()
    assert all(math.isfinite(v) for h in result.history for v in h.values())
    convs = [m for m in result.student.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert all(c.weight.unique().numel() <= 2**8 - 1 for c in convs)


def test_slimming_a_batchnorm_resnet_on_pairs():
    teacher = _resnet()
    D = build("resnet", "discriminator", {"filters": 8, "n_layers": 2})
    pairs = edges2photos(image_size=32, count=8)
    config = SlimmingConfig(sparsity=5.0, bits=None, kd=KDConfig(alpha_feature=0.0, pairs=()))
    result = slim(teacher, D, paired_batches(pairs, 4), X, config, LoopConfig(iterations=3))
    norms = [n for n, m in teacher.named_modules() if isinstance(m, NORMS)]
    assert set(result.scales) == set(norms)
    assert result.channels_removed > 0 and result.cost.macs < result.dense_cost.macs
    assert torch.isfinite(result.student(X)).all()
    assert set(result.history[0]) == {"step", "d", "g_adv", "transform", "feature", "rec"}


def test_slimming_without_scales_is_a_config_error():
    with pytest.raises(ConfigError, match="norm: batch"):
        slim(_resnet("instance"), build("resnet", "discriminator", {"filters": 8}), iter(()), X,
             SlimmingConfig(), LoopConfig(iterations=1))


@pytest.mark.parametrize("kwargs,match", [
    ({"sparsity": -1.0}, "sparsity"), ({"bits": 1}, "bits"), ({"lr_scale": 0.0}, "lr_scale"),
    ({"threshold": -0.1}, "threshold"), ({"momentum": 1.0}, "momentum"),
])
def test_bad_slimming_config(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        SlimmingConfig(**kwargs)
