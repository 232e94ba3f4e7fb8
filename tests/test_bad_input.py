"""Bad input: one clear line naming the problem, exit code 2, and nothing written.

Input that is refused while it is parsed is tried in this process (fast); each kind of failure
(a parse error, a checkpoint error, a connection error, a resource error) is also tried once
through the console script, as a user meets it."""

import pickle

import pytest
import torch
import yaml
from helpers import free_port, gansearch, space

from gansearch.cli import main


class Payload:
    def __reduce__(self):  # what a hostile checkpoint does: run code when unpickled
        return (print, ("code ran",))


def _alias_bomb() -> str:
    """A 'billion laughs' in YAML: ten levels of ten aliases, 10^10 values once expanded."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\nname: *l9\n"


def _teachers(teacher, tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00not a checkpoint" * 64)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    hostile = tmp_path / "hostile.pt"
    torch.save({"format": "gansearch.checkpoint", "version": 1, "meta": Payload()}, hostile,
               pickle_protocol=pickle.HIGHEST_PROTOCOL)
    return {"corrupt": corrupt, "empty": empty, "hostile": hostile, "missing": tmp_path / "nope.pt"}


def _sweep_cases(teacher, t):
    nan, inf = float("nan"), float("inf")
    return {
        "malformed yaml": ("name: [b\n  teacher: :", "invalid YAML at line"),
        "not utf-8": (b"name: t\xff\xfe\n", "not a UTF-8 text file"),
        "alias bomb": (_alias_bomb(), "expand to more than"),
        "unknown key": (space(teacher, colour=1), "unknown key(s) 'colour'"),
        "sparsity 1": (space(teacher, recipe=[{"prune_unstructured": {"sparsity": 0.5}}],
                             space={"prune_unstructured.sparsity": {"uniform": [0.5, 1.0]}}), "allows 1.0"),
        "filters 0": (space(teacher, recipe=[{"scratch": {"filters": 0}}, "finetune"], space={}),
                      "scratch.filters"),
        "step ratio 1.5": (space(teacher, recipe=[{"prune_distill": {"step_ratio": 1.5}}], space={}),
                           "step_ratio"),
        "target below step": (space(teacher, recipe=[{"prune_distill": {"step_ratio": 0.2,
                                                                        "target_ratio": 0.1}}], space={}),
                              "below the step ratio"),
        "fixed knob nan": (space(teacher, recipe=[{"prune_filters": {"amount": nan}}], space={}),
                           "finite number"),
        "bound inf": (space(teacher, space={"prune_filters.amount": {"uniform": [0.1, inf]}}),
                      "finite numbers"),
        "choice nan": (space(teacher, space={"prune_filters.amount": {"choice": [0.5, nan]}}),
                       "finite number"),
        "cpus inf": (space(teacher, resources={"cpus": inf}), "finite number"),
        "gpus nan": (space(teacher, resources={"gpus": nan}), "finite number"),
        "time budget nan": (space(teacher, search={"time_budget_s": nan}), "finite number"),
        "seed negative": (space(teacher, search={"seed": -1}), "search.seed must satisfy"),
        "seed too large": (space(teacher, evaluation={"seed": 2**40}), "evaluation.seed must satisfy"),
        "device spelling": (space(teacher, device="gpu0"), "must be auto, cpu, cuda or cuda:N"),
        "name escapes": (space(teacher, name="../escaped"), "is not a sweep name"),
        "name absolute": (space(teacher, name="/tmp/x"), "is not a sweep name"),
        "name empty": (space(teacher, name=""), "is not a sweep name"),
        "name dot": (space(teacher, name="."), "is not a sweep name"),
        "name quote": (space(teacher, name="it's"), "is not a sweep name"),
        "missing teacher": (space(t["missing"]), "no such checkpoint file"),
        "corrupt teacher": (space(t["corrupt"]), "not a loadable checkpoint"),
        "empty teacher": (space(t["empty"]), "not a loadable checkpoint"),
        "pickled objects": (space(t["hostile"]), "not a loadable checkpoint"),
    }


def _expect_one_line(capsys, message):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gansearch: error: "), err
    assert message in err, err
    assert len(err) < 600 and "code ran" not in err
    return err


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", list(_sweep_cases("t.pt", {k: "x" for k in
                                                             ("corrupt", "empty", "hostile", "missing")})))
def test_bad_search_space_is_one_line_exit_2_and_nothing_written(case, tiny_singan_teacher, tmp_path,
                                                                 capsys):
    raw, message = _sweep_cases(tiny_singan_teacher, _teachers(tiny_singan_teacher, tmp_path))[case]
    path = tmp_path / "space.yaml"
    if isinstance(raw, bytes):
        path.write_bytes(raw)
    else:
        path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw))
    storage = tmp_path / "runs"
    assert main(["sweep", str(path), "--storage", str(storage)]) == 2
    _expect_one_line(capsys, message)
    assert "code ran" not in capsys.readouterr().out
    assert not storage.exists(), "a failed start left a results folder behind"


@pytest.mark.parametrize("flags, message", [
    (["--name", "../escaped"], "is not a sweep name"),
    (["--name", "a/b"], "is not a sweep name"),
    (["--num-samples", "0"], "--num-samples must satisfy"),
    (["--gpus-per-trial", "nan"], "finite number"),
])
def test_bad_sweep_flags(flags, message, tiny_singan_teacher, tmp_path, capsys):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space(tiny_singan_teacher)))
    assert main(["sweep", str(path), "--storage", str(tmp_path / "runs"), *flags]) == 2
    _expect_one_line(capsys, message)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "escaped").exists()


@pytest.mark.parametrize("setting, message", [
    ("prune_filters.amount=[0.5", "--set prune_filters.amount: invalid YAML"),
    ("prune_filters.amount=.nan", "finite number"),
    ("prune_filters.amount=.inf", "finite number"),
    ("prune_filters.amont=0.5", "unknown recipe setting"),
    ("prune_filters.amount", "expected KEY=VALUE"),
])
def test_bad_trial_settings(setting, message, tiny_singan_teacher, tmp_path, capsys):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space(tiny_singan_teacher)))
    assert main(["trial", str(path), "--set", setting, "--out", str(tmp_path / "out")]) == 2
    _expect_one_line(capsys, message)
    assert not (tmp_path / "out").exists()


def test_zero_byte_checkpoint_in_profile(tmp_path, capsys):
    (tmp_path / "empty.pt").write_bytes(b"")
    assert main(["profile", str(tmp_path / "empty.pt")]) == 2
    _expect_one_line(capsys, "not a loadable checkpoint")


# Once per kind of failure, through the console script.


@pytest.mark.parametrize("kind", ["parse", "checkpoint", "tracking", "ray address"])
def test_each_kind_of_failure_through_the_console_script(kind, tiny_singan_teacher, tmp_path):
    t = _teachers(tiny_singan_teacher, tmp_path)
    raw, flags, message = {
        "parse": (space(tiny_singan_teacher, colour=1), [], "unknown key(s) 'colour'"),
        "checkpoint": (space(t["hostile"]), [], "not a loadable checkpoint"),
        "tracking": (space(tiny_singan_teacher), ["--tracking-uri", f"http://127.0.0.1:{free_port()}"],
                     "cannot reach the MLflow server"),
        "ray address": (space(tiny_singan_teacher), ["--address", f"127.0.0.1:{free_port()}"],
                        "cannot connect to Ray"),
    }[kind]
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(raw))
    run = gansearch("sweep", path, "--storage", tmp_path / "runs", *flags, timeout=120)
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("gansearch: error: "), run.stderr
    assert message in run.stderr and "code ran" not in run.stdout + run.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("change, message", [
    ({"resources": {"cpus": 64}}, "each trial asks for 64 CPU"),
    ({"resources": {"gpus": 8}}, "each trial asks for 8 GPU"),
    ({"device": "cuda:99"}, "cuda:99"),
])
def test_resources_this_machine_lacks_are_refused_before_ray_starts(change, message, tiny_singan_teacher,
                                                                     tmp_path, capsys):
    """A local Ray cannot give a trial 64 CPUs: refused in one line, not a sweep that waits forever
    (--dry-run says so too)."""
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space(tiny_singan_teacher, **change)))
    for flags in (["--dry-run"], []):
        assert main(["sweep", str(path), "--storage", str(tmp_path / "runs"), *flags]) == 2
        _expect_one_line(capsys, message)
    assert not (tmp_path / "runs").exists()
