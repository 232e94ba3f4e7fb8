import copy
import io

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

import gansearch
from gansearch.compress.precision import (
    dequantize,
    quantize_int8,
    reduce_precision,
    to_dtype,
)
from gansearch.compress.weight_sharing import kmeans_1d, share_weights
from gansearch.errors import ConfigError
from gansearch.families import build, example_input

CONFIGS = {
    "singan": {"sizes": [[8, 8], [11, 11], [14, 14]], "filters": 8, "double_every": 2},
    "dcgan": {"image_size": 16, "channels": 3, "latent_dim": 16, "filters": 8},
    "resnet": {"filters": 8, "n_blocks": 2},
}
LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def small_generator(family: str) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    """A tiny generator of ``family`` in eval mode with trained-looking values everywhere
    (fresh models have zero biases and unit norm scales, which code to next to nothing)."""
    g = build(family, "generator", CONFIGS[family]).eval()
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, LAYERS) and m.bias is not None:
                m.bias.normal_(0, 0.02)
            if isinstance(m, nn.BatchNorm2d):
                m.weight.normal_(1, 0.02)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
        if family == "singan":
            g.noise_amps.uniform_(0.1, 1.0)
    return g, example_input(g, batch=2, size=32)


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: m.weight.detach().clone() for name, m in model.named_modules()
            if isinstance(m, LAYERS)}


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    return float((out.detach().float() - ref.detach()).norm() / ref.detach().norm())


def measured(model: nn.Module, inputs) -> gansearch.Cost:
    return gansearch.profile(model, inputs, latency_runs=0)


def reloaded(model: nn.Module, fresh: nn.Module) -> nn.Module:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    return fresh


# --- fp16 / bf16 ---------------------------------------------------------------------------


@pytest.mark.parametrize("family", list(CONFIGS))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_halves_the_measured_weight_bytes(family, dtype):
    g, x = small_generator(family)
    dense = measured(g, x)
    ref = g(*x)
    to_dtype(g, dtype)
    half_inputs = tuple(t.to(dtype) for t in x)
    half = measured(g, half_inputs)
    out = g(*half_inputs)
    assert out.dtype == dtype and out.shape == ref.shape
    assert relative_error(out, ref) < (0.005 if dtype == torch.float16 else 0.03)
    assert half.params == dense.params and half.macs == dense.macs
    # Every floating tensor (parameters, running statistics) is in dtype now.
    assert sorted((t.name, t.numel) for t in dense.tensors if t.dtype == "torch.float32") == \
        sorted((t.name, t.numel) for t in half.tensors if t.dtype == str(dtype))
    if dtype == torch.float16:
        assert 0.49 < half.weight_bytes / dense.weight_bytes <= 0.5
    else:  # bf16's 8 significant bits repeat: Huffman may code some tensors below 2 bytes
        assert 0.3 < half.weight_bytes / dense.weight_bytes <= 0.5


def test_to_dtype_casts_norm_layers_and_keeps_integer_buffers():
    g, _ = small_generator("dcgan")
    to_dtype(g, "bf16")
    bn = next(m for m in g.modules() if isinstance(m, nn.BatchNorm2d))
    assert bn.weight.dtype == bn.running_var.dtype == torch.bfloat16
    assert bn.num_batches_tracked.dtype == torch.int64
    assert to_dtype(g, "float32") is g and bn.running_var.dtype == torch.float32


@pytest.mark.parametrize("bad", ["float64", "int4", torch.float64, 16])
def test_unknown_dtype_is_a_config_error_naming_the_known_ones(bad):
    g, _ = small_generator("dcgan")
    with pytest.raises(ConfigError, match="unknown dtype .*use one of float32.*bf16"):
        to_dtype(g, bad)
    with pytest.raises(ConfigError, match="unknown precision"):
        reduce_precision(g, "float64")


# --- int8 per-channel ----------------------------------------------------------------------


@pytest.mark.parametrize("family", list(CONFIGS))
def test_int8_weights_are_within_half_a_step_of_the_originals(family):
    g, x = small_generator(family)
    before = weights(g)
    ref = g(*x)
    quantize_int8(g)
    for name, w in before.items():
        layer = g.get_submodule(name)
        q, scale = layer.weight_int8, layer.weight_scale
        axis = 1 if isinstance(layer, nn.ConvTranspose2d) else 0
        assert q.dtype == torch.int8 and not q.requires_grad
        assert scale.shape == (w.shape[axis],)  # one scale per output channel
        per_channel = q.abs().movedim(axis, 0).flatten(1).amax(dim=1)
        assert torch.all(per_channel == 127)  # each channel's largest weight maps to 127
        shape = [1] * w.dim()
        shape[axis] = -1
        error = (q.float() * scale.view(shape) - w).abs()
        assert torch.all(error <= scale.view(shape) / 2 * (1 + 1e-5))
        assert not hasattr(layer, "weight")  # the float weight lives only during the forward
    out = g(*x)
    assert out.shape == ref.shape
    assert relative_error(out, ref) < 0.05


