"""``evodesign bench solver`` on tiny images: the result's claims, its images, the command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from evodesign.benchmarks.solver import FAMILIES, random_images, run_solver_benchmark, solver_section
from evodesign.cli import app


@pytest.fixture(scope="module")
def small_result():
    return run_solver_benchmark(n_images=18, size=16, seed=3, n_timing=3, rounds=1)


def test_result_meets_the_exactness_and_bounds_claims(small_result):
    r = small_result
    assert r["laminate_parallel_rel_error"] <= 1e-9 and r["laminate_series_rel_error"] <= 1e-9
    assert r["wiener_violations"] == 0 and r["hashin_shtrikman_violations"] == 0
    assert r["bounds_violations"] == 0
    assert r["n_wiener_checks"] == 18 * 2 * 2
    assert r["n_hashin_shtrikman_checks"] == 3 * 2 * 2  # one family of six is checked
    assert r["max_rel_diff_vs_spsolve"] <= 1e-9
    assert r["speedup_vs_spsolve"] == pytest.approx(r["solves_per_s"] / r["spsolve_solves_per_s"])
    assert set(r["by_contrast"]) == {"1:10", "1:100"}
    for e in r["hashin_shtrikman_excursions"].values():
        assert e["diagnostic_outside_after_refinement"] <= e["diagnostic_outside"]
    json.dumps(r)  # JSON-ready


def test_report_section_states_each_target(small_result):
    text = "\n".join(solver_section(small_result))
    assert "Conductivity solver" in text
    assert "Laminates <= 1e-9: met. Bounds: met." in text
    assert "1:100" in text and "spsolve" in text
    assert "Elastic laminates <= 1e-06: met. Elastic bounds: met." in text
    # A result without the elasticity section (older JSON files) still renders, without it.
    older = {k: v for k, v in small_result.items() if k != "elasticity"}
    assert "\n".join(solver_section(older)) == text.split("### Elasticity")[0].rstrip("\n") + "\n"


def test_elasticity_section_meets_its_claims(small_result):
    e = small_result["elasticity"]
    assert e["laminate_rel_error"] <= 1e-6
    assert e["bounds_violations"] == e["voigt_reuss_violations"] + e["hashin_shtrikman_violations"] == 0
    assert e["n_voigt_reuss_checks"] == 18 * 2 * 2  # upper and lower, two contrasts
    assert e["n_hashin_shtrikman_checks"] == 3 * 4 * 2  # kappa and mu, lower and upper
    assert set(e["by_contrast"]) == {"1:10", "1:100"} and e["images_per_s"] > 0
    scaling = e["iteration_scaling"]
    assert set(scaling) == {"cg", "basic"} and e["n_scaling_images"] == 2
    # CG's iterations grow far more slowly with the contrast than the basic scheme's.
    assert scaling["cg"]["1:1000"]["iterations_mean"] < scaling["basic"]["1:1000"]["iterations_mean"] / 5
    assert "elasticity" not in run_solver_benchmark(n_images=6, size=8, n_timing=1, rounds=1, n_elastic=0)


def test_random_images_are_seeded_binary_and_varied():
    a, fam = random_images(12, 20, seed=1)
    b, _ = random_images(12, 20, seed=1)
    c, _ = random_images(12, 20, seed=2)
    assert a.dtype == np.uint8 and set(np.unique(a)) <= {0, 1}
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(fam, np.arange(12) % len(FAMILIES))
    phi = a.mean(axis=(1, 2))
    assert phi.min() < 0.3 and phi.max() > 0.6


def test_anisotropic_families_are_anisotropic():
    images, fam = random_images(60, 32, seed=4)
    from evodesign.physics import effective_conductivity

    k = effective_conductivity(images, (1.0, 10.0))
    ratio = np.maximum(k[:, 0] / k[:, 1], k[:, 1] / k[:, 0])
    names = list(FAMILIES)
    for name in ("gaussian_anisotropic", "fibres", "laminate_defects"):
        assert np.median(ratio[fam == names.index(name)]) > 1.3, name
    assert np.median(ratio[fam == names.index("gaussian_isotropic")]) < 1.2


def test_command_writes_json_and_refuses_to_overwrite(tmp_path):
    runner = CliRunner()
    out = tmp_path / "solver.json"
    argv = ["bench", "solver", "--json", str(out), "--n-images", "6", "--size", "12", "--n-timing", "2",
            "--rounds", "1"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert written["n_images"] == 6 and written["size"] == 12
    assert written["command"].startswith("evodesign")
    again = runner.invoke(app, argv)
    assert again.exit_code != 0 and "--overwrite" in again.output
    bad = runner.invoke(app, ["bench", "solver", "--size", "2"])
    assert bad.exit_code != 0 and "size >= 3" in bad.output
