"""Bad input to `gansearch sweep`: one clear line naming the problem, exit code 2, and no
results folder or MLflow run left half-written."""

import pickle
import socket
import subprocess
import sys

import pytest
import torch
import yaml


def _space(teacher, **changes):
    return {"name": "b", "teacher": {"checkpoint": str(teacher)},
            "recipe": [{"prune_unstructured": {"sparsity": 0.5}}, {"finetune": {"iterations": 1}}],
            "space": {"prune_unstructured.sparsity": {"uniform": [0.1, 0.9]}},
            "objectives": [{"metric": "swd"}, {"metric": "weight_bytes"}], "device": "cpu", **changes}


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Payload:
    def __reduce__(self):  # what a hostile checkpoint does: run code when unpickled
        return (print, ("code ran",))


def _cases(teacher, tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00not a checkpoint" * 64)
    hostile = tmp_path / "hostile.pt"
    torch.save({"format": "gansearch.checkpoint", "version": 1, "meta": Payload()}, hostile,
               pickle_protocol=pickle.HIGHEST_PROTOCOL)
    return {
        "malformed yaml": ("name: [b\n  teacher: :", [], "invalid YAML"),
        "unknown key": (_space(teacher, colour=1), [], "unknown key(s) 'colour'"),
        "sparsity 1": (_space(teacher, space={"prune_unstructured.sparsity": {"uniform": [0.5, 1.0]}}), [],
                       "allows 1.0"),
        "filters 0": (_space(teacher, recipe=[{"scratch": {"filters": 0}}, "finetune"], space={}), [],
                      "scratch.filters"),
        "step ratio 1.5": (_space(teacher, recipe=[{"prune_distill": {"step_ratio": 1.5}}], space={}), [],
                           "step_ratio"),
        "target below step": (_space(teacher, recipe=[{"prune_distill": {"step_ratio": 0.2,
                                                                         "target_ratio": 0.1}}], space={}),
                              [], "below the step ratio"),
        "missing teacher": (_space(tmp_path / "nope.pt"), [], "no such checkpoint file"),
        "corrupt teacher": (_space(corrupt), [], "not a loadable checkpoint"),
        "pickled objects": (_space(hostile), [], "not a loadable checkpoint"),
        "tracking uri": (_space(teacher), ["--tracking-uri", f"http://127.0.0.1:{_closed_port()}"],
                         "cannot reach the MLflow server"),
        "ray address": (_space(teacher), ["--address", f"127.0.0.1:{_closed_port()}"],
                        "cannot connect to Ray"),
    }


CASES = ["malformed yaml", "unknown key", "sparsity 1", "filters 0", "step ratio 1.5", "target below step",
         "missing teacher", "corrupt teacher", "pickled objects", "tracking uri", "ray address"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_exit_2_and_nothing_written(case, tiny_singan_teacher, tmp_path):
    space, flags, message = _cases(tiny_singan_teacher, tmp_path)[case]
    path = tmp_path / "space.yaml"
    path.write_text(space if isinstance(space, str) else yaml.safe_dump(space))
    storage = tmp_path / "runs"
    run = subprocess.run([sys.executable, "-m", "gansearch.cli", "sweep", str(path), "--storage",
                          str(storage), *flags], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("gansearch: error: "), run.stderr
    assert message in run.stderr
    assert "code ran" not in run.stdout + run.stderr
    assert not storage.exists(), "a failed start left a results folder behind"
