"""Distillation (Gong et al. sec. 3.3): the loss terms by hand, feature taps, adapters only where
channels differ, and the fine-tune loop on the paired ResNet, DCGAN and a SinGAN scale."""

import copy
import math

import pytest
import torch
from torch import nn

from gansearch.compress.distill import (
    FeatureTaps,
    KDConfig,
    KDLoss,
    default_taps,
    feature_loss,
    transformation_loss,
    transformation_matrix,
)
from gansearch.compress.prune_distill import group_sizes, prune_to_ratio
from gansearch.compress.structured import prune_filters
from gansearch.data.images import load_image, resize
from gansearch.data.sets import edges2photos
from gansearch.errors import ConfigError
from gansearch.families import build
from gansearch.families.dcgan import latent_batches
from gansearch.families.singan import SinGANTrainConfig, build_singan, scale_batches, train_singan
from gansearch.families.translation import paired_batches
from gansearch.train.adversarial import LoopConfig, PlainLoss, adversarial_train

X = torch.randn(1, 3, 32, 32)


@pytest.fixture(scope="module")
def pairs():
    return edges2photos(image_size=32, count=8, seed=0)


def _resnet(norm="instance"):
    torch.manual_seed(0)
    return build("resnet", "generator", {"filters": 8, "n_blocks": 2, "norm": norm})


def _patchgan():
    return build("resnet", "discriminator", {"filters": 8, "n_layers": 2})


def test_transformation_matrix_by_hand():
    f_i = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)  # 2 channels, 2 pixels
    f_j = torch.tensor([[5.0, 6.0]]).reshape(1, 1, 1, 2)
    # (1/2) * ([1, 3]^T 5 + [2, 4]^T 6) = [[8.5], [19.5]]
    torch.testing.assert_close(transformation_matrix(f_i, f_j), torch.tensor([[[8.5], [19.5]]]))
    teacher = {"i": f_i, "j": f_j}
    student = {"i": torch.zeros_like(f_i), "j": f_j}
    # mean of the squared differences: (8.5^2 + 19.5^2) / 2, once per pair
    assert float(transformation_loss(student, teacher, [("i", "j")])) == pytest.approx(226.25)
    assert float(transformation_loss(student, teacher, [("i", "j"), ("j", "i")])) == pytest.approx(452.5)
    assert float(transformation_loss(teacher, teacher, [("i", "j")])) == 0.0
    assert float(feature_loss(student, teacher, ["i", "j"])) == pytest.approx((1 + 4 + 9 + 16) / 4)


def test_transformation_matrix_is_per_sample_and_needs_equal_sizes():
    a, b = torch.randn(3, 4, 5, 6), torch.randn(3, 2, 5, 6)
    m = transformation_matrix(a, b)
    assert m.shape == (3, 4, 2)
    torch.testing.assert_close(m[1], a[1].reshape(4, -1) @ b[1].reshape(2, -1).T / 30)
    with pytest.raises(ConfigError, match="spatial size"):
        transformation_matrix(a, torch.randn(3, 2, 5, 5))


def test_a_bias_free_adapter_maps_m_by_congruence():
    # What makes L_T of a pruned student meaningful: M(A F_i, A' F_j) = A M(F_i, F_j) A'^T.
    f_i, f_j = torch.randn(2, 3, 4, 4), torch.randn(2, 5, 4, 4)
    a, a2 = nn.Conv2d(3, 6, 1, bias=False), nn.Conv2d(5, 7, 1, bias=False)
    A, A2 = a.weight[:, :, 0, 0], a2.weight[:, :, 0, 0]
    with torch.no_grad():
        torch.testing.assert_close(transformation_matrix(a(f_i), a2(f_j)),
                                   A @ transformation_matrix(f_i, f_j) @ A2.T, rtol=1e-4, atol=1e-5)


