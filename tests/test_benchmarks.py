"""The benchmarks run end to end at their tiniest and print every row."""

import numpy as np
import pandas as pd
import pytest

from benchmarks import singan_methods

TINY = ["--size", "16", "--min-size", "12", "--iterations", "2", "--samples", "2", "--runs", "1"]
ROWS = ["baseline", "scratch 16 filters", "scratch 12 filters", "scratch 4 filters", "unstructured 50%",
        "unstructured 90%", "L1 filters 50%", "L1 filters 90%", "L1 filters 50% + fp16"]


@pytest.fixture
def no_inception(monkeypatch, tmp_path):
    monkeypatch.delenv("GANSEARCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def test_singan_methods_measures_every_method(tmp_path, capsys, no_inception):
    rows = singan_methods.main([*TINY, "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert [r.label for r in rows] == ROWS
    assert all(f"\n{label} " in out for label in ROWS)
    base = rows[0].cost
    for r in rows[1:]:
        assert r.cost.nonzero_params < base.nonzero_params and r.cost.weight_bytes < base.weight_bytes
        if not r.label.startswith("unstructured"):  # structured rows are physically smaller
            assert r.cost.params < base.params and r.cost.macs < base.macs
    sparse = {r.label: r.cost for r in rows if r.label.startswith("unstructured")}
    assert sparse["unstructured 90%"].effective_macs < 0.15 * base.macs
    assert "SIFID column omitted" in out and "--inception-weights" in out
    assert all(r.png.is_file() for r in rows) and (tmp_path / "out" / "grid.png").is_file()


def test_singan_methods_refuses_a_missing_weights_file(tmp_path, no_inception):
    with pytest.raises(SystemExit):
        singan_methods.main([*TINY, "--inception-weights", str(tmp_path / "none.pth")])


def _synthetic_table():
    """A table of 48 students as the search benchmark saves one: quality falls with pruning and
    recovers over the stages; bytes and MACs are known functions of the knobs."""
    import itertools

    import pandas as pd
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    from benchmarks.search_table import Table

    distributions = {"amount": FloatDistribution(0.1, 0.8, step=0.1),
                     "dtype": CategoricalDistribution(["float32", "float16"]),
                     "lr": CategoricalDistribution([0.5, 1.0, 2.0])}
    students, configs = [], []
    for i, (a, d, lr) in enumerate(itertools.product([round(0.1 * k, 1) for k in range(1, 9)],
                                                     ["float32", "float16"], [0.5, 1.0, 2.0])):
        fp = f"s{i:03d}"
        final = (1 + 3 * a ** 2) * (1.2 if lr == 2.0 else 1.0) * (1.01 if d == "float16" else 1.0)
        stages = {f"swd@{s}": final * (1 + 2 * a / s) for s in (1, 2, 3)}
        students.append({"fingerprint": fp, "amount": a, "dtype": d, "lr": lr, "swd": final,
                         "weight_bytes": (1 - a) ** 2 * (4 if d == "float32" else 2), "macs": (1 - a) ** 2,
                         **stages, "swd@4": final})
        configs.append({"amount": a, "dtype": d, "lr": lr, "fingerprint": fp})
    return Table({"swd": "min", "weight_bytes": "min", "macs": "min"}, 4, distributions,
                 pd.DataFrame(students).set_index("fingerprint"), pd.DataFrame(configs),
                 {"space": "synthetic"})


def test_replays_follow_a_sweep_and_cost_aware_finds_the_front_first():
    from benchmarks.search_replay import replay
    from benchmarks.search_table import Scale

    table = _synthetic_table()
    scale = Scale.of(table)
    budget = table.exhaustive_trial_epochs
    runs = {(a, early): replay(table, scale, a, seed=0, early=early, budget=budget, num_samples=12)
            for a in ("cost_aware", "random") for early in (False, True)}
    for r in runs.values():
        assert len(r.hv) == budget and (np.diff(r.hv) >= 0).all() and r.hv[0] >= 0 and r.hv[-1] <= 1 + 1e-9
    assert runs["cost_aware", False].hv[-1] == pytest.approx(1.0)  # every student, at the latest
    first = {k: int(np.argmax(r.hv >= 0.95)) for k, r in runs.items()}
    assert first["cost_aware", False] < first["random", False]
    stopped = runs["random", True]  # MO-ASHA stops trials: more begun than finished within the budget
    assert stopped.trials[-1] > stopped.distinct + 2


def test_search_quality_replays_a_saved_table(tmp_path, capsys):
    from benchmarks import search_quality

    _synthetic_table().save(tmp_path / "table")
    search_quality.main(["--tabular", "--table", str(tmp_path / "table"), "--seeds", "2", "--workers", "1",
                         "--replay-budget", "1.0", "--algorithms", "cost_aware", "random",
                         "--early-stopping", "random", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    for label in ("cost_aware ", "random ", "random + MO-ASHA"):
        assert f"\n{label}" in out
    assert "exhaustive budget: 48 students x 4 trial-epochs = 192" in out
    assert (tmp_path / "out" / "convergence.png").is_file()
    curves = pd.read_csv(tmp_path / "out" / "curves.csv")
    assert len(curves) == 3 * 2 * 192 and curves["hypervolume_share"].max() <= 1 + 1e-9


def test_pruning_speed_times_every_model_under_each_runtime(capsys):
    from benchmarks import pruning_speed

    pruning_speed.main(["--size", "32", "--filters", "8", "--blocks", "2", "--runs", "1",
                        "--runtimes", "eager,onnxruntime"])
    out = capsys.readouterr().out
    rows = ["dense", "filters -50% (L1)", "filters -75% (L1)", "unstructured 90%"]
    assert all(f"\n{row} " in out for row in rows) and "did not run" not in out
    assert "eager ms" in out and "onnxruntime ms" in out
    dense = next(line for line in out.splitlines() if line.startswith("dense "))
    assert dense.count("1.00x") == 3  # MAC cut and the two speedups of dense against itself


def test_mac_conventions_prints_both_counts(capsys):
    from benchmarks import mac_conventions

    mac_conventions.main(["--size", "32"])
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if "ngf" in line]
    assert len(rows) == 4
    for row in rows:
        default, norms, low = (int(v.replace(",", "")) for v in (row[-4], row[-3], row[-1]))
        assert norms > default > low  # norms add; transposed convs at input resolution count less


@pytest.mark.slow
def test_int8_speed_times_weight_only_and_int8_kernels(capsys):
    from benchmarks import int8_speed

    int8_speed.main(["--size", "32", "--filters", "8", "--blocks", "1", "--runs", "1"])
    out = capsys.readouterr().out
    for row in ("float32, eager", "weight-only int8, eager", "static int8, x86 kernels",
                "static int8, ONNX Runtime"):
        assert f"\n{row} " in out


def test_findings_judges_a_method_against_the_front_and_the_teachers_spread():
    from benchmarks.findings import dominated_by, within

    front = pd.DataFrame({"trial_id": ["a", "b"], "swd": [30.0, 80.0], "weight_bytes": [400.0, 100.0],
                          "macs": [4e6, 1e6]})
    # b is at least as good everywhere and better somewhere; a is bigger, so it does not count.
    assert dominated_by({"swd": 90.0, "weight_bytes": 100.0, "macs": 2e6}, front, "swd") == "b"
    # Equal on every objective is not dominated; better quality at a cost no member matches is not.
    assert dominated_by({"swd": 80.0, "weight_bytes": 100.0, "macs": 1e6}, front, "swd") is None
    assert dominated_by({"swd": 50.0, "weight_bytes": 200.0, "macs": 2e6}, front, "swd") is None
    # Higher is better for PSNR: the sign flips.
    psnr = front.rename(columns={"swd": "psnr"})
    assert dominated_by({"psnr": 20.0, "weight_bytes": 500.0, "macs": 5e6}, psnr, "psnr") == "a"
    assert within(25.0, 25.6, "swd") and not within(26.0, 25.6, "swd")
    assert within(14.0, 13.5, "psnr") and not within(13.0, 13.5, "psnr")


def test_findings_photo_pairs_hold_out_regions_in_the_aligned_layout(tmp_path):
    from benchmarks.findings import PAIR_PHOTOS, write_photo_pairs
    from gansearch.data.translation import AlignedPairs, held_out_split

    root = write_photo_pairs(tmp_path / "pairs", 16, train=21, test=14)
    assert held_out_split(root, "aligned") == "test" and not (tmp_path / "pairs.partial").exists()
    crops = pd.read_csv(root / "crops.csv")
    split = crops["file"].str.split("/").str[0]
    assert ((split == "train").sum(), (split == "test").sum()) == (21, 14)
    for photo in PAIR_PHOTOS:  # every photograph in both splits, no training pixel in a test crop
        mine = crops[crops["photo"] == photo]
        train, test = mine[mine["file"].str.startswith("train/")], mine[mine["file"].str.startswith("test/")]
        assert len(train) and len(test)
        bottom, top = train["top"] + train["side"], train["top"]  # above or below every test crop
        assert ((bottom < test["top"].min()) | (top > (test["top"] + test["side"]).max())).all()
    pairs = AlignedPairs(root, "test", 16, train=False)
    edges, photo = pairs[0]
    assert edges.shape == photo.shape == (3, 16, 16)
    from PIL import Image

    ab = np.asarray(Image.open(root / "test" / "00000.png")).astype(float)
    side = 16  # written at the image size (the setting reads it with load_size 16)
    grey, colour = ab[:, :side], ab[:, side:]
    assert ab.shape == (side, 2 * side, 3) and (grey == grey[..., :1]).all()
    assert np.abs(grey[..., 0] - colour @ [0.299, 0.587, 0.114]).max() <= 1  # the photo's luma
    edges = write_photo_pairs(tmp_path / "edges", 16, train=7, test=7, source="edges")
    assert set(np.unique(np.asarray(Image.open(edges / "test" / "00000.png"))[:, :side])) <= {0, 255}
    noisy = np.asarray(Image.open(write_photo_pairs(tmp_path / "noise", 16, train=7, test=7, source="noise")
                                  / "train" / "00000.png")).astype(float)
    assert 15 < (noisy[:, :side] - noisy[:, side:]).std() < 27  # sigma 25 of 255, less where it clips
    assert len(AlignedPairs(root, "train", 16)) == 21
    before = (root / "train" / "00000.png").stat().st_mtime_ns
    assert write_photo_pairs(root, 16, train=21, test=14) == root  # written once, then reused
    assert (root / "train" / "00000.png").stat().st_mtime_ns == before
