"""Iterative prune-distill (Gong et al. Fig. 1): ratios of the original filters, the stop at the
target, the early stop when quality is not restored, and each step's measured cost."""

import copy
import math

import pytest
import torch

import gansearch
from gansearch.compress.distill import KDConfig
from gansearch.compress.prune_distill import (
    NOT_RESTORED,
    REACHED_TARGET,
    PruneDistillConfig,
    distill_recovery,
    group_sizes,
    paired_quality,
    prune_distill,
    prune_to_ratio,
    training_recovery,
)
from gansearch.data.sets import edges2photos
from gansearch.errors import ConfigError
from gansearch.families import build
from gansearch.families.translation import paired_batches
from gansearch.metrics import ssim
from gansearch.train.adversarial import LoopConfig, PlainLoss

X = torch.randn(1, 3, 32, 32)


@pytest.fixture(scope="module")
def data():
    train = edges2photos(image_size=32, count=8, seed=0)
    test = edges2photos(image_size=32, count=4, split="test", seed=1)
    return train, test.tensors


def _teacher():
    torch.manual_seed(0)
    return build("resnet", "generator", {"filters": 8, "n_blocks": 2})


def _params(model):
    return gansearch.profile(model, X, latency_runs=0).params


def test_schedule_steps_by_the_original_ratio_up_to_the_target():
    assert PruneDistillConfig(0.05, 0.5).schedule() == pytest.approx([0.05 * k for k in range(1, 11)])
    assert PruneDistillConfig(0.07, 0.5).schedule() == pytest.approx([0.07 * k for k in range(1, 8)] + [0.5])
    assert len(PruneDistillConfig(0.03, 0.5).schedule()) == 17
    assert PruneDistillConfig(0.1, 0.3).schedule() == pytest.approx([0.1, 0.2, 0.3])


def test_ratios_are_shares_of_the_original_filters():
    teacher = _teacher()
    original = group_sizes(teacher, X)
    # stem and last upsampling 8, downsampling and first upsampling 16, the trunk (tied by the
    # skips) and each block's inner conv 32
    assert sorted(original.values()) == [8, 8, 16, 16, 32, 32, 32]
    stepwise = prune_to_ratio(prune_to_ratio(teacher, X, 0.25, original), X, 0.5, original)
    direct = prune_to_ratio(teacher, X, 0.5, original)
    assert group_sizes(stepwise, X) == group_sizes(direct, X)
    assert sorted(group_sizes(direct, X).values()) == [4, 4, 8, 8, 16, 16, 16]
    assert sorted(group_sizes(prune_to_ratio(teacher, X, 0.99, original), X).values()) == [1] * 7
    assert _params(teacher) == _params(_teacher())  # the input model is untouched


def test_loop_stops_at_the_target_with_measured_costs(data):
    (train, (src, tgt)), teacher = data, _teacher()
    D = build("resnet", "discriminator", {"filters": 8, "n_layers": 2})
    recover = distill_recovery(teacher, D, paired_batches(train, 4), X, KDConfig(),
                               LoopConfig(iterations=2))
    seen = []
    result = prune_distill(teacher, X, recover, paired_quality(src, tgt),
                           PruneDistillConfig(step_ratio=0.25, target_ratio=0.5, tolerance=math.inf),
                           on_step=seen.append)
    assert result.stop_reason == REACHED_TARGET and result.stopped_at is None
    assert [s.ratio for s in result.steps] == [0.25, 0.5] and seen == result.steps
    assert result.ratio == 0.5
    p0, p1, p2 = result.teacher_params, result.steps[0].params, result.steps[1].params
    assert p0 > p1 > p2 and result.steps[0].macs > result.steps[1].macs
    assert _params(result.student) == p2  # the returned student is the last step's, physically smaller
    assert all(math.isfinite(s.quality) and s.restored for s in result.steps)
    assert result.reference_quality == pytest.approx(paired_quality(src, tgt)(teacher))


def test_loop_stops_early_when_quality_is_not_restored(data):
    (train, (src, tgt)), teacher = data, _teacher()
    D = build("resnet", "discriminator", {"filters": 8, "n_layers": 2})
    recover = training_recovery(D, paired_batches(train, 4), PlainLoss(), LoopConfig(iterations=2))
    # a student would have to beat the teacher by 1000 dB: impossible
    result = prune_distill(teacher, X, recover, paired_quality(src, tgt),
                           PruneDistillConfig(step_ratio=0.25, target_ratio=0.5, tolerance=-1000))
    assert result.stop_reason == NOT_RESTORED and result.stopped_at == 1
    assert len(result.steps) == 1 and not result.steps[0].restored
    assert result.ratio == 0.0 and _params(result.student) == result.teacher_params


def test_the_last_restored_student_is_kept():
    teacher = _teacher()
    full = _params(teacher)

    def kept_params(model):  # quality: the share of parameters kept (a pluggable callable)
        return _params(model) / full

    result = prune_distill(teacher, X, lambda student: None, kept_params,
                           PruneDistillConfig(step_ratio=0.25, target_ratio=0.75, tolerance=0.5))
    assert [s.restored for s in result.steps] == [True, False]  # ~0.56 kept, then ~0.25
    assert result.stopped_at == 2 and result.ratio == 0.25
    assert _params(result.student) == result.steps[0].params


def test_paired_quality_measures_the_model_in_eval_mode_on_held_out_pairs(data):
    _, (src, tgt) = data
    teacher = _teacher().train()
    with torch.no_grad():
        out = teacher.eval()(src)
    teacher.train()
    assert paired_quality(src, out)(teacher) == math.inf  # against its own output
    assert teacher.training  # mode restored
    score = paired_quality(src, out, metric=ssim)(prune_to_ratio(teacher, X, 0.5, group_sizes(teacher, X)))
    assert 0 < score < 1


@pytest.mark.parametrize("kwargs,match", [
    ({"step_ratio": 0}, "step_ratio"), ({"target_ratio": 1.0}, "target_ratio"),
    ({"tolerance": math.nan}, "tolerance"), ({"criterion": "random"}, "criterion"),
])
def test_bad_prune_distill_config(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        PruneDistillConfig(**kwargs)


def test_the_teacher_is_untouched(data):
    (train, (src, tgt)), teacher = data, _teacher()
    before = copy.deepcopy(teacher.state_dict())
    D = build("resnet", "discriminator", {"filters": 8, "n_layers": 2})
    prune_distill(teacher, X, distill_recovery(teacher, D, paired_batches(train, 4), X, KDConfig(),
                                               LoopConfig(iterations=1)),
                  paired_quality(src, tgt), PruneDistillConfig(0.5, 0.5, tolerance=math.inf))
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
