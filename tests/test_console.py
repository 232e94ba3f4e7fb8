"""What a sweep prints: a line per trial as it ends, with its id, knobs, objectives and front
mark, then a summary a person can act on; Tune's tables and Ray's startup messages stay out."""

import re

import helpers
import pandas as pd
import pytest


@pytest.mark.slow
def test_a_line_per_trial_with_ids_then_a_summary(tiny_singan_teacher, tmp_path):
    space = helpers.write_space(tmp_path / "space.yaml", tiny_singan_teacher,
                                search={"algorithm": "tpe", "num_samples": 3, "seed": 0,
                                        "max_concurrent": 2})
    run = helpers.gansearch("sweep", space, "--storage", tmp_path / "runs", timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    table = pd.read_csv(tmp_path / "runs" / "t" / "results.csv", dtype={"trial_id": str})
    front = set(pd.read_csv(tmp_path / "runs" / "t" / "pareto.csv", dtype={"trial_id": str})["trial_id"])
    lines = [line for line in run.stdout.splitlines() if re.match(r"\[\d+/3, \d+ running\] ", line)]
    assert len(lines) == 3, run.stdout
    for trial_id in table["trial_id"]:
        [line] = [line for line in lines if f"] {trial_id}  amount=" in line]
        assert "swd " in line and "weight_bytes " in line
        if trial_id in front:  # unbeaten at the end, so unbeaten by those before it too
            assert line.endswith("* front")
    assert sorted(int(line[1]) for line in lines) == [1, 2, 3]
    assert "Trial status" not in run.stdout and "Trial name" not in run.stdout  # no Tune tables
    assert "A new study created" not in run.stdout + run.stderr  # nor Optuna's notes
    for trial_id in front:  # the summary's front names its trials, which export --trial takes
        assert re.search(rf"^\s*{trial_id}\s", run.stdout, re.MULTILINE)
    assert "hypervolume: " in run.stdout and "% of the box" in run.stdout
    assert f"gansearch report {tmp_path / 'runs' / 't'}" in run.stdout
    assert "gansearch export" in run.stdout and "mlflow ui --backend-store-uri" in run.stdout
