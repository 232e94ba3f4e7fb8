"""A real two-node Ray cluster on loopback: a sweep launched with --address runs its trials on
both nodes, and every result and MLflow run is complete; when the worker node dies mid-sweep,
its trials restart on the head from their last checkpoint and nothing is lost or recorded twice.
The nodes run with Ray's token authentication on, and are stopped by their own processes."""

import contextlib
import glob
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from helpers import assert_sweep_complete, free_port, sweep_command, write_space
from mlflow import MlflowClient

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]
RAY = shutil.which("ray") or os.path.join(os.path.dirname(sys.executable), "ray")


def _nodes(address, env):
    """The alive nodes: {node id: is head}."""
    probe = (f"import json, ray; ray.init(address='{address}', log_to_driver=False); "
             "print(json.dumps({n['NodeID']: 'node:__internal_head__' in n['Resources'] "
             "for n in ray.nodes() if n['Alive']}))")
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    lines = run.stdout.strip().splitlines()
    return json.loads(lines[-1]) if run.returncode == 0 and lines else {}


@dataclass
class Cluster:
    address: str
    env: dict
    worker: subprocess.Popen  # the second node's `ray start --block`
    worker_node_id: str


@pytest.fixture
def two_nodes(tmp_path):
    port = free_port()
    address = f"127.0.0.1:{port}"
    # Token authentication on, with a token of the test's own (a fresh machine has none in
    # ~/.ray); a dead node is noticed in about two seconds instead of Ray's default fifteen.
    token = tmp_path / "ray_token"
    token.write_text(secrets.token_hex(32))
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
           "RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "3"}
    common = ["--num-cpus", "1", "--disable-usage-stats", "--block", "--node-ip-address", "127.0.0.1"]
    head = subprocess.Popen([RAY, "start", "--head", "--port", str(port), "--include-dashboard=false",
                             *common], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nodes = [head]
    try:
        deadline = time.time() + 120
        while len(_nodes(address, env)) < 1:
            assert head.poll() is None and time.time() < deadline, "the head node did not start"
            time.sleep(1)
        worker = subprocess.Popen([RAY, "start", "--address", address, *common], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nodes.append(worker)
        while len(alive := _nodes(address, env)) < 2:
            assert worker.poll() is None and time.time() < deadline, "the worker node did not join"
            time.sleep(1)
        yield Cluster(address, env, worker, next(n for n, is_head in alive.items() if not is_head))
    finally:
        for n in nodes:
            _kill_tree(n.pid)
            n.wait(timeout=30)


def _kill_tree(pid: int) -> None:
    """Our own processes only (a node and what it started), never a machine-wide ray stop."""
    started = [pid, *_descendants(pid)]
    # `ray start --block` and the GCS can take half a minute over SIGTERM: a short grace, then SIGKILL.
    for sig, grace in ((signal.SIGTERM, 3), (signal.SIGKILL, 30)):
        for p in started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, sig)
        deadline = time.time() + grace
        while any(_running(p) for p in started) and time.time() < deadline:
            time.sleep(0.5)


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


def _space(teacher, path, **changes):
    changes = {"name": "c", "recipe": [{"prune_filters": {"amount": 0.5}}, {"finetune": {"iterations": 2}}],
               "search": {"algorithm": "random", "num_samples": 4, "max_concurrent": 2}, **changes}
    return sweep_command(write_space(path, teacher, **changes))


def test_sweep_on_a_two_node_cluster_uses_both_nodes(two_nodes, tiny_singan_teacher, tmp_path):
    command = _space(tiny_singan_teacher, tmp_path / "space.yaml")
    run = subprocess.run(command + ["--address", two_nodes.address], env=two_nodes.env, capture_output=True,
                         text=True, timeout=500)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    _, _, trials = assert_sweep_complete(tmp_path / "runs" / "c", "c", 4)
    assert len({r.data.tags["node"] for r in trials}) == 2, "trials ran on one node only"


def test_worker_node_killed_mid_sweep_its_trial_resumes_on_the_head(two_nodes, tiny_singan_teacher,
                                                                     tmp_path):
    recipe = [{"prune_filters": {"amount": 0.5}}, {"finetune": {"iterations": 15}},
              {"precision": {"dtype": "float32"}}]
    command = _space(tiny_singan_teacher, tmp_path / "space.yaml", recipe=recipe,
                     search={"algorithm": "random", "num_samples": 3, "max_concurrent": 2})
    folder = tmp_path / "runs" / "c"
    sweep = subprocess.Popen(command + ["--address", two_nodes.address], env=two_nodes.env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    victim = _wait_for_checkpointed_trial_on(two_nodes.worker_node_id, folder, sweep)
    _kill_tree(two_nodes.worker.pid)  # the whole node at once, as when a machine dies
    out, _ = sweep.communicate(timeout=500)
    assert sweep.returncode == 0, out[-3000:]

    _, client, trials = assert_sweep_complete(folder, "c", 3)
    run = next(r for r in trials if r.data.tags["gansearch.trial_id"] == victim)
    assert run.data.tags["attempts"] == "2" and run.data.tags["node"] != two_nodes.worker_node_id
    # Restarted from its checkpoint: the step it had finished on the dead node was not run again.
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "swd")]  # logged per step
    assert steps.count(1) == 1 and sorted(set(steps)) == [1, 2, 3]


def _wait_for_checkpointed_trial_on(node_id, folder, sweep):
    """The id of a trial running on ``node_id`` that has saved and reported a finished step."""
    deadline = time.time() + 300
    while time.time() < deadline:
        assert sweep.poll() is None, sweep.stdout.read()
        if (folder / "students").is_dir():  # trials started: the driver has made the MLflow store
            client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
            experiment = client.get_experiment_by_name("c")
            for r in client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING' and "
                                        "tags.`gansearch.role` = 'trial'"):
                trial = r.data.tags.get("gansearch.trial_id")
                saved = (folder / "students" / trial / "progress.pt").is_file()
                if r.data.tags.get("node") == node_id and saved and "recipe_step" in r.data.tags:
                    return trial
        time.sleep(0.2)
    raise AssertionError("no trial checkpointed on the worker node in time")


def test_cluster_yaml_passes_rays_own_validation():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load(Path(__file__).parent.parent.joinpath("cluster.yaml").read_text())
    validate_config(prepare_config(config))  # what `ray up` runs before it starts anything
    assert "gpu_worker" in config["available_node_types"]
    broken = {**config, "head_node_type": "missing"}
    with pytest.raises(ValueError, match="head_node_type"):
        validate_config(prepare_config(broken))
