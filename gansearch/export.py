"""Export the students of a sweep in forms that load anywhere.

For each exported trial, a folder with:
- ``generator.pt``: the gansearch checkpoint (config, compressed architecture, state dict;
  ``gansearch.checkpoint.load_checkpoint``);
- ``generator.pt2``: the model through ``torch.export``, which loads with torch alone
  (``torch.export.load(path).module()``), and ``generator.ts`` (TorchScript) for older runtimes;
- ``generator.onnx`` when the ``onnx`` package is installed;
- ``inputs.pt`` / ``outputs.pt``: fixed inputs and the student's outputs on them, to check a
  deployment against;
- ``model_card.json``: the trial's knobs and recipe, quality, cost, teacher and sweep.
With ``register``, each exported student also becomes a version of a model in the MLflow
Model Registry, its files attached to the trial's MLflow run.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch

from gansearch.checkpoint import load_checkpoint
from gansearch.errors import ConfigError
from gansearch.metrics.cost import profile
from gansearch.models import example_input


def read_results(sweep: str | Path):
    """The results table of a sweep folder (``results.csv``), trial ids as text."""
    import pandas as pd

    folder = Path(sweep)
    path = folder / "results.csv"
    if not path.is_file():
        raise ConfigError(f"{folder}: no results.csv; pass the folder of a finished sweep "
                          f"(e.g. runs/sweeps/NAME)")
    return pd.read_csv(path, dtype={"trial_id": str})


def export_trials(sweep: str | Path, out: str | Path, *, trial: str | None = None,
                  pareto: bool = False, register: str | None = None) -> list[Path]:
    """Export one trial (``trial``) or every trial on the sweep's front (``pareto``)."""
    folder = Path(sweep)
    table = read_results(folder)
    if trial is not None:
        rows = table[table["trial_id"] == trial]
        if rows.empty:
            raise ConfigError(f"{folder}: no trial {trial!r}; trials are {', '.join(table['trial_id'])}")
    elif pareto:
        front = folder / "pareto.csv"
        if not front.is_file():
            raise ConfigError(f"{folder}: no pareto.csv; run 'gansearch report {folder}' first")
        rows = table[table["trial_id"].isin(read_front_ids(front))]
    else:
        raise ConfigError("say what to export: --pareto (the front) or --trial ID")
    rows = rows[rows["status"] == "finished"]
    if rows.empty:
        raise ConfigError(f"{folder}: nothing finished to export")
    out = Path(out)
    written = []
    for _, row in rows.iterrows():
        written.append(export_trial(folder, row.to_dict(), out / str(row["trial_id"])))
    if register:
        register_students(folder, written, register)
    return written


def read_front_ids(path: Path) -> list[str]:
    import pandas as pd

    return list(pd.read_csv(path, dtype={"trial_id": str})["trial_id"])


def export_trial(sweep: Path, row: dict[str, Any], out: Path) -> Path:
    student_file = Path(row["student_file"])
    if not student_file.is_file():  # the sweep folder may have moved since it ran
        student_file = sweep / "students" / str(row["trial_id"]) / "student.pt"
    ckpt = load_checkpoint(student_file)
    generator = ckpt.generator.eval()
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copy(student_file, tmp / "generator.pt")
    inputs = fixed_inputs(generator, ckpt.meta.get("input_shapes"))
    with torch.no_grad():
        outputs = generator(*inputs)
    torch.save(inputs, tmp / "inputs.pt")
    torch.save(outputs, tmp / "outputs.pt")
    formats = {"checkpoint": "generator.pt"}
    torch.export.save(torch.export.export(generator, inputs), tmp / "generator.pt2")
    formats["torch.export"] = "generator.pt2"
    with warnings.catch_warnings():  # TorchScript is deprecated upstream, and still what many runtimes load
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.trace(generator, inputs).save(str(tmp / "generator.ts"))
    formats["torchscript"] = "generator.ts"
    if importlib.util.find_spec("onnx") is not None:
        torch.onnx.export(generator, inputs, str(tmp / "generator.onnx"), dynamo=False)
        formats["onnx"] = "generator.onnx"
    cost = profile(generator, inputs, latency_runs=0).as_dict()
    card = {
        "trial_id": row["trial_id"], "sweep": sweep.name, "model": ckpt.model,
        "teacher": ckpt.meta.get("teacher"), "recipe": ckpt.meta.get("recipe"),
        "knobs": ckpt.meta.get("knobs"), "reported": ckpt.meta.get("metrics"),
        "cost": {k: cost[k] for k in ("params", "nonzero_params", "macs", "effective_macs",
                                      "weight_bytes", "peak_activation_bytes")},
        "dtype": str(next(p for p in generator.parameters() if p.is_floating_point()).dtype),
        "inputs": [list(t.shape) for t in inputs], "files": formats,
    }
    (tmp / "model_card.json").write_text(json.dumps(card, indent=2, default=str))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # all or nothing: a half-written export never carries the final name
    return out


def register_students(sweep: Path, folders: list[Path], name: str) -> list[str]:
    """A Model Registry version of ``name`` per exported student, its files logged to the
    trial's MLflow run under ``export/``. Returns the version numbers."""
    from mlflow import MlflowClient

    from gansearch.search import tracking

    uri = tracking.local_store(sweep)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name(sweep.name)
    if experiment is None:
        raise ConfigError(f"{sweep}: its MLflow store has no experiment {sweep.name!r}")
    if not client.search_registered_models(f"name = '{name}'"):
        client.create_registered_model(name, description="gansearch students")
    versions = []
    for folder in folders:
        card = json.loads((folder / "model_card.json").read_text())
        runs = client.search_runs([experiment.experiment_id],
                                  f"tags.`{tracking.TRIAL_TAG}` = '{card['trial_id']}'", max_results=1)
        if not runs:
            raise ConfigError(f"{sweep}: no MLflow run for trial {card['trial_id']}")
        run = runs[0]
        client.log_artifacts(run.info.run_id, str(folder), "export")
        version = client.create_model_version(
            name, source=f"{run.info.artifact_uri}/export", run_id=run.info.run_id,
            tags={"trial_id": card["trial_id"], "sweep": card["sweep"]},
            description=json.dumps(card["cost"]))
        versions.append(version.version)
    return versions


def fixed_inputs(generator, shapes: list[list[int]] | None) -> tuple[torch.Tensor, ...]:
    """Seeded inputs of the shapes the trial measured (the family's defaults if unknown)."""
    dtype = next(p for p in generator.parameters() if p.is_floating_point()).dtype
    if not shapes:
        shapes = [list(t.shape) for t in example_input(generator, 1)]
    gen = torch.Generator().manual_seed(0)
    return tuple(torch.randn(*shape, generator=gen).to(dtype) for shape in shapes)
