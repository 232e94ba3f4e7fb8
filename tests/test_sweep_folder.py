"""A sweep folder under attack: nothing outside it is deleted or overwritten, its tables are
checked as they are read, two sweeps never share it, and an edited spec is not resumed into it.

One real small sweep is made for the module; each test works on a copy when it damages it."""

import json
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from helpers import space, spec, sweep_command, write_space
from mlflow import MlflowClient

from gansearch.cli import main
from gansearch.errors import ConfigError, SweepBusyError
from gansearch.search import folder as sweep_files
from gansearch.search.sweep import SweepOptions, run_sweep
from gansearch.search.tracking import quote, where

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("local_ray")]


@pytest.fixture(scope="module")
def sweep(tiny_singan_teacher, tmp_path_factory):
    result = run_sweep(spec(tiny_singan_teacher, name="f"),
                       SweepOptions(storage=str(tmp_path_factory.mktemp("runs")), verbose=0))
    assert main(["report", str(result.folder), "--no-mlflow"]) == 0
    return result


@pytest.fixture
def copy(sweep, tmp_path):
    """A copy of the sweep folder, to damage."""
    return shutil.copytree(sweep.folder, tmp_path / "f")


def _rewrite(folder, name, change):
    table = pd.read_csv(folder / name, dtype={"trial_id": str})
    change(table)
    table.to_csv(folder / name, index=False)


def _one_line(capsys, message):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gansearch: error: ") and message in err, err


# 1. Export deletes and overwrites nothing it did not make.


@pytest.mark.parametrize("hostile", ["../../victim", "ABSOLUTE"])
def test_export_refuses_trial_ids_that_are_paths(copy, tmp_path, capsys, hostile):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("mine")
    hostile = str(victim) if hostile == "ABSOLUTE" else hostile
    first = pd.read_csv(copy / "pareto.csv", dtype={"trial_id": str})["trial_id"].iloc[0]
    for name in ("results.csv", "pareto.csv"):
        _rewrite(copy, name, lambda t: t.replace({"trial_id": {first: hostile}}, inplace=True))
    out = tmp_path / "out" / "deep"
    assert main(["export", str(copy), "--pareto", "--out", str(out)]) == 2
    _one_line(capsys, "is not a trial id")
    assert (victim / "precious.txt").read_text() == "mine"
    assert not (tmp_path / "out").exists()


