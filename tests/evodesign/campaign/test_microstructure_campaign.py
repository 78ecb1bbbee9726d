"""A microstructure campaign end to end: the solver as fitness, the library as known designs,
the run folder's files, and resume."""

from __future__ import annotations

import tomllib

import numpy as np
import pandas as pd
import pytest

from evodesign.campaign import Campaign, CampaignConfig
from evodesign.campaign.config import ConfigError
from evodesign.physics import effective_conductivity

CONDUCTIVITY = (1.0, 10.0)


def _config(**search) -> dict:
    return {
        "campaign": {"name": "tiny-micro", "dataset": "microstructures", "seed": 0},
        "data": {"n_images": 60},
        "space": {"kind": "microstructure", "size": 16, "min_feature": 2, "percolation": ["x", "y"]},
        "physics": {"conductivity": list(CONDUCTIVITY)},
        "surrogate": {"model": "solver"},
        "objectives": [
            {"name": "k_xx", "direction": "max"},
            {"name": "k_yy", "direction": "max"},
            {"name": "volume_fraction", "direction": "min"},
        ],
        "search": {"pop_size": 16, "n_gen": 3, "operators": "classical", "sampling": "known", **search},
    }


@pytest.fixture()
def micro_cache(tmp_path_factory, monkeypatch):
    # the library is cached under $EVODESIGN_CACHE_DIR/datasets: keep it in the test's folder
    cache = tmp_path_factory.getbasetemp() / "micro-cache"
    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(cache))
    return cache


def _campaign(tmp_path, micro_cache, **search) -> Campaign:
    config = CampaignConfig.from_dict(_config(**search))
    return Campaign(config, out_root=tmp_path / "out", cache_dir=micro_cache / "models", progress=False)


def test_run_writes_the_outputs_and_the_solver_values(tmp_path, micro_cache):
    result = _campaign(tmp_path, micro_cache).run()
    run = result.run_dir
    for name in ("pareto.csv", "designs.npz", "gallery.png", "pareto.png", "convergence.png", "history.csv",
                 "config.toml", "manifest.json", "checkpoint.bin"):
        assert (run / name).is_file(), name
    table = pd.read_csv(run / "pareto.csv")
    assert len(table) > 0
    for column in ("k_xx", "k_yy", "volume_fraction", "g_filler_percolation_x", "g_filler_percolation_y",
                   "operator", "parents"):
        assert column in table.columns, column
    assert "chemical_system" not in table.columns and "n_systems" not in result.history.columns
    with np.load(run / "designs.npz") as saved:
        images = saved["images"]
    assert images.dtype == np.uint8 and images.shape == (len(table), 16, 16)
    assert set(np.unique(images)) <= {0, 1}
    # every row's values are the solver's and the image's own, in pareto.csv's row order
    k = effective_conductivity(images, CONDUCTIVITY)
    np.testing.assert_allclose(table[["k_xx", "k_yy"]].to_numpy(), k, rtol=0, atol=1e-9)
    np.testing.assert_allclose(table["volume_fraction"].to_numpy(), images.mean(axis=(1, 2)), atol=1e-12)
    # feasible: the filler percolates in x and y, and the std of an exact solver is 0
    assert (table[["g_filler_percolation_x", "g_filler_percolation_y"]].to_numpy() <= 0).all()
    assert (table[["k_xx_std", "k_yy_std"]].to_numpy() == 0).all()
    assert not any(c.startswith("g_surrogate_trust") for c in table.columns)  # max_std "auto": nothing to bound
    saved_config = tomllib.loads((run / "config.toml").read_text())
    assert saved_config["physics"]["conductivity"] == list(CONDUCTIVITY)
    assert saved_config["surrogate"]["model"] == "solver"
    # load_run gives the images back with the table
    from evodesign.campaign.results import load_run

    loaded = load_run(run)
    np.testing.assert_array_equal(np.stack(loaded.designs["image"]), images)


