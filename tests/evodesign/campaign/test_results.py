"""Run tables: chemical systems on the front, the cap per system in pareto.csv, pareto_all.csv."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evodesign.campaign import results


# ---------------------------------------------------------------------- pure helpers
def test_cap_per_system_keeps_the_least_crowded_designs_of_each_system():
    t = np.array([0.0, 0.2, 0.5, 0.8, 1.0, 0.3, 0.6])
    F = np.column_stack([t, 1 - t])
    systems = np.array(["A-B", "A-B", "A-B", "A-B", "A-B", "C", "D-E"], dtype=object)
    keep = results.cap_per_system(systems, F, 2)
    # the two extremes of the front (infinite crowding distance) are A-B's two
    np.testing.assert_array_equal(keep, [True, False, False, False, True, True, True])
    assert results.cap_per_system(systems, F, None).all()
    assert results.cap_per_system(systems, F, 0).all()
    assert results.cap_per_system(systems, F, 5).all()
    assert results.cap_per_system(systems[:0], F[:0], 2).shape == (0,)


def test_cap_per_system_is_deterministic_under_ties():
    F = np.zeros((6, 2))  # every crowding distance equal: row order decides
    systems = np.array(["A"] * 6, dtype=object)
    np.testing.assert_array_equal(results.cap_per_system(systems, F, 2), [True, True, False, False, False, False])


def test_n_systems_counts_distinct_element_sets():
    X = np.array([[0.5, 0.5, 0], [0.25, 0.75, 0], [0, 0.5, 0.5], [1.0, 0, 0]])
    assert results.n_systems(X) == 3
    assert results.n_systems(X[:0]) == 0


def test_system_summary_and_line():
    designs = pd.DataFrame({"chemical_system": ["Co-Li-N-Ni", "Co-Li-N-Ni", "Bi-Te", "Sb-Zn"]})
    summary = results.system_summary(designs, pd.concat([designs] * 3))
    assert summary == {
        "n_designs": 4,
        "n_systems": 3,
        "max_system_share": 0.5,
        "largest_system": "Co-Li-N-Ni",
        "n_designs_all": 12,
    }
    assert results.system_line(summary) == "4 designs on the front (of 12), 3 chemical systems, largest Co-Li-N-Ni 50%"
    empty = results.system_summary(designs[:0])
    assert empty["n_systems"] == 0 and empty["max_system_share"] == 0.0
    assert results.system_line(empty) == "0 designs on the front"


# ---------------------------------------------------------------------- with a tiny campaign
@pytest.fixture(scope="module")
def tiny_runs(small_csv, make_config, tmp_path_factory):
    """Two tiny runs (classical operators, 20 x 4) on the same models: at most 1 design per
    system (survival and pareto.csv), and plain NSGA-II (``max_per_system = 0``)."""
    from evodesign.campaign import Campaign

    out, cache = tmp_path_factory.mktemp("results"), tmp_path_factory.mktemp("models")
    capped = Campaign(make_config(small_csv, max_per_system=1), out_root=out / "capped", cache_dir=cache, progress=False)
    plain = Campaign(make_config(small_csv, max_per_system=0), out_root=out / "plain", cache_dir=cache, progress=False)
    return capped, capped.run(seed=0), plain, plain.run(seed=0)


@pytest.fixture(scope="module")
def tiny_run(tiny_runs):
    return tiny_runs[:2]


@pytest.fixture(scope="module")
def plain_population(tiny_runs):
    """The capped campaign, a problem and the plain run's final population (where one
    system holds several designs of the front)."""
    from evodesign.campaign.checkpoint import read_checkpoint
    from evodesign.search.state import population_from_state

    capped, _, _, plain_result = tiny_runs
    _, state = read_checkpoint(plain_result.run_dir / results.CHECKPOINT)
    return capped, capped.problem(), population_from_state(state.arrays, state.meta)


def test_run_history_and_manifest_report_chemical_systems(tiny_run):
    campaign, result = tiny_run
    history = pd.read_csv(result.run_dir / "history.csv")
    assert "n_systems" in history.columns
    assert list(history.columns[: len(results.HISTORY_COLUMNS)]) == list(results.HISTORY_COLUMNS)
    assert (history["n_systems"] <= history["n_nondominated"]).all()
    assert ((history["n_systems"] >= 1) == (history["n_nondominated"] >= 1)).all()
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    designs = pd.read_csv(result.run_dir / "pareto.csv")
    assert manifest["n_systems"] == designs["chemical_system"].nunique()
    assert manifest["n_designs"] == len(designs)
    # the history's count is over the whole front, which the cap keeps one of each system of
    assert history["n_systems"].iloc[-1] == manifest["n_systems"]


def test_run_pareto_csv_caps_each_system(tiny_runs):
    _, result, _, plain = tiny_runs
    designs = pd.read_csv(result.run_dir / "pareto.csv", keep_default_na=False)
    assert (designs["chemical_system"].value_counts() <= 1).all()
    assert (result.run_dir / "pareto_all.csv").exists()
    # without the cap, pareto.csv is the whole front
    plain_designs = pd.read_csv(plain.run_dir / "pareto.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(plain_designs, pd.read_csv(plain.run_dir / "pareto_all.csv", keep_default_na=False))
    # each row's system is the sorted set of its formula's elements
    from pymatgen.core import Composition

    for formula, system in zip(designs["formula"], designs["chemical_system"]):
        assert system == "-".join(sorted(el.symbol for el in Composition(formula).elements))


def _tables(campaign, problem, pop, max_per_system=None):
    """pareto_tables from plain data: the campaign's space, objectives and known designs."""
    cap = campaign.config.search.max_per_system if max_per_system is None else max_per_system
    return results.pareto_tables(
        campaign.models.space, campaign.objectives, pop, constraint_labels=problem.constraint_labels,
        known=campaign.models.known, archive={}, max_per_system=cap,
    )


