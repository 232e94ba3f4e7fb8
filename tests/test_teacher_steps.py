"""Recipe steps that learn from the teacher (distill, prune-distill, GAN Slimming, Re-GAN) run
as real trials on tiny DCGAN and pix2pix teachers."""

import pytest
import torch

import gansearch
from gansearch.checkpoint import load_checkpoint
from gansearch.data.sets import edges2photos
from gansearch.errors import ConfigError
from gansearch.families import example_input
from gansearch.families.teacher import parse_teacher_config, train_teacher
from gansearch.models import DCGANGenerator
from gansearch.search.spec import parse_spec
from gansearch.search.trial import run_trial

TEACHERS = {
    "dcgan": {"model": "dcgan", "data": {"source": "digits", "image_size": 8},
              "generator": {"filters": 8, "latent_dim": 8}, "train": {"iterations": 100, "batch_size": 16}},
    "resnet": {"model": "resnet", "data": {"source": "edges2photos", "image_size": 16, "count": 8},
               "generator": {"filters": 4, "n_blocks": 1, "norm": "batch"},
               "discriminator": {"filters": 4, "n_layers": 1}, "train": {"iterations": 2, "batch_size": 2}},
}


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    out = {}
    for name, raw in TEACHERS.items():
        folder = tmp_path_factory.mktemp(name)
        train_teacher(parse_teacher_config({**raw, "device": "cpu"}), folder, progress=False)
        out[name] = folder / "teacher.pt"
    return out


def _trial(teacher, recipe, tmp_path):
    spec = parse_spec({"name": "s", "teacher": {"checkpoint": str(teacher)}, "recipe": recipe,
                       "objectives": [{"metric": "swd"}, {"metric": "weight_bytes"}],
                       "evaluation": {"samples": 4, "latency_runs": 0}, "device": "cpu"},
                      base=tmp_path)
    reports = []
    result = run_trial(spec, {}, teacher, tmp_path, lambda m, _: reports.append(m))
    assert len(reports) == len(recipe) + 1 and all(r["swd"] == r["swd"] for r in reports)  # not NaN
    return result, load_checkpoint(result["student_file"]).generator


def _params(path_or_model):
    model = load_checkpoint(path_or_model).generator if not isinstance(path_or_model, torch.nn.Module) \
        else path_or_model
    return gansearch.profile(model, example_input(model, 1, 16), latency_runs=0).params


@pytest.mark.parametrize("family", ["dcgan", "resnet"])
def test_prune_then_distill(teachers, family, tmp_path):
    recipe = [{"prune_filters": {"amount": 0.5}},
              {"distill": {"iterations": 2, "batch_size": 2, "alpha_feature": 1.0}}]
    result, student = _trial(teachers[family], recipe, tmp_path)
    assert result["params"] <= 0.55 * _params(teachers[family])


@pytest.mark.parametrize("family", ["dcgan", "resnet"])
def test_distillation_pulls_the_pruned_student_to_its_target(teachers, family, tmp_path):
    """L_rec alone (Gong et al. eq. 7): the target is the teacher's output for DCGAN's latents
    (unpaired) and the ground truth for paired data; 60 steps must bring the student closer to
    it than the pruned student it started from."""
    prune = {"prune_filters": {"amount": 0.5}}
    distill = {"distill": {"iterations": 60, "batch_size": 4, "alpha_feature": 0.0, "alpha_rec": 10.0,
                           "alpha_gan": 0.0, "transformation": False}}
    _, pruned = _trial(teachers[family], [prune], tmp_path / "pruned")
    _, distilled = _trial(teachers[family], [prune, distill], tmp_path / "distilled")
    before, after = (_error_to_target(teachers[family], s) for s in (pruned, distilled))
    assert after < 0.8 * before, (before, after)


def _error_to_target(teacher_file, student) -> float:
    """MSE of ``student`` to what distillation's L_rec pulls it to: the teacher's output on fixed
    latents (DCGAN, unpaired) or the ground truth of the training pairs (paired)."""
    teacher = load_checkpoint(teacher_file).generator
    with torch.no_grad():
        if isinstance(teacher, DCGANGenerator):
            inputs = torch.randn(32, teacher.config.latent_dim, generator=torch.Generator().manual_seed(3))
            target = teacher(inputs)
        else:
            inputs, target = edges2photos(16, 8, "train", 0).tensors
        return float(torch.nn.functional.mse_loss(student(inputs), target))


@pytest.mark.parametrize("family", ["dcgan", "resnet"])
def test_prune_distill_reaches_its_target_in_steps(teachers, family, tmp_path):
    recipe = [{"prune_distill": {"step_ratio": 0.25, "target_ratio": 0.5, "iterations_per_step": 30,
                                 "batch_size": 4, "alpha_feature": 0.0, "alpha_gan": 0.0,
                                 "transformation": False}}]
    result, student = _trial(teachers[family], recipe, tmp_path / "steps")
    assert result["params"] <= 0.55 * _params(teachers[family])
    # Distilled between the steps: closer to its target than the same cut made at once, untrained.
    _, one_shot = _trial(teachers[family], [{"prune_filters": {"amount": 0.5, "criterion": "fpgm"}}],
                         tmp_path / "one_shot")
    assert _params(student) == _params(one_shot)
    assert _error_to_target(teachers[family], student) < 0.8 * _error_to_target(teachers[family], one_shot)


def test_prune_distill_stops_when_quality_is_not_restored(teachers, tmp_path):
    recipe = [{"prune_distill": {"step_ratio": 0.25, "target_ratio": 0.75, "iterations_per_step": 1,
                                 "batch_size": 2, "min_psnr": 1000.0}}]
    result, _ = _trial(teachers["dcgan"], recipe, tmp_path)
    assert result["params"] == _params(teachers["dcgan"])  # no step recovered: the teacher's copy


@pytest.mark.parametrize("family", ["dcgan", "resnet"])
def test_gan_slimming_cuts_channels(teachers, family, tmp_path):
    recipe = [{"slim": {"iterations": 3, "sparsity": 50.0, "bits": 8, "threshold": 0.05,
                        "batch_size": 2}}]
    result, _ = _trial(teachers[family], recipe, tmp_path)
    assert result["params"] < _params(teachers[family])


def test_regan_keeps_the_sparse_generator(teachers, tmp_path):
    recipe = [{"regan": {"iterations": 4, "sparsity": 0.5, "update_interval": 1}}]
    result, student = _trial(teachers["dcgan"], recipe, tmp_path)
    assert result["sparsity"] > 0.3


@pytest.mark.parametrize("step, message", [
    *((s, f"step '{s}' trains on batches of latent vectors or images; the singan family's generator takes "
       "noise") for s in ("distill", "prune_distill", "slim")),
    ("regan", "step 'regan' needs a generator of latent vectors"),
])
def test_teacher_steps_refuse_singan_before_the_sweep_starts(tiny_singan_teacher, step, message):
    from helpers import spec

    from gansearch.search.teacher import load_teacher

    with pytest.raises(ConfigError, match=message):
        load_teacher(tiny_singan_teacher, spec(tiny_singan_teacher, recipe=[step], space={}))


def test_regan_needs_an_unconditional_gan(teachers):
    from helpers import spec

    from gansearch.search.teacher import load_teacher

    with pytest.raises(ConfigError, match="step 'regan' needs a generator of latent vectors"):
        load_teacher(teachers["resnet"], spec(teachers["resnet"], recipe=["regan"], space={}))
