"""Unstructured magnitude pruning: measured sparsity, masks that survive training."""

import pytest
import torch
from torch import nn

import gansearch
from gansearch.compress import make_permanent, prune_unstructured
from gansearch.compress.unstructured import prunable_layers, sparsity_schedule
from gansearch.errors import ConfigError
from gansearch.families import build, example_input
from gansearch.models import SinGANConfig


def _resnet():
    return build("resnet", "generator", {"filters": 8, "n_blocks": 2})


def _weight_sparsity(model):
    ws = [m.weight for _, m in prunable_layers(model)]
    return sum(int((w == 0).sum()) for w in ws) / sum(w.numel() for w in ws)


@pytest.mark.parametrize("sparsity", [0.5, 0.9])
def test_global_sparsity_is_measured_by_the_profiler(sparsity):
    model = _resnet()
    x = example_input(model, 1, 16)
    before = gansearch.profile(model, x, latency_runs=0)
    prune_unstructured(model, sparsity)
    after = gansearch.profile(model, x, latency_runs=0)
    assert _weight_sparsity(model) == pytest.approx(sparsity, abs=1e-4)
    assert after.params == before.params  # masks do not change shapes
    pruned = before.nonzero_params - after.nonzero_params
    assert pruned == round(sparsity * sum(m.weight.numel() for _, m in prunable_layers(model)))
    assert after.effective_macs < (1 - sparsity + 0.1) * before.macs
    assert after.macs == before.macs
    assert after.weight_bytes < before.weight_bytes * (1 - sparsity + 0.1)


def test_global_scope_prunes_smallest_weights_of_the_whole_model():
    model = _resnet()
    big = model.model[1]
    with torch.no_grad():
        big.weight.mul_(10)  # one layer of large weights: global pruning spares it
    original = {n: m.weight.detach().abs().clone() for n, m in prunable_layers(model)}
    prune_unstructured(model, 0.7)
    pruned = torch.cat([original[n][m.weight_mask == 0] for n, m in prunable_layers(model)])
    kept = torch.cat([original[n][m.weight_mask == 1] for n, m in prunable_layers(model)])
    assert pruned.max() <= kept.min()
    assert float((big.weight == 0).float().mean()) < 0.1 < 0.6 < _weight_sparsity(model)


def test_layer_scope_prunes_every_layer_to_the_target():
    model = build("singan", "generator", SinGANConfig(sizes=((12, 12), (16, 16)), filters=8))
    prune_unstructured(model, 0.5, scope="layer")
    for _, m in prunable_layers(model):
        assert float((m.weight == 0).float().mean()) == pytest.approx(0.5, abs=1 / m.weight.numel())


def test_masks_survive_50_optimizer_steps_and_become_permanent():
    model = _resnet()
    x = example_input(model, 2, 16)
    prune_unstructured(model, 0.6)
    masks = {n: m.weight_mask.clone() for n, m in prunable_layers(model)}
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=0.1)
    for _ in range(50):
        opt.zero_grad()
        model(*x).square().mean().backward()
        opt.step()
    model(*x)
    for n, m in prunable_layers(model):
        assert torch.all(m.weight[masks[n] == 0] == 0)
    nonzero = gansearch.profile(model, x, latency_runs=0).nonzero_params
    with torch.no_grad():
        out = model(*x)
    make_permanent(model)
    for n, m in prunable_layers(model):
        assert isinstance(m.weight, nn.Parameter) and not hasattr(m, "weight_mask")
        assert torch.all(m.weight[masks[n] == 0] == 0)
    assert gansearch.profile(model, x, latency_runs=0).nonzero_params == nonzero
    with torch.no_grad():
        torch.testing.assert_close(model(*x), out)


def test_iterative_pruning_keeps_what_was_pruned():
    model = _resnet()
    prune_unstructured(model, 0.3)
    first = {n: m.weight_mask.clone() for n, m in prunable_layers(model)}
    with torch.no_grad():  # weights change between rounds, as in fine-tuning
        for _, m in prunable_layers(model):
            m.weight_orig.add_(torch.randn_like(m.weight_orig) * 0.05)
    prune_unstructured(model, 0.6)
    for n, m in prunable_layers(model):
        assert torch.all(m.weight_mask[first[n] == 0] == 0)
    assert _weight_sparsity(model) >= 0.6 - 1e-4


def test_sparsity_schedule_is_cubic_and_reaches_target():
    s = sparsity_schedule(0.9, 4)
    assert s[-1] == pytest.approx(0.9) and s == sorted(s)
    assert s[0] - 0 > s[-1] - s[-2]  # fast first, slow near the target


def test_l0_prunes_zeros_first_then_at_random():
    layer = nn.Conv2d(4, 4, 3)
    with torch.no_grad():
        layer.weight.view(-1)[:36].zero_()  # a quarter already zero
    prune_unstructured(layer, 0.25, norm="l0")
    assert torch.equal(layer.weight_mask.view(-1)[:36], torch.zeros(36))
    a, b = nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 3)
    b.load_state_dict(a.state_dict())
    prune_unstructured(a, 0.5, norm="l0", seed=1)
    prune_unstructured(b, 0.5, norm="l0", seed=1)
    assert torch.equal(a.weight_mask, b.weight_mask)


@pytest.mark.parametrize("kwargs,match", [
    ({"sparsity": 1.0}, "sparsity"), ({"sparsity": -0.1}, "sparsity"),
    ({"sparsity": 0.5, "scope": "block"}, "scope"), ({"sparsity": 0.5, "norm": "l2"}, "norm"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        prune_unstructured(_resnet(), **kwargs)


def test_dcgan_generator_with_structured_pruning_after_masks():
    from gansearch.compress import prune_filters

    model = build("dcgan", "generator", {"image_size": 16, "latent_dim": 8, "filters": 8})
    x = example_input(model, 2)
    prune_unstructured(model, 0.5)
    pruned = prune_filters(model, x, 0.5)
    assert pruned(*x).shape == model(*x).shape
    for _, m in prunable_layers(pruned):
        assert m.weight_mask.shape == m.weight.shape
    assert gansearch.profile(pruned, x, latency_runs=0).sparsity > 0.3
