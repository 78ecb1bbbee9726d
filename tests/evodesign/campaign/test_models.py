"""The model cache: one per user, atomic entries, one trainer at a time, never a broken model."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, RegressorMixin

from evodesign.campaign import Campaign, CampaignConfig
from evodesign.campaign import models as models_module
from evodesign.campaign.models import CACHE_ENV, cached_model, default_cache_dir, prepare_models
from evodesign.exceptions import ArtifactError, DataError
from evodesign.surrogates import PropertyModel, RandomForestSurrogate
from operators.model_files import model_paths, read_model_files, write_model_files

FMT = {"format": "test-model", "format_version": 1}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Never the real per-user cache: every test gets its own EVODESIGN_CACHE_DIR."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "user-cache"))


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    from evodesign.datasets import load_dataset

    frame = load_dataset("transport").frame.sample(300, random_state=1)[["formula", "log10_PF_p", "S_p"]]
    path = tmp_path_factory.mktemp("data") / "small.csv"
    frame.to_csv(path, index=False)
    return path


def forest_config(csv, **campaign):
    return CampaignConfig.from_dict(
        {
            "campaign": {"name": "forest", "dataset": str(csv), "seed": 0, **campaign},
            "surrogate": {"model": "forest", "n_estimators": 8},
            "objectives": [
                {"name": "log10_PF_p", "direction": "max"},
                {"name": "S_p", "direction": "max"},
                {"name": "hhi_production", "direction": "min"},
            ],
            "search": {"pop_size": 16, "n_gen": 3, "operators": "classical", "sampling": "known"},
        }
    )


# ----------------------------------------------------------------------------- where


def test_default_cache_dir_precedence(tmp_path, monkeypatch, small_csv):
    import platformdirs

    config = forest_config(small_csv)
    assert default_cache_dir(config) == tmp_path / "user-cache"  # the environment variable
    monkeypatch.delenv(CACHE_ENV)
    expected = Path(platformdirs.user_cache_dir("evodesign", appauthor=False)) / "models"
    assert default_cache_dir(config) == expected == default_cache_dir()
    keyed = forest_config(small_csv, cache_dir="shared/models")  # the config key wins
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "elsewhere"))
    assert default_cache_dir(keyed, base_dir=tmp_path / "cfg") == tmp_path / "cfg" / "shared" / "models"
    absolute = forest_config(small_csv, cache_dir=str(tmp_path / "abs"))
    assert default_cache_dir(absolute, base_dir="ignored") == tmp_path / "abs"


# ----------------------------------------------------------------------------- cache entries


def _write(path, value=1.0):
    write_model_files(path, {"w": torch.full((2,), value)}, {}, **FMT)
    return value


def _read(path):
    return float(read_model_files(path, **FMT)[1]["w"][0])


def test_orphaned_weights_are_absent_retrained_then_loaded(tmp_path):
    path = tmp_path / "entry"
    tensors, sidecar = model_paths(path)
    tensors.write_bytes(b"weights of a run killed before its sidecar")
    (tmp_path / ".entry.json.x1y2.tmp").write_text("{")
    calls = []

    def train():
        calls.append(1)
        return _write(path, 2.0)

    assert cached_model(path, lambda: _read(path), train) == (2.0, "trained")
    assert not list(tmp_path.glob(".entry.*.tmp"))
    assert cached_model(path, lambda: _read(path), train) == (2.0, "loaded")
    sidecar.unlink()  # a partial copy: weights without sidecar again
    assert cached_model(path, lambda: _read(path), train) == (2.0, "trained")
    assert len(calls) == 2


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path):
    path = tmp_path / "entry"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from filelock import FileLock; "
         f"lock = FileLock({str(path) + '.lock'!r}); lock.acquire(); print('locked', flush=True); "
         "time.sleep(600)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ArtifactError, match="another process training"):
            cached_model(path, lambda: _read(path), lambda: _write(path), timeout=0.2)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        assert Path(str(path) + ".lock").exists()  # the file stays; the OS lock died
        start = time.perf_counter()
        assert cached_model(path, lambda: _read(path), lambda: _write(path), timeout=10) == (1.0, "trained")
        assert time.perf_counter() - start < 5
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)


def test_a_waiter_loads_the_entry_written_while_it_waited(tmp_path):
    from filelock import FileLock

    path = tmp_path / "entry"
    lock = FileLock(str(path) + ".lock")
    lock.acquire()
    trained = []
    result = {}

    def waiter():
        result["out"] = cached_model(path, lambda: _read(path), lambda: trained.append(1))

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive()  # waiting for the lock, not training
    _write(path, 5.0)
    lock.release()
    thread.join(10)
    assert result["out"] == (5.0, "waited") and trained == []


def _train_in_process(path, log):
    def train():
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        time.sleep(1.0)
        return _write(path, 3.0)

    _, how = cached_model(path, lambda: _read(path), train)
    return how


def _worker(path, log, queue):
    queue.put(_train_in_process(path, log))


@pytest.mark.skipif(sys.platform == "win32", reason="fork start method")
def test_two_processes_training_one_entry_train_it_once(tmp_path):
    path, log = tmp_path / "entry", tmp_path / "trainers.log"
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_worker, args=(path, log, queue)) for _ in range(2)]
    for w in workers:
        w.start()
    hows = sorted(queue.get(timeout=60) for _ in workers)
    for w in workers:
        w.join(30)
    assert hows == ["trained", "waited"]
    assert len(log.read_text().split()) == 1 and _read(path) == 3.0


# ----------------------------------------------------------------------------- campaigns


def test_forest_campaign_with_two_targets_runs_and_reuses_its_cache(small_csv, tmp_path, capsys):
    config = forest_config(small_csv)
    result = Campaign(config, out_root=tmp_path / "out", progress=False).run(seed=0)
    assert len(result.designs) > 0
    assert np.isfinite(result.designs.select_dtypes("number").to_numpy(dtype=float)).all()
    cache = tmp_path / "user-cache"  # the per-user cache, not out/models
    sidecars = sorted(cache.glob("surrogate-*.json"))
    assert len(sidecars) == 1 and not (tmp_path / "out" / "models").exists()
    model = PropertyModel.load(sidecars[0])
    assert isinstance(model.estimator_, RandomForestSurrogate) and model.targets == ("log10_PF_p", "S_p")
    assert not np.allclose(model.estimator_.std_scale_, 1.0)

    # a kill between the two writes (weights, no sidecar): retrained, then loaded
    sidecars[0].unlink()
    prepare_models(config, need_generators=False, progress=True)
    assert "surrogate: trained" in capsys.readouterr().out
    prepare_models(config, need_generators=False, progress=True)
    assert "surrogate: loaded" in capsys.readouterr().out

    # flipped bytes in the cached weights: a clear error naming the file and what to do
    weights = sidecars[0].with_suffix(".safetensors")
    blob = bytearray(weights.read_bytes())
    blob[len(blob) // 2] ^= 0x10
    weights.write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match="corrupted or was replaced") as err:
        prepare_models(config, need_generators=False, progress=False)
    assert str(weights) in str(err.value) and "delete" in str(err.value)


def test_absurd_or_empty_targets_are_refused_before_training(tmp_path):
    huge = tmp_path / "huge.csv"
    huge.write_text("formula,log10_PF_p,S_p\nFe2O3,1,2\nMgO,1e308,3\nZnO,2,4\n")
    with pytest.raises(DataError, match=r"huge.csv, row 2 \(line 3\), column 'log10_PF_p': target value '1e308'"):
        prepare_models(forest_config(huge), need_generators=False, progress=False)
    empty = tmp_path / "empty.csv"
    empty.write_text("formula,log10_PF_p,S_p\nFe2O3,1,\nMgO,2,NaN\nZnO,3,\n")
    with pytest.raises(DataError, match=r"target column\(s\) \['S_p'\] have no values"):
        prepare_models(forest_config(empty), need_generators=False, progress=False)
    assert not (tmp_path / "user-cache").exists() or not list((tmp_path / "user-cache").glob("surrogate-*"))


class NaNRegressor(RegressorMixin, BaseEstimator):
    """Fits, then predicts NaN for its second target: what an overflowing scale produces."""

    def fit(self, X, y):
        self.n_targets_ = np.asarray(y).shape[1]
        return self

    def predict(self, X, return_std=False):
        mean = np.zeros((len(X), self.n_targets_))
        mean[:, 1] = np.nan
        return (mean, np.ones_like(mean)) if return_std else mean


def test_a_model_that_predicts_nan_on_its_data_is_never_cached(small_csv, monkeypatch):
    monkeypatch.setattr(models_module, "_surrogate_estimator", lambda *a, **k: NaNRegressor())
    config = forest_config(small_csv)
    with pytest.raises(DataError, match=r"NaNRegressor trained for \['S_p'\] predicts NaN or inf") as err:
        prepare_models(config, need_generators=False, progress=False)
    assert "not kept (nor cached)" in str(err.value)
    cache = default_cache_dir(config)
    assert not list(cache.glob("surrogate-*.json")) and not list(cache.glob("surrogate-*.safetensors"))


def test_auto_surrogate_chooses_per_target_and_reports_the_choice(small_csv, tmp_path, make_config):
    """[surrogate] model = "auto": the per-target CV choice is trained, cached like any
    surrogate, and named with its CV scores in the models' artifacts (the run's manifest)."""
    from evodesign.campaign import CampaignConfig
    from evodesign.campaign.models import prepare_models

    data = make_config(small_csv).to_toml_dict()
    data["surrogate"].update(model="auto", n_estimators=10)
    config = CampaignConfig.from_dict(data)
    models = prepare_models(config, tmp_path / "cache", need_generators=False, progress=False)
    info = models.artifacts()["surrogate"]
    assert set(info["selected"]) == {"log10_PF_p", "S_p"}
    assert all(choice in ("ensemble", "forest", "boosting", "blend") for choice in info["selected"].values())
    for target, scores in info["cv_mae"].items():  # the winner has the lowest CV MAE
        assert scores[info["selected"][target]] == min(scores.values())
    mean, std = models.surrogate.predict(models.vectors[:5])
    assert mean.shape == std.shape == (5, 2) and (std > 0).all()
    again = prepare_models(config, tmp_path / "cache", need_generators=False, progress=False)
    assert again.artifacts()["surrogate"] == info  # loaded from the cache with its choice
