"""Microstructure campaign: a thermal composite (runs/microstructure.toml).

Maximise the effective conductivity along x (k_xx) and along y (k_yy) of a 64x64 two-phase
image and minimise its filler fraction, with the filler percolating along x and y and no
feature thinner than 2 px; the fitness is the finite-volume solver with conductivities
[1, 10] (exact, no surrogate). The library of 20,000 labelled images is built on first use
and cached. ``--anisotropic`` runs runs/microstructure_anisotropic.toml instead (maximise
k_xx, minimise k_yy and the filler fraction).

    python runs/microstructure.py [--seed S] [--overwrite] [--anisotropic]

Results: runs/output/<name>/seed<S>/ (pareto.csv, designs.npz with key ``images`` in
pareto.csv's row order, gallery.png, pareto.png with the Wiener and Hashin-Shtrikman bounds,
convergence.png, history.csv, manifest.json, config.toml, checkpoint.bin). Running it again
continues (or, when finished, re-reads) the same run from its checkpoint; --overwrite starts
afresh.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from evodesign.campaign import Campaign
from evodesign.physics import hashin_shtrikman_bounds, wiener_bounds

HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="default: [campaign] seed")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run")
    parser.add_argument("--anisotropic", action="store_true", help="run microstructure_anisotropic.toml")
    parser.add_argument("--out", type=Path, default=Path("runs/output"), help="output root")
    args = parser.parse_args(argv)

    config = HERE / ("microstructure_anisotropic.toml" if args.anisotropic else "microstructure.toml")
    campaign = Campaign.from_toml(config, out_root=args.out)
    seed = campaign.config.campaign.seed if args.seed is None else args.seed
    run_dir = campaign.run_dir(seed)
    resume = not args.overwrite and (run_dir / "checkpoint.bin").exists()
    if resume:
        print(f"{run_dir} exists: continuing it from its checkpoint (--overwrite starts afresh)")
    result = campaign.run(seed, resume=resume, overwrite=args.overwrite)

    designs = result.designs
    k_matrix, k_filler = campaign.config.physics.conductivity
    phi = designs["volume_fraction"].to_numpy(dtype=np.float64)
    # distance to the physical limit: k over the upper bound at the design's filler fraction
    designs = designs.assign(
        k_xx_over_hs=designs["k_xx"] / hashin_shtrikman_bounds(phi, k_matrix, k_filler)[1],
        k_xx_over_wiener=designs["k_xx"] / wiener_bounds(phi, k_matrix, k_filler)[1],
    )
    print(f"\n{len(designs)} designs on the Pareto front; the ten with the highest k_xx:")
    columns = ["microstructure", "k_xx", "k_yy", "volume_fraction", "k_xx_over_hs", "k_xx_over_wiener", "nearest_distance"]
    print(designs[columns].head(10).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"\nall results (images in designs.npz, drawn in gallery.png): {result.run_dir}")


if __name__ == "__main__":
    main()
