"""Pareto front and hypervolume against brute force and hand-computed cases; the report of a
real small sweep (files, MLflow tags, CLI errors); the page in headless Chromium."""

import itertools
import json
import re
import shutil
import subprocess

import helpers
import numpy as np
import pandas as pd
import pytest

from gansearch.cli import main
from gansearch.errors import ConfigError
from gansearch.report import hypervolume, pareto_front, reference_point

OBJ = {"q": "min", "c": "max", "m": "min"}


def _brute_front(df, objectives):
    """Row labels of the front by the definition, first of equal points kept."""
    rows = [(i, r) for i, r in df.iterrows() if not any(pd.isna(r[k]) for k in objectives)]

    def better_or_equal(a, b, k):
        return a[k] <= b[k] if objectives[k] == "min" else a[k] >= b[k]

    def dominates(a, b):
        return all(better_or_equal(a, b, k) for k in objectives) and \
            any(a[k] != b[k] for k in objectives)

    front, seen = [], set()
    for i, r in rows:
        point = tuple(r[k] for k in objectives)
        if not any(dominates(o, r) for _, o in rows) and point not in seen:
            seen.add(point)
            front.append(i)
    return front


@pytest.mark.parametrize("seed", range(5))
def test_pareto_front_matches_brute_force_with_ties_duplicates_and_nan(seed):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.integers(0, 4, size=(40, 3)).astype(float), columns=list(OBJ))  # many ties
    df.loc[rng.choice(40, 5, replace=False), "c"] = np.nan
    front = pareto_front(df, OBJ)
    assert set(front.index) == set(_brute_front(df, OBJ))
    assert front.attrs["excluded"] == 5
    assert not front.duplicated(subset=list(OBJ)).any()
    assert list(front["q"]) == sorted(front["q"])


def test_pareto_front_keeps_the_first_of_equal_points_and_accepts_spec_objectives():
    from gansearch.search.spec import Objective

    df = pd.DataFrame({"trial_id": ["a", "b", "c"], "swd": [1.0, 1.0, 2.0], "macs": [5, 5, 9]})
    front = pareto_front(df, [Objective("swd"), Objective("macs")])
    assert list(front["trial_id"]) == ["a"] and front.attrs == {"excluded": 0, "duplicates": 1}
    with pytest.raises(ConfigError, match="flops"):
        pareto_front(df, {"flops": "min"})
    with pytest.raises(ConfigError, match="min' or 'max"):
        pareto_front(df, {"swd": "smallest"})


def test_hypervolume_by_hand_in_two_dimensions():
    front = pd.DataFrame({"q": [1.0, 2.0, 3.0], "c": [3.0, 2.0, 1.0]})
    # Staircase under the reference (4, 4): slabs of c [1,2), [2,3), [3,4) are 1, 2 and 3 wide.
    assert hypervolume(front, {"q": "min", "c": "min"}, {"q": 4, "c": 4}) == pytest.approx(6.0)
    # A maximized objective mirrors: psnr 30 against a reference of 20 is 10 wide.
    one = pd.DataFrame({"psnr": [30.0], "c": [1.0]})
    assert hypervolume(one, {"psnr": "max", "c": "min"}, {"psnr": 20, "c": 3}) == pytest.approx(20.0)
    # A point no better than the reference adds nothing.
    assert hypervolume(front, {"q": "min", "c": "min"}, {"q": 1, "c": 4}) == 0.0


def test_derived_reference_point_is_the_worst_nudged_by_a_tenth_of_the_range():
    trials = pd.DataFrame({"q": [1.0, 3.0], "psnr": [20.0, 30.0]})
    assert reference_point(trials, {"q": "min", "psnr": "max"}) == pytest.approx({"q": 3.2, "psnr": 19.0})


def test_hypervolume_in_three_dimensions_matches_a_monte_carlo_union_of_boxes():
    rng = np.random.default_rng(0)
    points = rng.random((6, 3))
    front = pd.DataFrame(points, columns=["a", "b", "c"])
    objectives = {"a": "min", "b": "min", "c": "min"}
    exact = hypervolume(front, objectives, {"a": 1, "b": 1, "c": 1})
    grid = (np.arange(60) + 0.5) / 60  # midpoints of a 60^3 grid over the unit cube
    cells = np.array(list(itertools.product(grid, grid, grid)))
    covered = np.zeros(len(cells), dtype=bool)
    for p in points:
        covered |= np.all(cells >= p, axis=1)
    assert exact == pytest.approx(covered.mean(), abs=0.01)
    # One point: a box.
    box = pd.DataFrame({"a": [0.5], "b": [0.25], "c": [0.0]})
    assert hypervolume(box, objectives, {"a": 1, "b": 1, "c": 1}) == pytest.approx(0.375)


