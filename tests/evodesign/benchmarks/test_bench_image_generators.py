"""The image-generator benchmark: exact answers with an identity "model", the split, the
campaign-model lookup, and a tiny end-to-end run (16 px, 280 images, seconds of training)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from evodesign.benchmarks.image_generators import (
    evaluate_image_generators,
    find_campaign_model,
    format_image_generator_table,
    image_generators_section,
    run_image_generator_benchmark,
    split_library,
)
from evodesign.datasets.microstructures import generate_library_images
from evodesign.exceptions import DataError
from evodesign.representation.microstructure import MicrostructureSpace


class IdentityModel:
    """Codes are the images; samples are the given images in turn (a perfect generator)."""

    sources = ("gan",)

    def __init__(self, pool: np.ndarray) -> None:
        self.pool = pool.reshape(len(pool), -1).astype(np.float64)

    def encode(self, X, refine=True):
        return np.asarray(X, dtype=np.float64)

    def decode(self, Z, hard=True):
        return np.asarray(Z, dtype=np.float64)

    def sample(self, n, source, generator, hard=True):
        return self.pool[np.arange(n) % len(self.pool)]


@pytest.fixture(scope="module")
def tiny():
    images, family, _ = generate_library_images(280, size=16, seed=3)
    return images, family


def test_split_is_a_seeded_partition():
    train, held = split_library(50, 0.1, seed=1)
    assert len(held) == 5 and len(train) == 45
    np.testing.assert_array_equal(np.sort(np.concatenate([train, held])), np.arange(50))
    np.testing.assert_array_equal(split_library(50, 0.1, seed=1)[1], held)
    assert not np.array_equal(split_library(50, 0.1, seed=2)[1], held)
    with pytest.raises(DataError, match="holdout"):
        split_library(50, 1.0, seed=1)


def test_a_perfect_model_scores_exactly(tiny):
    images, family = tiny
    space = MicrostructureSpace(size=16, min_feature=2)
    data = space.canonical(images[:40])
    model = IdentityModel(data)  # samples: the repaired data themselves, each once
    result, figure = evaluate_image_generators(
        model, images[:40], family[:40], min_feature=2, train_images=data[:20]
    )
    rec = result["reconstruction"]
    assert rec["pixel_accuracy"] == 1.0 and rec["pixel_accuracy_repaired"] == 1.0
    assert rec["within_1_percent"] == 1.0 and rec["exact_repaired"] == 1.0
    assert rec["volume_fraction_mae"] == 0.0
    for k in ("k_xx", "k_yy"):
        assert rec[k]["median_rel_error"] == 0.0 and rec[k]["p90_rel_error"] == 0.0
        assert rec[k]["pearson"] == pytest.approx(1.0)
    gan, data_stats = result["realism"]["gan"], result["realism"]["data"]
    assert gan["volume_fraction_ks"] == 0.0 and gan["s2_max_gap"] == 0.0
    assert gan["volume_fraction_mean"] == pytest.approx(data_stats["volume_fraction_mean"])
    assert gan["volume_fraction_below_0.05"] == data_stats["volume_fraction_below_0.05"]
    assert data_stats["volume_fraction_below_0.05"] == np.mean(data.mean(axis=(1, 2)) < 0.05)
    assert gan["unchanged_by_repair"] == 1.0  # repaired images are fixed points of the repair
    n_distinct = len(np.unique(space.ids(data)))
    assert gan["distinct"] == n_distinct / 40
    ids = space.ids(data).tolist()
    assert gan["in_training_set"] == pytest.approx(np.mean([i in set(ids[:20]) for i in ids]))
    assert gan["in_training_set"] >= 0.5
    assert gan["percolating_x"] == data_stats["percolating_x"]
    assert "vae" not in result["realism"]  # a model without that source is not asked for it
    np.testing.assert_array_equal(figure["reconstructions"], data[:8])
    assert set(result["reconstruction"]["per_family"]) == set(family[:40])


def test_a_wrong_reconstruction_is_measured(tiny):
    images, family = tiny
    space = MicrostructureSpace(size=16, min_feature=2)
    model = IdentityModel(space.canonical(images[:10]))
    model.decode = lambda Z, hard=True: 1.0 - np.asarray(Z)  # every pixel flipped
    result, _ = evaluate_image_generators(model, images[:10], family[:10], min_feature=2)
    assert result["reconstruction"]["pixel_accuracy"] == 0.0
    assert result["reconstruction"]["within_1_percent"] == 0.0


def test_campaign_model_lookup_takes_the_newest_microstructure_model(tmp_path):
    def write(name, kind, size, mtime, tensors=True):
        sidecar = tmp_path / f"{name}.json"
        sidecar.write_text(json.dumps({"metadata": {"kind": kind, "space": {"size": size}}}))
        if tensors:
            (tmp_path / f"{name}.safetensors").write_bytes(b"")
        import os

        os.utime(sidecar, (mtime, mtime))
        return sidecar

    assert find_campaign_model(tmp_path) is None
    old = write("generators-a", "microstructure-generators", 64, 1000)
    write("generators-b", "composition-generators", 64, 3000)
    write("generators-c", "microstructure-generators", 32, 3000)
    write("generators-d", "microstructure-generators", 64, 4000, tensors=False)  # unfinished
    assert find_campaign_model(tmp_path, size=64) == old
    newer = write("generators-e", "microstructure-generators", 64, 2000)
    assert find_campaign_model(tmp_path, size=64) == newer


def test_tiny_benchmark_trains_both_models_and_writes_its_picture(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("EVODESIGN_CACHE_DIR", str(tmp_path / "cache"))  # no campaign model there
    images, family = tiny
    library = SimpleNamespace(images=images, family=family)
    result = run_image_generator_benchmark(
        n_eval=28, seed=0, library=library, min_feature=2, holdout=0.1,
        train_settings={"latent_dim": 4, "max_epochs": 1, "gan_steps": 20},
        split_model_path=tmp_path / "split", figure=tmp_path / "fig.png", progress=False,
    )
    campaign, split = result["models"]["campaign"], result["models"]["split"]
    assert campaign["seen_in_training"] and not split["seen_in_training"]
    space = MicrostructureSpace(size=16, min_feature=2)
    train, held = split_library(280, 0.1, 0)
    n_all = len(np.unique(space.ids(space.canonical(images))))
    held_ids = set(space.ids(space.canonical(images[held])).tolist())
    train_ids = set(space.ids(space.canonical(images[train])).tolist())
    assert campaign["n_training"] == n_all
    assert split["n_training"] == len(train_ids - held_ids)
    for m in (campaign, split):
        assert 0.0 <= m["reconstruction"]["pixel_accuracy"] <= 1.0
        assert m["reconstruction"]["n"] == 28 and m["realism"]["gan"]["n"] == 28
        assert len(m["realism"]["gan"]["s2_mean"]) == 16 // 2 + 1
    assert split["realism"]["gan"]["in_training_set"] is not None
    assert (tmp_path / "fig.png").stat().st_size > 0 and result["figure"] == "fig.png"
    assert (tmp_path / "split.json").exists()
    json.dumps(result)  # JSON-ready
    table = format_image_generator_table(result)
    assert "| pixel accuracy (encoder mean, hard) |" in table and "split gan" in table
    section = "\n".join(image_generators_section(result))
    assert "![image generators](benchmarks/fig.png)" in section
    # the saved split model is loaded, not retrained, and measures the same
    again = run_image_generator_benchmark(
        n_eval=28, seed=0, library=library, min_feature=2, holdout=0.1,
        train_settings={"latent_dim": 4, "max_epochs": 1, "gan_steps": 20},
        model_path=tmp_path / "split.json", split_model_path=tmp_path / "split", progress=False,
    )
    assert again["models"]["split"]["trained"] == "loaded"
    assert again["models"]["split"]["reconstruction"] == split["reconstruction"] | {
        k: again["models"]["split"]["reconstruction"][k] for k in ("encode_decode_s", "solve_s")
    }
