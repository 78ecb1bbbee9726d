"""Wiener and Hashin-Shtrikman bounds: known values, ordering, limits and errors."""

from __future__ import annotations

import numpy as np
import pytest

from evodesign.physics import hashin_shtrikman_bounds, wiener_bounds


def test_known_values_at_half_and_one_to_ten():
    lo, hi = wiener_bounds(0.5, 1.0, 10.0)
    assert float(lo) == pytest.approx(1.0 / 0.55, rel=1e-14)
    assert float(hi) == pytest.approx(5.5, rel=1e-14)
    lo, hi = hashin_shtrikman_bounds(0.5, 1.0, 10.0)
    assert float(lo) == pytest.approx(1.0 + 0.5 / (1.0 / 9.0 + 0.25), rel=1e-14)  # 2.3846
    assert float(hi) == pytest.approx(10.0 + 0.5 / (-1.0 / 9.0 + 0.025), rel=1e-14)  # 4.1935


def test_nesting_and_pure_phase_limits():
    phi = np.linspace(0.0, 1.0, 101)
    w_lo, w_hi = wiener_bounds(phi, 1.0, 10.0)
    hs_lo, hs_hi = hashin_shtrikman_bounds(phi, 1.0, 10.0)
    assert np.all(w_lo <= hs_lo + 1e-12) and np.all(hs_lo <= hs_hi + 1e-12) and np.all(hs_hi <= w_hi + 1e-12)
    for lo, hi in ((w_lo, w_hi), (hs_lo, hs_hi)):
        assert lo[0] == pytest.approx(1.0) and hi[0] == pytest.approx(1.0)
        assert lo[-1] == pytest.approx(10.0) and hi[-1] == pytest.approx(10.0)
    assert np.all(hs_hi[1:-1] < w_hi[1:-1]) and np.all(hs_lo[1:-1] > w_lo[1:-1])


def test_swapping_the_phases_mirrors_the_bounds():
    phi = np.array([0.1, 0.4, 0.8])
    for bounds in (wiener_bounds, hashin_shtrikman_bounds):
        a = bounds(phi, 1.0, 10.0)
        b = bounds(1.0 - phi, 10.0, 1.0)
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_equal_phases_and_broadcasting():
    lo, hi = hashin_shtrikman_bounds(np.array([[0.2], [0.7]]), 3.0, np.array([3.0, 5.0]))
    assert lo.shape == hi.shape == (2, 2)
    np.testing.assert_allclose(lo[:, 0], 3.0)
    np.testing.assert_allclose(hi[:, 0], 3.0)


@pytest.mark.parametrize("bounds", [wiener_bounds, hashin_shtrikman_bounds])
def test_invalid_inputs_are_refused(bounds):
    with pytest.raises(ValueError, match="conductivities"):
        bounds(0.5, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bounds(1.5, 1.0, 10.0)
