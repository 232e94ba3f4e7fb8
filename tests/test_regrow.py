"""Re-GAN prune-and-regrow during training, checked inside the real DCGAN and SinGAN loops."""

import math

import pytest
import torch
from torch.nn.utils import prune

from gansearch.compress.regrow import ReganCallback, ReganConfig, phase_at, singan_probe
from gansearch.compress.unstructured import prunable_layers
from gansearch.data import digits, faces, take_fraction
from gansearch.errors import ConfigError
from gansearch.families.dcgan import DCGAN, DCGANTrainConfig
from gansearch.families.singan import SinGANTrainConfig, build_singan, train_singan
from gansearch.models import DCGANConfig, DCGANDiscriminator, DCGANGenerator

LR = 2e-4
# warm-up 4, g = 5, 22 iterations: sparse after iterations 4..8 and 14..18, grown after 9..13, 19..22
SCHEDULE = {"warmup": 4, "update_interval": 5}
SPARSE_STEPS = {4, 5, 6, 7, 8, 14, 15, 16, 17, 18}
GROWN_STEPS = {9, 10, 11, 12, 13, 19, 20, 21, 22}


class Spy:
    """Calls ``see(state)`` after every iteration, placed after the Re-GAN callback."""

    def __init__(self, see):
        self.see = see

    def on_step_end(self, state):
        self.see(state)


def _train(callbacks, *, data=None, iterations=22, seed=0):
    torch.manual_seed(seed)
    cfg = DCGANConfig(image_size=8, filters=4, latent_dim=4)
    g, d = DCGANGenerator(cfg), DCGANDiscriminator(cfg)
    data = digits(8) if data is None else data
    DCGAN().train(g, d, data, DCGANTrainConfig(iterations=iterations, batch_size=8, lr_g=LR, lr_d=LR),
                  callbacks=callbacks)
    return g, d


def _masked(net):
    return [prune.is_pruned(m) for _, m in prunable_layers(net)]


def _effective(layer):
    return layer.weight_orig * layer.weight_mask if hasattr(layer, "weight_mask") else layer.weight


def test_phase_at_alternates_every_g_after_warmup():
    kinds = [phase_at(s, warmup=3, update_interval=2) for s in range(10)]
    assert kinds == ["warmup"] * 3 + ["sparse", "sparse", "grown", "grown", "sparse", "sparse", "grown"]
    assert phase_at(0, 0, 1) == "sparse" and phase_at(1, 0, 1) == "grown"


def test_masks_and_learning_rate_follow_the_update_interval():
    seen = {}
    cb = ReganCallback(ReganConfig(sparsity=0.5, **SCHEDULE), stability_every=0)
    g, _ = _train([cb, Spy(lambda s: seen.setdefault(s.step, (
        _masked(s.generator), s.opt_g.param_groups[0]["lr"], s.opt_d.param_groups[0]["lr"])))])
    pruned_after = {step for step, (masked, _, _) in seen.items() if all(masked)}
    assert pruned_after == SPARSE_STEPS
    assert all(not any(masked) for step, (masked, _, _) in seen.items() if step not in SPARSE_STEPS)
    grown_lr = {step for step, (_, lr_g, _) in seen.items() if lr_g == pytest.approx(LR * 0.1)}
    assert grown_lr == GROWN_STEPS
    assert all(seen[step][1] == LR for step in seen.keys() - GROWN_STEPS)  # restored exactly
    assert all(lr_d == LR for _, _, lr_d in seen.values())  # only the pruned network's lr drops
    assert [p.kind for p in cb.result.phases] == ["warmup", "sparse", "grown", "sparse", "grown"]
    assert [(p.start, p.end) for p in cb.result.phases] == [(0, 4), (4, 9), (9, 14), (14, 19), (19, 22)]
    assert not any(_masked(g)) and cb.phase is None


def test_pruned_weights_stay_zero_through_a_sparse_phase_at_rho_per_layer():
    rho = 0.3
    zeros = {}  # step -> zero pattern of every layer's weight as the forward pass uses it

    def see(state):
        if state.step in SPARSE_STEPS:
            state.generator.eval()
            with torch.no_grad():
                state.generator(torch.randn(2, 4))  # recomputes the masked weights
            state.generator.train()
            zeros[state.step] = [(m.weight == 0).clone() for _, m in prunable_layers(state.generator)]

    _train([ReganCallback(ReganConfig(sparsity=rho, **SCHEDULE), stability_every=0), Spy(see)])
    for first, phase in ((4, range(5, 9)), (14, range(15, 19))):
        for step in phase:  # several optimizer steps later, the same weights are zero
            assert all(torch.equal(a, b) for a, b in zip(zeros[first], zeros[step], strict=True))
        for pattern in zeros[first]:
            assert float(pattern.float().mean()) == pytest.approx(rho, abs=0.5 / pattern.numel())


