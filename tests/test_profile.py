import pytest
import torch
from torch import nn
from torch.nn.utils import prune

import gansearch
from gansearch.metrics import (
    decode,
    encode,
    encoded_sizes,
    entropy_bits,
    huffman_bytes,
    storage_bytes,
    stored_tensors,
)
from gansearch.metrics.storage import ENCODINGS
from gansearch.models import ResnetConfig, ResnetGenerator, SinGANConfig, SinGANGenerator


def test_resnet_generator_reads_the_published_figures():
    # Gong et al. (seeds/001) Table 1: 11.38M parameters, 56.8G MACs at 256x256.
    g = ResnetGenerator(ResnetConfig(filters=64, n_blocks=9))
    x = torch.randn(1, 3, 256, 256)
    cost = gansearch.profile(g, x, latency_runs=0)
    assert cost.params == 11_378_179
    assert round(cost.macs / 1e9, 1) == 56.8
    assert cost.macs == 56_799_264_768
    # The same model counted with transposed convolutions at their input resolution.
    low = gansearch.profile(g, x, latency_runs=0, transposed_conv="input")
    assert round(low.macs / 1e9, 1) == 49.6
    # GAN Compression's convention adds one MAC per InstanceNorm output element.
    norms = 2 * (64 * 256 ** 2 + 128 * 128 ** 2) + 256 * 64 ** 2 * (1 + 18)
    assert gansearch.profile(g, x, latency_runs=0, norm_macs=True).macs == cost.macs + norms


def test_norm_macs_count_instance_layer_and_group_norms_not_batch_norm():
    x = torch.randn(2, 4, 5, 5)
    for norm, extra in [(nn.InstanceNorm2d(4), x.numel()),
                        (nn.InstanceNorm2d(4, affine=True, track_running_stats=True).eval(), x.numel()),
                        (nn.GroupNorm(2, 4), x.numel()), (nn.LayerNorm([4, 5, 5]), x.numel()),
                        (nn.BatchNorm2d(4).eval(), 0)]:
        model = nn.Sequential(nn.Conv2d(4, 4, 1), norm)
        plain = gansearch.profile(model, x, latency_runs=0)
        counted = gansearch.profile(model, x, latency_runs=0, norm_macs=True)
        assert plain.macs == 2 * 25 * 16
        assert counted.macs - plain.macs == extra, norm
        assert [layer.op for layer in counted.layers] == ["convolution"] + ["norm"] * (extra > 0)


def test_narrower_generator_reads_proportionally_fewer_macs():
    x = torch.randn(1, 3, 64, 64)
    wide = gansearch.profile(ResnetGenerator(ResnetConfig(filters=64, n_blocks=6)), x,
                             latency_runs=0)
    narrow = gansearch.profile(ResnetGenerator(ResnetConfig(filters=32, n_blocks=6)), x,
                               latency_runs=0)
    # Inner layers scale with in x out channels (1/4), the first and last with one side (1/2).
    assert 0.25 < narrow.macs / wide.macs < 0.26
    assert 0.25 < narrow.params / wide.params < 0.26
    assert narrow.weight_bytes < wide.weight_bytes / 3.9
    assert narrow.peak_activation_bytes < wide.peak_activation_bytes


def test_mac_rules_per_operator():
    x = torch.randn(2, 3, 10, 10)
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert gansearch.profile(conv, x, latency_runs=0).macs == 2 * 8 * 100 * 3 * 9
    grouped = nn.Conv2d(8, 8, 3, padding=1, groups=4)
    assert gansearch.profile(grouped, torch.randn(1, 8, 10, 10), latency_runs=0).macs == \
        8 * 100 * 2 * 9
    up = nn.ConvTranspose2d(8, 4, 4, 2, 1)
    y = torch.randn(1, 8, 10, 10)
    assert gansearch.profile(up, y, latency_runs=0).macs == (4 * 20 * 20) * 8 * 16
    assert gansearch.profile(up, y, latency_runs=0, transposed_conv="input").macs == \
        (8 * 10 * 10) * 4 * 16
    linear = nn.Linear(10, 5)
    assert gansearch.profile(linear, torch.randn(3, 10), latency_runs=0).macs == 3 * 5 * 10


