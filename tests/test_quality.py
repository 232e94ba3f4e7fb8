import copy
import math
import time

import numpy as np
import pytest
import torch
from helpers import calibrated_inception
from skimage.metrics import structural_similarity
from torchvision.models.inception import Inception3

from gansearch.data import digits, faces, load_image
from gansearch.errors import ConfigError, ResourceMissingError
from gansearch.metrics import (
    WEIGHTS_ENV,
    Inception,
    InceptionConfig,
    feature_statistics,
    frechet_distance,
    frechet_from_features,
    inception_features,
    inception_score,
    inception_score_from_probs,
    kid,
    kid_from_features,
    laplacian_pyramid,
    load_inception,
    psnr,
    sifid,
    ssim,
    swd,
    swd_levels,
)
from gansearch.metrics.inception import WEIGHTS_FILES, weights_cache_dir
from gansearch.metrics.swd import pyramid_levels


@pytest.fixture(autouse=True)
def _offline_weights(tmp_path, monkeypatch):
    # An empty torch hub cache and no env variable: nothing found on this machine, and since
    # download is off unless asked for, nothing is fetched either.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)


@pytest.fixture(scope="module")
def inception() -> Inception:
    """A randomly initialized FID Inception whose batch norms are fitted to a few photographs, so
    that its features have a usable scale (raw random weights shrink them to ~1e-8)."""
    return calibrated_inception()


def _gaussian_covariance(rng: np.random.Generator, d: int, rank: int) -> np.ndarray:
    a = rng.normal(size=(d, rank))
    return a @ a.T / rank


def _reference_frechet(mu1, sigma1, mu2, sigma2) -> float:
    # Independent of sqrtm: Tr sqrt(S1 S2) = Tr sqrt(sqrt(S1) S2 sqrt(S1)), a symmetric PSD matrix.
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = root1 @ sigma2 @ root1
    eig = np.linalg.eigvalsh((inner + inner.T) / 2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2)
                 - 2 * np.sqrt(np.clip(eig, 0, None)).sum())


@pytest.mark.parametrize("rank", [64, 5], ids=["well-conditioned", "near-singular"])
def test_frechet_distance_matches_an_eigendecomposition_reference(rank):
    rng = np.random.default_rng(rank)
    d = 64
    sigma1 = _gaussian_covariance(rng, d, rank) + 1e-12 * np.eye(d)
    sigma2 = _gaussian_covariance(rng, d, 2 * d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    if rank < d:
        assert np.linalg.cond(sigma1) > 1e10
    expected = _reference_frechet(mu1, sigma1, mu2, sigma2)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-8)
    assert abs(frechet_distance(mu1, sigma1, mu1, sigma1)) < 1e-4 * np.trace(sigma1)


@pytest.mark.parametrize("n1, n2, d", [(200, 150, 2048), (40, 40, 64), (500, 300, 64)],
                         ids=["fewer samples than dimensions", "as many", "more samples"])
def test_frechet_from_features_equals_the_covariance_route(n1, n2, d):
    """The cross-matrix route (N <= d) and the eigendecomposition route give the distance of the
    fitted Gaussians, to 1e-6 relative, whatever the sample counts."""
    rng = np.random.default_rng(n1)
    basis = rng.normal(size=(d, d)) / np.sqrt(d)
    x = rng.normal(size=(n1, d)) @ basis
    y = 0.7 * rng.normal(size=(n2, d)) @ basis + 0.3
    expected = _reference_frechet(*feature_statistics(x), *feature_statistics(y))
    assert frechet_from_features(x, y) == pytest.approx(expected, rel=1e-6)
    assert frechet_from_features(x, x) == pytest.approx(0, abs=1e-8 * expected)