def test_regrown_weights_start_at_zero_with_no_momentum_and_then_train():
    before, at, after = {}, {}, {}

    def see(state):
        layers = [m for _, m in prunable_layers(state.generator)]
        if state.step == 8:  # last sparse iteration: remember what is pruned
            before.update({i: (m.weight_orig, m.weight_mask == 0) for i, m in enumerate(layers)})
        elif state.step in (9, 10):  # 9: just regrown, 10: one step later
            snap = at if state.step == 9 else after
            for i, m in enumerate(layers):
                adam = state.opt_g.state[m.weight]
                snap[i] = (m.weight is before[i][0], m.weight.detach().clone(),
                           adam["exp_avg"].clone(), adam["exp_avg_sq"].clone())

    _train([ReganCallback(ReganConfig(sparsity=0.5, **SCHEDULE), stability_every=0), Spy(see)])
    for i, (_, regrown) in before.items():
        same_param, weight, exp_avg, exp_avg_sq = at[i]
        assert same_param  # the optimizer still holds the parameter it trains
        assert regrown.any() and torch.all(weight[regrown] == 0)
        assert torch.all(exp_avg[regrown] == 0)
        assert torch.all(exp_avg_sq[regrown] > 0)  # step scale kept: see regrow._regrow
        assert torch.count_nonzero(after[i][1][regrown]) > 0.9 * int(regrown.sum())


@pytest.mark.parametrize("network", ["G", "D", "both"])
def test_only_the_chosen_networks_are_pruned_and_slowed(network):
    seen = {}
    cb = ReganCallback(ReganConfig(sparsity=0.5, network=network, **SCHEDULE), stability_every=0)
    _train([cb, Spy(lambda s: seen.setdefault(s.step, (
        any(_masked(s.generator)), any(_masked(s.discriminator)),
        s.opt_g.param_groups[0]["lr"], s.opt_d.param_groups[0]["lr"])))], iterations=10)
    chosen = {"G": (True, False), "D": (False, True), "both": (True, True)}[network]
    assert seen[5][:2] == chosen  # sparse phase
    assert seen[9][:2] == (False, False)  # grown phase
    assert seen[9][2:] == tuple(pytest.approx(LR * 0.1) if c else LR for c in chosen)
    assert set(cb.result.dense) == set(cb.result.sparse) == {"G", "D"} & set(network.replace("both", "GD"))


def test_dense_and_sparse_models_come_out_at_the_end():
    rho = 0.4
    cb = ReganCallback(ReganConfig(sparsity=rho, **SCHEDULE), stability_every=0)
    g, _ = _train([cb])
    dense, sparse = cb.result.dense["G"], cb.result.sparse["G"]
    assert dense is not g and sparse is not g
    assert all(not hasattr(m, "weight_mask") for m in [*dense.modules(), *sparse.modules()])
    for (_, live), (_, d), (_, s) in zip(prunable_layers(g), prunable_layers(dense), prunable_layers(sparse),
                                         strict=True):
        assert torch.equal(live.weight, d.weight)
        kept = s.weight != 0
        assert float((~kept).float().mean()) == pytest.approx(rho, abs=0.5 / kept.numel())
        assert torch.equal(s.weight[kept], d.weight[kept])
        assert d.weight[~kept].abs().max() <= d.weight[kept].abs().min()  # smallest magnitudes go
    z = torch.randn(3, 4)
    assert sparse.eval()(z).shape == dense.eval()(z).shape == (3, 1, 8, 8)


def test_a_run_ending_where_a_sparse_phase_begins_keeps_its_trained_weights():
    trained = {}  # placed before the callback: the weights after the last iteration, unpruned
    cb = ReganCallback(ReganConfig(sparsity=0.5, **SCHEDULE), stability_every=0)
    _train([Spy(lambda s: trained.update({s.step: [m.weight.detach().clone()
                                                   for _, m in prunable_layers(s.generator)]})), cb],
           iterations=24)  # 24 = warm-up 4 + 2 x (5 sparse + 5 grown): the next phase would prune
    assert [p.kind for p in cb.result.phases][-1] == "grown"
    for before, (_, after) in zip(trained[24], prunable_layers(cb.result.dense["G"]), strict=True):
        assert torch.equal(before, after.weight) and torch.count_nonzero(after.weight) == before.numel()