def test_resume_gives_the_identical_front(tmp_path, micro_cache):
    full = _campaign(tmp_path / "a", micro_cache).run()

    class Stop(Exception):
        pass

    def stop_after_two(gen: int) -> None:
        if gen == 2:
            raise Stop

    campaign = _campaign(tmp_path / "b", micro_cache)
    with pytest.raises(Stop):
        campaign.run(on_generation=stop_after_two)
    resumed = _campaign(tmp_path / "b", micro_cache).run(resume=True)

    def front(result):
        return result.designs.drop(columns=["image"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(front(resumed), front(full))
    with np.load(full.run_dir / "designs.npz") as a, np.load(resumed.run_dir / "designs.npz") as b:
        np.testing.assert_array_equal(a["images"], b["images"])
    drop = ["seconds"]
    pd.testing.assert_frame_equal(resumed.history.drop(columns=drop), full.history.drop(columns=drop))


def test_the_conductivity_is_in_the_run_hash_and_changes_the_values(tmp_path, micro_cache):
    base = CampaignConfig.from_dict(_config())
    other = CampaignConfig.from_dict({**_config(), "physics": {"conductivity": [1.0, 5.0]}})
    assert base.hash() != other.hash()
    default = {k: v for k, v in _config().items() if k != "physics"}
    assert CampaignConfig.from_dict(default).hash() == base.hash()  # [1, 10] is the default
    result = Campaign(other, out_root=tmp_path / "out", cache_dir=micro_cache / "models", progress=False).run()
    with np.load(result.run_dir / "designs.npz") as saved:
        images = saved["images"]
    np.testing.assert_allclose(
        result.designs[["k_xx", "k_yy"]].to_numpy(), effective_conductivity(images, (1.0, 5.0)), atol=1e-9
    )


@pytest.mark.parametrize(
    "physics, message",
    [
        ({"conductivity": [1.0, -2.0]}, "two positive finite numbers"),
        ({"conductivity": [1.0]}, "two positive finite numbers"),
        ({"conductivity": "10"}, "two positive finite numbers"),
        ({"k": 1.0}, "k"),
    ],
)
def test_bad_physics_is_refused(physics, message):
    with pytest.raises(ConfigError, match=message) as info:
        CampaignConfig.from_dict({**_config(), "physics": physics})
    assert "[physics]" in str(info.value)


def test_solver_computes_only_its_targets_and_has_no_std_to_bound():
    data = _config()
    data["objectives"] = [*data["objectives"], {"name": "stiffness", "direction": "max"}]
    with pytest.raises(ConfigError, match="computes 'k_xx' or 'k_yy' only"):
        CampaignConfig.from_dict(data)
    with pytest.raises(ConfigError, match="exact"):
        CampaignConfig.from_dict({**_config(), "constraints": {"max_std": {"k_xx": 0.1}}})


def test_learned_operators_train_image_generators_and_make_the_children(tmp_path, micro_cache):
    import json

    data = _config(operators="learned", sampling="mix")
    data["search"]["n_gen"] = 4
    # big enough that the decoded GAN samples are not all one image after the repair
    data["data"]["n_images"] = 300
    data["generators"] = {"latent_dim": 8, "max_epochs": 6, "gan_steps": 300}
    config = CampaignConfig.from_dict(data)
    result = Campaign(config, out_root=tmp_path / "out", cache_dir=micro_cache / "models", progress=False).run()
    sidecars = sorted((micro_cache / "models").glob("generators-*.json"))
    assert len(sidecars) == 1
    meta = json.loads(sidecars[0].read_text())
    assert "microstructure-generators" in json.dumps(meta)
    table = pd.read_csv(result.run_dir / "pareto.csv")
    with np.load(result.run_dir / "designs.npz") as saved:
        images = saved["images"]
    np.testing.assert_allclose(table[["k_xx", "k_yy"]].to_numpy(), effective_conductivity(images, CONDUCTIVITY), atol=1e-9)
    # the front holds children of the learned operators (and the initial GAN samples)
    operators = set(pd.read_csv(result.run_dir / "pareto_all.csv")["operator"].astype(str))
    assert any(o.startswith(("LatentInterpolationCrossover", "GANMutation")) for o in operators), operators


def test_microstructure_generators_default_to_the_image_codecs_sizes():
    from operators.codecs.image import ImageCodec

    config = CampaignConfig.from_dict(_config())
    g = config.generators
    assert (g.latent_dim, g.max_epochs) == (ImageCodec.fit_defaults["latent_dim"], ImageCodec.fit_defaults["max_epochs"])
    assert g.gan_steps == ImageCodec.gan_fit_defaults["n_steps"]
    # a key the file sets wins; a composition campaign keeps the composition defaults
    data = _config()
    data["generators"] = {"latent_dim": 8}
    assert CampaignConfig.from_dict(data).generators.latent_dim == 8
    data = _config()
    data.pop("space")
    data.update(campaign={"name": "c", "dataset": "transport"}, surrogate={}, objectives=[{"name": "S_p", "direction": "max"}])
    data.pop("physics"), data.pop("data")
    assert CampaignConfig.from_dict(data).generators.latent_dim == 32


def test_solver_predictor_is_batched_and_checked():
    from evodesign.exceptions import DataError
    from evodesign.surrogates.solver import SolverPredictor

    rng = np.random.default_rng(0)
    images = (rng.random((5, 8, 8)) < 0.5).astype(np.uint8)
    mean, std = SolverPredictor(CONDUCTIVITY).predict(images.reshape(5, -1).astype(np.float32))
    np.testing.assert_array_equal(mean, effective_conductivity(images, CONDUCTIVITY))
    assert std.shape == (5, 2) and not std.any()
    with pytest.raises(DataError, match="square"):
        SolverPredictor().predict(np.zeros((1, 10)))
    with pytest.raises(DataError, match="0/1"):
        SolverPredictor().predict(np.full((1, 64), 0.5))
    with pytest.raises(DataError, match="positive"):
        SolverPredictor((0.0, 1.0))


def test_evodesign_run_runs_the_campaign_file(tmp_path, micro_cache):
    import tomli_w
    from typer.testing import CliRunner

    from evodesign.cli import app

    path = tmp_path / "micro.toml"
    path.write_text(tomli_w.dumps(_config()), encoding="utf-8")
    out = tmp_path / "cli-out"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    run = out / "tiny-micro" / "seed0"
    table = pd.read_csv(run / "pareto.csv")
    with np.load(run / "designs.npz") as saved:
        images = saved["images"]
    np.testing.assert_allclose(
        table[["k_xx", "k_yy"]].to_numpy(), effective_conductivity(images, CONDUCTIVITY), rtol=0, atol=1e-9
    )


def test_the_gallery_spreads_along_the_front():
    from evodesign.campaign.microstructure_parts import GALLERY_MAX, gallery_rows

    assert list(gallery_rows(5)) == [0, 1, 2, 3, 4]
    rows = gallery_rows(100)
    assert len(rows) == GALLERY_MAX and rows[0] == 0 and rows[-1] == 99
    assert (np.diff(rows) >= 3).all()


def test_cnn_surrogate_trains_caches_and_scores_with_a_std(tmp_path, micro_cache):
    """[surrogate] model = "cnn": a CNN ensemble trained on the library's solver labels
    (at most max_rows of them), cached and loaded by the next run; the front's values are
    its predictions, with a non-zero std and a trust constraint from max_std = "auto"."""
    data = _config()
    data["surrogate"] = {"model": "cnn", "n_members": 2, "channels": [4, 8], "max_epochs": 3, "max_rows": 40}
    config = CampaignConfig.from_dict(data)
    campaign = Campaign(config, out_root=tmp_path / "out", cache_dir=micro_cache / "models", progress=False)
    result = campaign.run()
    table = pd.read_csv(result.run_dir / "pareto.csv")
    assert (table[["k_xx_std", "k_yy_std"]].to_numpy() > 0).all()
    assert any(c.startswith("g_surrogate_trust") for c in table.columns)
    models = campaign.models
    from evodesign.surrogates import ImagePropertyModel

    assert isinstance(models.surrogate, ImagePropertyModel)
    assert models.surrogate.estimator_.n_members == 2
    with np.load(result.run_dir / "designs.npz") as saved:
        images = saved["images"]
    mean, _ = models.surrogate.predict(images.reshape(len(images), -1).astype(float))
    np.testing.assert_allclose(table[["k_xx", "k_yy"]].to_numpy(), mean, rtol=1e-5)
    # the next run loads the cached model: same file, no training
    again = Campaign(config, out_root=tmp_path / "out2", cache_dir=micro_cache / "models", progress=False)
    assert again.prepare().surrogate_path == models.surrogate_path
    assert len(list((micro_cache / "models").glob("surrogate-*.json"))) == 1


def test_a_surrogate_model_of_another_space_is_refused_by_key():
    data = _config()
    data["surrogate"] = {"model": "ensemble"}
    with pytest.raises(ConfigError, match=r"surrogate.*model.*'solver' or 'cnn'"):
        CampaignConfig.from_dict(data)


def test_screen_of_random_images(tmp_path, micro_cache):
    """[screen] source = "random" draws the space's own random images (no composition keys)."""
    data = _config()
    data["screen"] = {"n_samples": 30, "source": "random"}
    config = CampaignConfig.from_dict(data)
    campaign = Campaign(config, out_root=tmp_path / "out", cache_dir=micro_cache / "models", progress=False)
    result = campaign.screen()
    assert result.manifest["n_unique"] == 30 and len(result.designs) > 0
    with np.load(result.run_dir / "designs.npz") as saved:
        images = saved["images"]
    np.testing.assert_allclose(
        result.designs[["k_xx", "k_yy"]].to_numpy(), effective_conductivity(images, CONDUCTIVITY), atol=1e-9
    )