def test_non_finite_inputs_are_refused_at_once():
    x = np.random.default_rng(0).normal(size=(100, 2048))
    y = x.copy()
    y[3, 5] = np.nan
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="not all finite"):
        frechet_from_features(x, y)
    with pytest.raises(ConfigError, match="not all finite"):
        frechet_distance(np.zeros(2), np.array([[1.0, 0], [0, np.inf]]), np.zeros(2), np.eye(2))
    assert time.perf_counter() - started < 1
    images = torch.zeros(2, 3, 16, 16)
    images[0, 0, 0, 0] = float("nan")
    for metric in (lambda: swd(images, torch.zeros(2, 3, 16, 16)), lambda: psnr(images, images),
                   lambda: ssim(images, images)):
        with pytest.raises(ConfigError, match="NaN or infinite"):
            metric()


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(ConfigError, match="covariances"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_frechet_distance_is_zero_for_one_set_and_grows_with_a_shift():
    features = torch.from_numpy(np.random.default_rng(0).normal(size=(400, 16)))
    direction = torch.ones(16) / 4  # unit length
    stats = feature_statistics(features)
    distances = [frechet_distance(*stats, *feature_statistics(features + shift * direction))
                 for shift in (0.0, 0.5, 1.0, 2.0)]
    # A shift moves the mean and keeps the covariance: the distance is exactly shift^2.
    assert distances == pytest.approx([0.0, 0.25, 1.0, 4.0], abs=1e-6)
    assert frechet_distance(*stats, *feature_statistics(features * 1.5)) > 1


def test_inception_features_run_end_to_end(inception):
    images = faces(image_size=32, channels=3)[:4][0]
    features = inception_features(images, inception, batch_size=3)
    assert features.shape == (4, 2048) and features.dtype == torch.float64
    assert torch.isfinite(features).all() and features.std(0).mean() > 1e-3
    # Batching changes nothing; images of any size are resized to 299 first, grey ones too.
    assert torch.allclose(inception_features(images, inception, batch_size=4), features, rtol=1e-4,
                          atol=1e-6)
    assert inception_features(faces(image_size=40)[:1][0], inception, device="cpu").shape == (1, 2048)
    assert inception.early_features(images[:2]).shape == (2, 192, 4, 4)  # SIFID's map, no resize


def test_metric_inputs_are_checked():
    with pytest.raises(ConfigError, match=r"\[-1, 1\]"):
        swd(torch.rand(2, 3, 32, 32) * 255, torch.rand(2, 3, 32, 32))
    with pytest.raises(ConfigError, match="shape"):
        psnr(torch.zeros(2, 4, 16, 16), torch.zeros(2, 4, 16, 16))
    with pytest.raises(ConfigError, match="pair"):
        ssim(torch.zeros(2, 1, 16, 16), torch.zeros(3, 1, 16, 16))
    with pytest.raises(ConfigError, match="batch_size"):
        psnr(torch.zeros(2, 1, 16, 16), torch.zeros(2, 1, 16, 16), batch_size=0)


@pytest.fixture(scope="module")
def fid_weights_file(tmp_path_factory):
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("weights") / WEIGHTS_FILES["fid"].name
    state = Inception("fid").state_dict()
    torch.save(state, path)
    return path, state


def _assert_same_parameters(net, state):
    loaded = net.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


def test_weights_load_from_the_env_variable_and_from_config(fid_weights_file, monkeypatch):
    path, state = fid_weights_file
    monkeypatch.setenv(WEIGHTS_ENV, str(path))
    net = load_inception()
    assert net.variant == "fid" and net.fc.out_features == 1008
    _assert_same_parameters(net, state)
    monkeypatch.delenv(WEIGHTS_ENV)
    _assert_same_parameters(load_inception(InceptionConfig(path=str(path))), state)


def test_weights_load_from_the_torch_hub_cache(fid_weights_file):
    path, state = fid_weights_file
    weights_cache_dir().mkdir(parents=True)
    (weights_cache_dir() / path.name).symlink_to(path)
    _assert_same_parameters(load_inception(), state)


def test_torchvision_weights_load_without_their_auxiliary_classifier(tmp_path):
    torch.manual_seed(2)
    state = Inception3(aux_logits=True, init_weights=False).state_dict()
    path = tmp_path / WEIGHTS_FILES["torchvision"].name
    torch.save(state, path)
    net = load_inception(InceptionConfig(path=str(path)))
    assert net.variant == "torchvision" and net.fc.out_features == 1000
    _assert_same_parameters(net, {k: v for k, v in state.items() if not k.startswith("AuxLogits.")})


def test_missing_weights_say_which_file_to_put_where():
    with pytest.raises(ResourceMissingError) as error:
        load_inception()
    message = str(error.value)
    assert "\n" not in message
    assert "pt_inception-2015-12-05-6726825d.pth" in message
    assert str(weights_cache_dir()) in message and WEIGHTS_ENV in message
    with pytest.raises(ResourceMissingError, match="inception_v3_google-0cc3c7bd.pth"):
        load_inception(InceptionConfig(weights="torchvision"))


def test_a_wrong_weights_path_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "nowhere.pth"))
    with pytest.raises(ResourceMissingError, match=f"nowhere.pth.*{WEIGHTS_ENV}"):
        load_inception()
    not_inception = tmp_path / "resnet.pth"
    torch.save({"conv.weight": torch.zeros(1)}, not_inception)
    with pytest.raises(ConfigError, match="not an Inception-v3 state dict"):
        load_inception(InceptionConfig(path=str(not_inception)))
    with pytest.raises(ConfigError, match="inception.weights"):
        InceptionConfig(weights="vgg")