def test_export_never_replaces_an_existing_folder(sweep, tmp_path, capsys):
    trial = sweep.front["trial_id"].iloc[0]
    (tmp_path / trial).mkdir()
    (tmp_path / trial / "notes.txt").write_text("mine")
    assert main(["export", str(sweep.folder), "--pareto", "--out", str(tmp_path)]) == 2
    _one_line(capsys, "already exists")
    assert (tmp_path / trial / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [trial]  # nothing else written


def test_export_reads_the_students_of_its_own_folder(copy, tiny_singan_teacher, tmp_path):
    """A results.csv naming a student file elsewhere (a copied sweep, or a hostile one) is not
    followed: the folder's own students/<id>/student.pt is what gets exported."""
    trial = pd.read_csv(copy / "pareto.csv", dtype={"trial_id": str})["trial_id"].iloc[0]
    _rewrite(copy, "results.csv", lambda t: t.__setitem__("student_file", str(tiny_singan_teacher)))
    assert main(["export", str(copy), "--trial", trial, "--out", str(tmp_path / "out")]) == 0
    exported = (tmp_path / "out" / trial / "generator.pt").read_bytes()
    assert exported == (copy / "students" / trial / "student.pt").read_bytes()


@pytest.mark.parametrize("where_to", ["file", "under a file"])
def test_export_out_must_be_a_folder_it_can_make(sweep, tmp_path, capsys, where_to):
    (tmp_path / "a").write_text("a file")
    out = tmp_path / "a" if where_to == "file" else tmp_path / "a" / "b"
    assert main(["export", str(sweep.folder), "--pareto", "--out", str(out)]) == 2
    _one_line(capsys, "--out")
    assert (tmp_path / "a").read_text() == "a file"


def test_export_with_a_damaged_mlflow_store_writes_nothing(copy, tmp_path, capsys):
    (copy / "mlflow.db").write_bytes(b"\x00\x01 not a database" * 100)
    assert main(["export", str(copy), "--pareto", "--out", str(tmp_path / "out"), "--register", "m"]) == 2
    _one_line(capsys, "mlflow.db")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_model_name_with_a_quote_registers(copy, tmp_path):
    assert main(["export", str(copy), "--pareto", "--out", str(tmp_path / "out"), "--register", "it's"]) == 0
    client = MlflowClient(f"sqlite:///{copy / 'mlflow.db'}", registry_uri=f"sqlite:///{copy / 'mlflow.db'}")
    front = pd.read_csv(copy / "pareto.csv", dtype={"trial_id": str})
    assert len(client.search_model_versions(f"name = {quote(chr(39).join(['it', 's']))}")) == len(front)


# 5. One quoting helper for MLflow filters.


def test_mlflow_filters_quote_any_value(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    experiment = client.create_experiment("e")
    for value in ("it's", 'say "hi"', "plain"):
        run = client.create_run(experiment, tags={"gansearch.sweep": value})
        [found] = client.search_runs([experiment], where(**{"gansearch.sweep": value}))
        assert found.info.run_id == run.info.run_id
    with pytest.raises(ConfigError, match="both kinds of quotes"):
        quote("""it's "both" """)


# 7 and 10. Tables are checked as they are read.


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "results.csv").write_bytes(b""), "results.csv: empty"),
    (lambda f: (f / "results.csv").write_bytes(bytes(range(256)) * 8), "results.csv"),
    (lambda f: _rewrite(f, "results.csv", lambda t: t.__setitem__("swd", ["bad", *t["swd"][1:]])),
     "swd is 'bad', not a finite number"),
    (lambda f: _rewrite(f, "results.csv", lambda t: t.__setitem__("swd", [float("inf"), *t["swd"][1:]])),
     "swd is inf, not a finite number"),
    (lambda f: pd.concat([pd.read_csv(f / "results.csv", dtype={"trial_id": str})] * 2).to_csv(
        f / "results.csv", index=False), "appears more than once"),
    (lambda f: (f / "results.csv").write_text((f / "results.csv").read_text()[:-40]), "was cut"),
    (lambda f: (f / "results.csv").write_text("\n".join((f / "results.csv").read_text().splitlines()[:-1])
                                              + "\n"), "rows, but the sweep wrote 2"),
])
def test_report_and_export_refuse_a_damaged_results_table(copy, tmp_path, capsys, damage, message):
    damage(copy)
    assert main(["report", str(copy), "--no-mlflow"]) == 2
    _one_line(capsys, message)
    assert main(["export", str(copy), "--pareto", "--out", str(tmp_path / "out")]) == 2
    _one_line(capsys, message)
    assert not (tmp_path / "out").exists()


def test_pareto_table_is_checked_too(copy, tmp_path, capsys):
    (copy / "pareto.csv").write_text("trial_id,status\n0123abcd,finished\n")
    assert main(["export", str(copy), "--pareto", "--out", str(tmp_path / "out")]) == 2
    _one_line(capsys, "not in results.csv")


# 9. The report page survives hostile text in what it shows.


def test_report_page_escapes_markup_in_its_data(copy):
    hostile = "<!--<script>alert(1)</script>"
    _rewrite(copy, "results.csv", lambda t: t.__setitem__("prune_filters.amount", hostile))
    assert main(["report", str(copy), "--no-mlflow"]) == 0
    html = (copy / "report.html").read_text()
    payload = re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1)
    assert "<" not in payload and ">" not in payload  # nothing the HTML parser could act on
    data = json.loads(payload)
    assert {t["config"]["prune_filters.amount"] for t in data["trials"]} == {hostile}
    assert html.count("<script") == 2  # the data and the page's own script, nothing more


# 4. One sweep per folder at a time.


def test_a_held_sweep_folder_is_refused_and_left_alone(sweep, tiny_singan_teacher):
    storage, name = sweep.folder.parent, sweep.folder.name
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from gansearch.search.folder import SweepLock\n"
        f"with SweepLock({str(storage)!r}, {name!r}):\n"
        "    print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = sorted(p.name for p in sweep.folder.iterdir())
        with pytest.raises(SweepBusyError, match=rf"in use by gansearch pid {holder.pid}"):
            run_sweep(spec(tiny_singan_teacher, name=name), SweepOptions(storage=str(storage), resume=True))
        assert sorted(p.name for p in sweep.folder.iterdir()) == before
    finally:
        holder.kill()
        holder.wait()
    # The holder died without letting go: its lock file stays, and is no obstacle.
    assert (storage / f".{name}.lock").exists()
    with sweep_files.SweepLock(storage, name):
        pass
    assert not (storage / f".{name}.lock").exists()


