"""Smoke test of ``run_overhead_benchmark``: structure of the result, no timing assertions."""

from __future__ import annotations

import json

from evodesign.benchmarks.overhead import ARMS, format_overhead_table, run_overhead_benchmark
from evodesign.benchmarks.report import render_report

ELEMENTS = ["H", "Li", "B", "C", "N", "O", "F", "Na", "Mg", "Al", "Si", "S", "Cl", "K", "Ca",
            "Ti", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Se", "Sr", "Sn", "Te", "Ba", "Bi"]
TINY_VAE = dict(hidden=(32, 32), latent_dim=4, max_epochs=2, warmup_epochs=1, sharpen_epochs=1)
TINY_GAN = dict(hidden=(16, 16), n_steps=20, eval_every=10, patience=2)


def test_overhead_benchmark_result_structure(tmp_path):
    result = run_overhead_benchmark(
        pop_sizes=(20,), n_gen=2, seed=0, progress=False, elements=ELEMENTS,
        vae_options=TINY_VAE, gan_options=TINY_GAN,
    )
    json.dumps(result)  # JSON-ready
    assert result["benchmark"] == "overhead"
    assert result["settings"]["pop_sizes"] == [20]
    assert result["settings"]["n_var"] == len(ELEMENTS)
    assert set(result["results"]) == {"20"}
    row = result["results"]["20"]
    assert set(row) == set(ARMS)
    for arm, m in row.items():
        assert m["n_gen"] == 2 and len(m["overhead_ms"]) == 2
        for key in ("median_ms", "selection_ms", "variation_ms", "repair_ms", "dedup_ms",
                    "survival_ms", "matings_per_gen", "offspring_made_per_gen"):
            assert m[key] >= 0
        assert m["matings_per_gen"] >= 1 and m["offspring_made_per_gen"] >= 20
        assert ("ratio_to_pymoo" in m) == (arm != "pymoo")
        assert ("ratio_to_classical" in m) == arm.startswith("learned")
    assert result["target"]["met"] == {}  # no population of 1,000 measured
    assert result["model"]["vae"]["latent_dim"] == 4
    env = result["environment"]
    assert env["cpu_count"] >= 1 and env["pymoo"] and env["torch_threads"] == 1
    assert "classical" in format_overhead_table(result)

    (tmp_path / "overhead.json").write_text(json.dumps(result))
    assert "NSGA-II overhead per generation" in render_report(tmp_path)


def test_overhead_benchmark_without_the_learned_arm_trains_nothing():
    result = run_overhead_benchmark(
        pop_sizes=(12,), n_gen=1, progress=False, arms=("pymoo", "classical"), elements=ELEMENTS
    )
    assert result["model"] is None
    assert set(result["results"]["12"]) == {"pymoo", "classical"}