def test_training_flops_are_measured_lower_than_dense_only_when_sparse_phases_ran():
    rho = 0.5
    cb = ReganCallback(ReganConfig(sparsity=rho, network="both", **SCHEDULE), stability_every=0)
    _train([cb])
    result = cb.result
    assert result.training_flops < result.dense_training_flops
    for phase in result.phases:
        for name in ("G", "D"):
            density = 1 - rho if phase.kind == "sparse" else 1.0
            assert phase.density[name] == pytest.approx(density, abs=0.01)
            assert phase.effective_macs[name] == pytest.approx(density * phase.dense_macs[name], rel=0.02)
    # 10 of 22 iterations at half the MACs
    assert result.flops_ratio == pytest.approx(1 - 10 / 22 * rho, rel=0.02)

    never = ReganCallback(ReganConfig(sparsity=rho, warmup=100), stability_every=0)
    _train([never], iterations=6)
    assert [p.kind for p in never.result.phases] == ["warmup"]
    assert never.result.training_flops == never.result.dense_training_flops > 0


@pytest.mark.parametrize("data", ["digits", "faces at 10%"])
def test_stability_is_logged_every_n_iterations(data):
    data = digits(8) if data == "digits" else take_fraction(faces(8), 0.1)
    cb = ReganCallback(ReganConfig(sparsity=0.5, **SCHEDULE), stability_every=4)
    _train([cb], data=data, iterations=22)
    assert [e["step"] for e in cb.stability] == [4, 8, 12, 16, 20]
    assert cb.result.stability == cb.stability
    assert all(math.isfinite(e["mse"]) and e["mse"] > 0 for e in cb.stability)  # the samples change


def test_singan_scales_are_separate_runs_with_composed_learning_rates():
    torch.manual_seed(0)
    params = SinGANTrainConfig(iterations=10, g_steps=1, d_steps=1, min_size=12, lr_decay_at=0.5)
    image = torch.rand(1, 3, 20, 20) * 2 - 1
    G, D = build_singan(image, params, filters=4, num_blocks=3)
    assert G.config.num_scales >= 2
    # warm-up 2, g = 2: sparse after iterations 2, 3, 6, 7, 10; grown after 4, 5, 8, 9
    cb = ReganCallback(ReganConfig(sparsity=0.5, update_interval=2, warmup=2), probe=singan_probe(G),
                       stability_every=3)
    seen = []
    train_singan(image, G, D, params, callbacks=[cb, Spy(lambda s: seen.append(
        (s.scale, s.step, all(_masked(s.generator)), s.opt_g.param_groups[0]["lr"])))])

    assert [r.scale for r in cb.results] == list(range(G.config.num_scales))
    lr = params.lr_g
    # the loop's own x0.1 at iteration 5 lands in a grown phase and outlives it
    expected_lr = [lr, lr, lr, lr / 10, lr / 10, lr / 10, lr / 10, lr / 100, lr / 100, lr / 10]
    for k, result in enumerate(cb.results):
        steps = [(step, masked, rate) for scale, step, masked, rate in seen if scale == k]
        assert [s for s, masked, _ in steps if masked] == [2, 3, 6, 7, 10]  # 10: lifted at the end
        assert [rate for _, _, rate in steps] == pytest.approx(expected_lr)
        assert [(p.kind, p.start, p.end) for p in result.phases] == [
            ("warmup", 0, 2), ("sparse", 2, 4), ("grown", 4, 6), ("sparse", 6, 8), ("grown", 8, 10)]
        assert [e["step"] for e in result.stability] == [3, 6, 9]
        assert result.training_flops < result.dense_training_flops
        blank = torch.zeros(1, 3, *G.config.sizes[k])
        assert result.sparse["G"](blank, blank).shape[-2:] == G.config.sizes[k]
    assert not any(any(_masked(scale)) for scale in G.scales)
    assert G.sample(1).shape[-2:] == G.config.sizes[-1]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sparsity": 0.0}, "regan.sparsity must satisfy 0 < sparsity < 1"),
    ({"sparsity": 1.0}, "regan.sparsity"),
    ({"sparsity": 1.5}, "regan.sparsity"),
    ({"update_interval": 0}, "regan.update_interval must satisfy 1 <= update_interval"),
    ({"network": "generator"}, "regan.network must be one of 'G', 'D', 'both'"),
    ({"warmup": -1}, "regan.warmup"),
    ({"grow_lr_factor": 0.0}, "regan.grow_lr_factor"),
])
def test_bad_settings_are_rejected_with_the_name_of_the_knob(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ReganConfig(**kwargs)
