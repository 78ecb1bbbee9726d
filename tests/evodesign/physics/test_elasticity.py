"""effective_stiffness / effective_young: exact answers, symmetry, bounds, convergence, input errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from threadpoolctl import threadpool_limits

from evodesign.physics import (
    ConvergenceError,
    effective_stiffness,
    effective_young,
    hashin_shtrikman_elastic_bounds,
    isotropic_moduli,
    isotropic_stiffness,
    voigt_reuss_elastic_bounds,
)

PLANES = ["strain", "stress"]


def _gaussian_images(n: int, size: int, sigma: float, seed: int) -> np.ndarray:
    """Thresholded Gaussian-filtered periodic noise: statistically isotropic, varied fractions."""
    rng = np.random.default_rng(seed)
    fields = ndimage.gaussian_filter(rng.standard_normal((n, size, size)), sigma=(0, sigma, sigma), mode="wrap")
    levels = np.array([np.quantile(f, q) for f, q in zip(fields, rng.uniform(0.2, 0.8, n))])
    return (fields > levels[:, None, None]).astype(np.uint8)


def _laminate_stiffness(c_layers: np.ndarray) -> np.ndarray:
    """Exact stiffness of layers normal to y (rows), each of Voigt stiffness ``c_layers`` ``(L, 3, 3)``.

    Across the interfaces the in-plane strain eps_xx is continuous (the layers are bonded) and
    the tractions sigma_yy, sigma_xy are continuous (equilibrium), so eps_xx and (sigma_yy,
    sigma_xy) are uniform. Split the Voigt components into t = (xx,) and n = (yy, xy):
    eps_n = Cnn^-1 (sigma_n - Cnt eps_t) in each layer; averaging over the layers gives
    C*_nn = <Cnn^-1>^-1, C*_nt = C*_nn <Cnn^-1 Cnt>, C*_tn = C*_nt^T and
    C*_tt = <Ctt - Ctn Cnn^-1 Cnt> + <Ctn Cnn^-1> C*_nn <Cnn^-1 Cnt> (Backus-type averaging).
    """
    t, n = [0], [1, 2]
    ctt, ctn = c_layers[:, t][:, :, t], c_layers[:, t][:, :, n]
    cnt, cnn = c_layers[:, n][:, :, t], c_layers[:, n][:, :, n]
    inv_nn = np.linalg.inv(cnn)
    star_nn = np.linalg.inv(inv_nn.mean(axis=0))
    star_nt = star_nn @ (inv_nn @ cnt).mean(axis=0)
    star_tt = (ctt - ctn @ inv_nn @ cnt).mean(axis=0) + (ctn @ inv_nn).mean(axis=0) @ star_nt
    out = np.empty((3, 3))
    out[np.ix_(t, t)], out[np.ix_(n, n)] = star_tt, star_nn
    out[np.ix_(n, t)], out[np.ix_(t, n)] = star_nt, star_nt.T
    return out


def _swap_xy(c: np.ndarray) -> np.ndarray:
    """The Voigt stiffness with the x and y axes exchanged."""
    order = [1, 0, 2]
    return c[..., order, :][..., :, order]


@pytest.mark.parametrize("plane", PLANES)
@pytest.mark.parametrize("shape", [(16, 16), (15, 17)])
def test_uniform_images_give_the_phase_stiffness_exactly(plane, shape):
    young, poisson = (2.0, 70.0), (0.25, 0.4)
    for phase in (0, 1):
        image = np.full(shape, phase, dtype=np.uint8)
        c, info = effective_stiffness(image, young, poisson, plane, return_info=True)
        expected = isotropic_stiffness(young[phase], poisson[phase], plane)
        np.testing.assert_allclose(c, expected, rtol=1e-10, atol=0)
        assert info["iterations"].tolist() == [0, 0, 0]  # already in equilibrium
    # Equal phases on a mixed image are the homogeneous medium too.
    mixed = _gaussian_images(2, 16, 1.5, seed=1)
    c = effective_stiffness(mixed, (3.0, 3.0), (0.2, 0.2), plane)
    np.testing.assert_allclose(c, np.broadcast_to(isotropic_stiffness(3.0, 0.2, plane), c.shape), rtol=1e-10, atol=1e-12)


def test_young_of_a_uniform_image_follows_the_stated_convention():
    image = np.ones((8, 8), dtype=np.uint8)
    np.testing.assert_allclose(effective_young(image, (1.0, 5.0), (0.3, 0.25), "stress"), [5.0, 5.0], rtol=1e-12)
    # Plane strain: uniaxial in-plane stress with eps_zz = 0 gives E / (1 - nu^2).
    np.testing.assert_allclose(effective_young(image, (1.0, 5.0), (0.3, 0.25), "strain"),
                               [5.0 / (1 - 0.25**2)] * 2, rtol=1e-12)
    # The solver settings reach the solver.
    mixed = np.zeros((8, 8), dtype=np.uint8)
    mixed[2:5, 1:6] = 1
    with pytest.raises(ConvergenceError, match="basic"):
        effective_young(mixed, (1.0, 100.0), method="basic", max_iter=3)
    # Isotropic part of an isotropic stiffness: 2D bulk lambda + mu and shear mu.
    e, nu = 5.0, 0.25
    lam, mu = e * nu / ((1 + nu) * (1 - 2 * nu)), e / (2 * (1 + nu))
    np.testing.assert_allclose(isotropic_moduli(isotropic_stiffness(e, nu)), [lam + mu, mu], rtol=1e-14)


@pytest.mark.parametrize("method", ["cg", "basic"])
@pytest.mark.parametrize("plane", PLANES)
@pytest.mark.parametrize("young,poisson", [((1.0, 10.0), (0.3, 0.3)), ((1000.0, 1.0), (0.45, 0.1))])
def test_laminates_match_the_exact_layered_stiffness(method, plane, young, poisson):
    rng = np.random.default_rng(2)
    layers = rng.integers(0, 2, size=(3, 16))
    layers[:, 0], layers[:, 1] = 0, 1  # both phases in every stack
    along_x = np.repeat(layers[:, :, None], 12, axis=2).astype(np.uint8)  # rows are layers
    phases = isotropic_stiffness(np.array(young), np.array(poisson), plane)
    expected = np.stack([_laminate_stiffness(phases[row]) for row in layers])
    got = effective_stiffness(along_x, young, poisson, plane, method=method)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9 * np.abs(expected).max())
    # Layers normal to x: the same with the axes exchanged.
    got_t = effective_stiffness(along_x.transpose(0, 2, 1), young, poisson, plane, method=method)
    np.testing.assert_allclose(got_t, _swap_xy(expected), rtol=1e-6, atol=1e-9 * np.abs(expected).max())


def test_doctest_laminate_by_hand():
    # nu = 0, plane strain: lambda = 0, mu = E / 2; along the layers <E>, across 1/<1/E>, shear 1/<1/mu>.
    layers = np.zeros((4, 6), dtype=np.uint8)
    layers[:2] = 1
    c = effective_stiffness(layers, (1.0, 10.0), (0.0, 0.0))
    np.testing.assert_allclose(c, [[5.5, 0, 0], [0, 1 / 0.55, 0], [0, 0, 1 / 1.1]], rtol=1e-10, atol=1e-12)


def _spectral_derivative(n: int) -> np.ndarray:
    """``(n, n)`` matrix: the derivative of the trigonometric interpolant of n (odd) samples."""
    k = 2j * np.pi * np.fft.fftfreq(n)
    return np.real(np.fft.ifft(k[:, None] * np.fft.fft(np.eye(n), axis=0), axis=0))


def _dense_displacement_stiffness(image: np.ndarray, young, poisson) -> np.ndarray:
    """The same discrete problem solved independently: minimum energy over displacements.

    On an odd grid every real periodic displacement has one trigonometric interpolant, and
    its spectral strains are exactly the compatible trial fields of the FFT scheme; the
    energy is the pixel sum. A dense least-squares solve (translations are free) per load.
    """
    h, w = image.shape
    dx = np.kron(np.eye(h), _spectral_derivative(w))  # rows flattened row-major
    dy = np.kron(_spectral_derivative(h), np.eye(w))
    zero = np.zeros_like(dx)
    b = np.block([[dx, zero], [zero, dy], [0.5 * dy, 0.5 * dx]])  # (3N, 2N): eps_xx, eps_yy, eps_xy
    lam_p, mu_p = (np.where(image.ravel() == 1, v[1], v[0]) for v in (
        [y * nu / ((1 + nu) * (1 - 2 * nu)) for y, nu in zip(young, poisson)],
        [y / (2 * (1 + nu)) for y, nu in zip(young, poisson)]))
    n = h * w
    q = np.zeros((3 * n, 3 * n))  # energy density eps : c : eps, tensor components
    idx = np.arange(n)
    q[idx, idx] = q[n + idx, n + idx] = lam_p + 2 * mu_p
    q[idx, n + idx] = q[n + idx, idx] = lam_p
    q[2 * n + idx, 2 * n + idx] = 4 * mu_p
    loads = [np.repeat(e, n) for e in ([1.0, 0, 0], [0, 1.0, 0], [0, 0, 0.5])]
    # One BLAS thread: small dense solves slow down 100x when threads oversubscribe the cores.
    with threadpool_limits(limits=1):
        k = b.T @ q @ b
        fields = [e + b @ np.linalg.lstsq(k, -b.T @ q @ e, rcond=None)[0] for e in loads]
        return np.array([[fi @ q @ fj for fj in fields] for fi in fields]) / n


@pytest.mark.parametrize("shape,seed", [((7, 9), 0), ((5, 11), 1)])
def test_matches_a_dense_displacement_solve_of_the_same_discrete_problem(shape, seed):
    image = np.random.default_rng(seed).integers(0, 2, size=shape).astype(np.uint8)
    young, poisson = (1.0, 30.0), (0.35, 0.2)
    expected = _dense_displacement_stiffness(image, young, poisson)
    for method in ("cg", "basic"):
        got = effective_stiffness(image, young, poisson, tol=1e-11, method=method)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-10 * np.abs(expected).max())


@pytest.mark.parametrize("shape", [(16, 16), (13, 18)])
def test_transposed_image_swaps_x_and_y(shape):
    images = np.random.default_rng(3).integers(0, 2, size=(3, *shape)).astype(np.uint8)
    c = effective_stiffness(images, (1.0, 20.0), (0.3, 0.2), tol=1e-10)
    c_t = effective_stiffness(images.transpose(0, 2, 1), (1.0, 20.0), (0.3, 0.2), tol=1e-10)
    np.testing.assert_allclose(c_t, _swap_xy(c), rtol=1e-9, atol=1e-12)
    e, e_t = effective_young(images, (1.0, 20.0), (0.3, 0.2)), effective_young(images.transpose(0, 2, 1), (1.0, 20.0), (0.3, 0.2))
    np.testing.assert_allclose(e_t, e[:, ::-1], rtol=1e-6)


@pytest.mark.parametrize("plane", PLANES)
def test_random_images_inside_voigt_reuss_bounds(plane):
    images = np.random.default_rng(5).random((24, 20, 20)) < np.linspace(0.05, 0.95, 24)[:, None, None]
    images = images.astype(np.uint8)
    young, poisson = (1.0, 50.0), (0.35, 0.2)
    c = effective_stiffness(images, young, poisson, plane)
    reuss, voigt = voigt_reuss_elastic_bounds(images.mean(axis=(1, 2)), young, poisson, plane)
    scale = np.abs(voigt).max()
    # Strictly inside as quadratic forms for mixed pixel noise: neither bound is attained.
    assert np.linalg.eigvalsh(voigt - c).min() > 1e-3 * scale
    assert np.linalg.eigvalsh(c - reuss).min() > 0
    e = effective_young(images, young, poisson, plane)
    e_reuss = 1.0 / np.linalg.inv(reuss)[:, [0, 1], [0, 1]]
    e_voigt = 1.0 / np.linalg.inv(voigt)[:, [0, 1], [0, 1]]
    assert np.all(e > e_reuss) and np.all(e < e_voigt)


@pytest.mark.parametrize("young,poisson,plane", [((1.0, 10.0), (0.3, 0.3), "strain"),
                                                 ((1.0, 100.0), (0.2, 0.45), "strain"),
                                                 ((100.0, 1.0), (0.3, 0.0), "stress")])
def test_isotropic_images_inside_hashin_shtrikman_bounds(young, poisson, plane):
    images = _gaussian_images(6, 32, 1.5, seed=6)
    kappa, mu = isotropic_moduli(effective_stiffness(images, young, poisson, plane))
    (k_lo, k_hi), (m_lo, m_hi) = hashin_shtrikman_elastic_bounds(images.mean(axis=(1, 2)), young, poisson, plane)
    assert np.all(kappa > k_lo) and np.all(kappa < k_hi)
    assert np.all(mu > m_lo) and np.all(mu < m_hi)


def test_cg_and_basic_agree_and_cg_needs_far_fewer_iterations_at_high_contrast():
    image = _gaussian_images(1, 24, 1.5, seed=7)[0]
    c_cg, info_cg = effective_stiffness(image, (1.0, 1000.0), tol=1e-8, return_info=True)
    c_basic, info_basic = effective_stiffness(image, (1.0, 1000.0), tol=1e-8, method="basic", return_info=True)
    np.testing.assert_allclose(c_cg, c_basic, rtol=1e-6, atol=1e-6 * np.abs(c_cg).max())
    assert np.all(info_cg["equilibrium_error"] <= 1e-8) and np.all(info_basic["equilibrium_error"] <= 1e-8)
    assert info_cg["iterations"].max() < 300 < info_basic["iterations"].min()


def test_batch_and_single_images_give_the_same_stiffness():
    images = _gaussian_images(5, 16, 1.2, seed=8)
    batch = effective_stiffness(images, tol=1e-10)
    single = np.stack([effective_stiffness(im, tol=1e-10) for im in images])
    np.testing.assert_allclose(batch, single, rtol=1e-12, atol=1e-14)
    assert effective_young(images[0]).shape == (2,) and effective_young(images).shape == (5, 2)


def test_not_converging_names_the_image():
    images = np.zeros((3, 12, 12), dtype=np.uint8)
    images[2, 3:7, 2:9] = 1  # only image 2 needs iterations
    with pytest.raises(ConvergenceError, match=r"1 image\(s\): image 2 .*raise max_iter"):
        effective_stiffness(images, (1.0, 100.0), max_iter=2)


def test_bad_inputs_are_refused_with_clear_messages():
    image = np.zeros((6, 6), dtype=np.uint8)
    with pytest.raises(ValueError, match="image 0, row 1, column 2 holds 2"):
        bad = image.copy()
        bad[1, 2] = 2
        effective_stiffness(bad)
    with pytest.raises(ValueError, match="Young's moduli must be finite and > 0"):
        effective_stiffness(image, young=(1.0, 0.0))
    with pytest.raises(ValueError, match="young must be a pair"):
        effective_stiffness(image, young=(1.0, 2.0, 3.0))
    for nu in (0.5, -1.0, 0.7, float("nan")):
        with pytest.raises(ValueError, match=r"Poisson's ratios must lie in \(-1, 0.5\)"):
            effective_stiffness(image, poisson=(0.3, nu))
    with pytest.raises(ValueError, match="plane must be 'strain' or 'stress'"):
        effective_stiffness(image, plane="3d")
    with pytest.raises(ValueError, match="method must be 'cg' or 'basic'"):
        effective_stiffness(image, method="newton")
    with pytest.raises(ValueError, match="tol must be a number > 0"):
        effective_stiffness(image, tol=0.0)
    with pytest.raises(ValueError, match="max_iter must be an integer >= 1"):
        effective_stiffness(image, max_iter=0)
    with pytest.raises(ValueError, match="images must be an"):
        effective_stiffness(np.zeros(5))


def test_elastic_bounds_known_values_nesting_and_limits():
    # nu = 0, plane strain: kappa = mu = E / 2 per phase (hand-computed in the docstring).
    (k_lo, k_hi), (m_lo, m_hi) = hashin_shtrikman_elastic_bounds(0.5, (1.0, 10.0), (0.0, 0.0))
    assert float(k_lo) == pytest.approx(1.0 / (0.5 / 1.0 + 0.5 / 5.5) - 0.5, rel=1e-14)
    assert float(k_hi) == pytest.approx(1.0 / (0.5 / 5.5 + 0.5 / 10.0) - 5.0, rel=1e-14)
    zeta_hi = 5.0 * 5.0 / 15.0
    assert float(m_hi) == pytest.approx(1.0 / (0.5 / (0.5 + zeta_hi) + 0.5 / (5.0 + zeta_hi)) - zeta_hi, rel=1e-14)
    phi = np.linspace(0, 1, 11)
    young, poisson = (3.0, 200.0), (0.4, 0.1)
    (k_lo, k_hi), (m_lo, m_hi) = hashin_shtrikman_elastic_bounds(phi, young, poisson)
    reuss, voigt = voigt_reuss_elastic_bounds(phi, young, poisson)
    k_r, m_r = isotropic_moduli(reuss)
    k_v, m_v = isotropic_moduli(voigt)
    # HS nests inside the Voigt and Reuss averages of the moduli and meets them at pure phases.
    assert np.all(k_lo >= k_r - 1e-12) and np.all(k_hi <= k_v + 1e-12) and np.all(k_lo <= k_hi + 1e-12)
    assert np.all(m_lo >= m_r - 1e-12) and np.all(m_hi <= m_v + 1e-12) and np.all(m_lo <= m_hi + 1e-12)
    phases = isotropic_stiffness(np.array(young), np.array(poisson))
    for end, c in ((0, phases[0]), (-1, phases[1])):
        assert k_lo[end] == pytest.approx(isotropic_moduli(c)[0]) == k_hi[end]
        assert m_lo[end] == pytest.approx(isotropic_moduli(c)[1]) == m_hi[end]
    # Swapping the phases mirrors the bounds.
    (k_lo_s, k_hi_s), _ = hashin_shtrikman_elastic_bounds(1 - phi, young[::-1], poisson[::-1])
    np.testing.assert_allclose([k_lo_s, k_hi_s], [k_lo, k_hi], rtol=1e-13)
    with pytest.raises(ValueError, match="filler fraction phi must lie in"):
        voigt_reuss_elastic_bounds(1.5)
