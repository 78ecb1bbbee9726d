from __future__ import annotations

import pickle

import numpy as np
import pytest

from evodesign.chemistry import CachedSmactValidity, SmactValidity, ValidityFilter
from evodesign.datasets import load_transport
from evodesign.exceptions import DataError
from evodesign.representation import CompositionSpace


@pytest.fixture(scope="module")
def space() -> CompositionSpace:
    return CompositionSpace(load_transport().elements, max_atoms=20, max_elements=4)


@pytest.mark.parametrize("mode", ["strict", "cdvae"])
@pytest.mark.parametrize("repair", [False, True])
def test_filter_equals_decode_then_smact(space, mode, repair):
    X = space.random_vectors(600, np.random.default_rng(1))
    check = SmactValidity(space.elements)
    alloys = mode == "cdvae"
    repair_fn = (lambda c: check(c, include_alloys=alloys)) if repair else None
    counts = space.decode(X, check=repair_fn)
    accept = ValidityFilter(space, mode=mode, repair=repair)
    ok = accept(X)
    assert ok.shape == (600,) and ok.dtype == bool
    np.testing.assert_array_equal(ok, check(counts, include_alloys=alloys))
    np.testing.assert_array_equal(accept.decode(X), counts)
    np.testing.assert_array_equal(accept.identity(X), space.row_ids(counts))
    assert 0.05 < ok.mean() < 0.95


def test_cache_answers_known_formulas_without_checking_again(space, monkeypatch):
    cached = CachedSmactValidity(space.elements)
    counts = space.decode(space.random_vectors(500, np.random.default_rng(2)))
    first = cached(counts)
    size = len(cached)
    assert 0 < size <= len(np.unique(counts, axis=0))
    seen = []
    original = cached.check.__call__

    class Spy:
        elements = cached.check.elements

        def __call__(self, c, include_alloys=False):
            seen.append(len(c))
            return original(c, include_alloys=include_alloys)

    monkeypatch.setattr(cached, "check", Spy())
    np.testing.assert_array_equal(cached(2 * counts[::-1])[::-1], first)  # same formulas
    assert seen == [] and len(cached) == size
    more = space.decode(space.random_vectors(50, np.random.default_rng(3)))
    np.testing.assert_array_equal(cached(more), SmactValidity(space.elements)(more))
    assert seen and sum(seen) <= 50
    with pytest.raises(DataError, match="mode"):
        CachedSmactValidity(space.elements, mode="loose")


def test_filter_pickles_without_its_cache_and_answers_the_same(space):
    X = space.random_vectors(200, np.random.default_rng(4))
    accept = ValidityFilter(space)
    ok = accept(X)
    copy = pickle.loads(pickle.dumps(accept))
    assert len(copy.valid) == 0 and copy.mode == "strict" and copy.repair
    np.testing.assert_array_equal(copy(X), ok)


def test_guided_mutation_with_the_filter_gives_more_valid_offspring(space):
    """A stand-in 'model' is not needed: redraw_rejected with random vectors as the draw."""
    from operators import redraw_rejected

    rng = np.random.default_rng(5)
    accept = ValidityFilter(space, repair=False)
    first = space.random_vectors(400, rng)
    Y, ok = redraw_rejected(first, lambda rows: space.random_vectors(len(rows), rng), accept, 8)
    before = accept(first).mean()
    assert ok.mean() > before + 0.2
    np.testing.assert_array_equal(ok, accept(Y))