# A real small sweep, shared by the report tests.


@pytest.fixture(scope="module")
def sweep_folder(tiny_singan_teacher, tmp_path_factory, local_ray):
    from gansearch.search.sweep import SweepOptions, run_sweep

    spec = helpers.spec(
        tiny_singan_teacher, name="r",
        recipe=[{"prune_filters": {"amount": 0.5}}, {"finetune": {"iterations": 1}},
                {"precision": {"dtype": "float32"}}],
        space={"prune_filters.amount": {"uniform": [0.1, 0.8]},
               "precision.dtype": {"choice": ["float32", "float16"]}},
        objectives=[{"metric": "swd"}, {"metric": "weight_bytes"}, {"metric": "macs"}],
        search={"algorithm": "random", "num_samples": 3, "seed": 0, "max_concurrent": 2})
    return run_sweep(spec, SweepOptions(storage=str(tmp_path_factory.mktemp("sweeps")), verbose=0,
                                        on_update=_snapshot))


LIVE: list[dict] = []  # what each live update of the fixture's sweep saw


def _snapshot(folder):
    from gansearch.report.build import build_report

    table = pd.read_csv(folder / "results.csv")
    build_report(folder, track=False, live=True)
    LIVE.append({"statuses": list(table["status"]),
                 "page": _page_data((folder / "report.html").read_text(encoding="utf-8"))})


@pytest.fixture(scope="module")
def report(sweep_folder):
    from gansearch.report.build import build_report

    return build_report(sweep_folder.folder)


def _page_data(html: str) -> dict:
    text = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S).group(1)
    return json.loads(text)


def test_report_writes_front_plots_and_a_self_contained_page(sweep_folder, report):
    folder = sweep_folder.folder
    table = pd.read_csv(folder / "results.csv", dtype={"trial_id": str})
    assert len(table) == 3 and (table["status"] == "finished").all()
    objectives = {"swd": "min", "weight_bytes": "min", "macs": "min"}
    expected = pareto_front(table, objectives)
    assert set(report.front["trial_id"]) == set(expected["trial_id"])
    assert set(pd.read_csv(folder / "pareto.csv", dtype={"trial_id": str})["trial_id"]) == \
        set(expected["trial_id"])
    assert report.hypervolume > 0
    assert report.hypervolume == pytest.approx(hypervolume(expected, objectives, trials=table))
    for name in ("front_macs.png", "front_weight_bytes.png", "report.html"):
        assert (folder / name).stat().st_size > 1000
    assert report.teacher["macs"] > table["macs"].max()  # the students are pruned

    html = (folder / "report.html").read_text()
    assert "<script src" not in html and "<link" not in html and "http://" not in html.replace(
        "http://www.w3.org/2000/svg", "")  # nothing fetched at view time
    data = _page_data(html)
    assert len(data["trials"]) == 3 and sum(t["front"] for t in data["trials"]) == len(expected)
    assert all(t["thumbnail"].startswith("data:image/png;base64,") for t in data["trials"])
    assert data["hypervolume"] == pytest.approx(report.hypervolume)


def test_report_tags_exactly_the_front_in_mlflow(sweep_folder, report):
    from mlflow import MlflowClient

    client = MlflowClient(sweep_folder.tracking_uri)
    experiment = client.get_experiment_by_name("r")
    runs = client.search_runs([experiment.experiment_id])
    children = [r for r in runs if r.data.tags.get("gansearch.role") == "trial"]
    assert len(children) == 3
    front = set(report.front["trial_id"])
    for run in children:
        member = run.data.tags["gansearch.trial_id"] in front
        assert run.data.tags["pareto"] == ("true" if member else "false")
    assert report.parent_run_id == sweep_folder.parent_run_id
    logged = {a.path for a in client.list_artifacts(report.parent_run_id, "report")}
    assert {"report/report.html", "report/pareto.csv", "report/front_macs.png"} <= logged


