"""Export the students of a sweep in forms that load anywhere.

For each exported trial, a folder with:
- ``generator.pt``: the gansearch checkpoint (config, compressed architecture, state dict;
  ``gansearch.checkpoint.load_checkpoint``);
- ``generator.pt2``: the model through ``torch.export``, which loads with torch alone
  (``torch.export.load(path).module()``), and ``generator.ts`` (TorchScript) for older runtimes;
- ``generator.onnx`` when the ``onnx`` package is installed (the card says why when it is not
  written);
- ``inputs.pt`` / ``outputs.pt``: fixed inputs and the student's outputs on them, to check a
  deployment against;
- ``model_card.json``: the trial's knobs and recipe, quality, cost, teacher and sweep, and the
  latency under each deployment runtime with the fastest named (``gansearch.compress.runtime``).
The exported graphs (torch.export, TorchScript, ONNX) have pruning masks folded into the
weights, so they compute the same outputs without the masking machinery.
With ``register``, each exported student also becomes a version of a model in the MLflow
Model Registry, its files attached to the trial's MLflow run.

Nothing that exists is replaced: every trial's folder is checked to be new (and inside ``out``:
trial ids are checked as the sweep folder is read) before the first is written, each is written
under a temporary name and renamed when complete, and the MLflow store is checked before any
file is written when ``register`` asks for it.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from gansearch.checkpoint import load_checkpoint
from gansearch.compress.runtime import DEFAULT_RUNTIMES, check_runtimes, measure_runtimes
from gansearch.compress.unstructured import make_permanent
from gansearch.errors import ConfigError, first_line, short
from gansearch.families import example_input
from gansearch.metrics.cost import human, human_bytes, profile
from gansearch.report.sweep import load_sweep
from gansearch.search.folder import inside, read_table


def export_trials(sweep: str | Path, out: str | Path, *, trial: str | None = None,
                  pareto: bool = False, register: str | None = None, trust_code: bool = False,
                  runtimes: Sequence[str] = DEFAULT_RUNTIMES) -> list[Path]:
    """Export one trial (``trial``) or every trial on the sweep's front (``pareto``);
    ``trust_code`` builds students whose checkpoints name code of the user's (a module teacher);
    ``runtimes`` are timed for the model card (``gansearch.compress.runtime.RUNTIMES``)."""
    runtimes = check_runtimes(runtimes)
    results = load_sweep(sweep)
    folder, table = results.folder, results.table
    if trial is not None:
        rows = table[table["trial_id"] == trial]
        if rows.empty:
            raise ConfigError(f"{folder}: no trial {short(trial)}; trials are "
                              f"{', '.join(table['trial_id'][:20])}")
    elif pareto:
        front = folder / "pareto.csv"
        if not front.is_file():
            raise ConfigError(f"{folder}: no pareto.csv; run 'gansearch report {folder}' first")
        ids = list(read_table(front)["trial_id"])
        strangers = [i for i in ids if i not in set(table["trial_id"])]
        if strangers:
            raise ConfigError(f"{front}: trial {strangers[0]} is not in results.csv; run 'gansearch "
                              f"report {folder}' to write the front again")
        rows = table[table["trial_id"].isin(ids)]
    else:
        raise ConfigError("say what to export: --pareto (the front) or --trial ID")
    rows = rows[rows["status"] == "finished"]
    if rows.empty:
        raise ConfigError(f"{folder}: nothing finished to export")
    targets = {str(t): inside(_output_folder(out), str(t)) for t in rows["trial_id"]}
    taken = [p for p in targets.values() if p.exists() or p.is_symlink()]
    if taken:
        raise ConfigError(f"{taken[0]} already exists; remove it or export to another --out")
    students = {t: _student_file(folder, t) for t in targets}
    if register:
        registry = _registry(folder, register)
    written = [export_trial(folder, row, targets[row["trial_id"]], students[row["trial_id"]], trust_code,
                            runtimes) for row in rows.to_dict("records")]
    if register:
        register_students(registry, folder, written, register)
    return written


def _output_folder(out: str | Path) -> Path:
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: a file, not a folder; name a folder to export into")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create it ({exc.strerror or first_line(exc)}); name a "
                          "folder you can write") from None
    return out


def _student_file(folder: Path, trial_id: str) -> Path:
    # Always the sweep folder's own file: a path written in results.csv may point anywhere (a
    # copied sweep would export the original's students).
    path = inside(folder / "students", trial_id, "student.pt")
    if not path.is_file():
        raise ConfigError(f"{path}: missing; the trial's student is not in the sweep folder")
    return path


def export_trial(sweep: Path, row: dict[str, Any], out: Path, student_file: Path | None = None,
                 trust_code: bool = False, runtimes: Sequence[str] = DEFAULT_RUNTIMES) -> Path:
    """Write the export folder ``out`` (which must not exist) for one finished trial."""
    student_file = student_file or _student_file(sweep, str(row["trial_id"]))
    ckpt = load_checkpoint(student_file, trust_code=trust_code)
    generator = ckpt.generator.eval()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        _write_export(sweep, row, ckpt, generator, student_file, tmp, tuple(runtimes))
        tmp.rename(out)  # all or nothing: a half-written export never carries the final name
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # ours alone: made by mkdtemp above
        raise
    return out


def _write_export(sweep: Path, row: dict[str, Any], ckpt, generator, student_file: Path, tmp: Path,
                  runtimes: tuple[str, ...] = DEFAULT_RUNTIMES) -> None:
    shutil.copy(student_file, tmp / "generator.pt")
    inputs = fixed_inputs(generator, ckpt.meta.get("input_shapes"))
    deployed = make_permanent(copy.deepcopy(generator))  # pruning masks folded into the weights
    with torch.no_grad():
        outputs = generator(*inputs)
    torch.save(inputs, tmp / "inputs.pt")
    torch.save(outputs, tmp / "outputs.pt")
    formats = {"checkpoint": "generator.pt"}
    torch.export.save(torch.export.export(deployed, inputs), tmp / "generator.pt2")
    formats["torch.export"] = "generator.pt2"
    with warnings.catch_warnings():  # TorchScript is deprecated upstream, and still what many runtimes load
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.trace(deployed, inputs).save(str(tmp / "generator.ts"))
    formats["torchscript"] = "generator.ts"
    not_exported = {}
    if importlib.util.find_spec("onnx") is None:
        not_exported["onnx"] = "the onnx package is not installed (pip install onnx onnxscript)"
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(deployed, inputs, str(tmp / "generator.onnx"), dynamo=True,
                                  verbose=False)
            formats["onnx"] = "generator.onnx"
        except Exception as exc:  # noqa: BLE001 - recorded in the card: ONNX lacks some operators
            not_exported["onnx"] = f"{type(exc).__name__}: {first_line(exc)}"
    cost = profile(generator, inputs, latency_runs=0).as_dict()
    times = measure_runtimes(deployed, inputs, runtimes=runtimes, runs=10)
    card = {
        "trial_id": row["trial_id"], "sweep": sweep.name, "model": ckpt.model,
        "teacher": ckpt.meta.get("teacher"), "recipe": ckpt.meta.get("recipe"),
        "knobs": ckpt.meta.get("knobs"), "reported": ckpt.meta.get("metrics"),
        "cost": {k: cost[k] for k in ("params", "nonzero_params", "macs", "effective_macs",
                                      "weight_bytes", "peak_activation_bytes")},
        "runtime": times.as_dict(),
        "dtype": str(next(p for p in generator.parameters() if p.is_floating_point()).dtype),
        "inputs": [list(t.shape) for t in inputs], "files": formats, "not_exported": not_exported,
    }
    (tmp / "model_card.json").write_text(json.dumps(card, indent=2, default=str))


def _registry(sweep: Path, name: str):
    """The MLflow client of the sweep's own store and its experiment, checked before anything
    is exported (a damaged store fails here, not after the files are written)."""
    from mlflow import MlflowClient

    from gansearch.search import tracking

    tracking.quote(name)  # a name MLflow cannot search for is refused now
    if not (sweep / "mlflow.db").is_file():
        raise ConfigError(f"{sweep}: no mlflow.db to register in; export without --register")
    uri = tracking.local_store(sweep)
    tracking.check_reachable(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        experiment = client.get_experiment_by_name(sweep.name)
        client.search_registered_models(max_results=1)
    except Exception as exc:  # MLflow and SQLAlchemy raise many kinds for a damaged store
        raise ConfigError(f"{sweep / 'mlflow.db'}: unusable ({type(exc).__name__}: {first_line(exc)}); "
                          "export without --register") from None
    if experiment is None:
        raise ConfigError(f"{sweep}: its MLflow store has no experiment {short(sweep.name)}")
    return client, experiment


def register_students(registry, sweep: Path, folders: list[Path], name: str) -> list[str]:
    """A Model Registry version of ``name`` per exported student, its files logged to the
    trial's MLflow run under ``export/`` and the student logged there as an MLflow model
    (``export/mlflow_model``: the PyTorch flavor, saved through ``torch.export``, and pyfunc,
    with its signature and input example), so ``mlflow.pytorch.load_model("models:/NAME/N")``
    and ``mlflow models serve`` load it. Members of the sweep's front are tagged ``pareto``.
    Returns the version numbers."""
    from gansearch.search import tracking

    client, experiment = registry
    if not client.search_registered_models(f"name = {tracking.quote(name)}"):
        client.create_registered_model(name, description=f"gansearch students of sweep {sweep.name}")
    front = _front_ids(sweep)
    versions = []
    for folder in folders:
        card = json.loads((folder / "model_card.json").read_text())
        runs = client.search_runs([experiment.experiment_id],
                                  tracking.where(**{tracking.TRIAL_TAG: card["trial_id"]}), max_results=1)
        if not runs:
            raise ConfigError(f"{sweep}: no MLflow run for trial {card['trial_id']}")
        run = runs[0]
        client.log_artifacts(run.info.run_id, str(folder), "export")
        with tempfile.TemporaryDirectory() as tmp:
            _save_mlflow_model(folder, Path(tmp) / "mlflow_model")
            client.log_artifacts(run.info.run_id, str(Path(tmp) / "mlflow_model"), "export/mlflow_model")
        version = client.create_model_version(
            name, source=f"{run.info.artifact_uri}/export/mlflow_model", run_id=run.info.run_id,
            tags=_card_tags(card, card["trial_id"] in front), description=_card_text(card))
        versions.append(version.version)
    return versions


def _save_mlflow_model(folder: Path, path: Path) -> None:
    """The exported student as an MLflow model: ``torch.export`` serialization (nothing
    unpickled at load), the recorded inputs as its example and their outputs in the signature."""
    import mlflow.pytorch
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    program = torch.export.load(folder / "generator.pt2")
    inputs = torch.load(folder / "inputs.pt", weights_only=True)
    outputs = torch.load(folder / "outputs.pt", weights_only=True)
    example = inputs[0].numpy() if len(inputs) == 1 else [t.numpy() for t in inputs]

    def spec(t: torch.Tensor, name: str | None = None) -> TensorSpec:
        return TensorSpec(t.numpy().dtype, tuple(t.shape), name=name)

    # One input is one unnamed tensor (what pyfunc's predict takes); several are named.
    signature = ModelSignature(
        Schema([spec(t, f"input_{i}") for i, t in enumerate(inputs)] if len(inputs) > 1
               else [spec(inputs[0])]), Schema([spec(outputs)]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.pytorch.save_model(program.module(), str(path), serialization_format="pt2",
                                  input_example=example, signature=signature,
                                  pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"])


def _front_ids(sweep: Path) -> set[str]:
    front = sweep / "pareto.csv"
    return set(read_table(front)["trial_id"].astype(str)) if front.is_file() else set()


def _card_tags(card: dict[str, Any], on_front: bool) -> dict[str, str]:
    from gansearch.search import tracking

    cost, runtime = card["cost"], card.get("runtime") or {}
    tags = {"trial_id": card["trial_id"], "sweep": card["sweep"], "model": str(card["model"]),
            "pareto": "true" if on_front else "false", "dtype": card["dtype"],
            "params": str(cost["params"]), "macs": str(cost["macs"]),
            "weight_bytes": str(cost["weight_bytes"])}
    if runtime.get("fastest"):
        tags["runtime"] = f"{runtime['fastest']} ({runtime['device']})"
    for key, value in (card.get("knobs") or {}).items():
        tags[f"knob.{tracking.mlflow_key(key)}"] = str(value)
    return tags


def _card_text(card: dict[str, Any]) -> str:
    """The model card as a description people read in the MLflow UI (Markdown)."""
    cost, runtime = card["cost"], card.get("runtime") or {}
    lines = [f"**Trial {card['trial_id']}** of sweep `{card['sweep']}` "
             f"({card['model']}, {card['dtype']}).", ""]
    if card.get("knobs"):
        lines += ["Knobs: " + ", ".join(f"`{k}` = {v}" for k, v in card["knobs"].items()), ""]
    if card.get("recipe"):
        lines += ["Recipe: " + " -> ".join(next(iter(step)) if isinstance(step, dict) else str(step)
                                           for step in card["recipe"]), ""]
    reported = card.get("reported") or {}
    if reported:
        lines += ["Quality and cost as the trial measured them: " +
                  ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in reported.items()), ""]
    lines += [f"Parameters {human(cost['params'])}, MACs {human(cost['macs'])}, weights "
              f"{human_bytes(cost['weight_bytes'])}, peak activations "
              f"{human_bytes(cost['peak_activation_bytes'])}."]
    if runtime.get("latency_ms"):
        timings = ", ".join(f"{k} {v:.2f} ms" for k, v in runtime["latency_ms"].items())
        lines += ["", f"Latency on {runtime['device']}: {timings} (fastest: {runtime['fastest']})."]
    return "\n".join(lines)


def fixed_inputs(generator, shapes: list[list[int]] | None) -> tuple[torch.Tensor, ...]:
    """Seeded inputs of the shapes the trial measured (the family's defaults if unknown)."""
    dtype = next(p for p in generator.parameters() if p.is_floating_point()).dtype
    if not shapes:
        shapes = [list(t.shape) for t in example_input(generator, 1)]
    gen = torch.Generator().manual_seed(0)
    return tuple(torch.randn(*shape, generator=gen).to(dtype) for shape in shapes)
