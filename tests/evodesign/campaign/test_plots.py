"""pareto.png and convergence.png: units, shaded windows, labelled best designs, titles."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from evodesign.campaign.plots import (
    Window,
    campaign_title,
    config_ranges,
    convergence_plot,
    draw_run_plots,
    formula_subscripts,
    label_indices,
    pareto_plot,
    property_windows,
    top_designs,
)
from evodesign.objectives import Objective

INF = math.inf


def _designs() -> pd.DataFrame:
    return pd.DataFrame({
        "formula": ["A2B", "CD", "E3F", "GH2", "IJ", "KL"],
        "S_p": [90.0, 150.0, 250.0, 500.0, 220.0, np.nan],
        "S_p_std": [10.0, 5.0, 30.0, 20.0, 4.0, 1.0],
        "hhi_production": [1000.0, 3000.0, 2000.0, 500.0, 4000.0, 100.0],
    })


def test_campaign_title_prefers_the_description_and_is_never_a_path() -> None:
    config = SimpleNamespace(campaign=SimpleNamespace(name="thermo", description="p-type\n  thermoelectrics"))
    assert campaign_title(config) == "p-type thermoelectrics"
    assert campaign_title(SimpleNamespace(campaign=SimpleNamespace(name="thermo", description=None))) == "thermo"
    assert campaign_title(SimpleNamespace(campaign=SimpleNamespace(name="thermo"))) == "thermo"  # older schema
    assert campaign_title(object()) == ""


def test_config_ranges_is_read_defensively() -> None:
    assert config_ranges(SimpleNamespace(constraints=SimpleNamespace())) == {}  # schema without ranges
    assert config_ranges(object()) == {}
    cfg = SimpleNamespace(constraints=SimpleNamespace(ranges={"S_p": (100, INF), "bad": ("x", 1), "odd": 3}))
    assert config_ranges(cfg) == {"S_p": (100.0, INF)}


def test_config_ranges_from_a_real_config(make_config, small_csv) -> None:
    config = make_config(small_csv)
    ranges = config_ranges(config)
    assert isinstance(ranges, dict)  # {} before and after [constraints.ranges] exists
    if "ranges" in type(config.constraints).model_fields:
        data = config.model_dump()
        data["constraints"]["ranges"] = {"S_p": [100.0, INF]}
        cfg = type(config).from_dict(data)
        assert config_ranges(cfg) == {"S_p": (100.0, INF)}


def test_property_windows_label_targets_and_hard_windows() -> None:
    objectives = [Objective("band_gap", "min", target=(1.1, 1.7)), Objective("hhi_production", "min")]
    windows = property_windows(objectives, {"S_p": (100.0, INF), "band_gap": (0.5, 3.0)})
    assert windows["band_gap"] == [
        Window("band_gap", 1.1, 1.7, "target", "target 1.1–1.7 eV"),
        Window("band_gap", 0.5, 3.0, "required", "required band_gap 0.5–3 eV"),
    ]
    assert windows["S_p"] == [Window("S_p", 100.0, INF, "required", "required S_p ≥ 100 µV/K")]
    assert "hhi_production" not in windows
    assert property_windows(objectives[1:], None) == {}


def test_top_designs_per_objective() -> None:
    designs = _designs()
    objectives = [Objective("S_p", "min", target=(100.0, 300.0)), Objective("hhi_production", "min")]
    top = top_designs(designs, objectives, k=3)
    # inside the window: CD, E3F, IJ (distance 0), ties to the smaller std: IJ (4), CD (5), E3F (30)
    assert top["S_p"] == [4, 1, 2]
    assert top["hhi_production"] == [5, 3, 0]
    assert top_designs(designs, [Objective("S_p", "max")], k=2)["S_p"] == [3, 2]  # NaN never chosen
    assert label_indices(top) == [4, 1, 2, 5, 3, 0]
    assert label_indices({"a": [1, 2], "b": [2, 3]}, ["b", "a"]) == [2, 3, 1]
    assert top_designs(designs.iloc[:0], objectives)["S_p"] == []


def test_formula_subscripts() -> None:
    assert formula_subscripts("Bi2Te3") == "Bi₂Te₃"
    assert formula_subscripts("Fe0.5O") == "Fe₀.₅O"
    assert formula_subscripts("NaCl") == "NaCl"


def test_pareto_plot_with_a_range_target_and_a_window(tmp_path) -> None:
    designs = _designs()
    rng = np.random.default_rng(0)
    known = pd.DataFrame({"S_p": rng.normal(200, 100, 300), "hhi_production": rng.uniform(0, 9000, 300)})
    objectives = [Objective("S_p", "min", target=(100.0, 300.0)), Objective("hhi_production", "min")]
    path = pareto_plot(designs, known, objectives, tmp_path / "pareto.png", title="tiny", ranges={"S_p": (50.0, INF)})
    assert path.stat().st_size > 10_000
    # one objective, no designs, a window on a property that is not plotted: still a figure
    empty = pareto_plot(designs.iloc[:0], known, objectives[:1], tmp_path / "empty.png", ranges={"m_p": (0, 1)})
    assert empty.stat().st_size > 0
    history = pd.DataFrame({"n_eval": [20, 40], "hypervolume": [0.1, 0.2], "feasible_fraction": [0.5, 0.7]})
    assert convergence_plot(history, tmp_path / "c.png", title="tiny").stat().st_size > 0


def test_plots_of_a_tiny_run_with_a_range_target_and_a_window(small_csv, cache_dir, tmp_path) -> None:
    from evodesign.campaign import Campaign, CampaignConfig
    from evodesign.campaign.results import load_run

    data = {
        "campaign": {"name": "tiny", "dataset": str(small_csv), "seed": 0, "description": "tiny p-type window"},
        "space": {"deny": ["Pb", "Cd"]},
        "surrogate": {"model": "ensemble", "n_members": 2, "hidden": [32], "max_epochs": 5, "patience": 3},
        "objectives": [
            {"name": "log10_PF_p", "direction": "max"},
            {"name": "S_p", "target": [100.0, 400.0]},
        ],
        "search": {"pop_size": 20, "n_gen": 3, "operators": "classical", "sampling": "known"},
    }
    try:
        config = CampaignConfig.from_dict({**data, "constraints": {"ranges": {"S_p": [50.0, INF]}}})
    except Exception:  # a schema without [constraints.ranges]
        config = CampaignConfig.from_dict(data)
    campaign = Campaign(config, out_root=tmp_path / "out", cache_dir=cache_dir, progress=False)
    result = campaign.run(seed=0)
    run = load_run(result.run_dir)
    from evodesign.campaign.results import Normalizer

    normalizer = Normalizer.from_data(campaign.objectives, *campaign.prepare_data())
    pareto, convergence = draw_run_plots(run.run_dir, config, campaign.objectives, run.designs, run.history, normalizer.known)
    assert pareto.stat().st_size > 0 and convergence.stat().st_size > 0
    windows = property_windows(campaign.objectives, config_ranges(config))
    assert [w.kind for w in windows["S_p"]][0] == "target"
