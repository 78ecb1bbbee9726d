"""Morphology statistics of two-phase images: exact answers on hand-made images, and
brute-force references (breadth-first search, explicit shifts) on random ones."""

from __future__ import annotations

import pickle
from collections import deque

import numpy as np
import pytest

from evodesign.exceptions import DataError
from evodesign.properties.microstructure import (
    largest_span,
    percolates,
    percolation_flag,
    specific_interface_length,
    two_point_correlation,
    volume_fraction,
)
from evodesign.representation import registry


def _stripes(height: int, width: int, period: int, along: str) -> np.ndarray:
    """Filler layers of width period/2 parallel to ``along`` (rows for "x")."""
    index = np.arange(height if along == "x" else width)
    layer = ((index // (period // 2)) % 2 == 0).astype(np.uint8)
    return np.repeat(layer[:, None], width, axis=1) if along == "x" else np.repeat(layer[None, :], height, axis=0)


def _bfs_percolates(image: np.ndarray, phase: int, axis: str) -> bool:
    """Reference: search from the inlet face, periodic across, on one image."""
    grid = image.T if axis == "y" else image
    height, width = grid.shape
    seen = np.zeros_like(grid, dtype=bool)
    queue = deque((y, 0) for y in range(height) if grid[y, 0] == phase)
    for y, x in queue:
        seen[y, x] = True
    while queue:
        y, x = queue.popleft()
        if x == width - 1:
            return True
        for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            ny, nx = (y + dy) % height, x + dx
            if 0 <= nx < width and not seen[ny, nx] and grid[ny, nx] == phase:
                seen[ny, nx] = True
                queue.append((ny, nx))
    return False


def test_volume_fraction_and_a_single_image():
    images = np.zeros((3, 4, 5), dtype=np.uint8)
    images[1, :2] = 1
    images[2] = 1
    assert volume_fraction(images).tolist() == [0.0, 0.5, 1.0]
    assert volume_fraction(images[1]) == 0.5 and np.ndim(volume_fraction(images[1])) == 0


def test_interface_length_of_laminates_checkerboards_and_uniform_images():
    for width in (1, 2, 4):
        stripes = _stripes(16, 12, 2 * width, "x")
        assert specific_interface_length(stripes) == pytest.approx(1 / width, abs=0)
        assert specific_interface_length(stripes.T.copy()) == pytest.approx(1 / width, abs=0)
    checker = (np.indices((6, 8)).sum(axis=0) % 2).astype(np.uint8)
    assert specific_interface_length(checker) == 2.0
    assert specific_interface_length(np.ones((2, 5, 5), dtype=np.uint8)).tolist() == [0.0, 0.0]
    # periodic: one filler column at the left edge has two edges, not one
    column = np.zeros((4, 8), dtype=np.uint8)
    column[:, 0] = 1
    assert specific_interface_length(column) == 8 / 32


def test_two_point_correlation_exact_on_stripes_and_a_brute_force_reference():
    stripes = _stripes(8, 8, 4, "x")  # rows 0-1 filler, 2-3 matrix, ...: phi 1/2
    s2 = two_point_correlation(stripes, 4)
    # along x every shift stays in the layer (1/2); along y: 1/2, 1/4, 0, 1/4, 1/2
    assert s2.tolist() == [0.5, 0.375, 0.25, 0.375, 0.5]
    rng = np.random.default_rng(0)
    images = (rng.random((4, 9, 7)) < 0.4).astype(np.uint8)
    reference = np.stack(
        [
            0.5 * ((images * np.roll(images, -r, axis=2)).mean(axis=(1, 2))
                   + (images * np.roll(images, -r, axis=1)).mean(axis=(1, 2)))
            for r in range(6)
        ],
        axis=1,
    )
    s2 = two_point_correlation(images, 5)
    np.testing.assert_allclose(s2, reference, rtol=0, atol=1e-15)
    assert s2.shape == (4, 6)
    np.testing.assert_array_equal(s2[:, 0], volume_fraction(images))
    # periodic edges: the interface length is 4 (S2(0) - S2(1))
    np.testing.assert_allclose(specific_interface_length(images), 4 * (s2[:, 0] - s2[:, 1]), atol=1e-15)


def test_two_point_correlation_refuses_distances_beyond_the_image():
    with pytest.raises(DataError, match=r"r_max must be an integer in \[0, 6\] for 7x9 images, got 7"):
        two_point_correlation(np.zeros((1, 7, 9), dtype=np.uint8), 7)


def test_percolation_of_laminates_along_and_across():
    rows = _stripes(8, 8, 4, "x")  # layers along x
    assert percolates(rows, 1, "x") and not percolates(rows, 1, "y")
    assert percolates(rows, 0, "x") and not percolates(rows, 0, "y")
    assert largest_span(rows, 1, "y") == 2 and largest_span(rows, 1, "x") == 8
    empty = np.zeros((8, 8), dtype=np.uint8)
    assert largest_span(empty, 1, "x") == 0 and not percolates(empty, 1, "x") and percolates(empty, 0, "y")


def test_percolation_is_periodic_across_the_flow_but_not_along_it():
    # a staircase that reaches the right face only by leaving through the bottom row and
    # coming back in the top row: periodic across x-flow, so it percolates along x
    image = np.zeros((6, 6), dtype=np.uint8)
    image[4:, 0:3] = 1
    image[0:2, 2:6] = 1
    image[5, 2] = 1
    assert percolates(image, 1, "x")
    image[5, 2] = 0  # the bridge across the wrap is gone
    image[4, 2] = 0
    assert not percolates(image, 1, "x")
    # along y the columns wrap: two blocks meet only across the left/right edge
    band = np.zeros((6, 6), dtype=np.uint8)
    band[:4, 4:] = 1
    band[3:, :2] = 1
    assert percolates(band, 1, "y")
    band[3, 4:] = 0
    assert not percolates(band, 1, "y")
    # the flow faces do not wrap: filler on both of them is no path between them
    edges = np.zeros((6, 6), dtype=np.uint8)
    edges[:, [0, 5]] = 1
    assert not percolates(edges, 1, "x") and largest_span(edges, 1, "x") == 1
    assert percolates(edges, 1, "y")


@pytest.mark.parametrize("fraction", [0.45, 0.6, 0.75])
def test_percolation_matches_a_breadth_first_search(fraction):
    rng = np.random.default_rng(int(fraction * 100))
    images = (rng.random((60, 9, 11)) < fraction).astype(np.uint8)
    outcomes = set()
    for phase in (0, 1):
        for axis in ("x", "y"):
            expected = [_bfs_percolates(image, phase, axis) for image in images]
            assert percolates(images, phase, axis).tolist() == expected
            outcomes.update(expected)
    assert outcomes == {True, False}  # both answers were put to the test


def test_images_must_be_binary_stacks():
    with pytest.raises(DataError, match=r"shape \(n, H, W\) or one \(H, W\) image, got shape \(4,\)"):
        volume_fraction(np.zeros(4))
    with pytest.raises(DataError, match=r"0 \(matrix\) and 1 \(filler\) only, got values \[2\]"):
        percolates(np.full((2, 3, 3), 2))
    with pytest.raises(DataError, match="axis must be 'x'"):
        percolates(np.zeros((1, 3, 3)), axis="z")


def test_registered_analytic_properties_are_floats_and_pickle():
    names = registry.analytic_properties.names("microstructure")
    assert set(names) >= {
        "volume_fraction", "interface_length", "filler_percolates_x", "filler_percolates_y",
        "matrix_percolates_x", "matrix_percolates_y",
    }
    rows = _stripes(8, 8, 4, "x")[None]
    values = {n: registry.analytic_properties.get("microstructure", n)(None)(rows) for n in names}
    assert values["filler_percolates_x"].tolist() == [1.0] and values["filler_percolates_y"].tolist() == [0.0]
    assert values["matrix_percolates_x"].tolist() == [1.0] and values["interface_length"].tolist() == [0.5]
    assert all(v.dtype == np.float64 and v.shape == (1,) for v in values.values())
    flag = registry.analytic_properties.get("microstructure", "matrix_percolates_y")(None)
    assert pickle.loads(pickle.dumps(flag))(rows).tolist() == [0.0]
    assert percolation_flag(rows, 1, "y").tolist() == [0.0]
