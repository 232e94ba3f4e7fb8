"""Structured filter pruning: channels physically removed, outputs exactly those of the
unpruned model with the removed channels cut off at every consumer."""

import copy

import pytest
import torch
from torch import nn

import gansearch
from gansearch.compress import prune_filters
from gansearch.compress.dependency import trace
from gansearch.compress.structured import choose_channels, geometric_median
from gansearch.errors import ConfigError
from gansearch.families import build, example_input
from gansearch.models import SinGANConfig
from gansearch.models.compressed import shrink_to


class UNet(nn.Module):
    """U-Net style skips: concatenations of encoder features, of the input, and a broadcast."""

    def __init__(self, norm=nn.BatchNorm2d) -> None:
        super().__init__()
        self.e0 = nn.Conv2d(3, 8, 3, 1, 1)
        self.n0 = norm(8)
        self.e1 = nn.Conv2d(8, 16, 4, 2, 1)
        self.n1 = norm(16)
        self.d1 = nn.ConvTranspose2d(16, 8, 4, 2, 1)
        self.gate = nn.Conv2d(8, 1, 1)
        self.out = nn.Conv2d(8 + 8 + 3, 3, 3, 1, 1)

    def forward(self, x):
        a = torch.relu_(self.n0(self.e0(x)))
        b = torch.relu(self.n1(self.e1(a)))
        c = torch.relu(self.d1(b))
        c = c * torch.sigmoid(self.gate(c))  # (B, 1, H, W) broadcast over channels
        return torch.tanh(self.out(torch.cat([c, x, a], 1)))


def _randomize_norms(model: nn.Module) -> None:
    # Non-trivial norm statistics and affine terms, so that a wrongly sliced entry shows.
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._NormBase):
            if m.affine:
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.normal_()
            if m.track_running_stats:
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None:
            m.bias.data.normal_()


def _resnet(norm):
    return build("resnet", "generator", {"filters": 8, "n_blocks": 3, "norm": norm})


def _tracked_instance_resnet():
    model = _resnet("instance")
    for m in list(model.modules()):
        for child_name, child in list(m.named_children()):
            if isinstance(child, nn.InstanceNorm2d):
                setattr(m, child_name, nn.InstanceNorm2d(child.num_features, affine=True,
                                                         track_running_stats=True))
    return model


MODELS = {
    "resnet-instance": lambda: _resnet("instance"),
    "resnet-batch": lambda: _resnet("batch"),
    "resnet-instance-affine-tracked": _tracked_instance_resnet,
    "dcgan": lambda: build("dcgan", "generator", {"image_size": 32, "latent_dim": 16, "filters": 8}),
    "singan": lambda: build("singan", "generator",
                            SinGANConfig(sizes=((12, 12), (16, 16), (21, 21)), filters=8, double_every=2)),
    "unet": UNet,
    "unet-instance": lambda: UNet(lambda c: nn.InstanceNorm2d(c, affine=True)),
}


def _inputs(name, model):
    if name.startswith("unet"):
        return (torch.randn(2, 3, 16, 16),)
    return tuple(t.clone() for t in example_input(model, 2, 16))


def _zero_removed_inputs(model, graph, removed):
    """The unpruned model with every removed channel cut off where it is read."""
    masked = copy.deepcopy(model)
    modules = dict(masked.named_modules())
    with torch.no_grad():
        for name, layer in graph.layers.items():
            gone = [c for c, i in enumerate(layer.in_ids) if graph.class_of[i] in removed]
            w = modules[name].weight
            if isinstance(modules[name], nn.ConvTranspose2d):
                w[gone] = 0
            else:
                w[:, gone] = 0
    return masked


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("criterion", ["l1", "fpgm"])
def test_pruned_model_equals_unpruned_with_removed_channels_cut(name, criterion):
    model = MODELS[name]().eval()
    _randomize_norms(model)
    x = _inputs(name, model)
    graph = trace(model, x)
    removed = choose_channels(model, graph, 0.5, criterion)
    pruned = prune_filters(model, x, 0.5, criterion)
    assert removed, "something must be prunable"
    with torch.no_grad():
        expected = _zero_removed_inputs(model, graph, removed)(*x)
        got = pruned(*x)
    assert got.shape == model(*x).shape
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)

    before = gansearch.profile(model, x, latency_runs=0)
    after = gansearch.profile(pruned, x, latency_runs=0)
    assert after.params < 0.5 * before.params
    assert after.macs < 0.5 * before.macs
    assert after.weight_bytes < 0.5 * before.weight_bytes
    assert model.training is False and len(graph.groups) > 0


def test_input_model_untouched_and_mode_kept():
    model = _resnet("batch").train()
    state = copy.deepcopy(model.state_dict())
    prune_filters(model, example_input(model, 2, 16), 0.5)
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k])


