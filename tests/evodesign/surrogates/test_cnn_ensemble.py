"""CNNEnsembleRegressor: periodic CNN deep ensemble on 0/1 images, mean +/- calibrated std."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from evodesign.exceptions import ArtifactError, DataError
from evodesign.physics import effective_conductivity
from evodesign.surrogates import CNNEnsembleRegressor

SIZE = 16
TINY = dict(n_members=3, channels=(8, 16, 16), max_epochs=15, patience=5)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # two contending intra-op threads on a shared 2-core machine measured ~10x slower
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def blobs(n, seed, size=SIZE):
    """Thresholded periodic Gaussian-filtered noise: `(n, size, size)` uint8, varied
    correlation length and filler fraction."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(n, size, size))
    sigma = rng.uniform(0.8, 2.0, size=n)
    fraction = rng.uniform(0.2, 0.8, size=n)
    out = np.empty((n, size, size), np.uint8)
    for i in range(n):  # gaussian_filter takes one sigma per call
        field = ndimage.gaussian_filter(noise[i], sigma[i], mode="wrap")
        out[i] = field > np.quantile(field, 1 - fraction[i])
    return out


@pytest.fixture(scope="module")
def data():
    images = blobs(400, 0)
    return images, effective_conductivity(images, (1.0, 10.0))


@pytest.fixture(scope="module")
def fitted(data):
    images, y = data
    return CNNEnsembleRegressor(random_state=0, **TINY).fit(images[:300].reshape(300, -1), y[:300])


def test_shapes_and_both_input_layouts(fitted, data):
    images, _ = data
    mean, std = fitted.predict(images[300:], return_std=True)
    assert mean.shape == std.shape == (100, 2)
    assert fitted.n_targets_ == 2 and fitted.image_size_ == SIZE and fitted.n_features_in_ == SIZE**2
    assert fitted.best_epoch_.shape == (3,) and 1 <= fitted.n_epochs_ <= 15
    # (n, H*W) rows and (n, H, W) images are the same input
    np.testing.assert_array_equal(fitted.predict(images[300:].reshape(100, -1)), mean)
    lower, upper = fitted.interval(images[300:305])
    assert (lower < mean[:5]).all() and (upper > mean[:5]).all()
    single = CNNEnsembleRegressor(random_state=0, **{**TINY, "max_epochs": 2}).fit(images[:60], data[1][:60, 0])
    assert single.predict(images[:4]).shape == (4,)


def test_learns_conductivity_of_held_out_images(fitted, data):
    images, y = data
    mean = fitted.predict(images[300:])
    r2 = 1 - ((mean - y[300:]) ** 2).sum(0) / ((y[300:] - y[300:].mean(0)) ** 2).sum(0)
    # measured 0.93 / 0.93 (k_xx / k_yy) for this seed and budget
    assert (r2 > 0.8).all(), r2


def test_std_positive_and_larger_out_of_distribution(fitted, data):
    images, _ = data
    _, std_in = fitted.predict(images[300:], return_std=True)
    assert (std_in > 0).all() and np.all(fitted.std_scale_ > 0)
    yy, xx = np.indices((SIZE, SIZE))
    ood = np.stack([
        (yy + xx) % 2,  # checkerboard: one-pixel structure the smooth blobs never have
        (yy // 2 + xx // 2) % 2,  # 2x2 checkerboard
        np.ones_like(yy),  # all filler: the blobs keep 20-80 % filler
    ]).astype(np.uint8)
    _, std_ood = fitted.predict(ood, return_std=True)
    # measured 1.45x for this seed (1.52x, 1.35x for seeds 1 and 2)
    assert std_ood.mean() > 1.2 * std_in.mean(), (std_ood.mean(axis=1), std_in.mean())


def test_seeded_reproducibility(data):
    images, y = data
    kw = {**TINY, "max_epochs": 3}
    a = CNNEnsembleRegressor(random_state=1, **kw).fit(images[:80], y[:80]).predict(images[80:100], return_std=True)
    b = CNNEnsembleRegressor(random_state=1, **kw).fit(images[:80], y[:80]).predict(images[80:100], return_std=True)
    c = CNNEnsembleRegressor(random_state=2, **kw).fit(images[:80], y[:80]).predict(images[80:100], return_std=True)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])
    # a Generator works too, and fitting does not touch torch's global random state
    state = torch.random.get_rng_state()
    CNNEnsembleRegressor(random_state=np.random.default_rng(1), **kw).fit(images[:80], y[:80])
    assert torch.equal(state, torch.random.get_rng_state())


