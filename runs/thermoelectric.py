"""Default campaign: new p-type thermoelectric compositions (runs/thermoelectric.toml).

Maximise the predicted power factor (log10 PF_p) and Seebeck coefficient (S_p) and minimise
the supply risk (HHI of production), under strict SMACT validity, <= 4 elements, <= 20 atoms
per formula unit, no Pb/Cd/Hg/Tl/As/Be, novel formulas only and a bound on the surrogate's
uncertainty. NSGA-II with the learned operators; the surrogate and the generators are
trained on first use and cached in the per-user model cache (``~/.cache/evodesign/models``
on Linux; ``$EVODESIGN_CACHE_DIR`` or ``[campaign] cache_dir`` choose another folder), so
later runs, with any ``--out``, load them. The first run took 3 min 50 s to 4 min 26 s on a
2-core machine with at most one other job, and 13 min 34 s on a loaded one (measured in
sessions 2 and 3, and in issue 11; the README gives the conditions).

    python runs/thermoelectric.py [--seed S] [--overwrite]

Results: runs/output/thermoelectric/seed<S>/ (pareto.csv, history.csv, pareto.png,
convergence.png, manifest.json, config.toml, checkpoint.bin). Running it again continues
(or, when finished, re-reads) the same run from its checkpoint; --overwrite starts afresh.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from evodesign.campaign import Campaign

CONFIG = Path(__file__).with_name("thermoelectric.toml")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="default: [campaign] seed")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run")
    parser.add_argument("--out", type=Path, default=Path("runs/output"), help="output root")
    args = parser.parse_args(argv)

    campaign = Campaign.from_toml(CONFIG, out_root=args.out)
    seed = campaign.config.campaign.seed if args.seed is None else args.seed
    run_dir = campaign.run_dir(seed)
    resume = not args.overwrite and (run_dir / "checkpoint.bin").exists()
    if resume:
        print(f"{run_dir} exists: continuing it from its checkpoint (--overwrite starts afresh)")
    result = campaign.run(seed, resume=resume, overwrite=args.overwrite)

    designs = result.designs
    print(f"\n{len(designs)} designs on the Pareto front; the ten with the highest power factor:")
    columns = ["formula", "log10_PF_p", "log10_PF_p_std", "S_p", "S_p_std", "hhi_production", "nearest_known"]
    columns += [c for c in ("e_form_chgnet", "spacegroup") if c in designs.columns]  # the structure check
    print(designs[columns].head(10).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"\nall results: {result.run_dir}")


if __name__ == "__main__":
    main()
