"""`gansearch import`: reference pix2pix/CycleGAN and examples-DCGAN state dicts, and a user's
own module, become teacher checkpoints whose generators compute what the originals compute."""

from pathlib import Path

import pytest
import torch
from reference_layouts import (
    examples_dcgan_forward,
    examples_dcgan_state,
    resnet_forward,
    resnet_state,
    unet_forward,
    unet_state,
)

from gansearch.checkpoint import load_checkpoint
from gansearch.cli import main
from gansearch.errors import CheckpointError

USER_FILE = Path(__file__).parent / "user_generators.py"


def _import(tmp_path, capsys, fmt, state, *flags):
    weights = tmp_path / "latest_net_G.pth"
    torch.save(state, weights)
    out = tmp_path / "teacher.pt"
    code = main(["import", fmt, str(weights), "--out", str(out), *flags])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return out, captured.out


@pytest.mark.parametrize("norm, keys", [("instance", 48), ("batch", 140)])
def test_resnet_9blocks_imports_with_its_function(tmp_path, capsys, norm, keys):
    state = resnet_state(9, ngf=4, norm=norm)
    assert len(state) == keys  # the reference's key counts
    out, printed = _import(tmp_path, capsys, "pix2pix", state)
    ckpt = load_checkpoint(out)
    g = ckpt.generator
    assert ckpt.model == "resnet" and (g.config.filters, g.config.n_blocks, g.config.norm) == (4, 9, norm)
    assert set(g.state_dict()) == set(state)  # every key used, none added
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(g(x), resnet_forward(state, x, 9, norm), atol=1e-5, rtol=1e-4)
    assert "no discriminator came with it" in printed and "teacher: {checkpoint:" in printed


def test_resnet_6blocks_with_dropout_and_stale_instance_norm_statistics(tmp_path, capsys):
    state = resnet_state(6, ngf=4, norm="instance", dropout=True, stale=True)
    out, _ = _import(tmp_path, capsys, "pix2pix", state, "--generator", "resnet_6blocks")
    g = load_checkpoint(out).generator
    assert g.config.n_blocks == 6 and g.config.dropout
    stale = {k for k in state if k.endswith(("running_mean", "running_var"))}
    assert stale and set(g.state_dict()) == set(state) - stale  # dropped, as the reference loader does
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(g.eval()(x), resnet_forward(state, x, 6, "instance", dropout=True),
                                   atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name, num_downs, norm", [("unet_256", 8, "batch"), ("unet_128", 7, "batch"),
                                                   ("unet_128", 7, "instance")])
def test_unet_imports_with_its_function(tmp_path, capsys, name, num_downs, norm):
    state = unet_state(num_downs, ngf=2, norm=norm, stale=norm == "instance")
    out, printed = _import(tmp_path, capsys, "pix2pix", state, "--generator", name, "--dropout")
    g = load_checkpoint(out).generator
    c = g.config
    assert (c.num_downs, c.filters, c.norm, c.dropout) == (num_downs, 2, norm, True)
    stale = {k for k in state if norm == "instance" and k.endswith(("running_mean", "running_var"))}
    assert set(g.state_dict()) == set(state) - stale
    side = 2**num_downs
    x = torch.rand(2, 3, side, side) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(g(x), unet_forward(state, x, num_downs, norm), atol=1e-5, rtol=1e-4)
    assert "dropout on" in printed


def test_the_examples_dcgan_imports_with_its_function(tmp_path, capsys):
    state = examples_dcgan_state(nz=8, ngf=4, nc=1)
    out, _ = _import(tmp_path, capsys, "dcgan", state)
    ckpt = load_checkpoint(out)
    g = ckpt.generator
    assert ckpt.model == "dcgan" and (g.config.image_size, g.config.latent_dim, g.config.filters,
                                      g.config.channels) == (64, 8, 4, 1)
    z = torch.randn(3, 8)
    with torch.no_grad():
        torch.testing.assert_close(g(z), examples_dcgan_forward(state, z), atol=1e-5, rtol=1e-4)


