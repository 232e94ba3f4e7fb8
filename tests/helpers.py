"""What several test files share: a small search space, free ports, running the CLI, and the
check that a sweep's folder and its MLflow store agree."""

import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml
from mlflow import MlflowClient

from gansearch.search.spec import parse_spec


def space(teacher_file, **changes) -> dict:
    """A search space over a tiny teacher that trains in seconds; ``changes`` replace top-level keys."""
    return {
        "name": "t",
        "teacher": {"checkpoint": str(teacher_file)},
        "recipe": [{"prune_filters": {"amount": 0.5}}, {"finetune": {"iterations": 1}}],
        "space": {"prune_filters.amount": {"uniform": [0.1, 0.8]}},
        "objectives": [{"metric": "swd"}, {"metric": "weight_bytes"}],
        "search": {"algorithm": "random", "num_samples": 2, "seed": 0, "max_concurrent": 2},
        "evaluation": {"samples": 2, "latency_runs": 0},
        "device": "cpu",
        **changes,
    }


def spec(teacher_file, **changes):
    return parse_spec(space(teacher_file, **changes), base=Path(teacher_file).parent)


def write_space(path: Path, teacher_file, **changes) -> Path:
    path.write_text(yaml.safe_dump(space(teacher_file, **changes)))
    return path


def sweep_command(space_file: Path, *flags: str) -> list[str]:
    """``gansearch sweep SPACE`` into ``runs/`` beside the file, without Tune's live table."""
    return [sys.executable, "-m", "gansearch.cli", "sweep", str(space_file), "--storage",
            str(space_file.parent / "runs"), "--quiet", *flags]


def gansearch(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    """The CLI in a process of its own, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "gansearch.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout)


def free_port() -> int:
    """A port nothing listens on (for a server to start, or a connection that must fail)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_sweep_complete(folder, experiment, n):
    """n finished trials, each once in results.csv and as an MLflow run; every run FINISHED and
    every trial run holding its student and samples. Returns (results table, client, trial runs)."""
    table = pd.read_csv(folder / "results.csv", dtype={"trial_id": str})
    assert len(table) == n and table["trial_id"].is_unique and (table["status"] == "finished").all()
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    trials = [r for r in runs if r.data.tags.get("gansearch.role") == "trial"]
    assert sorted(r.data.tags["gansearch.trial_id"] for r in trials) == sorted(table["trial_id"])
    assert all(r.info.status == "FINISHED" for r in runs)
    for r in trials:
        assert {"student", "samples.png"} <= {a.path for a in client.list_artifacts(r.info.run_id)}
    return table, client, trials


def calibrated_inception():
    """A randomly initialized FID Inception whose batch norms are fitted to a few photographs, so
    that its features have a usable scale (raw random weights shrink them to ~1e-8)."""
    import torch

    from gansearch.data.images import load_image
    from gansearch.metrics.inception import Inception

    torch.manual_seed(0)
    net = Inception("fid")
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # a plain average over the calibration batch
    photos = torch.stack([load_image(name, max_size=64)[:, :40, :40]
                          for name in ("astronaut", "coffee", "chelsea", "rocket", "brick", "grass")])
    with torch.no_grad():
        net.train()(photos)
    return net.eval()
