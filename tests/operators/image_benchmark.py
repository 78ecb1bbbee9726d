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

from operators import (  # noqa: E402
    GANMutation,
    LatentInterpolationCrossover,
    fit_generative_model,
    fit_latent_gan,
    load_generative_model,
    save_generative_model,
)


def _s2(rows: np.ndarray, side: int, r_max: int = 16) -> np.ndarray:
    """`(n, r_max + 1)` periodic two-point correlation of the filler, averaged over shifts
    along x and along y (an FFT autocorrelation)."""
    f = np.fft.fft2(rows.reshape(-1, side, side))
    auto = np.fft.ifft2(f * f.conj()).real / (side * side)
    return 0.5 * (auto[:, 0, : r_max + 1] + auto[:, : r_max + 1, 0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="images (10 %% held out)")
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-epochs", type=int, default=None, help="default: the codec's")
    parser.add_argument("--sharpen-epochs", type=int, default=None, help="default: the codec's")
    parser.add_argument("--beta", type=float, default=None, help="default: the codec's")
    parser.add_argument("--latent-dim", type=int, default=None, help="default: the codec's")
    parser.add_argument("--gan-steps", type=int, default=None, help="default: the codec's")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--save", type=Path, default=None, help="save the trained model here")
    parser.add_argument("--load", type=Path, default=None,
                        help="measure a saved model (trained on these images) instead of training;"
                        " with --gan-steps, retrain its latent GAN only")
    args = parser.parse_args()

    images = noise_images(args.n, args.side, seed=0).reshape(args.n, -1).astype(np.float64)
    n_test = max(1, args.n // 10)
    train, test = images[:-n_test], images[-n_test:]
    options = {"codec": "image"}
    for key in ("max_epochs", "sharpen_epochs", "beta", "latent_dim"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    out: dict = {"n_images": args.n, "side": args.side, "threads": args.threads}
    torch.set_num_threads(args.threads)
    if args.load:
        model = load_generative_model(args.load)
        out["loaded"] = str(args.load)
        if args.gan_steps is not None:
            model.gan, gan = fit_latent_gan(
                model.vae, train, n_steps=args.gan_steps, random_state=0, progress=True
            )
            out.update(gan_steps=gan["steps"], gan_seconds=gan["seconds"],
                       gan_best_fd=gan["best_fd"], gan_fd_floor=gan["fd_floor"])
    else:
        start = time.perf_counter()
        model, history = fit_generative_model(
            train, vae_options=options,
            gan_options={} if args.gan_steps is None else {"n_steps": args.gan_steps},
            num_threads=args.threads, random_state=0, progress=True,
        )
        fit_seconds = time.perf_counter() - start
        torch.set_num_threads(args.threads)
        vae = history["vae"]
        out.update({
            "settings": vae["settings"], "epochs": vae["epochs"], "best_epoch": vae["best_epoch"],
            "seconds_per_epoch": vae["seconds_per_epoch"], "vae_seconds": vae["seconds"],
            "gan_seconds": history["gan"]["seconds"], "fit_seconds": fit_seconds,
            "gan_best_fd": history["gan"]["best_fd"], "gan_fd_floor": history["gan"]["fd_floor"],
        })
        if args.save:
            save_generative_model(model, args.save, overwrite=True)
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

    # realism: filler fraction and two-point correlation of samples against held-out data
    side = args.side
    for source in ("gan", "vae"):
        samples = model.sample(1000, source, torch.Generator().manual_seed(1))
        fraction = samples.mean(1)
        out[f"{source}_samples_volume_fraction_mean_std"] = [fraction.mean(), fraction.std()]
        out[f"{source}_samples_s2_max_abs_diff"] = float(
            np.abs(_s2(samples, side).mean(0) - _s2(sub, side).mean(0)).max()
        )
    out["data_volume_fraction_mean_std"] = [sub.mean(1).mean(), sub.mean(1).std()]
    out["data_s2_mean_r0_to_8"] = _s2(sub, side).mean(0)[:9].round(4).tolist()
    out["gan_s2_mean_r0_to_8"] = _s2(
        model.sample(1000, "gan", torch.Generator().manual_seed(1)), side
    ).mean(0)[:9].round(4).tolist()

    half = min(100, len(test) // 2)
    parents = np.stack([test[:half], test[half : 2 * half]])
    cx, mut = LatentInterpolationCrossover(model), GANMutation(model)
    runs = []
    for seed in (1, 1, 2):
        rng = np.random.default_rng(seed)
        children, codes = cx.cross(parents, rng)
        rows, codes = children.reshape(-1, model.n_var), codes.reshape(-1, model.latent_dim)
        mutants, _ = mut.mutate(rows, rng, codes)
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
