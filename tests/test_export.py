"""Exported students load where only torch is installed, reproduce the trial's outputs, cost
what MLflow recorded, and are registered in the MLflow Model Registry."""

import json
import subprocess
import sys

import helpers
import mlflow
import onnxruntime
import pytest
import torch
from mlflow import MlflowClient

import gansearch
from gansearch.checkpoint import load_checkpoint
from gansearch.cli import main
from gansearch.errors import ConfigError
from gansearch.export import export_trials
from gansearch.search.sweep import SweepOptions, run_sweep

pytestmark = pytest.mark.timeout(600)

ONLY_TORCH = """
import sys, torch
assert "gansearch" not in sys.modules
for folder in sys.argv[1:]:
    inputs, expected = torch.load(folder + "/inputs.pt"), torch.load(folder + "/outputs.pt")
    exported = torch.export.load(folder + "/generator.pt2").module()
    scripted = torch.jit.load(folder + "/generator.ts")
    with torch.no_grad():
        for model in (exported, scripted):
            torch.testing.assert_close(model(*inputs), expected)
print("ok")
"""


@pytest.fixture(scope="module")
def sweep(tiny_singan_teacher, tmp_path_factory, local_ray):
    spec = helpers.spec(
        tiny_singan_teacher, name="e",
        recipe=[{"prune_filters": {"amount": 0.5}}, {"precision": {"dtype": "float32"}}],
        space={"precision.dtype": {"grid": ["float32", "float16"]},
               "prune_filters.amount": {"grid": [0.25, 0.75]}},
        search={"algorithm": "grid", "num_samples": 1})
    return run_sweep(spec, SweepOptions(storage=str(tmp_path_factory.mktemp("runs")), verbose=0))


def test_front_exports_reload_with_torch_alone_and_match_mlflow(sweep, tmp_path):
    assert main(["export", str(sweep.folder), "--pareto", "--out", str(tmp_path),
                 "--register", "student"]) == 0
    folders = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert {f.name for f in folders} == set(sweep.front["trial_id"])

    client = MlflowClient(sweep.tracking_uri, registry_uri=sweep.tracking_uri)
    versions = client.search_model_versions("name = 'student'")
    assert len(versions) == len(folders)
    check = subprocess.run([sys.executable, "-c", ONLY_TORCH, *map(str, folders)], capture_output=True,
                           text=True)
    assert check.stdout.strip() == "ok", check.stderr  # in a process where only torch is imported
    for folder in folders:
        card = json.loads((folder / "model_card.json").read_text())
        child = client.search_runs([client.get_experiment_by_name("e").experiment_id],
                                   f"tags.`gansearch.trial_id` = '{card['trial_id']}'")[0]
        student = load_checkpoint(folder / "generator.pt").generator
        inputs = torch.load(folder / "inputs.pt")
        cost = gansearch.profile(student, inputs, latency_runs=0)
        for key in ("weight_bytes", "params", "macs"):
            assert getattr(cost, key) == child.data.metrics[key] == card["cost"][key]
        assert "export/generator.pt2" in {a.path for a in client.list_artifacts(child.info.run_id, "export")}
    # Each registered version is an MLflow model that MLflow itself loads by name.
    mlflow.set_registry_uri(sweep.tracking_uri)
    mlflow.set_tracking_uri(sweep.tracking_uri)
    for version in versions:
        folder = tmp_path / version.tags["trial_id"]
        loaded = mlflow.pytorch.load_model(f"models:/student/{version.version}")
        inputs, expected = torch.load(folder / "inputs.pt"), torch.load(folder / "outputs.pt")
        with torch.no_grad():
            torch.testing.assert_close(loaded(*inputs), expected)
        assert version.tags["pareto"] == "true" and version.tags["macs"] == str(
            json.loads((folder / "model_card.json").read_text())["cost"]["macs"])
        assert f"Trial {version.tags['trial_id']}" in version.description
        flavors = mlflow.models.get_model_info(f"models:/student/{version.version}").flavors
        assert "pytorch" in flavors  # pyfunc too where there is one input (MLflow's limit)
        assert ("python_function" in flavors) == (len(inputs) == 1)

    half = [f for f in folders if json.loads((f / "model_card.json").read_text())["dtype"] == "torch.float16"]
    assert half, "the front of this grid holds a float16 student"
    for folder in set(folders) - set(half):  # ONNX Runtime reproduces the float32 students
        card = json.loads((folder / "model_card.json").read_text())
        assert card["files"]["onnx"] == "generator.onnx" and card["not_exported"] == {}
        session = onnxruntime.InferenceSession(str(folder / "generator.onnx"),
                                               providers=["CPUExecutionProvider"])
        inputs, expected = torch.load(folder / "inputs.pt"), torch.load(folder / "outputs.pt")
        feed = {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs, strict=True)}
        got = session.run(None, feed)[0]
        torch.testing.assert_close(torch.from_numpy(got), expected, atol=1e-4, rtol=1e-3)
        runtime = card["runtime"]
        assert {"eager", "onnxruntime"} <= set(runtime["latency_ms"])
        assert runtime["fastest"] == min(runtime["latency_ms"], key=runtime["latency_ms"].get)


def test_a_one_input_student_is_also_a_pyfunc_model(tmp_path):
    from gansearch.export import _save_mlflow_model

    generator = gansearch.families.build("dcgan", "generator",
                                         {"image_size": 16, "latent_dim": 8, "filters": 4}).eval()
    inputs = (torch.randn(1, 8, 1, 1),)
    with torch.no_grad():
        outputs = generator(*inputs)
    torch.export.save(torch.export.export(generator, inputs), tmp_path / "generator.pt2")
    torch.save(inputs, tmp_path / "inputs.pt")
    torch.save(outputs, tmp_path / "outputs.pt")
    _save_mlflow_model(tmp_path, tmp_path / "mlflow_model")
    served = mlflow.pyfunc.load_model(str(tmp_path / "mlflow_model"))
    got = served.predict(inputs[0].numpy())
    torch.testing.assert_close(torch.as_tensor(got), outputs)


def test_one_trial_by_id_and_bad_requests(sweep, tmp_path):
    trial = sweep.table["trial_id"].iloc[0]
    [folder] = export_trials(sweep.folder, tmp_path, trial=trial)
    assert (folder / "generator.pt2").is_file() and not list(tmp_path.glob("*.partial"))
    with pytest.raises(ConfigError, match="no trial 'nope'"):
        export_trials(sweep.folder, tmp_path, trial="nope")
    with pytest.raises(ConfigError, match="no results.csv"):
        export_trials(tmp_path, tmp_path / "x", pareto=True)
