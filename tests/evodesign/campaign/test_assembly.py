"""Assembly: config + models -> space, known designs, problem, algorithm; models reused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from evodesign.campaign import Campaign, assembly
from evodesign.representation import CompositionSpace, KnownDesigns


def test_known_designs_keep_the_rows_the_space_reproduces():
    space = CompositionSpace(["O", "Fe", "Bi", "Te", "Sb", "Na", "Cl"], max_atoms=20, max_elements=3)
    # Fe2O3 fits; Bi0.5Sb1.5Te3 is BiSb3Te6 (10 atoms) fits; a four-element row does not;
    # NaCl fits; Fe2O3 again (rows are kept, duplicates too: they are data rows)
    X = space.to_vectors(["Fe2O3", "Bi0.5Sb1.5Te3", "NaFeBiO4", "NaCl", "Fe4O6"])
    known = KnownDesigns.from_vectors(space, X)
    np.testing.assert_array_equal(known.rows, [0, 1, 3, 4])
    assert known.labels == ("Fe2O3", "Bi(SbTe2)3", "NaCl", "Fe2O3")  # pymatgen's reduced formula
    np.testing.assert_array_equal(known.vectors, X[known.rows])
    np.testing.assert_array_equal(known.ids, space.ids(known.designs))
    assert known.contains(space.ids(space.decode(X[[2]]))).tolist() == [False]
    empty = KnownDesigns.from_vectors(space, X[:0])
    assert len(empty) == 0 and empty.vectors.shape == (0, space.n_var)


def test_campaign_reuses_given_models_and_delegates_to_assembly(campaign_factory, tmp_path):
    first = campaign_factory()
    models = first.prepare()
    assert len(models.known) > 0 and models.vectors.shape == (len(models.data), models.space.n_var)
    # the known designs are the data rows that fit, as the space decodes them
    np.testing.assert_array_equal(models.known.vectors, models.vectors[models.known.rows])
    assert models.space == assembly.build_space(first.config, models.data)

    class Marked:  # a wrapped predictor: proves the given models are the ones used
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

    replaced = dataclasses.replace(models, surrogate=Marked(models.surrogate))
    second = Campaign(first.config, out_root=tmp_path, cache_dir=first.cache_dir, progress=False, models=replaced)
    assert second.models is replaced
    assert second.problem().predictor is replaced.surrogate
    labels = [c.name for c in second.constraints()]
    assert labels == [c.name for c in assembly.build_constraints(first.config, replaced)]
    assert "novelty" in labels
    novelty = next(c for c in second.constraints() if c.name == "novelty")
    assert novelty.is_known(models.known.designs).all()
    # repair check: public, the SMACT preference with [search] repair, None without
    assert second.repair_check() is not None
    off = first.config.model_copy(update={"search": first.config.search.model_copy(update={"repair": False})})
    assert Campaign(off, models=replaced, progress=False).repair_check() is None
    algorithm = second.algorithm()
    assert isinstance(algorithm.initialization.sampling, assembly.KnownSampling)
    assert algorithm.pop_size == first.config.search.pop_size


def test_known_sampling_draws_known_rows_with_provenance():
    from pymoo.core.problem import Problem

    data = np.array([[0.5, 0.5, 0.0], [0.0, 0.25, 0.75], [0.5, 0.5, 0.0]])
    sampling = assembly.KnownSampling(data)
    assert len(sampling.data) == 2  # deduplicated
    pop = sampling.do(Problem(n_var=3, xl=0.0, xu=1.0), 2, random_state=np.random.default_rng(0))
    assert {tuple(x) for x in pop.get("X")} == {tuple(r) for r in sampling.data}
    assert set(pop.get("operator")) == {"KnownSampling"} and set(pop.get("parents")) == {""}


@pytest.mark.parametrize("kind", ["run", "screen"])
def test_prepare_data_builds_the_same_space(campaign_factory, kind):
    campaign = campaign_factory()
    data, space = campaign.prepare_data()
    assert space == campaign.prepare(kind).space
