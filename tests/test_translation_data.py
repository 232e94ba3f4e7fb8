"""pix2pix (aligned) and CycleGAN (unaligned) folders: read with the reference code's
preprocessing, refused in one line when a split is missing or empty, and, when unpaired,
distilled with the teacher's output as the reconstruction target."""

import pytest
import torch
from translation_folders import aligned_folder, unaligned_folder

from gansearch.data import DataConfig, load_data
from gansearch.errors import ConfigError, ResourceMissingError
from gansearch.families import get


def test_aligned_pairs_split_and_preprocess_as_pix2pix(tmp_path):
    root = aligned_folder(tmp_path / "facades")
    train = load_data(DataConfig(source="aligned", path=str(root), image_size=32))
    assert len(train) == 3 and train.paired
    torch.manual_seed(0)
    source, target = train[0]
    assert source.shape == target.shape == (3, 32, 32) and -1 <= source.min() <= source.max() <= 1
    # A is the grey version of B: its channels are equal, B's are not (same crop and flip for both).
    assert torch.allclose(source[0], source[1], atol=2 / 255) and not torch.allclose(target[0], target[1])
    torch.manual_seed(0)
    again = train[0]
    assert torch.equal(again[0], source)  # the crop and flip follow torch's seed
    test = load_data(DataConfig(source="aligned", path=str(root), image_size=32, split="test"))
    assert torch.equal(test[1][0], test[1][0])  # no randomness at test time
    swapped = load_data(DataConfig(source="aligned", path=str(root), image_size=32, split="test",
                                   direction="BtoA"))
    assert torch.equal(swapped[1][0], test[1][1]) and torch.equal(swapped[1][1], test[1][0])


def test_train_crops_come_from_the_load_size(tmp_path):
    root = aligned_folder(tmp_path / "d")
    train = load_data(DataConfig(source="aligned", path=str(root), image_size=32, load_size=36, flip=False))
    crops = {tuple(train[0][1][:, 0, 0].tolist()) for _ in range(12)}
    assert len(crops) > 1  # random crops of the 36-pixel resize
    with pytest.raises(ConfigError, match="load_size must satisfy"):
        DataConfig(source="aligned", path=str(root), image_size=32, load_size=16)


def test_unaligned_sets_are_unpaired(tmp_path):
    root = unaligned_folder(tmp_path / "horse2zebra")
    train = load_data(DataConfig(source="unaligned", path=str(root), image_size=32))
    assert len(train) == 3 and not train.paired
    test = load_data(DataConfig(source="unaligned", path=str(root), image_size=32, split="test"))
    assert [tuple(t.shape) for t in test[2]] == [(3, 32, 32), (3, 32, 32)]


@pytest.mark.parametrize("layout, remove, message", [
    ("aligned", "train", "train: no such folder"),
    ("unaligned", "trainB", "trainB: no such folder"),
    ("unaligned", "empty testA", "testA: no images in it"),
])
def test_missing_or_empty_splits_are_one_line(tmp_path, layout, remove, message):
    root = (aligned_folder if layout == "aligned" else unaligned_folder)(tmp_path / "d")
    folder = root / remove.split()[-1]
    for f in folder.iterdir():
        f.unlink()
    if not remove.startswith("empty"):
        folder.rmdir()
    split = "test" if "test" in remove else "train"
    with pytest.raises(ResourceMissingError, match=message):
        load_data(DataConfig(source=layout, path=str(root), image_size=32, split=split))


def test_unpaired_distillation_reconstructs_the_teachers_output(tmp_path):
    """Gong et al. eq. 7, unpaired: L_rec = ||G(x) - G'(x)||^2 against the teacher's output for the
    source x, never against the unrelated target-domain image the discriminator sees."""
    from gansearch.compress.distill import KDConfig, KDLoss
    from gansearch.compress.structured import prune_filters

    root = unaligned_folder(tmp_path / "d")
    data = load_data(DataConfig(source="unaligned", path=str(root), image_size=16))
    family = get("resnet")
    teacher = family.build_generator(family.configs({"filters": 4, "n_blocks": 1}, {}, data,
                                                    family.train_config())[0]).eval()
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    student = prune_filters(teacher, (x,), 0.5)
    batch = next(family.batches(student, data, 2, seed=0))
    assert batch.target is None and batch.condition is None and batch.real is not None
    kd = KDLoss(teacher, student, (x,), KDConfig(alpha_feature=0, alpha_rec=10, pairs=()))
    student.eval()
    out, teacher_out, terms = kd(student, batch.inputs, batch.target)
    with torch.no_grad():
        expected = 10 * torch.nn.functional.mse_loss(student(*batch.inputs), teacher(*batch.inputs))
    torch.testing.assert_close(terms["rec"].detach(), expected)
    assert not torch.allclose(terms["rec"].detach(), 10 * torch.nn.functional.mse_loss(out, batch.real))
    # and its discriminator sees target-domain images alone (no source beside them)
    dcfg = family.configs({"filters": 4, "n_blocks": 1}, {}, data, family.train_config())[1]
    assert dcfg.input_channels == 3


def test_dry_run_says_what_data_the_trials_read(tmp_path, tiny_singan_teacher, capsys):
    import yaml
    from helpers import space
    from reference_layouts import resnet_state

    from gansearch.cli import main

    root = aligned_folder(tmp_path / "facades")
    torch.save(resnet_state(6, ngf=4), tmp_path / "g.pth")
    assert main(["import", "pix2pix", str(tmp_path / "g.pth"), "--out", str(tmp_path / "t.pt")]) == 0
    raw = space(tmp_path / "t.pt", objectives=[{"metric": "psnr"}, {"metric": "macs"}],
                data={"source": "aligned", "path": "facades", "image_size": 32})  # relative to the YAML
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw))
    capsys.readouterr()
    assert main(["sweep", str(tmp_path / "s.yaml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"teacher family: resnet; data: aligned {root}, 3 item(s) to train on, judged on 3 held out" in out
    # A metric that does not apply to the family is refused by the dry run, before any training.
    raw["objectives"] = [{"metric": "sifid"}, {"metric": "macs"}]
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw))
    assert main(["sweep", str(tmp_path / "s.yaml"), "--dry-run"]) == 2
    assert "quality metric 'sifid' does not apply to the resnet family" in capsys.readouterr().err


def test_psnr_against_the_teachers_translations(tmp_path):
    from gansearch.search.evaluate import EvalConfig, quality

    data = load_data(DataConfig(source="unaligned", path=str(unaligned_folder(tmp_path / "d")), image_size=16,
                                split="test"))
    family = get("resnet")
    config = family.configs({"filters": 4, "n_blocks": 1}, {}, data, family.train_config())[0]
    teacher, student = family.build_generator(config).eval(), family.build_generator(config).eval()
    cfg = EvalConfig(samples=3, reference="teacher")
    assert quality(family, teacher, data, ["psnr"], cfg, teacher=teacher)["psnr"] == float("inf")
    assert 0 < quality(family, student, data, ["psnr"], cfg, teacher=teacher)["psnr"] < 100
    with pytest.raises(ConfigError, match="needs the teacher"):
        quality(family, student, data, ["psnr"], cfg)


def test_inception_is_loaded_once_per_process(inception_weights):
    from gansearch.search.evaluate import inception

    assert inception(str(inception_weights)) is inception(str(inception_weights))  # a worker reuses it
