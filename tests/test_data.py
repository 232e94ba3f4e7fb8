import numpy as np
import pytest
import torch
from PIL import Image

from gansearch.data import (
    BUNDLED_IMAGES,
    DataConfig,
    digits,
    edges2photos,
    faces,
    folder,
    load_data,
    load_image,
    take_fraction,
    torchvision_set,
)
from gansearch.errors import ConfigError, ResourceMissingError


def test_bundled_sets_are_in_range_and_shaped():
    d = digits(16)
    assert len(d) == 1797 and d[0][0].shape == (1, 16, 16)
    f = faces(32, channels=3)
    assert len(f) == 200 and f[0][0].shape == (3, 32, 32)
    for ds in (d, f):
        x = ds.tensors[0]
        assert x.min() >= -1 and x.max() <= 1 and x.std() > 0.1


@pytest.mark.parametrize("name", ["astronaut", "camera", "brick", "motorcycle_left"])
def test_bundled_images_load_without_download(name):
    assert name in BUNDLED_IMAGES
    img = load_image(name, max_size=40)
    assert img.shape[0] == 3 and max(img.shape[1:]) == 40
    assert -1 <= img.min() < img.max() <= 1


def test_edges2photos_is_paired_deterministic_and_split_by_photo():
    a = edges2photos(32, count=12, seed=3)
    b = edges2photos(32, count=12, seed=3)
    assert torch.equal(a.tensors[0], b.tensors[0]) and torch.equal(a.tensors[1], b.tensors[1])
    edges, photos = a.tensors
    assert edges.shape == photos.shape == (12, 3, 32, 32)
    assert set(edges.unique().tolist()) <= {-1.0, 1.0}  # black edges on white
    assert (edges == -1).float().mean() < 0.5
    test = edges2photos(32, count=4, split="test")
    assert not any(torch.equal(t, p) for t in test.tensors[1] for p in photos)


def test_folder_of_user_images(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    ds = folder(tmp_path, image_size=16)
    assert len(ds) == 3 and ds[0][0].shape == (3, 16, 16)
    img = load_image(tmp_path / "0.png", channels=1)
    assert img.shape == (1, 40, 60)


def test_missing_data_fails_with_a_message_that_says_what_to_do(tmp_path):
    with pytest.raises(ResourceMissingError, match="no such folder"):
        folder(tmp_path / "absent")
    with pytest.raises(ResourceMissingError, match="no images found"):
        folder(tmp_path)
    with pytest.raises(ResourceMissingError, match="bundled images"):
        load_image(tmp_path / "absent.png")
    with pytest.raises(ResourceMissingError, match=r"MNIST not found .*data.download: true"):
        torchvision_set("MNIST", tmp_path, download=False)
    with pytest.raises(ConfigError, match="no data set named 'NotASet'"):
        torchvision_set("NotASet", tmp_path)


def test_data_config_validates_and_loads():
    ds = load_data(DataConfig(source="digits", image_size=8, fraction=0.1))
    assert len(ds) == 180
    img = load_data(DataConfig(source="image", name="coffee", max_size=32))
    assert img.shape == (1, 3, 21, 32)
    with pytest.raises(ConfigError, match="data.name is required"):
        DataConfig(source="image")
    with pytest.raises(ConfigError, match="fraction"):
        DataConfig(source="digits", fraction=1.5)


def test_fraction_is_a_fixed_subset():
    d = digits(8)
    a, b = take_fraction(d, 0.1, seed=1), take_fraction(d, 0.1, seed=1)
    assert a.indices == b.indices and len(a) == 180


def test_digits_read_from_the_shipped_file_equal_scikit_learns():
    from sklearn.datasets import load_digits

    from gansearch.data.sets import digit_images

    images = digit_images()
    assert images.shape == (1797, 8, 8)
    assert np.array_equal(images, load_digits().images.astype(np.float32))


def test_metrics_package_loads_its_modules_on_first_use():
    import subprocess
    import sys

    code = ("import sys, gansearch.metrics as m, gansearch.search.trainable; "
            "assert 'torchvision' not in sys.modules; m.swd; m.fid; assert 'torchvision' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