def test_a_users_module_imports_and_loads_only_when_trusted(tmp_path, capsys):
    from user_generators import make_decoder

    original = make_decoder(nz=8, width=8).eval()
    out, printed = _import(tmp_path, capsys, "module", original.state_dict(),
                           "--module", f"{USER_FILE}:make_decoder", "--kwargs", "{nz: 8, width: 8}",
                           "--input", "latent:8", "--data", "{source: digits, image_size: 8}")
    assert "trust_code: true" in printed
    with pytest.raises(CheckpointError, match="make_decoder.*--trust-code"):
        load_checkpoint(out)
    ckpt = load_checkpoint(out, trust_code=True)
    z = torch.randn(4, 8)
    with torch.no_grad():
        torch.testing.assert_close(ckpt.generator(z), original(z))
    assert ckpt.meta["config"]["data"] == {"source": "digits", "image_size": 8}
    assert main(["profile", str(out), "--runs", "0"]) == 2  # profile too needs the trust
    assert "--trust-code" in capsys.readouterr().err
    assert main(["profile", str(out), "--runs", "0", "--trust-code"]) == 0


# Bad files: one line, exit 2, nothing written.


def _refused(tmp_path, capsys, args, message):
    out = tmp_path / "teacher.pt"
    assert main(["import", *map(str, args), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gansearch: error: ") and message in err, err
    assert not out.exists() and not list(tmp_path.glob(".teacher.pt*"))


def test_a_missing_key_is_named(tmp_path, capsys):
    state = resnet_state(9, ngf=4, norm="batch")
    del state["model.10.conv_block.1.weight"]
    torch.save(state, tmp_path / "g.pth")
    _refused(tmp_path, capsys, ["pix2pix", tmp_path / "g.pth"], "1 missing (model.10.conv_block.1.weight)")


def test_a_claimed_architecture_is_checked(tmp_path, capsys):
    torch.save(resnet_state(9, ngf=4), tmp_path / "g.pth")
    _refused(tmp_path, capsys, ["pix2pix", tmp_path / "g.pth", "--generator", "unet_256"],
             "holds a ResNet with 9 blocks, ngf 4, instance norm generator, not unet_256")
    _refused(tmp_path, capsys, ["pix2pix", tmp_path / "g.pth", "--ngf", "64"],
             "its tensors say ngf 4, not 64")


def test_a_pickled_model_is_refused_and_not_run(tmp_path, capsys):
    from user_generators import make_decoder

    torch.save(make_decoder(), tmp_path / "model.pth")  # the whole module, pickled
    _refused(tmp_path, capsys, ["dcgan", tmp_path / "model.pth"], "holds Python objects other than tensors")


def test_other_bad_imports(tmp_path, capsys):
    (tmp_path / "junk.pth").write_bytes(b"junk")
    _refused(tmp_path, capsys, ["pix2pix", tmp_path / "junk.pth"], "not a loadable weights file")
    torch.save({"layer.weight": torch.zeros(2)}, tmp_path / "other.pth")
    _refused(tmp_path, capsys, ["pix2pix", tmp_path / "other.pth"], "no tensor model.1.weight")
    _refused(tmp_path, capsys, ["module", tmp_path / "other.pth", "--module", f"{USER_FILE}:not_a_module",
                                "--input", "latent:8"], "returned a str, not an nn.Module")
    _refused(tmp_path, capsys, ["module", tmp_path / "other.pth", "--module", "no_such_pkg.mod:f",
                                "--input", "latent:8"], "cannot load it (ModuleNotFoundError")
    _refused(tmp_path, capsys, ["module", tmp_path / "other.pth", "--module", f"{USER_FILE}:make_decoder",
                                "--input", "latent"], "must be latent:N")
