"""Effective elastic stiffness of two-phase pixel images by FFT homogenisation.

The unit cell is the periodic ``(H, W)`` image (axis 1 = y, rows; axis 2 = x, columns), each
pixel one isotropic linear-elastic phase (0 = matrix, 1 = filler) with Young's modulus ``E``
and Poisson's ratio ``nu``, in 2D **plane strain** (``eps_zz = 0``; 2D Lame constants
``lambda = E nu / ((1 + nu)(1 - 2 nu))``, ``mu = E / (2 (1 + nu))``) or **plane stress**
(``sigma_zz = 0``; ``lambda* = E nu / (1 - nu^2)``, same ``mu``). An average strain ``E`` is
prescribed and the strain fluctuation is periodic: the Lippmann-Schwinger equation of
Moulinec & Suquet (1994, 1998) with the spectral (trigonometric) discretisation. Two solvers:

- ``method="cg"`` (default): conjugate gradients on the Galerkin form ``Gamma0 C eps = 0``
  over compatible zero-mean fluctuations (Zeman et al. 2010, J. Comput. Phys. 229, 8065;
  Vondrejc, Zeman & Marek 2014), in the inner product of the reference medium ``C0``. ``C0`` is
  isotropic with the geometric means of the phases' 2D bulk and shear moduli, so the
  operator's spectrum spans ``max(bulk contrast, shear contrast)``: iterations grow about as
  the square root of the phase contrast.
- ``method="basic"``: the fixed-point scheme ``eps <- eps - Gamma0 C eps`` with ``C0`` the
  arithmetic means of the extremes (Moulinec & Suquet 1998): iterations grow about linearly
  with the contrast (thousands at 1:1000); kept as the reference and for the benchmark.

Convergence: the equilibrium error in Fourier space, ``sqrt(sum_xi |sigma^(xi) n(xi)|^2) /
|sigma^(0)|`` (``n = xi/|xi|``; the RMS traction imbalance over the mean stress, Frobenius
norms), at most ``tol`` for every image and load case. For even sizes the mixed Nyquist
modes (one wave-vector component at Nyquist, the other not zero) have no well-defined
direction on a real grid; they are left out of the trial space (Gamma0 = 0 there), which
keeps the operator real and symmetric and ``C(image.T)`` exactly ``C(image)`` with x and y
swapped, and keeps laminates exact (their modes are never mixed).

Notation: **Voigt** with engineering shear strain, ``[sigma_xx, sigma_yy, sigma_xy] = C
[eps_xx, eps_yy, gamma_xy]`` with ``gamma_xy = 2 eps_xy``, so an isotropic phase has
``C = [[lambda + 2 mu, lambda, 0], [lambda, lambda + 2 mu, 0], [0, 0, mu]]``. Each entry is
the energy form ``C_ij = <eps^(i) : c(x) : eps^(j)>`` over the three unit-load solutions
(symmetric by construction, its error second order in the strain error). Because the trial
space is a subspace of the compatible fields, the discrete result lies exactly between the
Reuss and Voigt bounds. Phase contrasts up to 1:1000 converge (see :func:`effective_stiffness`).

Not wired into campaigns yet: a later ``[physics] young = [E_matrix, E_filler]`` (and
``poisson``) could register ``E_xx``/``E_yy`` as analytic properties of the microstructure
space (``representation/registry.py``), as the conductivity is, with the 2D
Hashin-Shtrikman bounds of :func:`evodesign.physics.bounds.hashin_shtrikman_elastic_bounds`
drawn on ``pareto.png``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.fft

from evodesign.physics.conductivity import _checked_images

__all__ = [
    "ConvergenceError",
    "effective_stiffness",
    "effective_young",
    "isotropic_moduli",
    "isotropic_stiffness",
    "lame_2d",
]

Plane = Literal["strain", "stress"]
Method = Literal["cg", "basic"]

#: Default iteration caps: CG needs a few hundred at 1:1000, the basic scheme thousands.
MAX_ITER = {"cg": 2000, "basic": 20000}
# Values (pixels x load cases) per chunk: small enough that the fields stay in cache (at 64x64
# one image per chunk ran 3x faster than 64; at 16x16 16 images per chunk 2x faster than one).
_CHUNK_VALUES = 3 * 2**12
# Voigt unit loads as tensor strains [eps_xx, eps_yy, eps_xy]: gamma_xy = 1 is eps_xy = 1/2.
_UNIT_LOADS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.5]])
# Frobenius weights of the tensor components (xx, yy, xy): xy stands for xy and yx.
_FROBENIUS = np.array([1.0, 1.0, 2.0])


class ConvergenceError(RuntimeError):
    """The FFT iteration did not reach ``tol`` within ``max_iter`` for some image."""


def lame_2d(young, poisson, plane: Plane = "strain") -> tuple[np.ndarray, np.ndarray]:
    """2D Lame constants ``(lambda, mu)`` of isotropic phases (broadcast arrays).

    Args:
        young: Young's modulus (> 0), any shape.
        poisson: Poisson's ratio in (-1, 0.5), broadcast against ``young``.
        plane: ``"strain"`` (``lambda = E nu / ((1 + nu)(1 - 2 nu))``) or ``"stress"``
            (``lambda = E nu / (1 - nu^2)``); ``mu = E / (2 (1 + nu))`` in both.

    Returns:
        ``(lam, mu)`` float64 arrays of the broadcast shape.
    """
    e, nu = _checked_moduli(young, poisson)
    _checked_plane(plane)
    mu = e / (2.0 * (1.0 + nu))
    lam = e * nu / ((1.0 + nu) * (1.0 - 2.0 * nu)) if plane == "strain" else e * nu / (1.0 - nu**2)
    return lam, mu


def isotropic_stiffness(young, poisson, plane: Plane = "strain") -> np.ndarray:
    """Voigt stiffness ``(..., 3, 3)`` of isotropic phases in plane strain or plane stress.

    Example:
        >>> isotropic_stiffness(1.0, 0.0).tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.5]]
    """
    lam, mu = lame_2d(young, poisson, plane)
    out = np.zeros(lam.shape + (3, 3))
    out[..., 0, 0] = out[..., 1, 1] = lam + 2.0 * mu
    out[..., 0, 1] = out[..., 1, 0] = lam
    out[..., 2, 2] = mu
    return out


def effective_stiffness(
    images,
    young: tuple[float, float] = (1.0, 10.0),
    poisson: tuple[float, float] = (0.3, 0.3),
    plane: Plane = "strain",
    tol: float = 1e-6,
    max_iter: int | None = None,
    method: Method = "cg",
    return_info: bool = False,
):
    """Homogenised in-plane stiffness of periodic two-phase images (Voigt notation).

    Args:
        images: ``(n, H, W)`` 0/1 (1 = filler), or one ``(H, W)`` image; pixels are the
            cells of a periodic unit cell.
        young: ``(E_matrix, E_filler)``, both finite and > 0.
        poisson: ``(nu_matrix, nu_filler)``, each in (-1, 0.5).
        plane: ``"strain"`` or ``"stress"`` (the phases' 2D law, see the module docstring).
        tol: equilibrium error (Fourier-space norm, relative to the mean stress) to reach for
            every image and each of the three load cases.
        max_iter: iteration cap per load case (default :data:`MAX_ITER` of the method).
        method: ``"cg"`` (default) or ``"basic"`` (Moulinec-Suquet fixed point). Measured
            on 64x64 thresholded Gaussian fields, Poisson 0.3, plane strain, tol 1e-6, mean
            iterations per load case at contrasts 1:10 / 1:100 / 1:1000 / 1:10^4: CG about
            20 / 65 / 215 / 680 (the square root of the contrast), basic 52 / 530 / 5,700
            (linear in it); CG ran 36 / 12 / 4 images/s on one core of a shared machine.
        return_info: also return a dict with ``iterations`` ``(n, 3)`` int and
            ``equilibrium_error`` ``(n, 3)`` (per image and load case: ``eps_xx``,
            ``eps_yy``, ``gamma_xy``).

    Returns:
        float64 ``(n, 3, 3)`` (``(3, 3)`` for one image) ``C`` with ``[sigma_xx, sigma_yy,
        sigma_xy] = C [eps_xx, eps_yy, gamma_xy]`` of the averages; with ``return_info``
        the pair ``(C, info)``.

    Raises:
        ValueError: images not 0/1 (naming the first offending pixel), a wrong shape,
            moduli not > 0, Poisson's ratio outside (-1, 0.5), an unknown plane or method,
            ``tol`` not > 0 or ``max_iter`` < 1.
        ConvergenceError: some image did not converge (named, with its error).

    Example:
        >>> layers = np.zeros((4, 4), dtype=np.uint8); layers[:2] = 1   # stripes along x
        >>> c = effective_stiffness(layers, (1.0, 10.0), (0.0, 0.0))
        >>> c.round(6).tolist()   # E along the layers: 5.5; across them: 1/(0.5/1 + 0.5/10)
        [[5.5, 0.0, 0.0], [0.0, 1.818182, 0.0], [0.0, 0.0, 0.909091]]
    """
    stack, single = _checked_images(images)
    e, nu = _checked_moduli(young, poisson, pair=True)
    if method not in MAX_ITER:
        raise ValueError(f"method must be 'cg' or 'basic', got {method!r}")
    if not (isinstance(tol, (int, float)) and np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a number > 0, got {tol!r}")
    max_iter = MAX_ITER[method] if max_iter is None else max_iter
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    lam, mu = lame_2d(e, nu, plane)
    n, h, w = stack.shape
    stiffness = np.empty((n, 3, 3))
    iterations = np.zeros((n, 3), dtype=np.int64)
    errors = np.zeros((n, 3))
    step = max(1, _CHUNK_VALUES // (3 * h * w))
    for start in range(0, n, step):
        rows = slice(start, start + step)
        ones = stack[rows] == 1
        solved = _solve(np.where(ones, lam[1], lam[0]), np.where(ones, mu[1], mu[0]),
                        (lam, mu), tol, int(max_iter), method)
        stiffness[rows], iterations[rows], errors[rows] = solved
    bad = np.argwhere(errors > tol)
    if bad.size:
        loads = ("eps_xx", "eps_yy", "gamma_xy")
        named = ", ".join(f"image {i} ({loads[j]}: {errors[i, j]:.1e})" for i, j in bad[:5])
        raise ConvergenceError(
            f"FFT homogenisation ({method}) did not reach tol {tol:g} in {max_iter} iterations "
            f"for {len(np.unique(bad[:, 0]))} image(s): {named}; raise max_iter"
            + (" or use method='cg'" if method == "basic" else "")
        )
    out = stiffness[0] if single else stiffness
    if not return_info:
        return out
    info = {"iterations": iterations, "equilibrium_error": errors}
    if single:
        info = {k: v[0] for k, v in info.items()}
    return out, info


def effective_young(
    images,
    young: tuple[float, float] = (1.0, 10.0),
    poisson: tuple[float, float] = (0.3, 0.3),
    plane: Plane = "strain",
    tol: float = 1e-6,
    max_iter: int | None = None,
    method: Method = "cg",
) -> np.ndarray:
    """In-plane Young's moduli ``[E_xx, E_yy]`` of periodic two-phase images.

    ``E_xx = 1 / S_11`` and ``E_yy = 1 / S_22`` with ``S`` the inverse of the Voigt
    stiffness of :func:`effective_stiffness`: the ratio of stress to strain under uniaxial
    in-plane stress (the other in-plane stresses zero). In plane stress this is the sheet's
    Young's modulus (a uniform phase gives its ``E``); in plane strain it is the plane-strain
    modulus (``eps_zz = 0``; a uniform phase gives ``E / (1 - nu^2)``).

    Args:
        images, young, poisson, plane, tol, max_iter, method: as :func:`effective_stiffness`.

    Returns:
        float64 ``(n, 2)``, or ``(2,)`` for one ``(H, W)`` image.
    """
    c = effective_stiffness(images, young, poisson, plane, tol=tol, max_iter=max_iter, method=method)
    compliance = np.linalg.inv(c)
    return 1.0 / np.stack([compliance[..., 0, 0], compliance[..., 1, 1]], axis=-1)


def isotropic_moduli(stiffness) -> tuple[np.ndarray, np.ndarray]:
    """2D bulk and shear moduli of the isotropic part (the average over rotations) of ``C``.

    Args:
        stiffness: ``(..., 3, 3)`` Voigt stiffness (as :func:`effective_stiffness` returns).

    Returns:
        ``(kappa, mu)`` of shape ``(...)``: ``kappa = (C11 + C22 + 2 C12) / 4`` and
        ``mu = (C11 + C22 - 2 C12) / 8 + C33 / 2``; for an isotropic ``C`` its
        ``lambda + mu`` and ``mu``.
    """
    c = np.asarray(stiffness, dtype=np.float64)
    if c.shape[-2:] != (3, 3):
        raise ValueError(f"stiffness must be (..., 3, 3) in Voigt notation, got shape {c.shape}")
    c11, c22, c12, c33 = c[..., 0, 0], c[..., 1, 1], c[..., 0, 1], c[..., 2, 2]
    return (c11 + c22 + 2.0 * c12) / 4.0, (c11 + c22 - 2.0 * c12) / 8.0 + c33 / 2.0


def _checked_moduli(young, poisson, pair: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Young's moduli and Poisson's ratios as float arrays, validated (pairs if ``pair``)."""
    names = (("young", "(E_matrix, E_filler)"), ("poisson", "(nu_matrix, nu_filler)"))
    values = []
    for (name, form), raw in zip(names, (young, poisson)):
        try:
            arr = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be numbers {form}, got {raw!r}") from None
        if pair and arr.shape != (2,):
            raise ValueError(f"{name} must be a pair {form}, got {raw!r}")
        values.append(arr)
    e, nu = values
    if not np.all(np.isfinite(e) & (e > 0)):
        raise ValueError(f"Young's moduli must be finite and > 0, got young={young!r}")
    if not np.all(np.isfinite(nu) & (nu > -1.0) & (nu < 0.5)):
        raise ValueError(
            "Poisson's ratios must lie in (-1, 0.5) (a stable isotropic solid), "
            f"got poisson={poisson!r}"
        )
    return e, nu


def _checked_plane(plane) -> None:
    if plane not in ("strain", "stress"):
        raise ValueError(f"plane must be 'strain' or 'stress', got {plane!r}")


def _directions(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit wave vectors ``(nx, ny)`` and Parseval weights on the rfft2 grid, real-view layout.

    Each is ``(H, 2 (W//2+1))``: every frequency twice (its real and imaginary part), so they
    multiply a complex spectrum viewed as float64 without a complex cast. ``n`` is zero at the
    zero frequency and at the mixed Nyquist modes (left out of the trial space, see the module
    docstring). Weights: 2 for the columns whose conjugates rfft2 omits.
    """
    ky = np.fft.fftfreq(h)[:, None] * np.ones((1, w // 2 + 1))
    kx = np.fft.rfftfreq(w)[None, :] * np.ones((h, 1))
    nyq_y = (h % 2 == 0) & (np.abs(ky) == 0.5)
    nyq_x = (w % 2 == 0) & (kx == 0.5)
    mixed = (nyq_y & (kx != 0)) | (nyq_x & (ky != 0))
    norm = np.hypot(kx, ky)
    keep = (norm > 0) & ~mixed
    safe = np.where(keep, norm, 1.0)
    nx, ny = np.where(keep, kx / safe, 0.0), np.where(keep, ky / safe, 0.0)
    weight = np.full(kx.shape, 2.0)
    weight[:, 0] = 1.0
    if w % 2 == 0:
        weight[:, -1] = 1.0
    return tuple(np.repeat(a, 2, axis=-1) for a in (nx, ny, weight))


def _stress(lam: np.ndarray, mu: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """Tensor stress ``(S, 3, H, W)`` of strains ``eps`` ``(S, 3, H, W)``; lam, mu ``(S, H, W)``."""
    out = np.empty_like(eps)
    trace = lam * (eps[:, 0] + eps[:, 1])
    two_mu = 2.0 * mu
    np.multiply(two_mu, eps[:, 0], out=out[:, 0])
    out[:, 0] += trace
    np.multiply(two_mu, eps[:, 1], out=out[:, 1])
    out[:, 1] += trace
    np.multiply(two_mu, eps[:, 2], out=out[:, 2])
    return out


def _traction(tau: np.ndarray, nx: np.ndarray, ny: np.ndarray) -> np.ndarray:
    """``tau n`` ``(S, 2, H, 2 Wr)`` of a spectrum ``tau`` ``(S, 3, H, 2 Wr)`` (real views)."""
    out = np.empty((tau.shape[0], 2) + tau.shape[2:])
    np.multiply(tau[:, 0], nx, out=out[:, 0])
    out[:, 0] += tau[:, 2] * ny
    np.multiply(tau[:, 1], ny, out=out[:, 1])
    out[:, 1] += tau[:, 2] * nx
    return out


def _green(a: np.ndarray, nx: np.ndarray, ny: np.ndarray, lam0: float, mu0: float) -> np.ndarray:
    """``Gamma0 tau`` (real view ``(S, 3, H, 2 Wr)``) from the traction ``a = tau n``.

    For the isotropic reference ``(lam0, mu0)``: ``Gamma0 tau = sym(n (x) a) / mu0 -
    (lam0 + mu0) / (mu0 (lam0 + 2 mu0)) (n.a) n (x) n`` (Moulinec & Suquet 1998, any dimension).
    """
    ax, ay = a[:, 0], a[:, 1]
    s = (nx * ax + ny * ay) * ((lam0 + mu0) / (mu0 * (lam0 + 2.0 * mu0)))
    out = np.empty((a.shape[0], 3) + a.shape[2:])
    np.multiply(ax / mu0 - s * nx, nx, out=out[:, 0])
    np.multiply(ay / mu0 - s * ny, ny, out=out[:, 1])
    np.multiply(nx * ay + ny * ax, 0.5 / mu0, out=out[:, 2])
    out[:, 2] -= s * nx * ny
    return out


def _equilibrium_error(traction: np.ndarray, mean_stress: np.ndarray,
                       weight: np.ndarray) -> np.ndarray:
    """``(S,)``: ``sqrt(sum_xi |sigma^ n|^2) / |sigma^(0)|`` with Parseval weights, Frobenius norm.

    Args:
        traction: ``sigma^ n`` ``(S, 2, H, 2 Wr)`` (real view).
        mean_stress: ``sigma^(0)`` ``(S, 3)``.
    """
    imbalance = np.einsum("schw,schw->sc", traction, traction * weight).sum(axis=1)
    mean = (mean_stress**2) @ _FROBENIUS
    return np.sqrt(imbalance / np.maximum(mean, np.finfo(float).tiny))


def _inner(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Frobenius inner products ``(S,)`` of tensor fields ``(S, 3, H, W)``."""
    return np.einsum("schw,schw->sc", a, b) @ _FROBENIUS


def _energy0(r: np.ndarray, lam0: float, mu0: float) -> np.ndarray:
    """``<r, C0 r>`` ``(S,)`` for the isotropic reference: ``lam0 tr(r)^2 + 2 mu0 r : r``."""
    trace = r[:, 0] + r[:, 1]
    return lam0 * np.einsum("shw,shw->s", trace, trace) + 2.0 * mu0 * _inner(r, r)


def _forward(field: np.ndarray) -> np.ndarray:
    """rfft2 of real ``(S, C, H, W)`` fields as a float64 view ``(S, C, H, 2 (W//2+1))``."""
    return scipy.fft.rfft2(field).view(np.float64)


def _inverse(spectrum: np.ndarray, h: int, w: int) -> np.ndarray:
    """Inverse of :func:`_forward`."""
    return scipy.fft.irfft2(spectrum.view(np.complex128), s=(h, w))


def _solve(lam_img, mu_img, phases, tol, max_iter, method):
    """Stiffness ``(b, 3, 3)``, iterations ``(b, 3)`` and errors ``(b, 3)`` of a chunk.

    ``lam_img``, ``mu_img``: ``(b, H, W)`` pixel Lame constants; ``phases``: both phases'
    ``(lam, mu)``, from which the reference medium is chosen.
    """
    b, h, w = lam_img.shape
    # Systems are (image, load case) pairs, image-major.
    lam = np.repeat(lam_img, 3, axis=0)
    mu = np.repeat(mu_img, 3, axis=0)
    loads = np.tile(_UNIT_LOADS, (b, 1))[:, :, None, None] * np.ones((1, 1, h, w))
    kappa, shear = phases[0] + phases[1], phases[1]  # 2D bulk modulus kappa = lambda + mu
    if method == "cg":
        kappa0, mu0 = np.sqrt(kappa.min() * kappa.max()), np.sqrt(shear.min() * shear.max())
    else:
        kappa0, mu0 = kappa.mean(), shear.mean()  # arithmetic means of the two extremes
    solver = _cg if method == "cg" else _basic
    grid = _directions(h, w)
    strain, iterations, errors = solver(lam, mu, loads, grid, kappa0 - mu0, mu0, tol, max_iter)
    # Energy form: C_ij = <eps_i : c : eps_j>, symmetric and second-order accurate.
    eps = strain.reshape(b, 3, 3, h, w)
    sig = _stress(lam, mu, strain).reshape(b, 3, 3, h, w)
    c = np.einsum("bichw,bjchw->bijc", eps, sig) @ _FROBENIUS / (h * w)
    c = 0.5 * (c + c.transpose(0, 2, 1))
    return c, iterations.reshape(b, 3), errors.reshape(b, 3)


def _cg(lam, mu, loads, grid, lam0, mu0, tol, max_iter):
    """Conjugate gradients in the ``C0`` inner product; returns strains, iterations, errors.

    The equilibrium error needs only the traction ``sigma^ n`` and the mean stress, both linear
    in the iterate: they are updated with the step instead of transforming the stress again.
    Finished systems leave the active set, so a batch costs what its systems need.
    """
    nx, ny, weight = grid
    s_all, _, h, w = loads.shape
    strain = loads.copy()
    iterations = np.zeros(s_all, dtype=np.int64)
    errors = np.zeros(s_all)
    sig_hat = _forward(_stress(lam, mu, loads))
    traction = _traction(sig_hat, nx, ny)
    mean_stress = sig_hat[:, :, 0, 0] / (h * w)  # the zero frequency is real
    r = -_inverse(_green(traction, nx, ny, lam0, mu0), h, w)
    p = r.copy()
    rr = _energy0(r, lam0, mu0)
    x = np.zeros_like(loads)
    active = np.arange(s_all)
    for it in range(max_iter + 1):
        err = _equilibrium_error(traction, mean_stress * (h * w), weight)
        done = (err <= tol) | (it == max_iter)
        if done.any():
            finished = active[done]
            strain[finished] += x[done]
            iterations[finished], errors[finished] = it, err[done]
            keep = ~done
            active, lam, mu, x, r, p, rr, traction, mean_stress = (
                a[keep] for a in (active, lam, mu, x, r, p, rr, traction, mean_stress))
            if active.size == 0:
                break
        cp = _stress(lam, mu, p)
        cp_hat = _forward(cp)
        cp_traction = _traction(cp_hat, nx, ny)
        q = _inverse(_green(cp_traction, nx, ny, lam0, mu0), h, w)
        alpha = rr / _inner(p, cp)
        step = alpha[:, None, None, None]
        x += step * p
        r -= step * q
        traction += step * cp_traction
        mean_stress += alpha[:, None] * cp_hat[:, :, 0, 0] / (h * w)
        rr_new = _energy0(r, lam0, mu0)
        p *= (rr_new / rr)[:, None, None, None]
        p += r
        rr = rr_new
    return strain, iterations, errors


def _basic(lam, mu, loads, grid, lam0, mu0, tol, max_iter):
    """Moulinec-Suquet fixed point ``eps^ <- eps^ - Gamma0 sigma^``; strains, iterations, errors."""
    nx, ny, weight = grid
    s_all, _, h, w = loads.shape
    strain = loads.copy()
    iterations = np.zeros(s_all, dtype=np.int64)
    errors = np.zeros(s_all)
    eps = loads.copy()
    eps_hat = _forward(eps)
    active = np.arange(s_all)
    for it in range(max_iter + 1):
        sig_hat = _forward(_stress(lam, mu, eps))
        traction = _traction(sig_hat, nx, ny)
        err = _equilibrium_error(traction, sig_hat[:, :, 0, 0], weight)
        done = (err <= tol) | (it == max_iter)
        if done.any():
            finished = active[done]
            strain[finished] = eps[done]
            iterations[finished], errors[finished] = it, err[done]
            keep = ~done
            active, lam, mu, eps_hat, traction = (
                a[keep] for a in (active, lam, mu, eps_hat, traction))
            if active.size == 0:
                break
        eps_hat -= _green(traction, nx, ny, lam0, mu0)
        eps = _inverse(eps_hat, h, w)
    return strain, iterations, errors