@pytest.mark.parametrize("amount", [0.5, 0.75])
def test_interior_conv_macs_fall_by_square_of_kept_share(amount):
    model = build("resnet", "generator", {"filters": 16, "n_blocks": 2})
    x = example_input(model, 1, 32)
    before = {layer.name: layer.macs for layer in gansearch.profile(model, x, latency_runs=0).layers}
    after = {layer.name: layer.macs
             for layer in gansearch.profile(prune_filters(model, x, amount), x, latency_runs=0).layers}
    interior = "model.10.conv_block.1"  # a residual block's first conv: both sides pruned
    assert after[interior] / before[interior] == pytest.approx((1 - amount) ** 2)
    first, last = "model.1", "model.19"  # input and output image channels are kept
    assert after[first] / before[first] == pytest.approx(1 - amount)
    assert after[last] / before[last] == pytest.approx(1 - amount)


def test_resnet_trunk_is_one_group_and_stays_consistent():
    model = _resnet("instance")
    x = example_input(model, 1, 16)
    graph = trace(model, x)
    trunk = [g for g in graph.groups if len(g.producers) > 1]
    assert len(trunk) == 1 and len(trunk[0].producers) == 1 + 3  # last downsampling + 3 blocks
    pruned = prune_filters(model, x, 0.25)
    widths = {m.out_channels for n, m in pruned.named_modules() if n.endswith("conv_block.5")}
    assert widths == {24}


def test_frozen_output_and_input_layers():
    model = _resnet("instance")
    pruned = prune_filters(model, example_input(model, 1, 16), 0.9)
    convs = [m for m in pruned.modules() if isinstance(m, nn.Conv2d)]
    assert convs[0].in_channels == 3 and convs[-1].out_channels == 3
    assert all(m.weight.shape[0] >= 1 for m in convs)


def test_norm_scale_criterion_prunes_smallest_gamma():
    model = build("dcgan", "generator", {"image_size": 16, "latent_dim": 8, "filters": 8})
    bn = model.net[1]
    with torch.no_grad():
        bn.weight.copy_(torch.arange(1, bn.num_features + 1, dtype=torch.float))
    pruned = prune_filters(model, example_input(model, 2), 0.5, criterion="norm_scale")
    kept = pruned.net[1].weight
    assert torch.equal(kept, torch.arange(bn.num_features // 2 + 1, bn.num_features + 1).float())


def test_norm_scale_needs_affine_norm():
    model = _resnet("instance")
    with pytest.raises(ConfigError, match="norm_scale"):
        prune_filters(model, example_input(model, 1, 16), 0.5, criterion="norm_scale")


def test_fpgm_removes_filters_nearest_the_geometric_median():
    conv = nn.Conv2d(2, 6, 1)
    head = nn.Sequential(conv, nn.ReLU(), nn.Conv2d(6, 2, 1))
    with torch.no_grad():
        # Far-out filters in four directions and two near the centre (the origin).
        conv.weight.copy_(torch.tensor([[5.0, 0], [-5, 0], [0.1, 0.1], [0, 5], [0, -5], [-0.1, 0]])
                          .view(6, 2, 1, 1))
    pruned = prune_filters(head, torch.randn(1, 2, 4, 4), 2 / 6, criterion="fpgm")
    kept = pruned[0].weight.view(-1, 2)
    assert kept.abs().max(dim=1).values.min() == 5.0


def test_geometric_median_matches_brute_force():
    pts = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [4.0, 4.0]])
    med = geometric_median(pts)
    grid = torch.stack(torch.meshgrid(torch.linspace(-1, 2, 301), torch.linspace(-1, 2, 301),
                                      indexing="ij"), -1).view(-1, 2)
    cost = torch.cdist(grid, pts).sum(1)
    best = grid[cost.argmin()]
    assert torch.cdist(med[None], pts).sum() <= cost.min() + 1e-4
    assert (med - best).norm() < 0.02


@pytest.mark.parametrize("amount", [-0.1, 1.0])
def test_amount_out_of_range(amount):
    model = _resnet("instance")
    with pytest.raises(ConfigError, match="amount"):
        prune_filters(model, example_input(model, 1, 16), amount)


def test_unknown_criterion():
    model = _resnet("instance")
    with pytest.raises(ConfigError, match="criterion"):
        prune_filters(model, example_input(model, 1, 16), 0.5, criterion="random")


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
def test_pruned_state_dict_reloads_into_built_model_torchscript_and_export(tmp_path):
    model = _resnet("batch").eval()
    _randomize_norms(model)
    x = example_input(model, 2, 16)
    pruned = prune_filters(model, x, 0.5).eval()
    torch.save(pruned.state_dict(), tmp_path / "g.pt")
    state = torch.load(tmp_path / "g.pt", weights_only=True)
    rebuilt = shrink_to(_resnet("batch"), state)
    rebuilt.load_state_dict(state)
    rebuilt.eval()
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(*x), pruned(*x))
        scripted = torch.jit.trace(pruned, x)
    scripted.save(str(tmp_path / "g.ts"))
    loaded = torch.jit.load(str(tmp_path / "g.ts"))
    with torch.no_grad():
        torch.testing.assert_close(loaded(*x), pruned(*x))
    exported = torch.export.export(pruned, x)
    torch.export.save(exported, tmp_path / "g.pt2")
    with torch.no_grad():
        torch.testing.assert_close(torch.export.load(tmp_path / "g.pt2").module()(*x), pruned(*x))
