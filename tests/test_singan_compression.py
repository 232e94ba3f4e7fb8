"""SinGAN compression as the seed paper runs it: per-scale train-prune-fine-tune, pruning from
scratch, structured pruning with half precision; compressed generators save and reload."""

import pytest
import torch

import gansearch
from gansearch import families
from gansearch.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from gansearch.compress.pipeline import SinGANPruneConfig, train_prune_finetune
from gansearch.compress.unstructured import prunable_layers
from gansearch.data.images import load_image
from gansearch.errors import ConfigError
from gansearch.families import example_input
from gansearch.families.singan import SinGANTrainConfig, build_singan, train_singan
from gansearch.models import SinGANConfig, SinGANGenerator

TRAIN = SinGANTrainConfig(iterations=5, min_size=16)


@pytest.fixture(scope="module")
def image():
    return load_image("astronaut", max_size=24)[None]


def _pyramid(image, filters=8):
    torch.manual_seed(0)
    return build_singan(image, TRAIN, filters=filters)


def _profile(generator):
    return gansearch.profile(generator, example_input(generator), latency_runs=0)


def test_structured_pipeline_prunes_every_scale(image):
    G, D = _pyramid(image)
    before = _profile(G)
    d_params = sum(p.numel() for p in D.parameters())
    G, history = train_prune_finetune(image, G, D, TRAIN, SinGANPruneConfig(warmup=2, finetune=3))
    after = _profile(G)
    assert len(history) == G.config.num_scales * 5
    assert [h["step"] for h in history[:5]] == [1, 2, 3, 4, 5]
    for scale in G.scales:
        assert scale.body[0][0].out_channels == 4  # 8 filters, half removed
    assert after.params < 0.4 * before.params and after.macs < 0.4 * before.macs
    assert sum(p.numel() for p in D.parameters()) == d_params  # discriminators untouched
    sample = G.sample(2)
    assert sample.shape == (2, 3, *G.config.sizes[-1]) and torch.isfinite(sample).all()


def test_unstructured_pipeline_leaves_sparse_permanent_weights(image):
    G, D = _pyramid(image)
    prune = SinGANPruneConfig("unstructured", sparsity=0.9, warmup=2, finetune=3)
    G, _ = train_prune_finetune(image, G, D, TRAIN, prune)
    for _, m in prunable_layers(G):
        assert not hasattr(m, "weight_mask")
    for scale in G.scales:
        weights = torch.cat([m.weight.flatten() for _, m in prunable_layers(scale)])
        assert float((weights == 0).float().mean()) == pytest.approx(0.9, abs=0.01)
    cost = _profile(G)
    assert cost.sparsity > 0.8 and cost.effective_macs < 0.15 * cost.macs


def test_structured_pruning_with_half_precision_halves_weight_bytes_and_reloads(image, tmp_path):
    results = {}
    for dtype in ("float32", "float16"):
        G, D = _pyramid(image)
        prune = SinGANPruneConfig(warmup=1, finetune=2, dtype=dtype)
        results[dtype], _ = train_prune_finetune(image, G, D, TRAIN, prune)
    half = results["float16"]
    assert all(p.dtype == torch.float16 for p in half.parameters())
    ratio = _profile(half).weight_bytes / _profile(results["float32"]).weight_bytes
    assert ratio == pytest.approx(0.5, abs=0.01)

    path = save_checkpoint(tmp_path / "student.pt", Checkpoint("singan", half, meta={"method": 4}))
    loaded = load_checkpoint(path).generator
    noise = half.noise(2, generator=torch.Generator().manual_seed(3))
    assert noise[0].dtype == torch.float16
    with torch.no_grad():
        torch.testing.assert_close(loaded(*noise), half(*noise))
    assert _profile(loaded).weight_bytes == _profile(half).weight_bytes


def test_split_defaults_follow_the_paper_and_scale_down():
    assert SinGANPruneConfig("structured").split() == (100, 1900)
    assert SinGANPruneConfig("unstructured").split() == (1000, 1000)
    assert SinGANPruneConfig("unstructured", scale_iterations=0.01).split() == (10, 10)
    assert SinGANPruneConfig(warmup=0, finetune=7).split() == (0, 7)


@pytest.mark.parametrize("kwargs,match", [
    ({"method": "random"}, "method"), ({"amount": 1.0}, "amount"), ({"criterion": "l3"}, "criterion"),
    ({"dtype": "int4"}, "dtype"), ({"warmup": -1}, "warmup"), ({"scale_iterations": 0}, "scale_iterations"),
])
def test_bad_prune_config(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        SinGANPruneConfig(**kwargs)


@pytest.mark.parametrize("filters", [4, 12, 16])
def test_pruning_from_scratch_keeps_the_doubling_rule(filters):
    teacher = SinGANGenerator(SinGANConfig(sizes=((16, 16),) * 9, filters=32))
    teacher.noise_amps.fill_(0.3)
    small = families.get("singan").scratch(teacher, filters)
    assert [small.config.filters_at(k) for k in (0, 3, 4, 8)] == [filters, filters, 2 * filters, 4 * filters]
    assert torch.equal(small.noise_amps, teacher.noise_amps)  # the image's, kept
    x = tuple(torch.randn(1, 3, 16, 16) for _ in range(9))
    full = gansearch.profile(teacher, x, latency_runs=0)
    cut = gansearch.profile(small, x, latency_runs=0)
    share = filters / 32  # conv weights scale with the square of the width
    assert share**2 < cut.params / full.params < share + 0.05


def test_pruning_from_scratch_trains_from_random_weights(image):
    torch.manual_seed(0)
    G, D = build_singan(image, TRAIN, filters=4)
    history = train_singan(image, G, D, SinGANTrainConfig(iterations=2, min_size=16))
    assert G.scales[0].body[0][0].out_channels == 4
    assert len(history) == 2 * G.config.num_scales and torch.isfinite(G.sample()).all()


def test_scratch_needs_a_config_with_filters():
    odd = torch.nn.Linear(1, 1)
    odd.config = {"filters": 3}  # not a config dataclass
    with pytest.raises(ConfigError, match="filters"):
        families.get("singan").scratch(odd, 4)


def test_pretrained_pyramid_keeps_its_weights_until_pruned(image):
    G, D = _pyramid(image)
    train_singan(image, G, D, SinGANTrainConfig(iterations=2, min_size=16))
    z_rec = G.z_rec.clone()
    finest = G.scales[-1].body[0][0].weight.detach().clone()
    prune = SinGANPruneConfig(amount=0.25, warmup=0, finetune=1)
    G, _ = train_prune_finetune(image, G, D, TRAIN, prune, pretrained=True)
    assert torch.equal(G.z_rec, z_rec)
    kept = G.scales[-1].body[0][0].weight
    assert kept.shape[0] == 6  # 8 filters, a quarter removed
    assert any(torch.allclose(kept[0], f, atol=1e-2) for f in finest)  # inherited, one step on