@pytest.mark.slow
def test_two_sweeps_started_together_one_runs_one_is_refused(tiny_singan_teacher, tmp_path):
    path = write_space(tmp_path / "space.yaml", tiny_singan_teacher, name="twin",
                       search={"algorithm": "random", "num_samples": 1})
    command = sweep_command(path)
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outs = [r.communicate(timeout=250) for r in runs]
    codes = sorted(r.returncode for r in runs)
    assert codes == [0, 2], outs
    loser = outs[[r.returncode for r in runs].index(2)][1]
    assert loser.count("\n") == 1 and ("in use by" in loser or "already holds a sweep" in loser), loser
    assert pd.read_csv(tmp_path / "runs" / "twin" / "results.csv")["status"].tolist() == ["finished"]


# 2. An edited spec is not resumed into a sweep.


def test_resume_with_an_edited_spec_is_refused_and_shows_the_change(sweep, tiny_singan_teacher, capsys):
    storage = sweep.folder.parent
    written = (sweep.folder / "spec.yaml").read_text()
    edited = spec(tiny_singan_teacher, name="f", space={"prune_filters.amount": {"uniform": [0.2, 0.8]}},
                  recipe=[{"prune_filters": {"amount": 0.5}}, {"finetune": {"iterations": 3}}])
    with pytest.raises(ConfigError) as refused:
        run_sweep(edited, SweepOptions(storage=str(storage), resume=True))
    message = str(refused.value)
    assert "--resume: the spec differs" in message
    assert "recipe: " in message and "space.prune_filters.amount.uniform: [0.1, 0.8] -> [0.2, 0.8]" in message
    assert (sweep.folder / "spec.yaml").read_text() == written


def test_resume_with_a_changed_teacher_is_refused(sweep, tiny_singan_teacher, tmp_path):
    other = tmp_path / "teacher.pt"
    other.write_bytes(tiny_singan_teacher.read_bytes() + b"\x00")
    with pytest.raises(ConfigError, match="teacher checkpoint .* changed"):
        sweep_files.check_same_spec(sweep.folder, space(tiny_singan_teacher, name="f"), other)
    sweep_files.check_same_spec(sweep.folder, space(tiny_singan_teacher, name="f"), tiny_singan_teacher)


# 6. A sweep whose every trial failed says so and exits non-zero.


def test_a_sweep_with_every_trial_failed_exits_non_zero(tiny_singan_teacher, tmp_path, capsys):
    path = write_space(tmp_path / "space.yaml", tiny_singan_teacher, name="bad", max_failures=0,
                       recipe=[{"finetune": {"iterations": 2, "lr_factor": 1.0e12}}], space={})
    assert main(["sweep", str(path), "--storage", str(tmp_path / "runs"), "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert "2 trials: 0 finished, 2 failed" in out
    assert "failed (2): DivergedError: training diverged" in out
    assert err.strip().splitlines()[-1] == "gansearch: error: no trial finished; the reasons are listed above"


def test_a_teacher_config_trains_once_for_every_sweep_of_a_storage(tmp_path, capsys):
    from gansearch.search.spec import parse_spec
    from gansearch.search.teacher import TEACHER_CACHE, prepare_teacher

    (tmp_path / "tiny.yaml").write_text(
        "model: singan\ndata: {source: image, name: astronaut, max_size: 20}\n"
        "generator: {filters: 4}\ntrain: {iterations: 2, min_size: 16}\ndevice: cpu\n")
    raw = {"name": "a", "teacher": {"config": "tiny.yaml"},
           "recipe": [{"prune_filters": {"amount": 0.5}}],
           "space": {"prune_filters.amount": {"uniform": [0.1, 0.9]}},
           "objectives": [{"metric": "swd"}, {"metric": "macs"}]}
    storage = tmp_path / "runs"
    first = prepare_teacher(parse_spec(raw, base=tmp_path), storage / "a")
    assert "training the teacher" in capsys.readouterr().out
    second = prepare_teacher(parse_spec({**raw, "name": "b"}, base=tmp_path), storage / "b")
    assert "using the teacher trained before" in capsys.readouterr().out
    assert first.read_bytes() == second.read_bytes() and first != second
    assert len(list((storage / TEACHER_CACHE).glob("*/teacher.pt"))) == 1
    config = tmp_path / "tiny.yaml"
    config.write_text(config.read_text().replace("filters: 4", "filters: 6"))
    prepare_teacher(parse_spec({**raw, "name": "c"}, base=tmp_path), storage / "c")
    assert "training the teacher" in capsys.readouterr().out  # another config, another teacher
    assert len(list((storage / TEACHER_CACHE).glob("*/teacher.pt"))) == 2
