"""Each GAN family trains a few iterations on bundled data; checkpoints reload exactly."""

import math

import pytest
import torch

from gansearch.checkpoint import load_checkpoint
from gansearch.data import DataConfig
from gansearch.errors import CheckpointError, ConfigError
from gansearch.families.teacher import parse_teacher_config, train_teacher
from gansearch.train import DivergedError


def teacher(model, data, tmp_path, **extra):
    cfg = parse_teacher_config({"model": model, "data": data, "device": "cpu", **extra})
    ckpt = train_teacher(cfg, tmp_path, progress=False)
    return cfg, ckpt


def assert_reloads_identically(path, generator, inputs):
    loaded = load_checkpoint(path)
    # The file is plain tensors and values: it loads with weights_only=True.
    torch.load(path, weights_only=True)
    with torch.no_grad():
        assert torch.equal(generator.eval()(*inputs), loaded.generator(*inputs))
    return loaded


def test_tiny_singan_trains_scale_by_scale(tmp_path):
    cfg, ckpt = teacher("singan", {"source": "image", "name": "astronaut", "max_size": 24},
                       tmp_path, generator={"filters": 4},
                       train={"iterations": 4, "min_size": 12, "g_steps": 1, "d_steps": 1})
    g = ckpt.generator
    assert g.config.num_scales == 4 and g.config.sizes[-1] == (24, 24)  # 12 -> 24 by 0.75
    amps = g.noise_amps.tolist()
    assert amps[0] == 1.0 and all(0 < a < 1 for a in amps[1:])  # 0.1 * RMSE of the upsampling
    assert not any(p.requires_grad for p in g.parameters())  # every trained scale is frozen
    losses = ckpt.meta["final_losses"]
    assert set(losses) == {"d", "gp", "g_adv", "rec"}  # the critic loss (with its penalty)
    assert all(math.isfinite(v) for v in losses.values())
    assert (tmp_path / "samples.png").stat().st_size > 0
    rows = (tmp_path / "losses.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 * 4
    noise = g.noise(2, generator=torch.Generator().manual_seed(1))
    loaded = assert_reloads_identically(tmp_path / "teacher.pt", g, noise)
    assert torch.equal(loaded.generator.z_rec, g.z_rec)


def test_tiny_dcgan_trains_on_digits(tmp_path):
    _, ckpt = teacher("dcgan", {"source": "digits", "image_size": 8}, tmp_path,
                      generator={"filters": 8, "latent_dim": 8},
                      discriminator={"spectral_norm": True},
                      train={"iterations": 5, "batch_size": 16})
    assert all(math.isfinite(v) for v in ckpt.meta["final_losses"].values())
    assert_reloads_identically(tmp_path / "teacher.pt", ckpt.generator, (torch.randn(3, 8),))
    assert load_checkpoint(tmp_path / "teacher.pt").discriminator.config.spectral_norm


def test_tiny_resnet_trains_on_edges2photos(tmp_path):
    _, ckpt = teacher("resnet", {"source": "edges2photos", "image_size": 32, "count": 8}, tmp_path,
                      generator={"filters": 4, "n_blocks": 1}, discriminator={"filters": 4},
                      train={"iterations": 3, "batch_size": 2})
    assert set(ckpt.meta["final_losses"]) == {"d", "g_adv", "rec"}  # rec: lambda * L1 to the target
    assert all(math.isfinite(v) for v in ckpt.meta["final_losses"].values())
    assert_reloads_identically(tmp_path / "teacher.pt", ckpt.generator,
                               (torch.randn(2, 3, 32, 32),))


def test_tiny_unet_trains_on_edges2photos(tmp_path):
    _, ckpt = teacher("unet", {"source": "edges2photos", "image_size": 32, "count": 8}, tmp_path,
                      generator={"filters": 2, "num_downs": 5, "dropout": True},
                      discriminator={"filters": 4}, train={"iterations": 3, "batch_size": 2})
    g = ckpt.generator
    assert ckpt.model == "unet" and g.config.num_downs == 5
    assert set(ckpt.meta["final_losses"]) == {"d", "g_adv", "rec"}
    x = torch.randn(2, 3, 32, 32)
    assert_reloads_identically(tmp_path / "teacher.pt", g, (x,))
    with pytest.raises(ConfigError, match="multiple of 32"):
        teacher("unet", {"source": "edges2photos", "image_size": 48, "count": 4}, tmp_path / "bad",
                generator={"filters": 2, "num_downs": 5})


def test_patchgan_too_deep_for_the_image_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="too small for a PatchGAN with n_layers 3"):
        teacher("resnet", {"source": "edges2photos", "image_size": 16, "count": 4}, tmp_path,
                discriminator={"n_layers": 3})
    assert not any(tmp_path.iterdir())


