"""Measure the image VAE + latent GAN on synthetic two-phase images (not a test).

    .venv/bin/python tests/operators/image_benchmark.py --n 20000 --side 64 --threads 2

prints (and with ``--json FILE`` writes) the training time per epoch, the held-out pixel
accuracy of reconstructions (encoder mean and refined codes), the decode time of 1,000
latent points, and checks that LatentInterpolationCrossover and GANMutation make 0/1
images of the right shape, reproducibly. The images are thresholded Gaussian-filtered
noise (tests/operators/image_data.py), a stand-in for the microstructure library.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from image_data import noise_images  # noqa: E402

from operators import GANMutation, LatentInterpolationCrossover, fit_generative_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="images (10 %% held out)")
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-epochs", type=int, default=None, help="default: the codec's")
    parser.add_argument("--sharpen-epochs", type=int, default=None, help="default: the codec's")
    parser.add_argument("--beta", type=float, default=None, help="default: the codec's")
    parser.add_argument("--latent-dim", type=int, default=None, help="default: the codec's")
    parser.add_argument("--gan-steps", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    images = noise_images(args.n, args.side, seed=0).reshape(args.n, -1).astype(np.float64)
    n_test = max(1, args.n // 10)
    train, test = images[:-n_test], images[-n_test:]
    options = {"codec": "image"}
    for key in ("max_epochs", "sharpen_epochs", "beta", "latent_dim"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    start = time.perf_counter()
    model, history = fit_generative_model(
        train, vae_options=options, gan_options={"n_steps": args.gan_steps},
        num_threads=args.threads, random_state=0, progress=True,
    )
    fit_seconds = time.perf_counter() - start
    torch.set_num_threads(args.threads)
    vae = history["vae"]
    out: dict = {
        "n_images": args.n, "side": args.side, "threads": args.threads,
        "settings": vae["settings"], "epochs": vae["epochs"], "best_epoch": vae["best_epoch"],
        "seconds_per_epoch": vae["seconds_per_epoch"], "vae_seconds": vae["seconds"],
        "gan_seconds": history["gan"]["seconds"], "fit_seconds": fit_seconds,
        "gan_best_fd": history["gan"]["best_fd"], "gan_fd_floor": history["gan"]["fd_floor"],
    }
    sub = test[:1000]
    start = time.perf_counter()
    rec_mean = model.reconstruct(sub, refine=False)
    out["reconstruct_mean_seconds_per_1000"] = (time.perf_counter() - start) * 1000 / len(sub)
    start = time.perf_counter()
    rec = model.reconstruct(sub)
    out["reconstruct_refined_seconds_per_1000"] = (time.perf_counter() - start) * 1000 / len(sub)
    out["heldout_pixel_accuracy_mean_code"] = float((rec_mean == sub).mean())
    out["heldout_pixel_accuracy_refined"] = float((rec == sub).mean())
    out["heldout_match_refined"] = float(model.matches(rec, sub).mean())
    out["heldout_volume_fraction_mae"] = float(np.abs(rec.mean(1) - sub.mean(1)).mean())
    Z = model.sample_latent(1000, "gan", torch.Generator().manual_seed(0))
    model.decode(Z[:10])
    start = time.perf_counter()
    model.decode(Z)
    out["decode_1000_seconds"] = time.perf_counter() - start

    parents = np.stack([test[:100], test[100:200]])
    cx, mut = LatentInterpolationCrossover(model), GANMutation(model)
    runs = []
    for seed in (1, 1, 2):
        rng = np.random.default_rng(seed)
        children, codes = cx.cross(parents, rng)
        mutants, _ = mut.mutate(children.reshape(-1, model.n_var), rng, codes.reshape(-1, model.latent_dim))
        runs.append(mutants)
    out["operators_children_shape"] = list(runs[0].shape)
    out["operators_children_binary"] = bool(np.isin(runs[0], (0.0, 1.0)).all())
    out["operators_same_seed_equal"] = bool(np.array_equal(runs[0], runs[1]))
    out["operators_other_seed_differs"] = not np.array_equal(runs[0], runs[2])
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
