"""Sweeps on a user's translation data: a CycleGAN-layout folder with an imported reference
ResNet, distilled unpaired and judged by KID (Inception from a local file named by
GANSEARCH_INCEPTION_WEIGHTS), and a pix2pix-layout folder with an imported U-Net, prune-distilled
on pairs and judged by PSNR; real Ray and MLflow."""

import pytest
import torch
from helpers import space, spec
from mlflow import MlflowClient
from reference_layouts import resnet_state, unet_state
from translation_folders import aligned_folder, unaligned_folder

from gansearch.cli import main
from gansearch.search.sweep import SweepOptions, run_sweep

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("local_ray")]


def _import(tmp_path, state, *flags):
    torch.save(state, tmp_path / "latest_net_G.pth")
    out = tmp_path / "teacher.pt"
    assert main(["import", "pix2pix", str(tmp_path / "latest_net_G.pth"), "--out", str(out), *flags]) == 0
    return out


def test_unpaired_distillation_on_a_cyclegan_folder_judged_by_kid(tmp_path, inception_weights, monkeypatch):
    monkeypatch.setenv("GANSEARCH_INCEPTION_WEIGHTS", str(inception_weights))  # the workers inherit it
    root = unaligned_folder(tmp_path / "horse2zebra")
    teacher = _import(tmp_path, resnet_state(6, ngf=4, norm="instance"))
    data = {"source": "unaligned", "path": str(root), "image_size": 32}
    recipe = [{"prune_filters": {"amount": 0.5}},
              {"distill": {"iterations": 2, "batch_size": 2, "alpha_feature": 0.0}}]
    result = run_sweep(spec(teacher, name="h2z", data=data, recipe=recipe,
                            objectives=[{"metric": "kid"}, {"metric": "macs"}],
                            evaluation={"samples": 3, "latency_runs": 0}),
                       SweepOptions(storage=str(tmp_path / "runs"), verbose=0))
    table = result.table
    assert (table["status"] == "finished").all(), table["error"].tolist()
    assert table["kid"].notna().all() and "kid" in result.teacher
    assert (table["macs"] < result.teacher["macs"]).all()
    client = MlflowClient(result.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("h2z").experiment_id])
    trials = [r for r in runs if r.data.tags.get("gansearch.role") == "trial"]
    assert len(trials) == 2 and all("kid" in r.data.metrics for r in trials)


def test_paired_prune_distill_on_a_pix2pix_folder_judged_by_psnr(tmp_path):
    root = aligned_folder(tmp_path / "facades", side=40)
    teacher = _import(tmp_path, unet_state(5, ngf=2, norm="batch"))
    data = {"source": "aligned", "path": str(root), "image_size": 32}
    recipe = [{"prune_distill": {"step_ratio": 0.25, "target_ratio": 0.5, "iterations_per_step": 1,
                                 "batch_size": 2}}]
    result = run_sweep(spec(teacher, name="facades", data=data, recipe=recipe,
                            space={"prune_distill.target_ratio": {"choice": [0.25, 0.5]}},
                            objectives=[{"metric": "psnr"}, {"metric": "macs"}]),
                       SweepOptions(storage=str(tmp_path / "runs"), verbose=0))
    table = result.table
    assert (table["status"] == "finished").all(), table["error"].tolist()
    assert "psnr" in result.teacher and (table["macs"] < result.teacher["macs"]).all()


def test_a_missing_inception_file_is_refused_before_anything_runs(tmp_path, monkeypatch, capsys):
    import yaml

    monkeypatch.setenv("GANSEARCH_INCEPTION_WEIGHTS", str(tmp_path / "absent.pth"))
    root = unaligned_folder(tmp_path / "d")
    teacher = _import(tmp_path, resnet_state(6, ngf=4, norm="instance"))
    raw = space(teacher, name="x", objectives=[{"metric": "fid"}, {"metric": "macs"}],
                data={"source": "unaligned", "path": str(root), "image_size": 32})
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw))
    assert main(["sweep", str(tmp_path / "s.yaml"), "--storage", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "absent.pth: no such Inception weights file" in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()
    raw["objectives"] = [{"metric": "psnr"}, {"metric": "macs"}]  # no ground truth for unpaired data
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw))
    assert main(["sweep", str(tmp_path / "s.yaml"), "--dry-run"]) == 2
    assert "evaluation.reference: teacher" in capsys.readouterr().err
