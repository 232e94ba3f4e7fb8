"""An interrupted sweep resumes: the remaining trials run, finished ones are not repeated in
Ray's results, Optuna's study or MLflow, whether the driver was stopped with Ctrl-C or killed
outright (SIGKILL: no chance to save anything)."""

import os
import signal
import subprocess
import time

import optuna
import pandas as pd
import pytest
import yaml
from helpers import assert_sweep_complete, gansearch, sweep_command, write_space

from gansearch.search.spec import parse_spec
from gansearch.search.trial import finished_result, run_trial

# Slow: drivers killed and resumed in processes of their own.
pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]


class _Crash(Exception):
    pass


def test_a_crashed_trial_continues_after_its_last_finished_step(tiny_singan_teacher, tmp_path):
    _space(tiny_singan_teacher, tmp_path / "s.yaml")
    spec = parse_spec(yaml.safe_load((tmp_path / "s.yaml").read_text()), base=tmp_path)
    knobs = {"prune_filters.amount": 0.5}

    def crash_after_step_1(metrics, progress):
        assert progress is not None and progress.is_file()  # saved before it is reported
        raise _Crash

    with pytest.raises(_Crash):
        run_trial(spec, knobs, tiny_singan_teacher, tmp_path / "t", crash_after_step_1)
    reports = []
    result = run_trial(spec, knobs, tiny_singan_teacher, tmp_path / "t", lambda m, _: reports.append(m),
                       restore=tmp_path / "t" / "progress.pt")
    assert [r["recipe_step"] for r in reports] == [2, 2] and [r["stage"] for r in reports] == [2, 3]
    assert not (tmp_path / "t" / "progress.pt").exists()  # finished: the student supersedes it
    # A finished trial run again (its end never recorded) reads back what it measured.
    assert finished_result(spec, tmp_path / "t") == result


def _space(teacher, path):
    return sweep_command(write_space(
        path, teacher, name="r", recipe=[{"prune_filters": {"amount": 0.5}}, {"finetune": {"iterations": 2}}],
        search={"algorithm": "tpe", "num_samples": 4, "max_concurrent": 1},
        evaluation={"samples": 2, "latency_runs": 1}))


def _start_and_wait(command, folder, finished):
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    deadline = time.time() + 300
    # A trial is through when its progress file is gone; Tune may not have heard of it yet.
    while sum(not (s.parent / "progress.pt").exists()
              for s in folder.glob("students/*/student.pt")) < finished:
        assert first.poll() is None, first.stdout.read()
        assert time.time() < deadline
        time.sleep(0.2)
    return first


def _assert_complete(folder, n):
    """Every trial once in results.csv, the study and MLflow; nothing left RUNNING; every run
    marked FINISHED has its student and samples."""
    table, _, _ = assert_sweep_complete(folder, "r", n)
    study = optuna.load_study(study_name="r", storage=f"sqlite:///{folder / 'optuna.db'}")
    assert not study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
    # A start that a killed driver reported to Optuna but Tune never recorded stays in the study
    # (Optuna cannot delete a trial): a real measurement the search may learn from.
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    ran = {round(a, 9) for a in table["prune_filters.amount"]}
    assert len(complete) >= n and ran <= {round(t.params["prune_filters.amount"], 9) for t in complete}
    assert sorted(p.name for p in (folder / "students").iterdir()) == sorted(table["trial_id"])
    return table


def test_interrupted_sweep_resumes_without_duplicates(tiny_singan_teacher, tmp_path):
    command = _space(tiny_singan_teacher, tmp_path / "space.yaml")
    folder = tmp_path / "runs" / "r"
    first = _start_and_wait(command, folder, 2)
    first.send_signal(signal.SIGINT)  # what Ctrl-C does
    out, _ = first.communicate(timeout=120)
    assert first.returncode == 130, out
    assert "--resume" in out
    before = pd.read_csv(folder / "results.csv", dtype={"trial_id": str})
    done_before = set(before.query("final == 1")["trial_id"])
    assert 1 <= len(done_before) < 4

    second = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stdout + second.stderr
    table = _assert_complete(folder, 4)
    assert done_before <= set(table["trial_id"])


def test_killed_driver_resumes_and_the_report_covers_every_trial(tiny_singan_teacher, tmp_path):
    command = _space(tiny_singan_teacher, tmp_path / "space.yaml")
    folder = tmp_path / "runs" / "r"
    first = _start_and_wait(command, folder, 2)
    os.killpg(first.pid, signal.SIGKILL)  # the driver and the local Ray it started, at once
    first.wait(timeout=60)
    # The live table, replaced whole each time a trial ended, survives the kill readable.
    from gansearch.search.folder import read_table

    live = read_table(folder / "results.csv")
    assert len(live) >= 2 and set(live["status"]) <= {"finished", "running", "pending"}

    second = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stdout + second.stderr
    _assert_complete(folder, 4)
    report = gansearch("report", folder, timeout=120)
    assert report.returncode == 0, report.stderr
    assert "4 trials: 4 finished, 0 failed, 0 stopped early" in report.stdout
