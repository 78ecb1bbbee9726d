"""How good the image generators are on the microstructure library (issue 14, point 4).

The microstructure campaign trains its VAE + latent GAN (the image codec of
:mod:`operators`) on the library after the space's repair (threshold, ``min_feature``
opening/closing), each distinct image once
(:func:`evodesign.campaign.microstructure_parts.generator_vectors`). This benchmark measures
such a model on library images:

* reconstruction: the encoder's mean code, hard-decoded (probability > 0.5), against the
  repaired original -- pixel accuracy, the same after the space's repair, filler fraction,
  and the solver's ``k_xx`` / ``k_yy`` of the repaired reconstruction against the repaired
  original's (relative error, correlation), overall and per library family;
* realism of samples (GAN, and the VAE prior for scale), decoded and repaired: the
  filler-fraction distribution (mean, std, two-sample Kolmogorov-Smirnov statistic), the
  two-point correlation S2(r), the share percolating along x and y, the share of distinct
  images, of images the repair leaves unchanged and of images in the training set.

Two models can be measured in one run: the campaign's own (trained on every library image,
so its "held-out" images were seen in training, and the result says so) and a model trained
with the same settings on a seeded 90 % split, measured on the other 10 %.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evodesign.benchmarks.image_generator_tables import (
    format_image_generator_table,
    image_generators_section,
    plot_image_generators,
)
from evodesign.exceptions import DataError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "evaluate_image_generators",
    "find_campaign_model",
    "format_image_generator_table",
    "image_generators_section",
    "plot_image_generators",
    "run_image_generator_benchmark",
    "split_library",
    "train_image_generators",
]

#: the campaign's [generators] settings (runs/microstructure.toml; the image codec's defaults)
CAMPAIGN_SETTINGS: dict[str, Any] = {
    "latent_dim": 64, "max_epochs": 12, "gan_steps": 6000, "seed": 0
}
_KIND = "microstructure-generators"


def split_library(n: int, holdout: float, seed: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Seeded ``(train, held_out)`` library indices, each sorted; ``holdout`` in (0, 1)."""
    if not 0.0 < holdout < 1.0:
        raise DataError(f"holdout must be a share in (0, 1), got {holdout!r}")
    n_out = max(1, int(round(holdout * n)))
    perm = np.random.default_rng(np.random.SeedSequence(seed)).permutation(n)
    return np.sort(perm[n_out:]), np.sort(perm[:n_out])


def _space(size: int, min_feature: int) -> Any:
    from evodesign.representation.microstructure import MicrostructureSpace

    return MicrostructureSpace(size=size, min_feature=min_feature)


def _member(ids: NDArray[np.void], known: set[bytes]) -> NDArray[np.bool_]:
    """`(n,)` whether each image id is in ``known`` (ids are bytes scalars: a set lookup)."""
    return np.fromiter((i in known for i in ids.tolist()), dtype=bool, count=len(ids))