@pytest.mark.parametrize("family", ["resnet", "dcgan"])
def test_int8_stores_a_byte_a_weight_plus_scales(family):
    g, x = small_generator(family)
    dense = measured(g, x)
    quantize_int8(g)
    cost = measured(g, x)
    assert cost.params == dense.params and cost.macs == dense.macs
    stored = {t.name: t for t in cost.tensors}
    int8 = [t for t in cost.tensors if t.name.endswith("weight_int8")]
    assert int8 and all(t.dtype == "torch.int8" and t.bytes <= t.numel for t in int8)
    scales = [stored[t.name.replace("weight_int8", "weight_scale")] for t in int8]
    assert all(s.dtype == "torch.float32" for s in scales)
    weight_numel = sum(t.numel for t in int8)
    rest = dense.weight_bytes - 4 * weight_numel  # biases and norm layers, still fp32
    assert cost.weight_bytes <= weight_numel + sum(s.bytes for s in scales) + rest
    assert 0.2 < cost.weight_bytes / dense.weight_bytes < 0.27  # about a quarter


def test_int8_state_dict_reloads_with_weights_only_and_reproduces_outputs():
    g, x = small_generator("singan")
    quantize_int8(g)
    out = g(*x)
    fresh = quantize_int8(build("singan", "generator", CONFIGS["singan"]).eval())
    assert torch.equal(reloaded(g, fresh)(*x), out)
    assert torch.equal(dequantize(g)(*x), out)  # a plain float model again, same function
    assert isinstance(g.scales[0].body[0][0].weight, nn.Parameter)
    assert not g.scales[0].body[0][0]._forward_pre_hooks


def test_int8_comes_last_and_the_dtype_knob_reaches_it():
    g, _ = small_generator("resnet")
    reduce_precision(g, "int8")
    assert g.model[1].weight_int8.dtype == torch.int8
    for step in (quantize_int8, lambda m: share_weights(m, 4)):
        with pytest.raises(ConfigError, match="already holds int8 weights"):
            step(g)


# --- k-means weight sharing ----------------------------------------------------------------


def test_kmeans_assigns_each_value_to_its_nearest_centroid_and_beats_its_linear_start():
    values = torch.randn(5000) * 0.05
    centroids, assignment = kmeans_1d(values, 16, iterations=30)
    distances = (values[:, None] - centroids[None, :]).abs()
    assert torch.equal(distances.argmin(dim=1), assignment)
    grid = torch.linspace(float(values.min()), float(values.max()), 16)
    linear = grid[(values[:, None] - grid[None, :]).abs().argmin(dim=1)]
    assert ((centroids[assignment] - values) ** 2).mean() < 0.8 * ((linear - values) ** 2).mean()


@pytest.mark.parametrize("family", list(CONFIGS))
def test_shared_weights_take_at_most_two_to_the_bits_values_and_keep_zeros(family):
    g, x = small_generator(family)
    for m in g.modules():
        if isinstance(m, LAYERS):
            prune.l1_unstructured(m, "weight", amount=0.5)
    pruned = weights(g)
    share_weights(g, 3)
    for name, w in pruned.items():
        shared = g.get_submodule(name).weight
        assert isinstance(shared, nn.Parameter)  # the pruning mask was made permanent
        assert torch.equal(shared == 0, w == 0)  # zeros stay zero, non-zeros stay non-zero
        assert len(shared[shared != 0].unique()) <= 2**3
        # Every weight moved to the nearest of its layer's values.
        values = shared[shared != 0].unique()
        nearest = values[(w[w != 0][:, None] - values[None, :]).abs().argmin(dim=1)]
        assert torch.equal(shared[w != 0], nearest)
    assert g(*x).shape == small_generator(family)[0](*x).shape


@pytest.mark.parametrize("family", ["resnet", "singan"])
def test_shared_weights_code_to_about_bits_over_32_of_fp32(family):
    g, x = small_generator(family)
    dense = measured(g, x)
    ref = g(*x)
    bits = 4
    share_weights(g, bits)
    cost = measured(g, x)
    assert cost.params == dense.params and cost.macs == dense.macs
    layers = weights(g)
    layer_weights = [t for t in cost.tensors if t.name.removesuffix(".weight") in layers]
    codebook = 4 + 2**bits * (4 + 1)  # count, values, a code length each
    for t in layer_weights:
        assert t.encoding == "huffman"
        assert t.bytes <= codebook + t.numel * bits / 8
    shared_numel = sum(t.numel for t in layer_weights)
    rest = dense.weight_bytes - 4 * shared_numel
    assert cost.weight_bytes - rest <= bits / 32 * 4 * shared_numel + codebook * len(layer_weights)
    assert cost.weight_bytes < dense.weight_bytes / 4
    assert relative_error(g(*x), ref) < 0.5  # 4 bits without retraining: coarse, not broken


def test_more_bits_share_more_faithfully_and_deterministically():
    g, x = small_generator("dcgan")
    ref = g(*x)
    errors = []
    for bits in (2, 4, 8):
        a, b = share_weights(copy.deepcopy(g), bits), share_weights(copy.deepcopy(g), bits)
        assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
        errors.append(relative_error(a(*x), ref))
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.05


@pytest.mark.parametrize("bits", [0, 9, 2.5, True, "4"])
def test_bits_out_of_range_is_a_config_error(bits):
    g, _ = small_generator("dcgan")
    with pytest.raises(ConfigError, match=r"bits must be an integer in 1\.\.8"):
        share_weights(g, bits)