def test_functional_convolutions_are_counted_too():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(4, 3, 3, 3))

        def forward(self, x):
            return torch.nn.functional.conv2d(x, self.w)

    cost = gansearch.profile(Functional(), torch.randn(1, 3, 6, 6), latency_runs=0)
    assert cost.macs == 4 * 4 * 4 * 3 * 9


def test_effective_macs_and_nonzero_params_follow_unstructured_sparsity():
    net = nn.Sequential(nn.Conv2d(4, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3))
    x = torch.randn(1, 4, 12, 12)
    dense = gansearch.profile(net, x, latency_runs=0)
    with torch.no_grad():
        flat = net[0].weight.view(-1)
        flat[: flat.numel() // 2] = 0  # exactly half of the first layer
    half = gansearch.profile(net, x, latency_runs=0)
    first = dense.layers[0].macs
    assert half.macs == dense.macs
    assert half.effective_macs == dense.macs - first // 2
    assert half.nonzero_params == dense.nonzero_params - net[0].weight.numel() // 2


def test_pruning_masks_are_folded_in():
    net = nn.Sequential(nn.Conv2d(4, 8, 3), nn.Conv2d(8, 8, 3))
    x = torch.randn(1, 4, 12, 12)
    dense = gansearch.profile(net, x, latency_runs=0)
    prune.l1_unstructured(net[1], "weight", amount=0.75)
    cost = gansearch.profile(net, x, latency_runs=0)
    assert cost.params == dense.params  # weight_orig counted once, at its shape
    assert cost.nonzero_params == dense.nonzero_params - int(0.75 * net[1].weight.numel())
    assert cost.effective_macs == dense.layers[0].macs + dense.layers[1].macs // 4
    assert set(stored_tensors(net)) == {"0.weight", "0.bias", "1.weight", "1.bias"}
    assert cost.weight_bytes < dense.weight_bytes


def test_weight_bytes_follow_dtype_and_sparse_encoding():
    net = nn.Conv2d(16, 16, 3, bias=False)
    x = torch.randn(1, 16, 8, 8)
    n = net.weight.numel()
    assert gansearch.profile(net, x, latency_runs=0).weight_bytes == 4 * n
    for dtype in (torch.float16, torch.bfloat16):
        low = nn.Conv2d(16, 16, 3, bias=False).to(dtype)
        assert gansearch.profile(low, x.to(dtype), latency_runs=0).weight_bytes == 2 * n
    with torch.no_grad():
        net.weight.view(-1)[: n // 2] = 0  # 50%: bitmap is smallest
    cost = gansearch.profile(net, x, latency_runs=0)
    assert cost.tensors[0].encoding == "bitmap"
    assert cost.weight_bytes == n // 8 + 4 * (n // 2)
    with torch.no_grad():
        net.weight.view(-1)[: n - 10] = 0  # 10 non-zeros left: coordinate list is smallest
    cost = gansearch.profile(net, x, latency_runs=0)
    assert cost.tensors[0].encoding == "coo"
    assert cost.weight_bytes == 10 * (4 + 4)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.int8])
def test_encodings_round_trip_at_their_reported_size(encoding, dtype):
    t = (torch.randn(7, 5, 3) * 10).to(dtype)
    t[t.abs() < 5] = 0
    e = encode(t, encoding)
    sizes = encoded_sizes(t)
    if encoding == "huffman":
        assert sizes.get("huffman", huffman_bytes(t)) == huffman_bytes(t)
        assert len(e.payload) == huffman_bytes(t)
    else:
        assert len(e.payload) == sizes[encoding]
    assert torch.equal(decode(e), t)


def test_huffman_code_lengths_are_optimal_for_a_known_distribution():
    # Counts 8, 4, 2, 1, 1 get codes of 1, 2, 3, 4, 4 bits: 30 bits, 4 bytes of bitstream,
    # after 4 bytes of symbol count and 5 x (4 + 1) bytes of codebook.
    t = torch.tensor([1.0] * 8 + [2.0] * 4 + [3.0] * 2 + [4.0, 5.0])[torch.randperm(16)]
    e = encode(t, "huffman")
    assert len(e.payload) == huffman_bytes(t) == 4 + 5 * 5 + 4
    assert torch.equal(decode(e), t)
    assert entropy_bits(t) == pytest.approx(30 / 16)  # a dyadic distribution: Huffman meets it