def test_report_compare_overlays_another_sweeps_front(sweep_folder, report, tmp_path, capsys):
    # Copies: the shared sweep's own page stays as its fixture wrote it (the browser test reads it).
    skip = shutil.ignore_patterns("mlflow.db", "ray")
    mine, other = (shutil.copytree(sweep_folder.folder, tmp_path / n, ignore=skip) for n in ("mine", "other"))
    table = pd.read_csv(other / "results.csv", dtype={"trial_id": str})
    table["swd"] *= 0.5  # a better sweep
    table.to_csv(other / "results.csv", index=False)
    assert main(["report", str(mine), "--compare", str(other), "--no-mlflow"]) == 0
    printed = float(re.search(r"^hypervolume (\S+) ", capsys.readouterr().out, re.M).group(1))
    data = _page_data((mine / "report.html").read_text())
    objectives = {"swd": "min", "weight_bytes": "min", "macs": "min"}
    own = pd.read_csv(mine / "results.csv", dtype={"trial_id": str})
    reference = reference_point(pd.concat([own, table]), objectives)  # shared, so the two compare
    assert printed == pytest.approx(hypervolume(pareto_front(own, objectives), objectives, reference),
                                    rel=1e-5)
    assert data["hypervolume"] == pytest.approx(printed, rel=1e-5)
    assert data["compare"]["name"] == "other"
    assert len(data["compare"]["front"]) == len(pareto_front(table, objectives))
    assert data["compare"]["hypervolume"] > data["hypervolume"]


def test_report_errors_name_the_problem(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no such sweep folder" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "no results.csv" in capsys.readouterr().err
    (tmp_path / "results.csv").write_text("trial_id,status,swd\n0123abcd,finished,1\n")
    (tmp_path / "spec.yaml").write_text("objectives: [{metric: swd}, {metric: macs}]\n")
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "macs" in err and len(err.strip().splitlines()) == 1


# The page in a real browser.


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="no chromium (apt-get install chromium)")
def test_page_in_headless_chromium(sweep_folder, report, tmp_path):
    folder = sweep_folder.folder
    page = (folder / "report.html").as_uri()
    trial = report.front["trial_id"].iloc[0]
    base = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}",
            "--enable-logging=stderr", "--v=0"]
    run = subprocess.run([*base, "--dump-dom", f"{page}?hover={trial}"], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    # Chromium logs every console message as INFO:CONSOLE without its level; the page logs
    # nothing when all is well, so any message from it (an error, an uncaught exception) fails.
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    dom = run.stdout
    circles = re.findall(r'<circle class="(trial[^"]*)" [^>]*data-trial="([^"]+)"', dom)
    assert len(circles) == 3
    assert {t for c, t in circles if "front" in c} == set(report.front["trial_id"])
    tooltip = re.search(r'<div id="tooltip" data-trial="([^"]+)"[^>]*>(.*?)</div>', dom, re.S)
    assert tooltip and tooltip.group(1) == trial
    assert "prune_filters.amount" in tooltip.group(2) and "weight_bytes" in tooltip.group(2)
    assert "data:image/png;base64," in tooltip.group(2)
    assert len(re.findall(r"<tr data-trial=", dom)) == 3
    # Axes read: round ticks with units, the teacher as a point, this view's own front ringed.
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', dom)
    assert len(ticks) >= 6 and any(t.endswith(("B", "kB", "MB")) for t in ticks), ticks
    assert "weight_bytes (bytes, lower is better)" in dom
    assert re.search(r'<rect class="teacher"', dom)
    ringed = set(re.findall(r'<circle class="view-front" [^>]*data-trial="([^"]+)"', dom))
    assert ringed and ringed <= {t for _, t in circles}
    # Samples along the front: the teacher's first, then every front member's, each with a caption.
    figures = re.findall(r'<figure class="sample" data-trial="([^"]+)"><img src="data:image/png;base64,', dom)
    assert figures[0] == "teacher" and sorted(figures[1:]) == sorted(report.front["trial_id"])
    assert re.search(r"<figcaption>teacher: swd [0-9.]+, weight_bytes [0-9.]+ ?[kM]?B</figcaption>", dom)

    shot = tmp_path / "report.png"
    subprocess.run([*base, "--window-size=1000,900", f"--screenshot={shot}", f"{page}?hover={trial}"],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000


def test_results_and_page_are_rewritten_as_trials_end(sweep_folder, report):
    # One update per ended trial (a trial's final result, then its completion), each with the
    # whole table: trials still going are "running" or "pending", and the page says it is live.
    assert len(LIVE) >= 3
    assert all(len(s["statuses"]) >= 1 for s in LIVE)
    assert any({"running", "pending"} & set(s["statuses"]) for s in LIVE)
    assert LIVE[-1]["statuses"].count("finished") == 3
    assert all(s["page"]["live"]["reload_s"] > 0 for s in LIVE)
    # The final report (built after the sweep) does not reload.
    assert _page_data((sweep_folder.folder / "report.html").read_text(encoding="utf-8"))["live"] is None


def _dump_dom(url: str, tmp_path, budget_ms: int = 0) -> str:
    args = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}",
            "--enable-logging=stderr", "--v=0", "--allow-file-access-from-files"]
    if budget_ms:  # virtual time: the page's timers fire without waiting
        args.append(f"--virtual-time-budget={budget_ms}")
    run = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    return run.stdout


