import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_singan_teacher(tmp_path_factory):
    """A SinGAN teacher trained for a few iterations on a 24-pixel photograph (seconds)."""
    from gansearch.families.teacher import parse_teacher_config, train_teacher

    out = tmp_path_factory.mktemp("teacher")
    cfg = parse_teacher_config({
        "model": "singan", "data": {"source": "image", "name": "astronaut", "max_size": 24},
        "generator": {"filters": 8}, "train": {"iterations": 3, "min_size": 16}, "device": "cpu"})
    train_teacher(cfg, out, progress=False)
    return out / "teacher.pt"
