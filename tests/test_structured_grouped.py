"""Structured pruning through depthwise and grouped convolutions, exactly, and the report of
what was pruned and what was left alone."""

import copy
import warnings

import pytest
import torch
from torch import nn

import gansearch
from benchmarks.layouts import MobileResnetGenerator
from gansearch.compress import prune_filters_reported
from gansearch.compress.dependency import trace
from gansearch.compress.structured import choose_channels
from gansearch.errors import GansearchWarning
from gansearch.models.compressed import shrink_to
from gansearch.search.recipe import PruneFilters


class GroupedNet(nn.Module):
    """A grouped conv (2 groups of 4 inputs), a depthwise conv with multiplier 2, and a
    grouped transposed conv, between ordinary ones."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 1, 1)
        self.bn0 = nn.BatchNorm2d(8)
        self.grouped = nn.Conv2d(8, 12, 3, 1, 1, groups=2)
        self.bn1 = nn.BatchNorm2d(12)
        self.depthwise = nn.Conv2d(12, 24, 3, 2, 1, groups=12)
        self.up = nn.ConvTranspose2d(24, 8, 4, 2, 1, groups=2)
        self.head = nn.Conv2d(8, 3, 1)

    def forward(self, x):
        a = torch.relu(self.bn0(self.stem(x)))
        b = torch.relu(self.bn1(self.grouped(a)))
        return torch.tanh(self.head(torch.relu(self.up(torch.relu(self.depthwise(b))))))


def _randomize(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_()
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def _cut_removed_inputs(model, graph, removed):
    """The unpruned model with every removed channel cut off where it is read (a depthwise
    conv's removed inputs are its own removed outputs, cut where those are read)."""
    masked = copy.deepcopy(model)
    modules = dict(masked.named_modules())
    with torch.no_grad():
        for name, layer in graph.layers.items():
            m = modules[name]
            g = getattr(m, "groups", 1)
            if 1 < g == m.in_channels:
                continue
            gone = [c for c, i in enumerate(layer.in_ids) if graph.class_of[i] in removed]
            if isinstance(m, nn.ConvTranspose2d):
                m.weight[gone] = 0  # (in, out / groups, kh, kw): every input is a row
            else:
                per_in, per_out = m.weight.shape[1], m.weight.shape[0] // g
                for i in gone:
                    grp = i // per_in
                    m.weight[grp * per_out:(grp + 1) * per_out, i - grp * per_in] = 0
    return masked


def _check_exact(model, x, amount=0.5, criterion="l1"):
    graph = trace(model, x)
    removed = choose_channels(model, graph, amount, criterion)
    pruned, report = prune_filters_reported(model, x, amount, criterion)
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), _cut_removed_inputs(model, graph, removed)(x),
                                   atol=1e-5, rtol=1e-4)
    return pruned, report


@pytest.mark.parametrize("criterion", ["l1", "fpgm"])
def test_separable_resnet_prunes_nine_tenths_of_its_layers_exactly(criterion):
    model = MobileResnetGenerator().eval()
    x = torch.randn(2, 3, 32, 32)
    pruned, report = _check_exact(model, x, 0.5, criterion)
    layers = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert len(layers) == 42
    assert len(report.shrunk) >= 0.9 * len(layers)
    assert report.achieved == pytest.approx(0.5, abs=0.03) and report.shortfall() is None
    depthwise = [m for m in pruned.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert depthwise and all(m.groups == m.in_channels == m.out_channels == 16 for m in depthwise)
    before = gansearch.profile(model, x, latency_runs=0)
    after = gansearch.profile(pruned, x, latency_runs=0)
    assert after.params < 0.35 * before.params and after.macs < 0.35 * before.macs
    assert "model.26" in report.left_alone and "output" in report.left_alone["model.26"]


def test_grouped_and_depthwise_multiplier_convs_prune_evenly_and_reload(tmp_path):
    model = _randomize(GroupedNet())
    x = torch.randn(2, 3, 8, 8)
    pruned, report = _check_exact(model, x)
    assert pruned.grouped.groups == 2 and pruned.grouped.weight.shape == (6, 2, 3, 3)
    assert pruned.depthwise.groups == 6 and pruned.depthwise.weight.shape == (12, 1, 3, 3)
    assert pruned.up.groups == 2 and pruned.up.weight.shape == (12, 2, 4, 4)
    assert set(report.shrunk) == {"stem", "grouped", "depthwise", "up", "head"}
    torch.save(pruned.state_dict(), tmp_path / "g.pt")
    state = torch.load(tmp_path / "g.pt", weights_only=True)
    rebuilt = shrink_to(GroupedNet(), state)
    rebuilt.load_state_dict(state)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(x), pruned(x))


class Uneven(nn.Module):
    """Two producers of 3 and 5 channels concatenated into a 2-group conv: its first group reads
    all of ``a`` and one channel of ``b``, so no pruning of ``a`` and ``b`` keeps it even."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 3, 1), nn.Conv2d(3, 5, 1)
        self.grouped = nn.Conv2d(8, 4, 1, groups=2)
        self.head = nn.Conv2d(4, 3, 1)

    def forward(self, x):
        return self.head(torch.relu(self.grouped(torch.cat([self.a(x), self.b(x)], 1))))


def test_grouped_conv_that_cannot_shrink_evenly_is_left_alone_with_its_reason():
    model = Uneven().eval()
    x = torch.randn(1, 3, 4, 4)
    pruned, report = _check_exact(model, x)
    assert pruned.a.out_channels == 3 and pruned.b.out_channels == 5
    assert pruned.grouped.out_channels == 2  # its own outputs prune evenly: one per group
    assert any("grouped has 2 groups" in why for why in report.left_alone.values())
    assert "grouped has 2 groups" in report.shortfall()


class Mixer(nn.Module):
    """A channel mean mixes the middle features: they cannot be pruned."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 16, 1), nn.Conv2d(16, 3, 1)

    def forward(self, x):
        h = self.a(x)
        return self.b(h - h.mean(1, keepdim=True))


def test_report_names_what_was_left_alone_and_the_recipe_step_warns():
    model, x = Mixer(), torch.randn(1, 3, 4, 4)
    _, report = prune_filters_reported(model, x, 0.5)
    assert report.achieved == 0 and report.shrunk == ()
    assert report.left_alone["a"].startswith("mean")
    assert "removed 0% of the filters, not the 50% asked" in report.shortfall()
    assert "a: mean" in str(report)
    with pytest.warns(GansearchWarning, match="left alone: a: mean"):
        PruneFilters(amount=0.5).restructure(model, x, None, 0)
    # Rounding in small layers and the model's own image channels are no surprise: no warning.
    tiny = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU(), nn.Conv2d(2, 2, 1), nn.ReLU(), nn.Conv2d(2, 3, 1))
    _, report = prune_filters_reported(tiny, torch.randn(1, 3, 4, 4), 0.68)  # one of two goes
    assert report.achieved == 0.5 and report.shortfall() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mobile = MobileResnetGenerator(n_blocks=3)
        PruneFilters(amount=0.5).restructure(mobile, torch.randn(1, 3, 16, 16), None, 0)
