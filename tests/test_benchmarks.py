"""The benchmarks run end to end at their tiniest and print every row."""

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
