"""Campaign runs end to end on a small CSV slice of the transport data, with tiny budgets."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from pymatgen.core import Composition
from typer.testing import CliRunner

from evodesign.campaign import Campaign, CampaignConfig, CheckpointError, RunExistsError, load_run, run_seeds
from evodesign.cli import app
from evodesign.problem import EvaluationError

OUTPUT_FILES = ("config.toml", "manifest.json", "pareto.csv", "history.csv", "pareto.png", "convergence.png", "checkpoint.bin")


def front(result):
    cols = [c for c in result.designs.columns if c != "composition"]
    return result.designs[cols].reset_index(drop=True)


def test_run_writes_the_folder_with_a_feasible_front(campaign_factory):
    result = campaign_factory().run(seed=0)
    for name in OUTPUT_FILES:
        assert (result.run_dir / name).exists(), name
    designs = result.designs
    assert len(designs) > 0
    g_cols = [c for c in designs.columns if c.startswith("g_")]
    assert (designs[g_cols] <= 0).all().all()
    assert designs["novel"].all()
    for formula, comp in zip(designs["formula"], designs["composition"]):
        assert Composition(formula).reduced_formula == formula
        assert all(float(a).is_integer() for a in comp.values())
        assert not {"Pb", "Cd"} & {e.symbol for e in comp}
    assert designs.select_dtypes("number").notna().all().all()
    history = pd.read_csv(result.run_dir / "history.csv")
    assert list(history["gen"]) == [1, 2, 3, 4]
    assert history["n_eval"].is_monotonic_increasing
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["seed"] == 0
    assert manifest["seed_sequence"] == {"entropy": 0, "spawn_key": [0]}
    assert "surrogate" in manifest["artifacts"]
    assert (designs["operator"] != "").all()
    loaded = load_run(result.run_dir)
    assert list(loaded.designs["formula"]) == list(designs["formula"])


def test_killed_and_resumed_equals_uninterrupted(campaign_factory, tmp_path):
    full = campaign_factory(out=tmp_path / "a").run(seed=3)

    class Killed(Exception):
        pass

    def kill_at_2(gen):
        if gen == 2:
            raise Killed

    interrupted = campaign_factory(out=tmp_path / "b")
    with pytest.raises(Killed):
        interrupted.run(seed=3, on_generation=kill_at_2)
    run_dir = interrupted.run_dir(3)
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "running"
    with pytest.raises(RunExistsError):
        campaign_factory(out=tmp_path / "b").run(seed=3)
    resumed = campaign_factory(out=tmp_path / "b").run(seed=3, resume=True)
    pd.testing.assert_frame_equal(front(resumed), front(full))
    drop = ["seconds"]
    pd.testing.assert_frame_equal(resumed.history.drop(columns=drop), full.history.drop(columns=drop))


def test_same_seed_same_front_for_any_n_jobs_and_other_seeds_differ(make_config, small_csv, cache_dir, tmp_path):
    config = make_config(small_csv)
    one = run_seeds(config, seed=5, n_seeds=2, n_jobs=1, out_root=tmp_path / "j1", cache_dir=cache_dir, progress=False)
    two = run_seeds(config, seed=5, n_seeds=2, n_jobs=2, out_root=tmp_path / "j2", cache_dir=cache_dir, progress=False)
    for a, b in zip(one, two):
        pd.testing.assert_frame_equal(front(a), front(b))
    assert set(one[0].designs["formula"]) != set(one[1].designs["formula"])
    assert [r.run_dir.name for r in one] == ["seed5-0", "seed5-1"]
    # run 0 of several is the same run as a single run with that seed
    single = Campaign(config, out_root=tmp_path / "single", cache_dir=cache_dir, progress=False).run(seed=5)
    pd.testing.assert_frame_equal(front(single), front(one[0]))


def test_dask_local_cluster(make_config, small_csv, cache_dir, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    config = make_config(small_csv)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        dask_results = run_seeds(
            config, seed=1, n_seeds=2, n_jobs=2, out_root=tmp_path / "dask", cache_dir=cache_dir,
            backend="dask", scheduler=cluster.scheduler_address, progress=False,
        )
    local = run_seeds(config, seed=1, n_seeds=2, n_jobs=1, out_root=tmp_path / "loky", cache_dir=cache_dir, progress=False)
    assert len(dask_results) == 2
    for a, b in zip(dask_results, local):
        pd.testing.assert_frame_equal(front(a), front(b))


class NaNSurrogate:
    """Wraps a surrogate; returns NaN for a fixed share of designs (by a hash of the row)."""

    def __init__(self, model, share):
        self.model, self.share, self.targets = model, share, model.targets

    def predict(self, X):
        mean, std = self.model.predict(X)
        h = (np.asarray(X) * np.arange(1, X.shape[1] + 1) * 7919.0).sum(axis=1) % 1.0
        bad = h < self.share
        mean[bad] = np.nan
        return mean, std


@pytest.mark.parametrize("share", [0.1, 0.5])
def test_nan_surrogate_outputs_become_counted_failures(campaign_factory, share):
    campaign = campaign_factory()
    campaign.prepare()
    campaign.models.surrogate = NaNSurrogate(campaign.models.surrogate, share)
    result = campaign.run(seed=0)
    assert len(result.designs) > 0
    assert result.designs.select_dtypes("number").notna().all().all()
    assert (result.designs["g_evaluation_failed"] <= 0).all()
    assert result.history["failures"].sum() > 0
    assert result.manifest["n_failed"] == result.history["failures"].sum()
    rate = result.manifest["n_failed"] / result.manifest["n_evaluations"]
    assert share / 3 < rate < min(1.0, share * 3)


def test_all_nan_fails_fast(campaign_factory):
    campaign = campaign_factory()
    campaign.prepare()
    campaign.models.surrogate = NaNSurrogate(campaign.models.surrogate, 1.01)
    with pytest.raises(EvaluationError, match="returned NaN or inf for all 20 designs"):
        campaign.run(seed=0)


def test_surrogate_exception_is_isolated_by_bisection(campaign_factory):
    campaign = campaign_factory()
    campaign.prepare()
    campaign.models.auto_std_bounds()  # computed with the healthy model
    inner = campaign.models.surrogate
    nitrogen = campaign.models.space.elements.index("N")

    class Picky:
        targets = inner.targets

        def predict(self, X):
            if (np.asarray(X)[:, nitrogen] > 0).any():  # designs holding nitrogen break this model
                raise RuntimeError("boom")
            return inner.predict(X)

    campaign.models.surrogate = Picky()
    problem = campaign.problem()
    space = campaign.models.space
    X = space.to_vectors(["NaCl", "GaN", "Fe2O3", "Li3N"])
    out = problem.evaluate(X, return_as_dictionary=True)
    assert out["failed"].tolist() == [False, True, False, True]
    assert np.isfinite(out["F"]).all()


def test_checkpoint_refusals(campaign_factory, tmp_path):
    campaign = campaign_factory()
    with pytest.raises(CheckpointError, match="nothing to resume"):
        campaign.run(seed=0, resume=True)
    result = campaign.run(seed=0)
    checkpoint = result.run_dir / "checkpoint.bin"
    # another seed's checkpoint is foreign
    other = campaign.run(seed=1)
    (other.run_dir / "checkpoint.bin").replace(checkpoint)
    with pytest.raises(CheckpointError, match=r"belongs to another run \(seed is 1 there, 0 here\)"):
        campaign.run(seed=0, resume=True)
    # truncated
    raw = (campaign.run(seed=2).run_dir / "checkpoint.bin").read_bytes()
    checkpoint.write_bytes(raw[: len(raw) // 2].replace(b'"seed": 2', b'"seed": 0'))
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        campaign.run(seed=0, resume=True)
    with pytest.raises(ValueError):
        campaign.run(seed=0, resume=True, overwrite=True)


def test_overwrite_replaces_and_cli_refuses_existing(campaign_factory, small_csv, tmp_path):
    campaign = campaign_factory()
    first = campaign.run(seed=0)
    (first.run_dir / "note.txt").write_text("mine")
    with pytest.raises(RunExistsError, match="resume=True to continue it"):
        campaign.run(seed=0)
    assert (first.run_dir / "note.txt").exists()
    again = campaign.run(seed=0, overwrite=True)
    assert not (again.run_dir / "note.txt").exists()


def test_screen_keeps_the_feasible_front(campaign_factory):
    result = campaign_factory().screen(seed=0)
    assert result.run_dir.name == "screen-seed0"
    assert len(result.designs) > 0
    g_cols = [c for c in result.designs.columns if c.startswith("g_")]
    assert (result.designs[g_cols] <= 0).all().all()
    assert result.history["n_eval"].iloc[0] == 500  # drawn until 500 distinct formulas
    assert result.manifest["n_drawn"] >= 500
    assert (result.run_dir / "pareto.png").exists()


def test_learned_operators_run_records_provenance(campaign_factory):
    result = campaign_factory(operators="learned", sampling="mix", n_gen=3).run(seed=0)
    ops = set(result.designs["operator"])
    assert len(result.designs) > 0
    assert any("LatentInterpolationCrossover" in o or "GANMutation" in o or "GeneratorSampling" in o for o in ops)
    assert "generators" in result.manifest["artifacts"]


def test_cli_run_report_and_bad_config(make_config, small_csv, cache_dir, tmp_path, monkeypatch):
    config = make_config(small_csv)
    path = tmp_path / "c.toml"
    config.write_toml(path)
    runner = CliRunner()
    out = tmp_path / "cli"
    # the models of this config are cached in cache_dir: the CLI finds them through the env
    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(cache_dir))
    res = runner.invoke(app, ["run", str(path), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    run_dir = out / "tiny" / "seed0"
    assert (run_dir / "pareto.csv").exists()
    res = runner.invoke(app, ["run", str(path), "--out", str(out), "--quiet"])
    assert res.exit_code == 2 and "already holds a run" in res.output
    res = runner.invoke(app, ["report", str(run_dir)])
    assert res.exit_code == 0, res.output
    assert "designs on the front" in res.output
    bad = tmp_path / "bad.toml"
    bad.write_text(path.read_text().replace("pop_size = 20", "pop_sise = 20"))
    res = runner.invoke(app, ["run", str(bad)])
    assert res.exit_code == 2
    assert "pop_sise" in res.output and "pop_size" in res.output


def test_models_are_shared_across_output_roots(make_config, small_csv, tmp_path, monkeypatch):
    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(tmp_path / "user-cache"))
    config = make_config(small_csv)
    first = Campaign(config, out_root=tmp_path / "one", progress=False)
    second = Campaign(config, out_root=tmp_path / "elsewhere", progress=False)
    assert first.cache_dir == second.cache_dir == tmp_path / "user-cache"
    path = first.prepare().surrogate_path
    before = path.stat().st_mtime_ns
    assert second.prepare().surrogate_path == path  # loaded, not retrained
    assert path.stat().st_mtime_ns == before
    assert not (tmp_path / "one" / "models").exists()


def test_failed_training_leaves_no_folder_and_keeps_an_old_run(campaign_factory, monkeypatch):
    from evodesign.exceptions import ArtifactError

    campaign = campaign_factory()
    first = campaign.run(seed=0)
    before = (first.run_dir / "pareto.csv").read_bytes()

    def broken(kind="run"):
        raise ArtifactError("training failed")

    fresh = campaign_factory()
    monkeypatch.setattr(fresh, "prepare", broken)
    with pytest.raises(ArtifactError):
        fresh.run(seed=7)
    assert not fresh.run_dir(7).exists()
    with pytest.raises(ArtifactError):
        fresh.run(seed=0, overwrite=True)
    assert (first.run_dir / "pareto.csv").read_bytes() == before


def test_parallel_runs_label_their_progress_lines(make_config, small_csv, cache_dir, tmp_path, capsys):
    config = make_config(small_csv)
    run_seeds(config, seed=2, n_seeds=2, n_jobs=1, out_root=tmp_path / "p", cache_dir=cache_dir, progress=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[seed2-")]
    assert any(line.startswith("[seed2-0] gen") for line in lines)
    assert any(line.startswith("[seed2-1] gen") for line in lines)


def test_run_folder_holds_the_data_report_and_cache_dir_is_not_hashed(campaign_factory, make_config, small_csv):
    result = campaign_factory().run(seed=0)
    report = json.loads((result.run_dir / "data_report.json").read_text())
    assert "n_rows" in report and "conflict_examples" in report
    config = make_config(small_csv)
    moved = config.model_copy(update={"campaign": config.campaign.model_copy(update={"cache_dir": "/elsewhere"})})
    assert moved.hash() == config.hash()
