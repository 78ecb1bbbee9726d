"""Generators that learn during a run: [generators] adapt_every in Campaign.run, resume."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evodesign.campaign import Campaign, CampaignConfig
from evodesign.campaign.checkpoint import CHECKPOINT, read_checkpoint

LEARNED = {"operators": "learned", "sampling": "mix", "n_gen": 4}


class Killed(Exception):
    pass


def kill_at(generation):
    def callback(gen):
        if gen == generation:
            raise Killed

    return callback


@pytest.fixture()
def adapted(make_config, small_csv, cache_dir, tmp_path):
    """``adapted(out, adapt_every=..., ...)``: a tiny learned campaign with these [generators] keys."""

    def make(out, **generators):
        data = make_config(small_csv, **LEARNED).to_toml_dict()
        data["generators"].update(generators)
        config = CampaignConfig.from_dict(data)
        return Campaign(config, out_root=tmp_path / out, cache_dir=cache_dir, progress=False)

    return make


def _front(result):
    return result.designs.drop(columns=["composition"]).reset_index(drop=True)


def test_adapting_runs_change_the_search_reproducibly_and_record_their_cost(adapted):
    fixed = adapted("fixed").run(seed=1)
    first = adapted("a", adapt_every=2).run(seed=1)
    again = adapted("b", adapt_every=2).run(seed=1)
    # the same seed gives the same front, byte for byte
    assert (first.run_dir / "pareto.csv").read_bytes() == (again.run_dir / "pareto.csv").read_bytes()
    # the first two generations are those of the fixed run; the fine-tuned generators change the rest
    keep = ["gen", "n_eval", "hypervolume", "n_nondominated"]
    pd.testing.assert_frame_equal(first.history[keep].iloc[:2], fixed.history[keep].iloc[:2])
    assert not first.history[keep].equals(fixed.history[keep])
    # fine-tuned once: after generation 2 (never after the last, 4)
    assert (first.history["adapt_s"] > 0).tolist() == [False, True, False, False]
    assert (fixed.history["adapt_s"] == 0).all()
    timings = json.loads((first.run_dir / "manifest.json").read_text())["timings"]
    assert timings["adapt_s"] == pytest.approx(first.history["adapt_s"].sum())
    assert 0 < timings["adapt_share"] < 1
    assert json.loads((fixed.run_dir / "manifest.json").read_text())["timings"]["adapt_share"] == 0
    # the checkpoint holds the fine-tuned weights as plain arrays, the fixed run's none
    _, state = read_checkpoint(first.run_dir / CHECKPOINT)
    weights = {k: v for k, v in state.arrays.items() if k.startswith("generators.")}
    assert weights["generators.n_adapted"] == 1
    assert all(v.dtype == np.float32 for k, v in weights.items() if k != "generators.n_adapted")
    _, state = read_checkpoint(fixed.run_dir / CHECKPOINT)
    assert not any(k.startswith("generators.") for k in state.arrays)


@pytest.mark.parametrize("weighting, generation", [("rank", 2), ("rank", 3), ("split", 3)])
def test_resume_after_an_adaptation_is_bit_identical(adapted, weighting, generation):
    full = adapted("full", adapt_every=2, adapt_weighting=weighting).run(seed=2)
    with pytest.raises(Killed):
        adapted("cut", adapt_every=2, adapt_weighting=weighting).run(seed=2, on_generation=kill_at(generation))
    resumed = adapted("cut", adapt_every=2, adapt_weighting=weighting).run(seed=2, resume=True)
    assert (resumed.run_dir / "pareto.csv").read_bytes() == (full.run_dir / "pareto.csv").read_bytes()
    pd.testing.assert_frame_equal(_front(resumed), _front(full))
    timing = ["seconds", "adapt_s"]
    pd.testing.assert_frame_equal(resumed.history.drop(columns=timing), full.history.drop(columns=timing))


@pytest.fixture()
def micro_cache(tmp_path_factory, monkeypatch):
    # the same library and model cache as test_microstructure_campaign.py
    cache = tmp_path_factory.getbasetemp() / "micro-cache"
    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(cache))
    return cache


def test_microstructure_runs_adapt_their_image_generators_and_resume_bit_identically(tmp_path, micro_cache):
    from test_microstructure_campaign import _config

    data = _config(operators="learned", sampling="mix")
    data["search"]["n_gen"] = 4
    data["data"]["n_images"] = 300
    data["generators"] = {"latent_dim": 8, "max_epochs": 6, "gan_steps": 300, "adapt_every": 2}

    def campaign(out):
        config = CampaignConfig.from_dict(data)
        return Campaign(config, out_root=tmp_path / out, cache_dir=micro_cache / "models", progress=False)

    full = campaign("full").run()
    assert (full.history["adapt_s"] > 0).tolist() == [False, True, False, False]
    with pytest.raises(Killed):
        campaign("cut").run(on_generation=kill_at(3))
    resumed = campaign("cut").run(resume=True)
    for name in ("pareto.csv", "designs.npz"):
        assert (resumed.run_dir / name).read_bytes() == (full.run_dir / name).read_bytes(), name