def _texture(name: str, size: int = 96) -> torch.Tensor:
    return load_image(name, channels=3, max_size=256)[:, :size, :size]


def test_sifid_compares_single_images(inception):
    real = _texture("brick")
    same, other = _texture("brick").flip(-1), _texture("gravel")
    assert sifid(real, real, inception) == pytest.approx(0, abs=1e-4)
    close, far = sifid(real, same, inception), sifid(real, other, inception)
    assert 0 < close < far
    # One real image against a batch: the mean of the single comparisons, whatever the batching.
    batch = torch.stack([same, other])
    assert sifid(real, batch, inception, batch_size=1) == pytest.approx((close + far) / 2, rel=1e-6)
    # Paired real and fake images.
    assert sifid(torch.stack([real, other]), batch, inception) == pytest.approx(close / 2, rel=1e-6)
    with pytest.raises(ConfigError, match="one real image or one per fake"):
        sifid(torch.stack([real, real]), torch.stack([real, real, real]), inception)
    # The smallest image with two feature positions (19x23 gives a 1x2 map), and one a pixel short.
    assert sifid(real[:, :19, :23], real[:, :19, :23], inception) == pytest.approx(0, abs=1e-3)
    with pytest.raises(ConfigError, match=r"fake images \(19x22\) are too small .* needs 19x23 pixels"):
        sifid(real[:, :19, :23], real[:, :19, :22], inception)
    # Small maps (fewer positions than the 192 channels) are computed exactly, not refused.
    small = sifid(real[:, :40, :40], other[:, :40, :40], inception)
    assert np.isfinite(small) and small > 0


def test_inception_score_logits_leave_out_the_fc_bias(inception):
    images = faces(image_size=32, channels=3)[:8][0]
    before = inception_score(images, inception, splits=2)
    with torch.no_grad():
        biased = copy.deepcopy(inception)
        biased.fc.bias.normal_(0, 5)  # a bias that would change every probability
    assert inception_score(images, biased, splits=2) == pytest.approx(before, rel=1e-9)


def _direct_kid(x: np.ndarray, y: np.ndarray) -> float:
    m, d = len(x), x.shape[1]

    def k(a, b):
        return (a @ b / d + 1) ** 3

    same = sum(k(x[i], x[j]) + k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    cross = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return same / (m * (m - 1)) - 2 * cross / m**2


def test_kid_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 8)), rng.normal(0.3, 1.2, size=(30, 8))
    # Subsets as large as the sets hold every sample, in some order the estimator ignores.
    value = kid_from_features(torch.from_numpy(x), torch.from_numpy(y), subsets=3)
    assert value == pytest.approx(_direct_kid(x, y), rel=1e-10)


def test_kid_subsets_are_seeded_and_the_estimate_is_unbiased():
    rng = np.random.default_rng(1)
    x, y = (torch.from_numpy(rng.normal(size=(200, 8))) for _ in range(2))
    shifted = y + 0.5
    once = kid_from_features(x, shifted, subsets=20, subset_size=50, seed=3)
    assert once == kid_from_features(x, shifted, subsets=20, subset_size=50, seed=3)
    assert once != kid_from_features(x, shifted, subsets=20, subset_size=50, seed=4)
    same = kid_from_features(x, y, subsets=50, subset_size=100)
    assert abs(same) < 0.1 * once  # same distribution: near 0, of either sign
    with pytest.raises(ConfigError, match="features"):
        kid_from_features(x, y[:, :4])


def test_inception_score_on_class_probabilities():
    n = 10
    uniform = np.full((40, n), 1 / n)
    one_hot = np.eye(n)[np.arange(40) % n]
    assert inception_score_from_probs(uniform) == pytest.approx(1.0)
    assert inception_score_from_probs(one_hot, splits=4) == pytest.approx(n)
    # Confident but always the same class: no diversity, score 1.
    assert inception_score_from_probs(np.eye(n)[np.zeros(40, int)]) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="probabilities"):
        inception_score_from_probs(uniform * 2)
    with pytest.raises(ConfigError, match="splits"):
        inception_score_from_probs(uniform, splits=41)