def test_feature_taps_keep_named_outputs_and_unhook():
    g = _resnet()
    with FeatureTaps(g, ["model.3", "model.9"]) as taps:
        g(X)
    assert taps.features["model.3"].shape == (1, 8, 32, 32)
    assert taps.features["model.9"].shape == (1, 32, 8, 8)
    assert not any(m._forward_hooks for m in g.modules())
    with pytest.raises(ConfigError, match="'model.99' is not a module"):
        FeatureTaps(g, ["model.99"])


def test_default_taps_pair_layers_of_equal_size():
    layers, pairs = default_taps(_resnet())
    assert pairs == (("model.9", "model.10"), ("model.10", "model.11"))  # trunk: ReLU, 2 blocks
    assert set(layers) >= {"model.3", "model.10", "model.11", "model.17"}
    dcgan = build("dcgan", "generator", {"filters": 8})
    layers, pairs = default_taps(dcgan)
    assert layers == ("net.2", "net.5", "net.8")  # 4x4, 8x8, 16x16; the 32x32 output is tanh
    assert pairs == (("net.0", "net.2"), ("net.3", "net.5"), ("net.6", "net.8"))
    with pytest.raises(ConfigError, match="kd.layers"):
        default_taps(nn.Conv2d(3, 3, 1))


def test_adapters_only_where_channels_differ():
    teacher = _resnet()
    # 5% of the original filters: the 8-filter layers keep round(7.6) = 8, the others shrink.
    student = prune_to_ratio(teacher, X, 0.05, group_sizes(teacher, X))
    kd = KDLoss(teacher, student, X, KDConfig())
    adapted = {n for n in kd.names if kd.adapted(n)}
    assert adapted == {"model.6", "model.9", "model.10", "model.11", "model.14"}
    assert kd.adapters["model_9"].weight.shape == (32, 30, 1, 1)  # student 30 -> teacher 32
    same = KDLoss(teacher, copy.deepcopy(teacher), X, KDConfig())
    assert len(same.adapters) == 0
    out, t_out, terms = same(copy.deepcopy(teacher).eval(), (X,), None)
    assert all(float(v.detach()) == 0.0 for v in terms.values())  # the teacher distils into itself at no loss
    torch.testing.assert_close(out, t_out)


def test_kd_loss_terms_are_weighted_and_finite():
    teacher = _resnet()
    student = prune_filters(teacher, X, 0.5, "fpgm")
    target = torch.rand(1, 3, 32, 32) * 2 - 1
    base = KDLoss(teacher, student, X, KDConfig(alpha_feature=1, alpha_rec=1))
    torch.manual_seed(1)
    doubled = KDLoss(teacher, student, X, KDConfig(alpha_feature=2, alpha_rec=3))
    doubled.load_state_dict(base.state_dict())  # the same adapters
    t1 = {k: float(v.detach()) for k, v in base(student.eval(), (X,), target)[2].items()}
    t2 = {k: float(v.detach()) for k, v in doubled(student, (X,), target)[2].items()}
    assert all(math.isfinite(v) and v > 0 for v in t1.values())
    assert t2["feature"] == pytest.approx(2 * t1["feature"], rel=1e-5)
    assert t2["rec"] == pytest.approx(3 * t1["rec"], rel=1e-5)
    assert t2["transform"] == pytest.approx(t1["transform"], rel=1e-5)
    no_pairs = KDLoss(teacher, student, X, KDConfig(pairs=()))
    assert float(no_pairs(student, (X,), target)[2]["transform"].detach()) == 0.0


def test_unequal_pair_fails_before_training():
    teacher = _resnet()
    with pytest.raises(ConfigError, match="spatial size"):
        KDLoss(teacher, copy.deepcopy(teacher), X, KDConfig(pairs=(("model.3", "model.9"),)))


