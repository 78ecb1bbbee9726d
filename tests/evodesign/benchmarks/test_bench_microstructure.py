"""``evodesign bench microstructure``: the protocol's parts with exact answers, and a
--quick run through the CLI (32 px, 240 library images, 12 x 4 solves, 2 seeds)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evodesign.benchmarks.microstructure.arms import FamilyDecoder
from evodesign.benchmarks.microstructure.budget import BudgetProblem, Front
from evodesign.benchmarks.microstructure.metrics import autocorrelation, best_design, evals_to_reach
from evodesign.benchmarks.microstructure.protocol import normalised, settings
from evodesign.objectives import Objective
from evodesign.representation.microstructure import MicrostructureSpace

OBJECTIVES = [
    Objective("k_xx", "max"),
    Objective("k_yy", "max"),
    Objective("volume_fraction", "min"),
]


def test_normalisation_puts_the_matrix_at_the_reference_and_the_filler_at_one():
    F, ref = normalised(OBJECTIVES, np.array([[1.0, 10.0, 0.25], [5.5, 1.0, 1.0]]), (1.0, 10.0))
    np.testing.assert_allclose(F, [[-0.0, -1.0, 0.25], [-0.5, -0.0, 1.0]])
    np.testing.assert_array_equal(ref, [0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="'S_p'"):
        normalised([Objective("S_p", "max")], np.ones((1, 1)), (1.0, 10.0))


def test_front_keeps_the_non_dominated_designs_and_its_hypervolume_is_exact():
    front = Front(OBJECTIVES, (1.0, 10.0))
    assert front.hypervolume() == 0.0
    images = np.zeros((3, 4, 4), dtype=np.uint8)
    # k 5.5 -> 0.5 normalised: a box 0.5 x 0.5 x (1 - 0.5); the second is dominated by it
    front.add(np.array([[5.5, 5.5, 0.5], [3.0, 3.0, 0.6]]), images[:2], [b"a", b"b"])
    assert front.keys == [b"a"]
    assert front.hypervolume() == pytest.approx(0.125)
    # a second, non-dominated box 1.0 x 0.1 x 0.9 (overlap 0.5 x 0.1 x 0.5 with the first)
    front.add(np.array([[10.0, 1.9, 0.1]]), images[2:], [b"c"])
    assert front.hypervolume() == pytest.approx(0.125 + 0.09 - 0.025)
    assert best_design(OBJECTIVES, front.values, (1.0, 10.0)) == 0


def test_budget_problem_solves_each_design_once_and_logs_only_the_budget():
    from evodesign.problem import DesignProblem
    from evodesign.representation.registry import analytic_properties
    from evodesign.surrogates.solver import SolverPredictor

    space = MicrostructureSpace(8)
    inner = DesignProblem(
        space,
        OBJECTIVES,
        [],
        predictor=SolverPredictor((1.0, 10.0)),
        analytic={
            "volume_fraction": analytic_properties.get("microstructure", "volume_fraction")(space)
        },
    )
    rng = np.random.default_rng(0)
    X = (rng.random((5, 64)) < 0.5).astype(np.float64)
    problem = BudgetProblem(inner, space, budget=3, front=Front(OBJECTIVES, (1.0, 10.0)))
    out = problem.evaluate(np.vstack([X[:2], X[:2]]), return_as_dictionary=True)
    assert (problem.n_solved, problem.n_logged, inner.n_evaluated) == (2, 2, 2)
    np.testing.assert_array_equal(out["F"][:2], out["F"][2:])
    problem.evaluate(X, return_as_dictionary=True)
    # 3 new designs solved, 1 of them within the budget of 3
    assert (problem.n_solved, problem.n_logged, inner.n_evaluated) == (5, 3, 5)
    assert problem.spent


def test_family_genes_render_one_image_each_and_library_rows_map_back_to_their_family():
    space = MicrostructureSpace(32, min_feature=2)
    decoder = FamilyDecoder(space)
    genes = np.random.default_rng(1).random((6, decoder.n_genes))
    a, b = decoder(genes), decoder(genes)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(space.repair(a), a)
    families = np.array(["discs", "voronoi", "laminate"])
    params = np.full((3, decoder.n_params), np.nan)
    params[0, :3] = [0.4, 3.0, 0.2]
    params[1, :2] = [10.0, 2.0]
    params[2, :5] = [4.0, 0.5, 0.0, 0.0, 1.0]
    g = decoder.genes_of(families, params, np.random.default_rng(2))
    assert [decoder.names[i] for i in decoder.family_index(g)] == list(families)
    np.testing.assert_allclose(
        g[0, 1:4],
        (params[0, :3] - [0.05, 1.5, 0.0]) / ([0.8, 8.0, 0.5] - np.array([0.05, 1.5, 0.0])),
    )
    # a laminate of 4 layers at half filler, no defects: exactly half of the pixels
    assert decoder.images(g[2:])[0].mean() == pytest.approx(0.5)


def test_autocorrelation_and_evaluations_to_reach():
    stripes = np.zeros((1, 8, 8), dtype=np.uint8)
    stripes[:, :, ::2] = 1  # columns alternate: S2 along x is 0 at odd r, phi at even r
    c = autocorrelation(stripes, 2)
    # normalised (S2 - phi^2) / (phi - phi^2), averaged over x (1, -1, 1) and y (1, 1, 1)
    np.testing.assert_allclose(c, [1.0, 0.0, 1.0])
    assert evals_to_reach([[10, 0.1], [20, 0.3], [30, 0.5]], 0.3) == 20.0
    assert evals_to_reach([[10, 0.1]], 0.3) is None


def test_settings_refuse_unknown_keys_and_odd_populations():
    with pytest.raises(ValueError, match="unknown settings"):
        settings(True, {"pop": 10})
    with pytest.raises(ValueError, match="even"):
        settings(True, {"pop_size": 11})
    assert settings(False, {"n_seeds": None})["n_seeds"] == 5


def test_quick_benchmark_through_the_cli(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from evodesign.benchmarks.report import render_report
    from evodesign.cli import app

    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(tmp_path / "cache"))
    target = tmp_path / "docs" / "microstructure.json"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "microstructure",
            "--quick",
            "--json",
            str(target),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    r = json.loads(target.read_text())
    budget = r["budget_per_arm_and_seed"]
    assert budget == 12 * 4
    assert set(r["arms"]) == {"learned", "pixel", "family", "screen", "library", "latent"}
    for arm, a in r["arms"].items():
        assert len(a["oracle_hv"]) == 2
        assert all(0.0 <= hv <= 1.0 for hv in a["oracle_hv"])
        for run in a["runs"]:
            assert run["n_evaluations"] <= budget
            hv = [h for _, h in run["curve"]]
            assert hv == sorted(hv)  # the HV of everything solved so far never falls
            if run["curve"]:
                assert run["curve"][-1][1] == pytest.approx(run["oracle_hv"])
    # the engine's pixel NSGA-II and the family NSGA-II spend the whole budget
    assert all(
        run["n_evaluations"] == budget
        for arm in ("pixel", "family")
        for run in r["arms"][arm]["runs"]
    )
    assert r["arms"]["library"]["runs"][0]["n_evaluations"] == 0
    assert sorted(r["figures"]) == ["microstructure_gallery.png", "microstructure_hv.png"]
    assert all((target.parent / name).stat().st_size > 0 for name in r["figures"])
    assert r["comparison"]["competitors"] == ["pixel", "family", "screen"]
    text = render_report(target.parent)
    assert "## Microstructures: do learned operators find better microstructures?" in text
    # a second run refuses to overwrite the result
    again = CliRunner().invoke(app, ["bench", "microstructure", "--quick", "--json", str(target)])
    assert again.exit_code != 0 and "--overwrite" in again.output


def test_hv_ceiling_between_the_isotropic_and_the_wiener_ceilings():
    from scipy.integrate import quad

    from evodesign.benchmarks.microstructure.metrics import hv_ceiling
    from evodesign.physics import hashin_shtrikman_bounds

    ceiling = hv_ceiling((1.0, 10.0))
    # isotropic designs on the HS upper bound: integral of its normalised square
    iso, _ = quad(lambda p: ((hashin_shtrikman_bounds(p, 1.0, 10.0)[1] - 1.0) / 9.0) ** 2, 0.0, 1.0)
    assert ceiling["isotropic_hs"] == pytest.approx(iso, rel=1e-5)
    # anisotropic designs add the G-closure's corners; the Wiener box (both k at the
    # arithmetic mean, unattainable together) bounds it: integral of phi^2 = 1/3
    assert iso < ceiling["g_closure"] < 1.0 / 3.0
