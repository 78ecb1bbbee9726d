"""``[search] operators = "adaptive"`` in a campaign: the share columns of history.csv,
operators.png, seed determinism, bit-identical resume, and the microstructure space."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evodesign.campaign import Campaign, CampaignConfig
from evodesign.search.portfolio import share_columns

SHARES = ["share_latent", "share_gan", "share_sbx_pm", "share_sample"]
ADAPTIVE = {"operators": "adaptive", "sampling": "mix", "n_gen": 4}


class Killed(Exception):
    pass


def _front(result):
    return result.designs.drop(columns=["composition"]).reset_index(drop=True)


def test_adaptive_run_writes_shares_summing_to_one_and_the_plot(campaign_factory):
    assert share_columns() == SHARES
    result = campaign_factory(**ADAPTIVE).run(seed=0)
    history = pd.read_csv(result.run_dir / "history.csv")
    assert [c for c in history.columns if c.startswith("share_")] == SHARES
    assert history[SHARES].iloc[0].isna().all()  # the initial population is no arm's
    shares = history[SHARES].iloc[1:].to_numpy()
    assert len(shares) == 3 and np.isfinite(shares).all() and (shares >= 0).all()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-12)
    # a share is a multiple of 1 / (children of the generation)
    np.testing.assert_allclose(shares * 20, np.round(shares * 20), atol=1e-9)
    assert (result.run_dir / "operators.png").stat().st_size > 1000
    ops = set(pd.read_csv(result.run_dir / "pareto_all.csv")["operator"].astype(str))
    arm_ops = ("LatentInterpolationCrossover", "GANMutation", "SBX", "PM", "GeneratorSampling")
    assert all(o.startswith(arm_ops + ("KnownSampling",)) for o in ops), ops


def test_other_operators_have_no_shares_and_no_plot(campaign_factory):
    result = campaign_factory().run(seed=0)  # classical
    assert not any(c.startswith("share_") for c in result.history.columns)
    assert not (result.run_dir / "operators.png").exists()


def test_same_seed_same_run_other_seed_another(campaign_factory, tmp_path):
    a = campaign_factory(out=tmp_path / "a", **ADAPTIVE).run(seed=1)
    b = campaign_factory(out=tmp_path / "b", **ADAPTIVE).run(seed=1)
    c = campaign_factory(out=tmp_path / "c", **ADAPTIVE).run(seed=2)
    pd.testing.assert_frame_equal(_front(a), _front(b))
    pd.testing.assert_frame_equal(a.history.drop(columns="seconds"), b.history.drop(columns="seconds"))
    assert not _front(a).equals(_front(c))


@pytest.mark.parametrize("generation", [1, 2])
def test_resume_after_a_kill_is_bit_identical(campaign_factory, tmp_path, generation):
    def kill(gen):
        if gen == generation:
            raise Killed

    full = campaign_factory(out=tmp_path / "full", **ADAPTIVE).run(seed=3)
    with pytest.raises(Killed):
        campaign_factory(out=tmp_path / "cut", **ADAPTIVE).run(seed=3, on_generation=kill)
    resumed = campaign_factory(out=tmp_path / "cut", **ADAPTIVE).run(seed=3, resume=True)
    pd.testing.assert_frame_equal(_front(resumed), _front(full))
    pd.testing.assert_frame_equal(resumed.history.drop(columns="seconds"), full.history.drop(columns="seconds"))


# ---------------------------------------------------------------------- microstructures
@pytest.fixture()
def micro_cache(tmp_path_factory, monkeypatch):
    # the same library cache as test_microstructure_campaign.py
    cache = tmp_path_factory.getbasetemp() / "micro-cache"
    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(cache))
    return cache


def test_adaptive_microstructure_run(tmp_path, micro_cache):
    data = {
        "campaign": {"name": "tiny-micro", "dataset": "microstructures", "seed": 0},
        "data": {"n_images": 300},
        "space": {"kind": "microstructure", "size": 16, "min_feature": 2, "percolation": ["x", "y"]},
        "physics": {"conductivity": [1.0, 10.0]},
        "surrogate": {"model": "solver"},
        "objectives": [
            {"name": "k_xx", "direction": "max"},
            {"name": "k_yy", "direction": "max"},
            {"name": "volume_fraction", "direction": "min"},
        ],
        "generators": {"latent_dim": 8, "max_epochs": 6, "gan_steps": 300},
        "search": {"pop_size": 16, "n_gen": 3, "operators": "adaptive", "sampling": "mix"},
    }
    config = CampaignConfig.from_dict(data)
    result = Campaign(config, out_root=tmp_path / "out", cache_dir=micro_cache / "models", progress=False).run()
    shares = result.history[SHARES].iloc[1:].to_numpy()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-12)
    assert (result.run_dir / "operators.png").is_file() and (result.run_dir / "designs.npz").is_file()
