"""The console script, run as a user runs it."""

import shutil
import subprocess
import sys

import pytest
import yaml

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


def test_default_output_folder_is_named_after_the_config(tmp_path):
    write(tmp_path / "digits_small.yaml", TINY)
    run = gansearch("train", "digits_small.yaml", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "runs" / "teachers" / "digits_small" / "teacher.pt").is_file()


@pytest.mark.parametrize("change, message", [
    ({"train": {"iterations": -1}}, "train.iterations must satisfy"),
    ({"generator": {"ngf": 8}}, "unknown key"),
    ({"modle": "dcgan"}, "unknown key(s) 'modle'"),
    ({"device": "cuda:7"} if not __import__("torch").cuda.is_available() else {"device": "tpu"},
     "device"),
])
def test_bad_config_exits_non_zero_with_one_line_and_writes_nothing(tmp_path, change, message):
    cfg = write(tmp_path / "bad.yaml", {**TINY, **change})
    run = gansearch("train", str(cfg), "--out", str(tmp_path / "out"))
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gansearch: error:") and message in lines[0]
    assert not (tmp_path / "out").exists()


def test_unreadable_inputs_exit_non_zero_with_one_line(tmp_path):
    (tmp_path / "broken.yaml").write_text("model: [dcgan\n")
    run = gansearch("train", str(tmp_path / "broken.yaml"))
    assert run.returncode == 2 and "invalid YAML at line" in run.stderr
    run = gansearch("train", str(tmp_path / "absent.yaml"))
    assert run.returncode == 2 and "no such file" in run.stderr
    (tmp_path / "junk.pt").write_bytes(b"junk")
    run = gansearch("profile", str(tmp_path / "junk.pt"))
    assert run.returncode == 2 and "not a loadable checkpoint" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
