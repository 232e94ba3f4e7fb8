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


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory):
    """A weights file of the documented name and shapes (pytorch-fid's FID Inception): random
    weights whose batch norms are fitted to a few photographs, so features have a usable scale.
    No pretrained file is needed, or downloaded, for the plumbing to be tested for real."""
    from helpers import calibrated_inception

    from gansearch.metrics.inception import WEIGHTS_FILES

    net = calibrated_inception()
    path = tmp_path_factory.mktemp("inception") / WEIGHTS_FILES["fid"].name
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def local_ray(inception_weights):
    """One local Ray of 2 CPUs for every in-process sweep (a start costs seconds). Its workers
    find the Inception weights by GANSEARCH_INCEPTION_WEIGHTS, as a user's workers would; the
    tests' own process does not see that variable unless a test sets it."""
    import ray

    from gansearch.metrics.inception import WEIGHTS_ENV

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {WEIGHTS_ENV: str(inception_weights)}})
    yield
    ray.shutdown()
