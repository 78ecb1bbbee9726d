"""The microstructure design space: decoding, canonical images, ids, and a search over it
through the same problem, repair, deduplication and NSGA-II as every space."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM
from pymoo.optimize import minimize

from evodesign.exceptions import DataError
from evodesign.objectives import Objective
from evodesign.problem import DesignProblem
from evodesign.properties.microstructure import specific_interface_length, volume_fraction
from evodesign.representation import DesignSpace, KnownDesigns, registry, space_from_dict
from evodesign.representation.microstructure import MicrostructureSpace
from evodesign.search.algorithm import design_nsga2


def test_it_is_a_registered_design_space():
    space = MicrostructureSpace(size=16, min_feature=2, threshold=0.4)
    assert isinstance(space, DesignSpace)
    assert registry.spaces.get("microstructure", "microstructure") is MicrostructureSpace
    assert space.n_var == 256 and space.xl.shape == space.xu.shape == (256,)
    assert (space.xl == 0).all() and (space.xu == 1).all()
    assert space_from_dict(space.to_dict()) == space
    assert space.to_dict() == {"kind": "microstructure", "size": 16, "min_feature": 2, "threshold": 0.4}


def test_settings_and_data_make_the_space():
    settings = SimpleNamespace(size=16, min_feature=3, threshold=0.5)
    assert MicrostructureSpace.from_settings(settings, None) == MicrostructureSpace(16, 3)
    data = SimpleNamespace(images=np.zeros((4, 16, 16), dtype=np.uint8))
    assert MicrostructureSpace.from_settings(settings, data).size == 16
    with pytest.raises(DataError, match=r"images are 32x32 pixels but \[space\] size = 16; set size = 32"):
        MicrostructureSpace.from_settings(settings, SimpleNamespace(images=np.zeros((2, 32, 32))))


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(DataError, match="size must be an integer >= 8"):
        MicrostructureSpace(size=4)
    with pytest.raises(DataError, match=r"min_feature must be an integer in \[0, 15\]"):
        MicrostructureSpace(size=16, min_feature=16)
    with pytest.raises(DataError, match=r"threshold must be in \(0, 1\)"):
        MicrostructureSpace(size=16, threshold=1.0)
    space = MicrostructureSpace(size=8)
    with pytest.raises(DataError, match=r"vectors of shape \(n, 64\) \(8x8 images, row-major\), got shape \(1, 63\)"):
        space.decode(np.zeros((1, 63)))
    with pytest.raises(DataError, match=r"images of shape \(n, 8, 8\)"):
        space.encode(np.zeros((1, 9, 9)))


def test_decoding_thresholds_row_major_pixels():
    space = MicrostructureSpace(size=8, threshold=0.3)
    X = np.zeros((2, 64))
    X[0, 3] = 0.31  # row 0, column 3
    X[1, 8 * 5 + 1] = 0.9  # row 5, column 1
    X[1, 0] = np.nan  # matrix
    images = space.decode(X)
    assert images.dtype == np.uint8 and images.shape == (2, 8, 8)
    assert np.argwhere(images[0]).tolist() == [[0, 3]] and np.argwhere(images[1]).tolist() == [[5, 1]]
    np.testing.assert_array_equal(space.encode(images), (X > 0.3).astype(float))


def test_min_feature_removes_thin_filler_and_thin_matrix_periodically():
    space = MicrostructureSpace(size=12, min_feature=2)
    image = np.zeros((12, 12), dtype=np.uint8)
    image[2, :] = 1  # a 1-px filler line: removed
    image[4:10, 2:8] = 1  # a 6x6 block with a 1-px hole: the block stays, the hole closes
    image[6, 4] = 0
    image[11, 10:12] = 1
    image[0, 10:12] = 1  # a 2x2 block split by the bottom edge: stays (periodic)
    out = space.decode(space.encode(image[None]))[0]
    expected = np.zeros((12, 12), dtype=np.uint8)
    expected[4:10, 2:8] = 1
    expected[11, 10:12] = 1
    expected[0, 10:12] = 1
    np.testing.assert_array_equal(out, expected)
    # without min_feature the image is its own canonical form
    plain = MicrostructureSpace(size=12)
    np.testing.assert_array_equal(plain.decode(plain.encode(image[None]))[0], image)


@pytest.mark.parametrize("min_feature", [0, 2, 3, 4])
def test_repair_is_idempotent_and_canonical(min_feature):
    space = MicrostructureSpace(size=16, min_feature=min_feature)
    rng = np.random.default_rng(min_feature)
    X = np.concatenate([rng.random((40, 256)), space.random_vectors(20, rng)])
    once = space.repair(X)
    assert set(np.unique(once)) <= {0.0, 1.0}
    np.testing.assert_array_equal(space.repair(once), once)
    np.testing.assert_array_equal(space.encode(space.decode(once)), once)
    # the batch is filtered image by image: one row alone decodes as in the batch
    np.testing.assert_array_equal(space.repair(X[7:8]), once[7:8])


def test_ids_are_equal_exactly_for_equal_images_and_labels_are_short():
    space = MicrostructureSpace(size=8)
    rng = np.random.default_rng(0)
    images = (rng.random((5, 8, 8)) < 0.5).astype(np.uint8)
    images[3] = images[1]
    images[4] = images[0]
    images[4, 7, 7] ^= 1  # one pixel apart from image 0
    ids = space.ids(images)
    assert ids.shape == (5,) and ids[1] == ids[3] and ids[0] != ids[4]
    assert len(np.unique(ids)) == 4
    labels = space.labels(images)
    assert labels[1] == labels[3] and labels[0] != labels[4]
    phi = volume_fraction(images[0])
    assert labels[0].startswith(f"φ={phi:.2f} #") and len(labels[0].split("#")[1]) == 6
    known = KnownDesigns.from_vectors(space, space.encode(images[:2]))
    assert known.contains(ids).tolist() == [True, True, False, True, False]


def test_features_and_table():
    space = MicrostructureSpace(size=8)
    image = np.zeros((1, 8, 8), dtype=np.uint8)
    image[0, 2:4, :] = 1  # a layer along x
    features = space.features(image)
    assert features.dtype == np.float32 and features.shape == (1, 64) and features.sum() == 16
    table = space.table(image)
    assert table["volume_fraction"] == [0.25] and table["interface_length"] == [0.25]
    assert table["filler_percolates_x"] == [True] and table["filler_percolates_y"] == [False]
    assert table["matrix_percolates_x"] == [True] and table["matrix_percolates_y"] == [False]
    assert table["microstructure"] == space.labels(image)


def test_known_designs_keep_only_canonical_images():
    space = MicrostructureSpace(size=8, min_feature=2)
    thick = np.zeros((8, 8), dtype=np.uint8)
    thick[2:5, 2:5] = 1
    thin = thick.copy()
    thin[7, :] = 1  # a 1-px line is no design of this space
    known = KnownDesigns.from_vectors(space, space.encode(np.stack([thick, thin, thick])))
    assert known.rows.tolist() == [0, 2] and len(np.unique(known.ids)) == 1


def test_random_vectors_are_seeded_varied_and_canonical():
    space = MicrostructureSpace(size=32, min_feature=2)
    a = space.random_vectors(30, np.random.default_rng(5))
    b = space.random_vectors(30, np.random.default_rng(5))
    c = space.random_vectors(30, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(space.repair(a), a)
    assert len(np.unique(space.ids(space.decode(a)))) == 30
    plain = MicrostructureSpace(size=32)
    phi = volume_fraction(plain.decode(plain.random_vectors(200, np.random.default_rng(0), fraction=(0.3, 0.4))))
    assert phi.min() >= 0.3 - 1 / 1024 and phi.max() <= 0.4 + 1 / 1024 and phi.std() > 0.02
    length = specific_interface_length(plain.decode(plain.random_vectors(200, np.random.default_rng(0))))
    assert length.max() > 2 * length.min()  # coarse and fine textures


def _search(seed: int) -> tuple[np.ndarray, np.ndarray, DesignProblem, np.ndarray]:
    space = MicrostructureSpace(size=16, min_feature=2)
    analytic = {n: registry.analytic_properties.get(space.kind, n)(space) for n in ("interface_length", "volume_fraction")}
    problem = DesignProblem(
        space, [Objective("interface_length", "max"), Objective("volume_fraction", "min")], analytic=analytic
    )
    rng = np.random.default_rng(seed)
    initial = space.random_vectors(20, rng)
    algorithm = design_nsga2(space, 20, initial, SBX(prob=0.9, eta=15), PM(eta=20))
    result = minimize(problem, algorithm, ("n_gen", 5), seed=seed)
    return np.atleast_2d(result.pop.get("X")), np.atleast_2d(result.pop.get("F")), problem, initial


def test_nsga2_searches_images_with_pixel_sbx_and_pm():
    X, F, problem, initial = _search(seed=0)
    space = problem.space
    # 20 initial designs and at most 20 new ones per generation (fewer after dedup)
    assert X.shape == (20, 256) and 20 < problem.n_evaluated <= 100
    # every individual is a canonical image, no image twice, scored as the image it is
    np.testing.assert_array_equal(space.repair(X), X)
    images = space.decode(X)
    assert len(np.unique(space.ids(images))) == len(X)
    np.testing.assert_array_equal(F[:, 0], -specific_interface_length(images))
    np.testing.assert_array_equal(F[:, 1], volume_fraction(images))
    # the extremes survive: the best of each objective never gets worse
    start = space.decode(initial)
    assert -F[:, 0].min() >= specific_interface_length(start).max()
    assert F[:, 1].min() <= volume_fraction(start).min()
    X_again, _, _, _ = _search(seed=0)
    np.testing.assert_array_equal(X_again, X)


def test_an_empty_batch_has_empty_labels_ids_and_table():
    """A run whose front is empty (no feasible image) writes an empty table, not a crash."""
    import numpy as np

    from evodesign.representation.microstructure import MicrostructureSpace

    space = MicrostructureSpace(16, 2)
    empty = np.zeros((0, 16, 16), dtype=np.uint8)
    assert space.labels(empty) == [] and space.ids(empty).shape == (0,)
    assert all(len(v) == 0 for v in space.table(empty).values())