def _loads_after(page, wait_s: float, tmp_path) -> tuple[str, str]:
    """How many times ``page`` loaded within ``wait_s`` seconds (virtual time), and its DOM: it
    runs in a frame of a wrapper page, since a page that reloads itself never ends a dump."""
    wrapper = page.parent / "wrapper.html"
    wrapper.write_text(f"""<!DOCTYPE html><body><iframe id="f" src="{page.name}"></iframe>
<p id="out"></p>
<script>setTimeout(() => {{ const d = document.getElementById("f").contentDocument;
  const out = document.getElementById("out");
  out.textContent = d.body.dataset.loads + "|" + d.getElementById("live").outerHTML;
}}, {int(wait_s * 1000)});</script>""")
    dom = _dump_dom(wrapper.as_uri(), tmp_path, budget_ms=int(wait_s * 1000) + 1000)
    out = re.search(r'<p id="out">([^|]*)\|(.*?)</p>\s*<script', dom, re.S)
    return out.group(1), out.group(2)


@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="no chromium (apt-get install chromium)")
def test_live_page_reloads_itself_and_the_final_one_does_not(sweep_folder, report, tmp_path):
    from gansearch.report.build import LIVE_RELOAD_S, build_report

    live = tmp_path / "live"
    shutil.copytree(sweep_folder.folder, live, ignore=shutil.ignore_patterns("ray", "mlartifacts"))
    build_report(live, track=False, live=True)
    loads, banner = _loads_after(live / "report.html", 1.6 * LIVE_RELOAD_S, tmp_path / "a")
    assert loads == "2"
    assert re.search(r"Live: the sweep is running\. Updated \d\d:\d\d:\d\d", banner)
    build_report(live, track=False)
    loads, banner = _loads_after(live / "report.html", 1.6 * LIVE_RELOAD_S, tmp_path / "b")
    assert loads == "1" and "hidden" in banner


@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="no chromium (apt-get install chromium)")
def test_dashboard_compares_the_sweeps_of_a_storage_folder(sweep_folder, report, tmp_path, capsys):
    storage = tmp_path / "sweeps"
    storage.mkdir()
    shutil.copytree(sweep_folder.folder, storage / "first",
                    ignore=shutil.ignore_patterns("ray", "mlartifacts"))
    shutil.copytree(storage / "first", storage / "second")
    (storage / "broken").mkdir()
    (storage / "broken" / "spec.yaml").write_text("objectives: 3\n")
    (storage / "broken" / "results.csv").write_text("trial_id,status\n")
    (storage / ".teachers").mkdir()  # the teacher cache is not a sweep
    assert main(["dashboard", str(storage)]) == 0
    assert f"dashboard: {storage / 'index.html'}" in capsys.readouterr().out
    dom = _dump_dom((storage / "index.html").as_uri(), tmp_path)
    rows = re.findall(r'<tr data-sweep="([^"]+)" class="state-(\w+)"', dom)
    assert rows == [("broken", "unreadable"), ("first", "finished"), ("second", "finished")]
    front = set(report.front["trial_id"])
    for name in ("first", "second"):
        drawn = re.findall(rf'<circle class="sweep-front" [^>]*data-sweep="{name}" data-trial="([^"]+)"',
                           dom)
        drawn = set(drawn)
        assert drawn == front
        assert f'<a href="{name}/report.html">{name}</a>' in dom
    assert "macs as a share of the sweep's teacher (log scale)" in dom
    assert 'data-loads="1"' in dom  # every sweep finished: no reload
    assert main(["dashboard", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_report_finds_a_sweep_by_its_mlflow_experiment_name(sweep_folder, report, capsys):
    from gansearch.cli import main

    assert main(["report", "r", "--tracking-uri", sweep_folder.tracking_uri, "--no-mlflow"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {sweep_folder.folder / 'report.html'}\n" in out
    assert main(["report", "nope", "--tracking-uri", sweep_folder.tracking_uri]) == 2
    assert "no sweep 'nope'" in capsys.readouterr().err