@pytest.mark.parametrize("kwargs,match", [
    ({"alpha_feature": -1}, "alpha_feature"), ({"rec_norm": "l3"}, "rec_norm"),
    ({"layers": "model.3"}, "kd.layers"), ({"pairs": (("a", "b", "c"),)}, "kd.pairs"),
])
def test_bad_kd_config(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        KDConfig(**kwargs)


def test_distilling_a_pruned_resnet_on_pairs_lowers_its_loss(pairs):
    teacher = _resnet()
    student = prune_filters(teacher, X, 0.5, "fpgm")
    objective = KDLoss(teacher, student, X, KDConfig(alpha_gan=0.0))
    history = adversarial_train(student, _patchgan(), paired_batches(pairs, 4), objective,
                                   LoopConfig(iterations=12, lr_g=2e-3))
    assert len(history) == 12 and set(history[0]) == {"step", "d", "g_adv", "transform", "feature", "rec"}
    total = [h["transform"] + h["feature"] + h["rec"] for h in history]
    assert sum(total[-3:]) < sum(total[:3])
    assert not student.training


def test_plain_training_path_uses_no_teacher(pairs):
    student = prune_filters(_resnet(), X, 0.5, "fpgm")
    history = adversarial_train(student, _patchgan(), paired_batches(pairs, 4), PlainLoss(),
                                   LoopConfig(iterations=3))
    assert set(history[-1]) == {"step", "d", "g_adv", "rec"}
    assert all(math.isfinite(v) for h in history for v in h.values())
    dcgan = build("dcgan", "generator", {"filters": 8})
    with pytest.raises(ConfigError, match="real images"):
        adversarial_train(dcgan, build("dcgan", "discriminator", {"filters": 8}),
                             latent_batches(100, 4), PlainLoss(), LoopConfig(iterations=1))


def test_dcgan_distils_unpaired_against_the_teachers_output():
    teacher = build("dcgan", "generator", {"filters": 8})
    z = torch.randn(2, 100)
    student = prune_filters(teacher, z, 0.5, "fpgm")
    kd = KDLoss(teacher, student, z, KDConfig())
    assert {n for n in kd.names if kd.adapted(n)} == {"net.0", "net.2", "net.3", "net.5", "net.6", "net.8"}
    history = adversarial_train(student, build("dcgan", "discriminator", {"filters": 8}),
                                   latent_batches(100, 4), kd, LoopConfig(iterations=3))
    assert history[-1]["transform"] > 0 and history[-1]["rec"] > 0
    assert all(math.isfinite(v) for h in history for v in h.values())
    assert student(z).shape == teacher(z).shape


def test_a_singan_scale_distils_as_a_teacher_student_pair():
    image = load_image("astronaut", max_size=24)[None]
    params = SinGANTrainConfig(iterations=2, min_size=16, g_steps=1, d_steps=1)
    G, D = build_singan(image, params, filters=8)
    train_singan(image, G, D, params)
    k = 1
    h, w = G.config.sizes[k]
    example = (torch.zeros(1, 3, h, w), torch.zeros(1, 3, h, w))
    teacher = G.scales[k]
    student = prune_filters(teacher, example, 0.5, "fpgm")
    kd = KDLoss(teacher, student, example, KDConfig())
    assert kd.pairs == (("body.0.0", "body.0"), ("body.1.0", "body.1"), ("body.2.0", "body.2"),
                        ("body.3.0", "body.3"))
    history = adversarial_train(student, copy.deepcopy(D.scales[k]),
                                   scale_batches(G, k, resize(image, size=G.config.sizes[k])), kd,
                                   LoopConfig(iterations=2, loss="wgan-gp", lr_g=5e-4, lr_d=5e-4))
    assert all(math.isfinite(v) for h in history for v in h.values())
    G.scales[k] = student  # the compressed scale drops back into the pyramid
    assert student.body[0][0].out_channels == 4
    sample = G.sample(2)
    assert sample.shape == (2, 3, *G.config.sizes[-1]) and torch.isfinite(sample).all()
