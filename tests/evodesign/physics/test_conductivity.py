"""effective_conductivity: exact answers, symmetries, bounds and input errors, both methods."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import evodesign.physics.conductivity as conductivity_module
from evodesign.physics import effective_conductivity, hashin_shtrikman_bounds, wiener_bounds

METHODS = ["ldl", "spsolve"]


def _gaussian_images(n: int, size: int, sigma: float, seed: int) -> np.ndarray:
    """Thresholded Gaussian-filtered periodic noise: statistically isotropic, varied fractions."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, size, size))
    fields = ndimage.gaussian_filter(noise, sigma=(0, sigma, sigma), mode="wrap")
    levels = np.array([np.quantile(f, q) for f, q in zip(fields, rng.uniform(0.15, 0.85, n))])
    return (fields > levels[:, None, None]).astype(np.uint8)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("contrast", [(1.0, 10.0), (3.0, 0.03), (1.0, 1000.0)])
def test_laminates_are_exact(method, contrast):
    rng = np.random.default_rng(1)
    layers = rng.integers(0, 2, size=(3, 9))
    layers[:, 0], layers[:, 1] = 0, 1  # both phases in every stack
    k0, k1 = contrast
    # Stripes along x: each row is one layer, constant along the flow.
    along_x = np.repeat(layers[:, :, None], 7, axis=2).astype(np.uint8)  # (3, 9, 7)
    k_layers = np.where(layers == 1, k1, k0)
    arithmetic = k_layers.mean(axis=1)
    harmonic = 1.0 / (1.0 / k_layers).mean(axis=1)
    got = effective_conductivity(along_x, contrast, method=method)
    np.testing.assert_allclose(got[:, 0], arithmetic, rtol=1e-9, atol=0)
    np.testing.assert_allclose(got[:, 1], harmonic, rtol=1e-9, atol=0)


