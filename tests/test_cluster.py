"""A real two-node Ray cluster on loopback: a sweep launched with --address runs its trials on
both nodes, and every result and MLflow run is complete. The nodes run with Ray's token
authentication on, and are stopped by their own processes at the end."""

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

pytestmark = pytest.mark.timeout(600)
RAY = shutil.which("ray") or os.path.join(os.path.dirname(sys.executable), "ray")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive_nodes(address, env):
    probe = (f"import ray; ray.init(address='{address}', log_to_driver=False); "
             "print(sum(n['Alive'] for n in ray.nodes()))")
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    return int(run.stdout.strip().splitlines()[-1]) if run.returncode == 0 and run.stdout.strip() else 0


@pytest.fixture
def two_nodes(tmp_path):
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    common = ["--num-cpus", "1", "--disable-usage-stats", "--block", "--node-ip-address", "127.0.0.1"]
    head = subprocess.Popen([RAY, "start", "--head", "--port", str(port), "--include-dashboard=false",
                             *common], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nodes = [head]
    try:
        deadline = time.time() + 120
        while _alive_nodes(address, env) < 1:
            assert head.poll() is None and time.time() < deadline, "the head node did not start"
            time.sleep(1)
        worker = subprocess.Popen([RAY, "start", "--address", address, *common], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nodes.append(worker)
        while _alive_nodes(address, env) < 2:
            assert worker.poll() is None and time.time() < deadline, "the worker node did not join"
            time.sleep(1)
        yield address, env
    finally:
        # Our own processes only (the nodes and what they started), never a machine-wide ray stop.
        started = [pid for n in nodes for pid in (n.pid, *_descendants(n.pid))]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in started:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.time() + 30
            while any(_running(pid) for pid in started) and time.time() < deadline:
                time.sleep(0.5)
        for n in nodes:
            n.wait(timeout=30)


def _descendants(pid: int) -> list[int]:
    """Processes started by ``pid``, at any depth (read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sweep_on_a_two_node_cluster_uses_both_nodes(two_nodes, tiny_singan_teacher, tmp_path):
    address, env = two_nodes
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({
        "name": "c", "teacher": {"checkpoint": str(tiny_singan_teacher)},
        "recipe": [{"prune_filters": {"amount": 0.5}}, {"finetune": {"iterations": 2}}],
        "space": {"prune_filters.amount": {"uniform": [0.1, 0.8]}},
        "objectives": [{"metric": "swd"}, {"metric": "weight_bytes"}],
        "search": {"algorithm": "random", "num_samples": 4, "max_concurrent": 2},
        "evaluation": {"samples": 2, "latency_runs": 0}, "device": "cpu"}))
    run = subprocess.run([sys.executable, "-m", "gansearch.cli", "sweep", str(space), "--address", address,
                          "--storage", str(tmp_path / "runs"), "--quiet"], env=env, capture_output=True,
                         text=True, timeout=500)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    folder = tmp_path / "runs" / "c"
    table = pd.read_csv(folder / "results.csv", dtype={"trial_id": str})
    assert len(table) == 4 and (table["status"] == "finished").all()
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("c").experiment_id])
    trials = [r for r in runs if r.data.tags.get("gansearch.role") == "trial"]
    assert sorted(r.data.tags["gansearch.trial_id"] for r in trials) == sorted(table["trial_id"])
    assert all(r.info.status == "FINISHED" for r in trials)
    assert len({r.data.tags["node"] for r in trials}) == 2, "trials ran on one node only"


def test_cluster_yaml_passes_rays_own_validation():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load(Path(__file__).parent.parent.joinpath("cluster.yaml").read_text())
    validate_config(prepare_config(config))  # what `ray up` runs before it starts anything
    assert "gpu_worker" in config["available_node_types"]
    broken = {**config, "head_node_type": "missing"}
    with pytest.raises(ValueError, match="head_node_type"):
        validate_config(prepare_config(broken))