def test_pareto_tables_cap_and_full_front(plain_population, tmp_path):
    campaign, problem, pop = plain_population
    reported, full = _tables(campaign, problem, pop)
    assert len(full) == len(results.feasible_front(pop))
    assert len(reported) >= 2
    assert full["chemical_system"].value_counts().max() > 1  # the cap binds on this front
    assert len(reported) < len(full)
    assert (reported["chemical_system"].value_counts() <= 1).all()
    assert set(reported["chemical_system"]) == set(full["chemical_system"])  # every system kept
    assert set(reported["formula"]) <= set(full["formula"])
    assert list(reported.columns) == list(full.columns)
    first = campaign.objectives[0].name
    assert reported[first].is_monotonic_decreasing and full[first].is_monotonic_decreasing
    table = results.pareto_table(
        campaign.models.space, campaign.objectives, pop, constraint_labels=problem.constraint_labels,
        known=campaign.models.known, max_per_system=campaign.config.search.max_per_system,
    )
    assert table.equals(reported)

    # the cap off: both tables are the whole front
    reported_off, full_off = _tables(campaign, problem, pop, max_per_system=0)
    pd.testing.assert_frame_equal(reported_off.drop(columns="composition"), full.drop(columns="composition"))
    pd.testing.assert_frame_equal(full_off.drop(columns="composition"), full.drop(columns="composition"))


def test_write_run_writes_pareto_all(plain_population, tmp_path):
    campaign, problem, pop = plain_population
    reported, full = _tables(campaign, problem, pop)
    m = campaign.models
    normalizer = results.Normalizer.from_data(campaign.objectives, m.data, m.space, m.vectors)
    # the vectors given or computed here: the same ranges
    again = results.Normalizer.from_data(campaign.objectives, m.data, m.space)
    np.testing.assert_array_equal(normalizer.lo, again.lo)
    np.testing.assert_array_equal(normalizer.hi, again.hi)
    manifest = {"status": "finished"}
    out = results.write_run(
        tmp_path, campaign.config, campaign.objectives, reported, [], manifest, normalizer, all_designs=full
    )
    assert len(pd.read_csv(tmp_path / "pareto.csv")) == len(reported)
    assert len(pd.read_csv(tmp_path / "pareto_all.csv")) == len(full)
    assert out.manifest["n_designs"] == len(reported)
    assert out.manifest["n_designs_all"] == len(full)
    assert out.manifest["n_systems"] == reported["chemical_system"].nunique()
    assert out.manifest["max_system_share"] == pytest.approx(1 / len(reported))
    # without all_designs the whole front is the reported one
    results.write_run(tmp_path, campaign.config, campaign.objectives, reported, [], {"status": "finished"}, normalizer)
    assert len(pd.read_csv(tmp_path / "pareto_all.csv")) == len(reported)