@pytest.mark.parametrize("method", METHODS)
def test_uniform_images_and_equal_phases_give_k(method):
    ones = np.ones((2, 6, 5), dtype=np.uint8)
    np.testing.assert_allclose(effective_conductivity(ones, (2.0, 7.0), method=method), 7.0, rtol=1e-12)
    np.testing.assert_allclose(effective_conductivity(0 * ones, (2.0, 7.0), method=method), 2.0, rtol=1e-12)
    mixed = _gaussian_images(3, 12, 1.5, seed=2)
    np.testing.assert_allclose(effective_conductivity(mixed, (4.0, 4.0), method=method), 4.0, rtol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_kxx_of_image_is_kyy_of_transpose(method):
    images = np.random.default_rng(3).integers(0, 2, size=(4, 10, 13)).astype(np.uint8)
    both = effective_conductivity(images, (1.0, 10.0), method=method)
    transposed = effective_conductivity(images.transpose(0, 2, 1), (1.0, 10.0), method=method)
    np.testing.assert_allclose(both[:, 0], transposed[:, 1], rtol=1e-12)
    np.testing.assert_allclose(both[:, 1], transposed[:, 0], rtol=1e-12)
    np.testing.assert_allclose(effective_conductivity(images, (1.0, 10.0), "x", method), both[:, 0], rtol=1e-13)
    np.testing.assert_allclose(effective_conductivity(images, (1.0, 10.0), "y", method), both[:, 1], rtol=1e-13)


def test_default_method_agrees_with_spsolve_on_odd_shapes_and_high_contrast():
    rng = np.random.default_rng(4)
    # Even H takes the checkerboard reduction, odd H the full system; H <= 2 repeats neighbours.
    for shape in [(3, 1, 6), (3, 5, 1), (3, 2, 3), (3, 2, 1), (3, 1, 1), (5, 17, 11), (5, 12, 10), (2, 4, 1)]:
        images = rng.integers(0, 2, size=shape).astype(np.uint8)
        for contrast in [(1.0, 10.0), (1.0, 1e4), (50.0, 0.5)]:
            fast = effective_conductivity(images, contrast)
            reference = effective_conductivity(images, contrast, method="spsolve")
            np.testing.assert_allclose(fast, reference, rtol=1e-10)


def test_hand_solved_two_pixel_row():
    # One row [k=1 | k=10]: resistances 1/2 + (1/2 + 1/20) + 1/20 = 1.1 in series, W/H = 2.
    got = effective_conductivity(np.array([[0, 1]], dtype=np.uint8), (1.0, 10.0), direction="x")
    assert got.shape == ()
    assert float(got) == pytest.approx(2.0 / 1.1, rel=1e-14)


def test_random_images_inside_wiener_bounds():
    images = np.random.default_rng(5).random((30, 24, 24)) < np.linspace(0.05, 0.95, 30)[:, None, None]
    images = images.astype(np.uint8)
    k = effective_conductivity(images, (1.0, 10.0))
    lower, upper = wiener_bounds(images.mean(axis=(1, 2)), 1.0, 10.0)
    assert np.all(k >= lower[:, None]) and np.all(k <= upper[:, None])
    # Strictly inside for mixed images: neither a parallel nor a series laminate.
    assert np.all(k > lower[:, None] * 1.01) and np.all(k < upper[:, None] * 0.99)


@pytest.mark.parametrize("contrast", [(1.0, 10.0), (1.0, 100.0), (10.0, 1.0)])
def test_isotropic_images_inside_hashin_shtrikman_bounds(contrast):
    images = _gaussian_images(16, 48, 1.5, seed=6)
    k = effective_conductivity(images, contrast)
    lower, upper = hashin_shtrikman_bounds(images.mean(axis=(1, 2)), *contrast)
    assert np.all(k >= lower[:, None]) and np.all(k <= upper[:, None])


def test_known_value_of_a_gaussian_field_is_stable():
    image = _gaussian_images(1, 32, 2.0, seed=7)[0]
    fast = effective_conductivity(image, (1.0, 10.0))
    reference = effective_conductivity(image, (1.0, 10.0), method="spsolve")
    assert fast.shape == (2,)
    np.testing.assert_allclose(fast, reference, rtol=1e-11)


def test_rejected_fields_are_solved_again_by_spsolve(monkeypatch):
    images = np.random.default_rng(8).integers(0, 2, size=(5, 8, 9)).astype(np.uint8)
    reference = effective_conductivity(images, (1.0, 10.0), method="spsolve")
    rejected = []

    def reject_even(k, t, gx, gy, diag, k_xx):
        ok = np.ones(len(k), dtype=bool)
        ok[::2] = False
        t[::2] = 0.0  # make sure the returned value for these comes from elsewhere
        rejected.append(ok.size - ok.sum())
        return ok

    monkeypatch.setattr(conductivity_module, "_accepted", reject_even)
    got = effective_conductivity(images, (1.0, 10.0), direction="x")
    assert rejected == [3]
    np.testing.assert_allclose(got, reference[:, 0], rtol=1e-12)


def test_a_failing_factorisation_falls_back_to_spsolve(monkeypatch):
    import qdldl

    class Broken:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("not quasi-definite")

    monkeypatch.setattr(qdldl, "Solver", Broken)
    images = np.random.default_rng(11).integers(0, 2, size=(3, 6, 7)).astype(np.uint8)
    got = effective_conductivity(images, (1.0, 10.0))
    np.testing.assert_allclose(got, effective_conductivity(images, (1.0, 10.0), method="spsolve"), rtol=1e-13)


def test_check_rejects_a_wrong_field_and_accepts_the_solution():
    k = np.where(np.random.default_rng(9).integers(0, 2, size=(2, 6, 6)) == 1, 10.0, 1.0)
    gx, gy = conductivity_module._conductances(k)
    diag = conductivity_module._diagonal(k, gx, gy)
    k_xx = conductivity_module._solve_spsolve(k)
    assert not conductivity_module._accepted(k, np.zeros_like(k), gx, gy, diag, k_xx).any()
    # The linear profile satisfies the inside of a uniform medium but not the faces' balance.
    linear = np.broadcast_to(1.0 - (np.arange(6) + 0.5) / 6, k.shape).copy()
    assert not conductivity_module._accepted(k, linear, gx, gy, diag, k_xx).any()


def test_bool_images_are_accepted():
    images = np.random.default_rng(10).random((2, 5, 5)) < 0.5
    np.testing.assert_allclose(
        effective_conductivity(images, (1.0, 3.0)), effective_conductivity(images.astype(np.uint8), (1.0, 3.0))
    )


def test_non_binary_image_is_named():
    images = np.zeros((3, 4, 4), dtype=np.int64)
    images[2, 1, 3] = 255
    with pytest.raises(ValueError, match=r"image 2, row 1, column 3 holds 255"):
        effective_conductivity(images)


@pytest.mark.parametrize("bad", [(0.0, 1.0), (1.0, -2.0), (1.0, float("nan")), (1.0,), "ab"])
def test_bad_conductivity_is_refused(bad):
    with pytest.raises(ValueError, match="conductivity"):
        effective_conductivity(np.zeros((4, 4), dtype=np.uint8), bad)


def test_bad_shape_direction_and_method_are_refused():
    with pytest.raises(ValueError, match=r"\(n, H, W\)"):
        effective_conductivity(np.zeros(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="direction"):
        effective_conductivity(np.zeros((4, 4), dtype=np.uint8), direction="z")
    with pytest.raises(ValueError, match="method"):
        effective_conductivity(np.zeros((4, 4), dtype=np.uint8), method="cg")


def test_check_accepts_every_solved_field(monkeypatch):
    real = conductivity_module._accepted
    verdicts = []

    def spy(*args):
        verdicts.append(real(*args))
        return verdicts[-1]

    monkeypatch.setattr(conductivity_module, "_accepted", spy)
    images = _gaussian_images(6, 20, 1.5, seed=12)
    for contrast in [(1.0, 100.0), (1.0, 1e4), (1e4, 1.0)]:
        effective_conductivity(images, contrast)
    # Six calls (two directions each): the backward-error check never sends a sound solve away.
    assert len(verdicts) == 6 and all(v.all() for v in verdicts)


def _naive_k_xx(image: np.ndarray, k_matrix: float, k_filler: float) -> float:
    """The issue's formulation written out pixel by pixel (dense, loops): an independent check."""
    h, w = image.shape
    k = np.where(image == 1, k_filler, k_matrix)
    a = np.zeros((h * w, h * w))
    b = np.zeros(h * w)

    def couple(p, q, g):
        a[p, p] += g
        a[q, q] += g
        a[p, q] -= g
        a[q, p] -= g

    for i in range(h):
        for j in range(w):
            p = i * w + j
            if j + 1 < w:
                couple(p, p + 1, 2 * k[i, j] * k[i, j + 1] / (k[i, j] + k[i, j + 1]))
            if h > 1:
                i2 = (i + 1) % h
                couple(p, i2 * w + j, 2 * k[i, j] * k[i2, j] / (k[i, j] + k[i2, j]))
        a[i * w, i * w] += 2 * k[i, 0]  # inlet face, temperature 1, half a pixel out
        b[i * w] += 2 * k[i, 0]
        a[i * w + w - 1, i * w + w - 1] += 2 * k[i, w - 1]  # outlet face, temperature 0
    t = np.linalg.solve(a, b)
    outflow = sum(2 * k[i, w - 1] * t[i * w + w - 1] for i in range(h))
    return outflow * w / h


@pytest.mark.parametrize("method", METHODS)
def test_agrees_with_a_naive_pixel_by_pixel_solve(method):
    rng = np.random.default_rng(13)
    for shape in [(6, 5), (5, 6), (3, 3), (2, 4), (1, 4), (4, 1), (8, 8)]:
        image = rng.integers(0, 2, size=shape).astype(np.uint8)
        got = effective_conductivity(image, (2.0, 30.0), method=method)
        expected = [_naive_k_xx(image, 2.0, 30.0), _naive_k_xx(image.T, 2.0, 30.0)]
        np.testing.assert_allclose(got, expected, rtol=1e-12)