def _distinct_repaired(space: Any, images: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """`(m, S, S)` the repaired images, each distinct one once, in first-seen order (as the
    campaign's generator data)."""
    repaired = space.canonical(images)
    _, first = np.unique(space.ids(repaired), return_index=True)
    return repaired[np.sort(first)]


def train_image_generators(
    images: NDArray[np.uint8],
    *,
    min_feature: int = 2,
    exclude: NDArray[np.uint8] | None = None,
    latent_dim: int = 64,
    max_epochs: int = 12,
    gan_steps: int = 6000,
    seed: int = 0,
    save: str | Path | None = None,
    progress: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """Train image generators the way the microstructure campaign does.

    Args:
        images: `(n, S, S)` 0/1 library images; repaired with ``min_feature`` and
            deduplicated first, like the campaign's generator data.
        min_feature: the space's ``min_feature``.
        exclude: `(m, S, S)` images whose repaired versions must not be trained on (the
            held-out images, so that a repaired training image equal to one is dropped too).
        latent_dim, max_epochs, gan_steps, seed: the campaign's ``[generators]`` settings.
        save: save the model there (``PATH.safetensors`` + ``PATH.json``).
        progress: show training progress.

    Returns:
        ``(model, info)``: info holds ``n_training`` and ``train_s``.
    """
    from operators import fit_generative_model, save_generative_model

    space = _space(images.shape[1], min_feature)
    X = _distinct_repaired(space, images)
    if exclude is not None and len(exclude):
        X = X[~_member(space.ids(X), set(space.ids(space.canonical(exclude)).tolist()))]
    rows = X.reshape(len(X), -1).astype(np.float64)
    start = time.perf_counter()
    model, _ = fit_generative_model(
        rows,
        vae_options={"codec": "image", "latent_dim": latent_dim, "max_epochs": max_epochs},
        gan_options={"n_steps": gan_steps},
        metadata={"kind": _KIND, "space": space.to_dict(), "n_training": int(len(rows))},
        random_state=np.random.default_rng(np.random.SeedSequence(seed)),
        progress=progress,
    )
    info = {"n_training": int(len(rows)), "train_s": time.perf_counter() - start}
    if save is not None:
        save_generative_model(model, save, overwrite=True)
    return model, info


def find_campaign_model(cache_dir: str | Path | None = None, size: int = 64) -> Path | None:
    """The newest complete generators sidecar in the campaign model cache whose metadata kind
    is ``microstructure-generators`` for ``size`` px images, or None."""
    from operators.model_files import model_complete

    if cache_dir is None:
        from evodesign.datasets.microstructures import default_cache_dir

        cache_dir = default_cache_dir().parent / "models"
    found = []
    for sidecar in Path(cache_dir).glob("generators-*.json"):
        try:
            meta = json.loads(sidecar.read_text()).get("metadata", {})
        except (OSError, json.JSONDecodeError):
            continue
        fits = meta.get("kind") == _KIND and meta.get("space", {}).get("size") == size
        if fits and model_complete(sidecar):
            found.append((sidecar.stat().st_mtime, sidecar))
    return max(found)[1] if found else None


def _rel_error(pred: NDArray[np.float64], true: NDArray[np.float64]) -> dict[str, float]:
    err = np.abs(pred - true) / true
    varies = np.std(pred) > 0 and np.std(true) > 0
    corr = float(np.corrcoef(pred, true)[0, 1]) if varies else float("nan")
    return {
        "median_rel_error": float(np.median(err)),
        "p90_rel_error": float(np.quantile(err, 0.9)),
        "pearson": corr,
    }


def _realism(
    space: Any,
    samples: NDArray[np.uint8],
    data: NDArray[np.uint8],
    r_max: int,
    train_ids: set[bytes],
) -> dict[str, Any]:
    """Statistics of `(n, S, S)` decoded ``samples`` (repaired here) against `(m, S, S)` data."""
    from scipy.stats import ks_2samp

    from evodesign.properties.microstructure import (
        percolates,
        two_point_correlation,
        volume_fraction,
    )

    repaired = space.canonical(samples)
    vf_raw, vf, vf_data = volume_fraction(samples), volume_fraction(repaired), volume_fraction(data)
    ks = ks_2samp(vf, vf_data)
    s2 = two_point_correlation(repaired, r_max).mean(0)
    s2_data = two_point_correlation(data, r_max).mean(0)
    ids = space.ids(repaired)
    return {
        "n": int(len(samples)),
        "volume_fraction_decoded_mean": float(vf_raw.mean()),
        "volume_fraction_mean": float(vf.mean()),
        "volume_fraction_std": float(vf.std()),
        "volume_fraction_below_0.05": float((vf < 0.05).mean()),
        "volume_fraction_ks": float(ks.statistic),
        "volume_fraction_ks_p": float(ks.pvalue),
        "s2_mean": s2.tolist(),
        "s2_max_gap": float(np.abs(s2 - s2_data).max()),
        "percolating_x": float(percolates(repaired, axis="x").mean()),
        "percolating_y": float(percolates(repaired, axis="y").mean()),
        "distinct": float(len(np.unique(ids)) / len(ids)),
        "unchanged_by_repair": float((repaired == samples).all(axis=(1, 2)).mean()),
        "in_training_set": float(_member(ids, train_ids).mean()) if train_ids else None,
        "volume_fraction_hist": np.histogram(vf, bins=20, range=(0, 1))[0].tolist(),
    }


def evaluate_image_generators(
    model: Any,
    originals: NDArray[np.uint8],
    family: NDArray[np.str_],
    *,
    min_feature: int = 2,
    conductivity: tuple[float, float] = (1.0, 10.0),
    n_samples: int | None = None,
    train_images: NDArray[np.uint8] | None = None,
    seed: int = 0,
    keep: int = 8,
) -> tuple[dict[str, Any], dict[str, NDArray[np.uint8]]]:
    """Reconstruction and sample realism of ``model`` on library images.

    Args:
        model: a trained image :class:`~operators.vaegan.VAEGAN`.
        originals: `(n, S, S)` raw library images (repaired here, as the model learns them).
        family: `(n,)` their library family names.
        min_feature: the space's ``min_feature``.
        conductivity: ``(k_matrix, k_filler)`` for the solver.
        n_samples: samples per latent source (None: ``n``).
        train_images: `(m, S, S)` repaired training images, to count samples that copy one.
        seed: seeds the latent samples (torch Generators from a numpy SeedSequence).
        keep: images of each kind returned for the figure.

    Returns:
        ``(result, images)``: the numbers, and `(keep, S, S)` arrays ``originals``,
        ``reconstructions``, ``gan`` for :func:`plot_image_generators`.
    """
    import torch

    from evodesign.physics import effective_conductivity
    from evodesign.properties.microstructure import (
        percolates,
        two_point_correlation,
        volume_fraction,
    )

    size = originals.shape[1]
    space = _space(size, min_feature)
    data = space.canonical(originals)
    rows = data.reshape(len(data), -1).astype(np.float64)
    start = time.perf_counter()
    rec = model.decode(model.encode(rows, refine=False), hard=True)
    encode_decode_s = time.perf_counter() - start
    rec = rec.reshape(data.shape).astype(np.uint8)
    rec_rep = space.canonical(rec)
    acc = (rec == data).mean(axis=(1, 2))
    acc_rep = (rec_rep == data).mean(axis=(1, 2))
    start = time.perf_counter()
    k_data = effective_conductivity(data, conductivity)
    k_rec = effective_conductivity(rec_rep, conductivity)
    solve_s = time.perf_counter() - start
    vf_data, vf_rec = volume_fraction(data), volume_fraction(rec_rep)
    r_max = size // 2
    reconstruction: dict[str, Any] = {
        "n": int(len(data)),
        "pixel_accuracy": float(acc.mean()),
        "pixel_accuracy_p10": float(np.quantile(acc, 0.1)),
        "within_1_percent": float((acc >= 0.99).mean()),
        "pixel_accuracy_repaired": float(acc_rep.mean()),
        "exact_repaired": float((acc_rep == 1).mean()),
        "raw_vs_repaired_original_pixels": float((originals == data).mean()),
        "volume_fraction_original_mean": float(vf_data.mean()),
        "volume_fraction_reconstruction_mean": float(vf_rec.mean()),
        "volume_fraction_mae": float(np.abs(vf_rec - vf_data).mean()),
        "k_xx": _rel_error(k_rec[:, 0], k_data[:, 0]),
        "k_yy": _rel_error(k_rec[:, 1], k_data[:, 1]),
        "percolating_x": [float(percolates(d, axis="x").mean()) for d in (data, rec_rep)],
        "percolating_y": [float(percolates(d, axis="y").mean()) for d in (data, rec_rep)],
        "encode_decode_s": encode_decode_s,
        "solve_s": solve_s,
    }
    err = np.abs(k_rec - k_data) / k_data
    per_family = {}
    for name in dict.fromkeys(family.tolist()):
        rows_of = family == name
        per_family[name] = {
            "n": int(rows_of.sum()),
            "pixel_accuracy": float(acc[rows_of].mean()),
            "k_xx_median_rel_error": float(np.median(err[rows_of, 0])),
            "k_yy_median_rel_error": float(np.median(err[rows_of, 1])),
            "volume_fraction_mae": float(np.abs(vf_rec - vf_data)[rows_of].mean()),
        }
    reconstruction["per_family"] = per_family

    n_samples = len(data) if n_samples is None else int(n_samples)
    train_ids = set() if train_images is None else set(space.ids(train_images).tolist())
    seeds = np.random.SeedSequence(seed).generate_state(2, dtype=np.uint64)
    realism: dict[str, Any] = {
        "data": {
            "n": int(len(data)),
            "volume_fraction_mean": float(vf_data.mean()),
            "volume_fraction_std": float(vf_data.std()),
            "volume_fraction_below_0.05": float((vf_data < 0.05).mean()),
            "s2_mean": two_point_correlation(data, r_max).mean(0).tolist(),
            "percolating_x": reconstruction["percolating_x"][0],
            "percolating_y": reconstruction["percolating_y"][0],
            "volume_fraction_hist": np.histogram(vf_data, bins=20, range=(0, 1))[0].tolist(),
        }
    }
    figure_images = {"originals": data[:keep], "reconstructions": rec_rep[:keep]}
    for source, s in zip(("gan", "vae"), seeds):
        if source not in model.sources:
            continue
        generator = torch.Generator().manual_seed(int(s) >> 1)
        samples = model.sample(n_samples, source, generator)
        samples = samples.reshape(-1, size, size).astype(np.uint8)
        realism[source] = _realism(space, samples, data, r_max, train_ids)
        figure_images[source] = space.canonical(samples[:keep])
    return {"reconstruction": reconstruction, "realism": realism}, figure_images


def run_image_generator_benchmark(
    model_path: str | Path | None = None,
    n_eval: int = 2000,
    seed: int = 0,
    *,
    n_images: int = 20000,
    size: int = 64,
    library_seed: int = 0,
    min_feature: int = 2,
    conductivity: tuple[float, float] = (1.0, 10.0),
    holdout: float = 0.1,
    train_split: bool = True,
    split_model_path: str | Path | None = None,
    train_settings: dict[str, Any] | None = None,
    library: Any = None,
    figure: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Measure the campaign's image generators (and a held-out split model) on the library.

    Args:
        model_path: the campaign's generators sidecar (None: :func:`find_campaign_model`;
            when there is none, one is trained with the campaign's settings on every image).
        n_eval: evaluation images (from the held-out split) and samples per source.
        seed: seeds the split and the samples.
        n_images, size, library_seed, conductivity: the library (build_library's settings).
        min_feature: the space's repair.
        holdout: share of the library held out of the split model's training.
        train_split: also train (or load from ``split_model_path``) the split model.
        split_model_path: where the split model is saved / loaded from (None: not saved).
        train_settings: ``latent_dim, max_epochs, gan_steps, seed`` (None: the campaign's).
        library: a :class:`~evodesign.datasets.microstructures.MicrostructureLibrary`
            to use instead of building one (tests).
        figure: write the picture there (PNG).
        progress: print what is done.

    Returns:
        A JSON-ready dict: ``settings``, ``models`` (``campaign`` and/or ``split``: each
        ``reconstruction``, ``realism``, ``seen_in_training``, ``path``).
    """
    from operators import load_generative_model

    started = time.perf_counter()
    settings = {**CAMPAIGN_SETTINGS, **(train_settings or {})}
    if library is None:
        from evodesign.datasets.microstructures import build_library

        library = build_library(n_images, size, library_seed, conductivity, progress=progress)
    images, family = library.images, np.asarray(library.family).astype(str)
    size = images.shape[1]
    train_idx, held_idx = split_library(len(images), holdout, seed)
    eval_idx = held_idx[:n_eval]
    space = _space(size, min_feature)
    result: dict[str, Any] = {
        "settings": {
            "n_library": int(len(images)), "size": int(size), "library_seed": library_seed,
            "min_feature": min_feature, "conductivity": list(conductivity), "holdout": holdout,
            "n_eval": int(len(eval_idx)), "seed": seed, "training": settings,
        },
        "models": {},
    }
    figures = {}

    def say(message: str) -> None:
        if progress:
            print(f"[image generators] {message}", flush=True)

    models: list[tuple[str, Any, dict[str, Any], NDArray[np.uint8]]] = []
    if model_path is None:
        model_path = find_campaign_model(size=size)
    all_train = _distinct_repaired(space, images)
    if model_path is not None:
        say(f"campaign model: {model_path}")
        model = load_generative_model(model_path)
        models.append(("campaign", model, {"path": str(model_path), "trained": "campaign cache",
                                           "n_training": model.metadata.get("n_training"),
                                           "seen_in_training": True}, all_train))
    else:
        say("no campaign model found: training one on every library image (campaign settings)")
        model, info = train_image_generators(
            images, min_feature=min_feature, progress=progress,
            **{k: settings[k] for k in ("latent_dim", "max_epochs", "gan_steps", "seed")},
        )
        models.append(("campaign", model, {"path": None, "trained": "here, campaign settings",
                                           "seen_in_training": True, **info}, all_train))
    if train_split:
        held = images[held_idx]
        split_train = _distinct_repaired(space, images[train_idx])
        held_ids = set(space.ids(space.canonical(held)).tolist())
        split_train = split_train[~_member(space.ids(split_train), held_ids)]
        path = None if split_model_path is None else Path(split_model_path)
        if path is not None and path.with_suffix(".json").exists():
            say(f"split model: loading {path}")
            model = load_generative_model(path)
            info = {"n_training": model.metadata.get("n_training"), "trained": "loaded"}
        else:
            say(f"split model: training on {len(train_idx):,} library images ({1 - holdout:.0%})")
            model, info = train_image_generators(
                images[train_idx], min_feature=min_feature, exclude=held, save=path,
                progress=progress,
                **{k: settings[k] for k in ("latent_dim", "max_epochs", "gan_steps", "seed")},
            )
            info["trained"] = "here"
        models.append(("split", model, {"path": None if path is None else str(path),
                                        "seen_in_training": False, **info}, split_train))
    for name, model, info, train_images in models:
        say(f"evaluating the {name} model on {len(eval_idx):,} images")
        start = time.perf_counter()
        numbers, figures[name] = evaluate_image_generators(
            model, images[eval_idx], family[eval_idx], min_feature=min_feature,
            conductivity=conductivity, n_samples=n_eval, train_images=train_images, seed=seed,
        )
        result["models"][name] = {**info, **numbers, "evaluate_s": time.perf_counter() - start}
    result["seconds"] = time.perf_counter() - started
    if figure is not None:
        plot_image_generators(result, figures, figure)
        result["figure"] = Path(figure).name
    return result
