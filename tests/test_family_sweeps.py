"""Sweeps on teachers gansearch did not train: a pix2pix U-Net imported from the reference
layout, and a user's own module defined in a test file, through real Ray and MLflow; the
teacher's quality is measured once and shown beside its students."""

import json
import re
from pathlib import Path

import pytest
import torch
from helpers import spec
from mlflow import MlflowClient
from reference_layouts import unet_state

from gansearch.cli import main
from gansearch.errors import CheckpointError
from gansearch.report.build import build_report
from gansearch.search.sweep import SweepOptions, run_sweep

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("local_ray")]
USER_FILE = Path(__file__).parent / "user_generators.py"


def _teacher(tmp_path, fmt, state, *flags):
    torch.save(state, tmp_path / "weights.pth")
    out = tmp_path / "teacher.pt"
    assert main(["import", fmt, str(tmp_path / "weights.pth"), "--out", str(out), *flags]) == 0
    return tmp_path / "teacher.pt"


def _check(result, quality, teacher_keys):
    table = result.table
    assert len(table) == 2 and (table["status"] == "finished").all(), table["error"].tolist()
    assert set(teacher_keys) <= set(result.teacher)
    report = build_report(result.folder)
    assert report.teacher[quality] == pytest.approx(result.teacher[quality])
    page = (result.folder / "report.html").read_text()
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', page, re.S).group(1))
    assert data["teacher"]["values"][quality] == pytest.approx(result.teacher[quality])
    assert all(f"Δ{quality}" in t["relative"] and "macs / teacher" in t["relative"] for t in data["trials"])
    assert all(t["relative"]["macs / teacher"] < 1 for t in data["trials"])  # pruned: cheaper
    parent = MlflowClient(result.tracking_uri).get_run(result.parent_run_id)
    assert parent.data.metrics[f"teacher.{quality}"] == pytest.approx(result.teacher[quality])
    return report


def test_a_sweep_on_an_imported_pix2pix_unet(tmp_path):
    teacher = _teacher(tmp_path, "pix2pix", unet_state(7, ngf=2, norm="batch"), "--generator", "unet_128",
                       "--data", "{source: edges2photos, image_size: 128, count: 4}")
    result = run_sweep(spec(teacher, name="unet", objectives=[{"metric": "psnr"}, {"metric": "macs"}]),
                       SweepOptions(storage=str(tmp_path / "runs"), verbose=0))
    _check(result, "psnr", ("psnr", "macs", "params"))


def test_a_sweep_on_a_module_defined_in_a_test_file(tmp_path):
    from user_generators import make_decoder

    teacher = _teacher(tmp_path, "module", make_decoder(nz=8, width=8).state_dict(),
                       "--module", f"{USER_FILE}:make_decoder", "--kwargs", "{nz: 8, width: 8}",
                       "--input", "latent:8", "--data", "{source: digits, image_size: 8}")
    raw = spec(teacher, name="mine", teacher={"checkpoint": str(teacher), "trust_code": True},
               objectives=[{"metric": "swd"}, {"metric": "macs"}])
    result = run_sweep(raw, SweepOptions(storage=str(tmp_path / "runs"), verbose=0))
    _check(result, "swd", ("swd", "macs"))
    untrusted = spec(teacher, name="mine2")
    with pytest.raises(CheckpointError, match="trust_code: true"):
        run_sweep(untrusted, SweepOptions(storage=str(tmp_path / "runs"), verbose=0))