def test_kid_and_inception_score_run_end_to_end(inception):
    images = faces(image_size=32, channels=3)[:6][0]
    features = inception_features(images, inception)
    assert kid(images[:3], images[3:], inception, subsets=4, batch_size=2) == pytest.approx(
        kid_from_features(features[:3], features[3:], subsets=4), rel=1e-6)
    assert 1 <= inception_score(images, inception, splits=2, batch_size=4) <= inception.fc.out_features


def _noised(images: torch.Tensor, sigma: float) -> torch.Tensor:
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(7))
    return (images + sigma * noise).clamp(-1, 1)


def test_swd_orders_clean_slightly_and_heavily_noised_sets():
    data = digits(image_size=32)[:64][0]
    reference, clean = data[:32], data[32:]
    levels = swd_levels(reference, clean)
    assert len(levels) == 2  # 32 and 16 pixels
    distances = [np.mean(levels), swd(reference, _noised(clean, 0.1)), swd(reference, _noised(clean, 0.5))]
    assert distances[0] < distances[1] < distances[2]
    assert swd(reference, clean) == distances[0]  # seeded
    assert swd(reference, clean, batch_size=5) == pytest.approx(distances[0], rel=1e-5)
    assert swd(reference, clean, seed=1) != distances[0]


def test_swd_compares_a_single_image_with_its_samples():
    real = load_image("brick", channels=1, max_size=128)  # (1, 128, 128)
    crops = torch.stack([real[:, y:y + 48, x:x + 48] for y in (0, 40, 80) for x in (0, 40, 80)])
    other = torch.stack([load_image("gravel", channels=1, max_size=128)[:, y:y + 48, :48]
                         for y in (0, 40, 80)])
    own, noised, foreign = swd(real, crops), swd(real, _noised(crops, 0.3)), swd(real, other)
    assert own < noised and own < foreign
    small = faces(image_size=25)[:4][0]  # one 25-pixel level
    assert len(swd_levels(small[0], small[1:])) == 1


def test_pyramid_levels_follow_the_image_size():
    assert [pyramid_levels(s) for s in (7, 16, 25, 32, 64, 250)] == [1, 1, 1, 2, 3, 5]
    image = load_image("camera", channels=1, max_size=64)[None]
    levels = laplacian_pyramid(image, 3)
    assert [tuple(level.shape[-2:]) for level in levels] == [(64, 64), (32, 32), (16, 16)]
    assert levels[0].abs().mean() < 0.3 * image.abs().mean()  # band-pass: details only
    with pytest.raises(ConfigError, match="at least 7 pixels"):
        swd(torch.zeros(1, 1, 6, 6), torch.zeros(1, 1, 6, 6))


def test_psnr_is_infinite_for_identical_images_and_exact_for_known_noise():
    images = faces(image_size=32)[:4][0] * 0.9
    assert psnr(images, images) == math.inf
    signs = torch.randint(0, 2, images.shape).double() * 2 - 1
    for d in (0.01, 0.1):
        # Every pixel off by +-d: MSE = d^2, PSNR = 10 log10(2^2 / d^2) on the [-1, 1] range.
        assert psnr(images + d * signs, images, batch_size=3) == pytest.approx(10 * math.log10(4 / d**2))
    assert psnr(images + 0.1 * signs, images, data_range=1.0) == pytest.approx(20.0)


def test_ssim_is_one_for_identical_images_and_matches_scikit_image():
    image = load_image("astronaut", max_size=64)
    noisy = _noised(image[None], 0.2)[0]
    assert ssim(image, image) == pytest.approx(1.0)
    expected = structural_similarity(noisy.double().numpy(), image.double().numpy(), channel_axis=0,
                                     data_range=2.0, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    assert ssim(noisy, image, device="cpu") == pytest.approx(expected, abs=1e-6)
    assert ssim(_noised(image[None], 0.5), image[None]) < ssim(noisy, image) < 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_metrics_give_the_same_numbers_on_the_gpu(inception):
    data = digits(image_size=32)[:64][0]
    a, b = data[:32], _noised(data[32:], 0.1)
    assert swd(a, b, device="cuda") == pytest.approx(swd(a, b), rel=1e-4)
    assert psnr(a, b, device="cuda") == pytest.approx(psnr(a, b), rel=1e-6)
    assert ssim(a, b, device="cuda") == pytest.approx(ssim(a, b), rel=1e-6)
    rgb = faces(image_size=32, channels=3)[:4][0]
    gpu = inception_features(rgb, inception, device="cuda")
    inception.cpu()
    assert torch.allclose(gpu, inception_features(rgb, inception), rtol=1e-3, atol=1e-4)