def test_training_trajectory_is_reproducible(tmp_path):
    kwargs = dict(generator={"filters": 8, "latent_dim": 8}, train={"iterations": 3,
                                                                     "batch_size": 8})
    _, a = teacher("dcgan", {"source": "digits", "image_size": 8}, tmp_path / "a", **kwargs)
    _, b = teacher("dcgan", {"source": "digits", "image_size": 8}, tmp_path / "b", **kwargs)
    for (name, pa), pb in zip(a.generator.state_dict().items(), b.generator.state_dict().values(),
                              strict=True):
        assert torch.equal(pa, pb), name


def test_a_diverging_run_stops_with_a_clear_error(tmp_path):
    from gansearch.data import digits
    from gansearch.families.dcgan import DCGAN, DCGANTrainConfig
    from gansearch.models import DCGANConfig, DCGANDiscriminator, DCGANGenerator

    cfg = DCGANConfig(image_size=8, filters=4, latent_dim=4)
    g, d = DCGANGenerator(cfg), DCGANDiscriminator(cfg)

    class Poison:  # corrupts a weight after the first step, as a blown-up update would
        def on_step_end(self, state):
            with torch.no_grad():
                next(state.generator.parameters()).fill_(float("nan"))

    with pytest.raises(DivergedError, match="diverged, step 2"):
        DCGAN().train(g, d, digits(8), DCGANTrainConfig(iterations=5, batch_size=8), callbacks=[Poison()])


def test_callbacks_see_every_step():
    from gansearch.data import digits
    from gansearch.families.dcgan import DCGAN, DCGANTrainConfig
    from gansearch.models import DCGANConfig, DCGANDiscriminator, DCGANGenerator

    seen = []

    class Spy:
        def on_train_begin(self, state):
            seen.append("begin")

        def on_step_end(self, state):
            seen.append(state.step)

        def on_train_end(self, state):
            seen.append("end")

    cfg = DCGANConfig(image_size=8, filters=4, latent_dim=4)
    DCGAN().train(DCGANGenerator(cfg), DCGANDiscriminator(cfg), digits(8),
                  DCGANTrainConfig(iterations=3, batch_size=8), callbacks=[Spy()])
    assert seen == ["begin", 1, 2, 3, "end"]


@pytest.mark.parametrize("raw, message", [
    ({"model": "singan", "data": {"source": "digits"}}, "does not fit the singan family"),
    ({"model": "gan", "data": {"source": "digits"}}, "unknown model 'gan'; known models are singan"),
    ({"model": "dcgan", "data": {"source": "digits"}, "train": {"iterations": 0}},
     "train.iterations must satisfy 1 <= iterations"),
    ({"model": "dcgan", "data": {"source": "digits"}, "train": {"lr": 1}}, "unknown key.*'lr'"),
    ({"model": "dcgan", "data": {"source": "digits", "image_size": "big"}},
     "data.image_size: expected an integer"),
    ({"model": "dcgan"}, "data"),
])
def test_bad_teacher_configs_are_rejected_before_training(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_teacher_config(raw)


def test_corrupt_or_foreign_checkpoints_are_rejected(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a loadable checkpoint"):
        load_checkpoint(bad)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a gansearch checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")


def test_data_config_is_part_of_the_teacher_config():
    cfg = parse_teacher_config({"model": "dcgan", "data": {"source": "faces"}})
    assert cfg.data == DataConfig(source="faces") and cfg.data.resolved_channels == 1


def test_unknown_singan_generator_key_names_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'ngf'; known keys are .*filters"):
        teacher("singan", {"source": "image", "name": "astronaut", "max_size": 24}, tmp_path,
                generator={"ngf": 8})
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("n", "channels", "columns"), [(7, 1, 8), (64, 1, 8), (5, 3, 2)])
def test_sample_grid_matches_torchvision_make_grid(n, channels, columns):
    from torchvision.utils import make_grid

    from gansearch.families.teacher import _grid

    images = torch.rand(n, channels, 10, 12)
    assert torch.equal(_grid(images, columns), make_grid(images, nrow=columns, padding=4, pad_value=1.0))