def test_save_load_round_trip(fitted, data, tmp_path):
    images, _ = data
    from evodesign.surrogates.artifacts import load_model, save_model

    json_path = save_model(fitted, tmp_path / "cnn", metadata={"targets": ["k_xx", "k_yy"]})
    assert json_path.exists() and (tmp_path / "cnn.safetensors").exists()
    loaded = load_model(tmp_path / "cnn", expect={"targets": ["k_xx", "k_yy"]})
    assert isinstance(loaded, CNNEnsembleRegressor)
    for got, want in zip(loaded.predict(images[300:], return_std=True), fitted.predict(images[300:], return_std=True)):
        np.testing.assert_array_equal(got, want)
    assert loaded.get_params() == {**fitted.get_params(), "random_state": 0}
    with pytest.raises(ArtifactError, match="targets"):
        load_model(tmp_path / "cnn", expect={"targets": ["k_xx"]})
    with pytest.raises(ArtifactError, match="already exists"):
        save_model(fitted, tmp_path / "cnn")


def test_bad_input_is_refused_clearly(fitted, data):
    images, y = data
    with pytest.raises(DataError, match="not a square number"):
        CNNEnsembleRegressor().fit(np.zeros((5, 15)), np.zeros((5, 2)))
    with pytest.raises(DataError, match="H == W"):
        CNNEnsembleRegressor().fit(np.zeros((5, 4, 6)), np.zeros((5, 2)))
    bad = images[:5].astype(float)
    bad[3, 2, 1] = 0.5
    with pytest.raises(DataError, match="image 3 has 0.5"):
        CNNEnsembleRegressor().fit(bad, y[:5])
    with pytest.raises(DataError, match="8x8 images like the training data, got 16x16|16x16 images like the training data, got 8x8"):
        fitted.predict(np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(DataError, match="not fitted"):
        CNNEnsembleRegressor().predict(images[:2])
    with pytest.raises(DataError, match="5 images but y has 4"):
        CNNEnsembleRegressor().fit(images[:5], y[:4])


def test_warm_start_continues_from_the_fitted_weights():
    """A warm-started fit begins where the first fit ended: its first epoch already has
    the first fit's accuracy (a fresh fit of one epoch does not), and it keeps the first
    fit's target scaling."""
    from evodesign.physics import effective_conductivity

    rng = np.random.default_rng(3)
    images = (rng.random((60, 8, 8)) < rng.uniform(0.2, 0.8, (60, 1, 1))).astype(np.uint8)
    y = effective_conductivity(images, (1.0, 10.0))
    first = CNNEnsembleRegressor(n_members=2, channels=(4, 8), max_epochs=30, patience=30, random_state=0)
    first.fit(images.reshape(60, -1), y)
    scale = first.y_scale_.copy()

    def error(model):
        return float(np.abs(model.predict(images.reshape(60, -1)) - y).mean())

    warm = first.set_params(warm_start=True, max_epochs=1, patience=1)
    warm.fit(images.reshape(60, -1), y)
    cold = CNNEnsembleRegressor(n_members=2, channels=(4, 8), max_epochs=1, patience=1, random_state=0)
    cold.fit(images.reshape(60, -1), y)
    assert np.array_equal(warm.y_scale_, scale)
    assert error(warm) < 0.7 * error(cold)
