"""``evodesign bench search`` on a data slice with tiny budgets (seconds), and its parts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from evodesign.benchmarks.search import ARMS, format_search_table, run_search_benchmark, zdt1_regression
from evodesign.benchmarks.search.judge import crowding_distance, thin
from evodesign.benchmarks.search.oracle import Oracle, make_split, nondominated, to_minimize
from evodesign.benchmarks.search.protocol import slice_rows
from evodesign.benchmarks.search.statistics import wilcoxon_paired
from evodesign.campaign import CampaignConfig
from evodesign.campaign.assembly import build_objectives
from evodesign.datasets import load_csv, load_dataset
from evodesign.exceptions import DataError

CONFIG = "runs/thermoelectric.toml"
TINY = dict(
    n_seeds=2, pop_size=12, n_gen=3, max_rows=800,
    surrogate={"n_members": 2, "hidden": [32], "max_epochs": 5, "patience": 3},
    generators={"latent_dim": 8, "max_epochs": 10, "gan_steps": 100},
    oracle={"max_iter": 30}, cv_folds=3, cv_rows=None, parallel_n_gen=0, zdt1_seeds=0,
    ablations=["learned_unguided"], deap_seeds=1,
)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def config():
    return CampaignConfig.from_toml(CONFIG)


@pytest.fixture(scope="module")
def data():
    return slice_rows(load_dataset("transport"), 800, seed=0)


@pytest.fixture(scope="module")
def split(config, data, tmp_path_factory):
    return make_split(config, data, tmp_path_factory.mktemp("split"))


def test_split_holds_out_the_pareto_set_and_the_top_of_every_objective(config, split):
    objectives = build_objectives(config)
    train = split.train
    assert 0 < train.sum() < len(train)
    for j, o in enumerate(objectives):
        v = split.values[train, j]
        v = v[np.isfinite(v)]
        cut = split.thresholds[o.name]
        assert (v <= cut).all() if o.direction == "max" else (v >= cut).all()
    assert len(split.pareto) > 0
    assert not train[split.pareto].any()
    # the rediscovery targets are mutually non-dominated and feasible
    F = to_minimize(objectives, split.values[split.pareto])
    assert len(nondominated(F)) == len(F)
    assert split.feasible[split.pareto].all()
    # the campaign learns from exactly the training split
    loaded = load_csv(split.csv_path)
    assert set(loaded.formulas) == split.train_formulas
    assert not set(loaded.formulas) & split.pareto_formulas


def test_split_file_is_reused(config, data, split):
    again = make_split(config, data, split.csv_path.parent)
    assert again.csv_path == split.csv_path
    assert (again.train == split.train).all()


def test_oracle_scores_formulas_and_hhi_is_exact(config, split):
    from evodesign.properties import SupplyRisk

    oracle = Oracle(split.space, build_objectives(config), max_iter=20).fit(split.full)
    formulas = ["Bi2Te3", "SnSe", "Fe2O3"]
    values = oracle.values(formulas)
    assert values.shape == (3, 3) and np.isfinite(values).all()
    hhi = SupplyRisk(split.space.elements)(split.space.to_vectors(formulas))
    np.testing.assert_allclose(values[:, 2], hhi)
    cv = oracle.cross_validate(split.full, n_folds=3)
    assert set(cv) == {"log10_PF_p", "S_p"}
    for m in cv.values():
        assert m["mae"] > 0 and m["r2"] < 1 and m["n_folds"] == 3


def test_thin_keeps_the_extremes_and_at_most_k():
    rng = np.random.default_rng(0)
    t = rng.random(400)
    values = np.column_stack([t, 1 - t, 1000 * rng.random(400)])  # max, max, min
    objectives = build_objectives(CampaignConfig.from_toml(CONFIG))
    keep = thin(values, objectives, k=50)
    assert len(keep) == 50 and len(set(keep.tolist())) == 50
    assert thin(values[:10], objectives, k=50).tolist() == list(range(10))
    F = np.array([[0.0, 1.0], [0.5, 0.5], [0.6, 0.4], [1.0, 0.0]])
    d = crowding_distance(F)
    assert np.isinf(d[[0, 3]]).all() and np.isfinite(d[[1, 2]]).all()


def test_wilcoxon_is_paired_and_reports_wins():
    a = [0.5, 0.6, 0.7, 0.8, 0.9]
    out = wilcoxon_paired(a, [x - 0.1 for x in a])
    assert out["wins"] == 5 and out["losses"] == 0 and out["p_value"] == pytest.approx(0.0625)
    assert wilcoxon_paired(a, a)["p_value"] is None


def test_zdt1_regression_reaches_the_pymoo_hypervolume():
    result = zdt1_regression(n_seeds=1)
    assert result["met"], result["hv"]
    assert result["hv"][0] >= 0.867


def test_bench_search_smoke(tmp_path):
    result = run_search_benchmark(CONFIG, out_root=tmp_path, progress=False, **TINY)
    json.dumps(result, allow_nan=True)
    assert set(result["arms"]) == {*ARMS, "learned_unguided", "deap"}
    assert len(result["arms"]["deap"]["seeds"]) == 1
    budget = result["settings"]["budget"]
    assert budget == 36
    for arm, r in result["arms"].items():
        assert len(r["seeds"]) == (1 if arm == "deap" else 2)
        for m in r["seeds"]:
            assert 0.0 <= m["hv_oracle"] <= 1.1**3
            assert m["n_evaluations"] <= budget + TINY["pop_size"]
            if m["n_designs"]:
                assert m["strict_validity"] == 1.0  # strict SMACT is a constraint of the campaign
                assert m["uniqueness"] == 1.0
                assert m["n_designs"] <= 256
    # the known-data arm proposes known compounds; the searches only novel ones
    assert result["arms"]["train_best"]["summary"]["novelty_train"]["median"] == 0.0
    for arm in ("classical", "random"):
        assert result["arms"][arm]["summary"]["novelty_train"]["median"] == 1.0
    # the oracle's cross-validated accuracy is reported next to the results
    assert set(result["oracle"]["cv"]) == {"log10_PF_p", "S_p"}
    # classical reaches its own final HV within its budget, by construction
    for m in result["arms"]["classical"]["seeds"]:
        assert 0 < m["evals_fraction_to_classical_hv"] <= 1
    assert "learned / classical" in format_search_table(result)

    from evodesign.benchmarks.report import render_report

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "search.json").write_text(json.dumps(result))
    text = render_report(folder)
    assert "## Search" in text and "(b) NSGA-II + SBX/PM" in text
    assert (folder / "search_hv.png").stat().st_size > 0
    assert (folder / "search_fronts.png").stat().st_size > 0


def test_latent_problem_charges_each_formula_once(tmp_path):
    from evodesign.benchmarks.search.latent_ga import LatentProblem

    class Model:
        latent_dim = 2

        def decode(self, Z):  # two "formulas": sign of the first coordinate
            return np.where(np.asarray(Z)[:, :1] > 0, [[1.0, 0.0]], [[0.5, 0.5]])

    class Inner:
        n_var, n_obj, n_ieq_constr, n_evaluated = 2, 1, 1, 0

        def evaluate(self, X, return_as_dictionary=True):
            self.n_evaluated += len(X)
            return {"F": X[:, :1], "G": np.zeros((len(X), 1)), "values": X[:, :1]}

    inner = Inner()
    problem = LatentProblem(Model(), inner, lambda X: X)
    out = problem.evaluate(np.array([[1.0, 0.0], [2.0, 1.0], [-1.0, 0.0]]), return_as_dictionary=True)
    assert inner.n_evaluated == 2
    assert out["F"][:, 0].tolist() == [1.0, 1.0, 0.5]
    problem.evaluate(np.array([[-3.0, 0.0]]), return_as_dictionary=True)
    assert inner.n_evaluated == 2


def test_cli_refuses_to_overwrite(tmp_path):
    from typer.testing import CliRunner

    from evodesign.cli import app

    target = tmp_path / "search.json"
    target.write_text("{}")
    res = CliRunner().invoke(app, ["bench", "search", "--quick", "--json", str(target)])
    assert res.exit_code == 2 and "already exists" in res.output
    assert json.loads(target.read_text()) == {}


def test_oracle_predictor_maps_the_campaign_space_onto_the_oracle(config, split):
    from evodesign.benchmarks.search.oracle import OraclePredictor
    from evodesign.representation import CompositionSpace

    oracle = Oracle(split.space, build_objectives(config), max_iter=20).fit(split.full)
    # a campaign space with fewer elements, in another order
    small = CompositionSpace(["Te", "Bi", "Se", "Sn", "O", "Fe"])
    formulas = ["Bi2Te3", "SnSe", "Fe2O3"]
    mean, std = OraclePredictor(oracle, small).predict(small.to_vectors(formulas))
    np.testing.assert_allclose(mean, oracle.values(formulas)[:, :2])
    assert mean.shape == std.shape == (3, 2) and not std.any()
    with pytest.raises(DataError, match=r"lacks the campaign's elements \['Og'\]"):
        OraclePredictor(oracle, CompositionSpace(["Bi", "Og"]))


def test_bench_search_with_the_oracle_as_fitness_and_optional_arms(tmp_path):
    settings = {**TINY, "ablations": ["learned_latent_8", "learned_expansive"], "deap_seeds": 0, "n_seeds": 1}
    result = run_search_benchmark(CONFIG, out_root=tmp_path, progress=False, fitness="oracle",
                                  arms=["learned", "classical", "screen_x10"], **settings)
    assert set(result["arms"]) == {"learned", "classical", "screen_x10", "learned_latent_8", "learned_expansive"}
    assert result["settings"]["fitness"] == "oracle"
    budget = result["settings"]["budget"]
    for arm, r in result["arms"].items():
        for m in r["seeds"]:
            # the search's own values are the oracle's: no optimism gap at all
            assert m["hv_surrogate"] == pytest.approx(m["hv_oracle"], rel=1e-9)
    # runs with the oracle as fitness (and with a non-default surrogate) go to their own folder
    (runs_dir,) = tmp_path.glob("runs-oracle-fitness-surrogate-*")
    assert (runs_dir / "learned").is_dir() and not (tmp_path / "runs").exists()
    # the headroom arm asks for 10x the budget (this tiny GAN collapses to a few formulas)
    screen_cfg = CampaignConfig.from_toml(runs_dir / "screen_x10" / "seed0-0" / "config.toml")
    assert screen_cfg.screen.n_samples == 10 * budget
    assert 1 <= result["arms"]["screen_x10"]["seeds"][0]["n_evaluations"] <= 10 * budget
    with pytest.raises(ValueError, match="fitness must be 'surrogate' or 'oracle'"):
        run_search_benchmark(CONFIG, out_root=tmp_path, progress=False, fitness="truth", **TINY)

    from evodesign.benchmarks.report import render_report

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "search-oracle.json").write_text(json.dumps(result))
    text = render_report(folder)
    assert "### `search-oracle.json`" in text and "fitness = oracle" in text
    assert "(g) headroom: screening with 10x the budget" in text


def test_run_folder_lock_refuses_a_live_owner_and_takes_over_a_stale_one(tmp_path):
    import os
    import subprocess
    import sys

    from evodesign.benchmarks.search.lock import lock_runs
    from evodesign.exceptions import EvodesignError

    folder = tmp_path / "runs"
    release = lock_runs(folder)
    assert (folder / ".bench.lock").read_text() == str(os.getpid())
    release()
    assert not (folder / ".bench.lock").exists()
    # a live process holds it: refused with a message that says what to do
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (folder / ".bench.lock").write_text(str(other.pid))
        with pytest.raises(EvodesignError, match=rf"pid {other.pid}\) is writing runs to .*another --out"):
            lock_runs(folder)
    finally:
        other.kill()
        other.wait()
    # its process is gone: the stale lock is taken over
    release = lock_runs(folder)
    assert (folder / ".bench.lock").read_text() == str(os.getpid())
    release()