def test_huffman_codes_few_shared_values_below_their_fixed_length():
    centroids = torch.linspace(-0.1, 0.1, 16)
    t = centroids[torch.randn(64, 64, 3, 3).mul(2).round().clamp(-8, 7).long() + 8]
    encoding, size = storage_bytes(t)
    e = encode(t)
    assert encoding == e.encoding == "huffman"
    assert len(e.payload) == size
    assert torch.equal(decode(e), t)
    # Peaked values code below 4 bits each: within a bit of their entropy, never below it.
    codebook, h = 4 + 16 * 5, entropy_bits(t)
    assert h < 3.5
    assert codebook + t.numel() * h / 8 <= size < codebook + t.numel() * (h + 1) / 8


@pytest.mark.parametrize("t", [torch.zeros(5), torch.zeros(0), torch.tensor([0.0, -0.0, 1.0]),
                               torch.tensor([[True, False], [True, True]])])
def test_huffman_round_trips_edge_cases_to_the_bit(t):
    e = encode(t, "huffman")
    assert len(e.payload) == huffman_bytes(t)
    out = decode(e)
    assert out.dtype == t.dtype and out.shape == t.shape
    assert torch.equal(out.view(torch.uint8), t.view(torch.uint8))


def test_huffman_is_skipped_for_continuous_weights_where_it_cannot_win():
    w = nn.Conv2d(32, 32, 3).weight.detach()  # fp32, all values distinct
    sizes = encoded_sizes(w)
    assert "huffman" not in sizes
    assert huffman_bytes(w) > sizes["dense"]  # leaving it out changed nothing
    assert storage_bytes(w) == ("dense", 4 * w.numel())


def test_peak_activation_memory_is_exact_for_a_known_network():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1))
    x = torch.randn(1, 3, 10, 10)
    cost = gansearch.profile(net, x, latency_runs=0)
    # input (1200 B) + ReLU output (3200 B) + last conv output (6400 B); the first conv's output
    # is freed once the ReLU output replaces it.
    assert cost.peak_activation_bytes == 1200 + 3200 + 6400
    inplace = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True),
                            nn.Conv2d(8, 16, 3, padding=1))
    assert gansearch.profile(inplace, x, latency_runs=0).peak_activation_bytes == 1200 + 3200 + 6400


def test_profile_leaves_the_model_as_it_was_and_times_it():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
    net.train()
    x = torch.randn(1, 3, 16, 16)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    cost = gansearch.profile(net, x, latency_runs=5, warmup=1)
    assert net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert cost.latency_runs == 5 and cost.latency_ms > 0
    assert set(cost.as_dict()) >= {"params", "macs", "effective_macs", "weight_bytes",
                                   "peak_activation_bytes", "latency_ms", "sparsity"}


def test_singan_pyramid_profiles_with_one_noise_map_per_scale():
    g = SinGANGenerator(SinGANConfig(sizes=((8, 8), (11, 11), (14, 14)), filters=4))
    cost = gansearch.profile(g, g.noise(1), latency_runs=0)

    def scale_macs(side):  # five unpadded 3x3 convs on the input zero-padded by 5 pixels
        channels = [(3, 4), (4, 4), (4, 4), (4, 4), (4, 3)]
        return sum((side + 10 - 2 * (i + 1)) ** 2 * cout * cin * 9
                   for i, (cin, cout) in enumerate(channels))

    assert cost.macs == sum(scale_macs(s) for s in (8, 11, 14))
    assert len([layer for layer in cost.layers if layer.op == "convolution"]) == 3 * 5
    # Dropping the finest scale removes exactly its five convolutions' MACs.
    coarse = gansearch.profile(g, g.noise(1, up_to=1), latency_runs=0)
    finest = sum(layer.macs for layer in cost.layers if layer.name.startswith("scales.2."))
    assert cost.macs - coarse.macs == finest > 0
