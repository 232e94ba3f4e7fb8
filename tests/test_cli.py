"""The console script: once as a user runs it (its own process), and the error paths in this
process, where they only parse."""

import shutil
import subprocess
import sys

import pytest
import yaml

from gansearch.cli import main

TINY = {
    "model": "dcgan",
    "data": {"source": "digits", "image_size": 8},
    "generator": {"filters": 8, "latent_dim": 8},
    "train": {"iterations": 3, "batch_size": 8},
    "device": "cpu",
}


def gansearch(*args, cwd=None):
    exe = shutil.which("gansearch") or [sys.executable, "-m", "gansearch.cli"]
    cmd = [exe, *args] if isinstance(exe, str) else [*exe, *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300)


def write(path, data):
    path.write_text(yaml.safe_dump(data))
    return path


def test_train_then_profile(tmp_path):
    cfg = write(tmp_path / "tiny.yaml", TINY)
    run = gansearch("train", str(cfg), "--out", str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr
    for name in ("teacher.pt", "samples.png", "losses.csv"):
        assert (tmp_path / "out" / name).is_file()
    assert "MACs" in run.stdout
    prof = gansearch("profile", str(tmp_path / "out" / "teacher.pt"), "--runs", "2", "--layers")
    assert prof.returncode == 0, prof.stderr
    assert "parameters" in prof.stdout and "conv_transpose" in prof.stdout


def test_default_output_folder_is_named_after_the_config(tmp_path, monkeypatch):
    write(tmp_path / "digits_small.yaml", TINY)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "digits_small.yaml"]) == 0
    assert (tmp_path / "runs" / "teachers" / "digits_small" / "teacher.pt").is_file()


@pytest.mark.parametrize("change, message", [
    ({"train": {"iterations": -1}}, "train.iterations must satisfy"),
    ({"generator": {"ngf": 8}}, "unknown key"),
    ({"modle": "dcgan"}, "unknown key(s) 'modle'"),
    ({"device": "cuda:7"} if not __import__("torch").cuda.is_available() else {"device": "tpu"},
     "device"),
])
def test_bad_config_exits_non_zero_with_one_line_and_writes_nothing(tmp_path, capsys, change, message):
    cfg = write(tmp_path / "bad.yaml", {**TINY, **change})
    assert main(["train", str(cfg), "--out", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gansearch: error:") and message in lines[0]
    assert not (tmp_path / "out").exists()


def test_unreadable_inputs_exit_non_zero_with_one_line(tmp_path, capsys):
    (tmp_path / "broken.yaml").write_text("model: [dcgan\n")
    assert main(["train", str(tmp_path / "broken.yaml")]) == 2
    assert "invalid YAML at line" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "absent.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"junk")
    assert main(["profile", str(tmp_path / "junk.pt")]) == 2
    err = capsys.readouterr().err
    assert "not a loadable checkpoint" in err and len(err.strip().splitlines()) == 1
