# usage: python runs/loop_diversity.py  (after `evodesign bench loop`, which leaves its loops in runs/output/bench-loop)
"""Does generator adaptation narrow the loop's proposals? Mean pairwise pixel distance of
each loop's measured images, and the spread of their filler fractions, per arm (bench loop's
saved microstructure runs; compositions: distinct element sets among measured formulas)."""
import numpy as np, pandas as pd
from pathlib import Path
root = Path("runs/output/bench-loop")
rows = []
for arm in ("adaptive", "fixed", "classical", "one_shot"):
    for seed_dir in sorted((root / "microstructure" / arm).glob("seed*")):
        npz = seed_dir / "measurements.npz"
        if not npz.exists():
            continue
        im = np.load(npz)["images"].reshape(-1, 32 * 32).astype(np.float32)
        d = np.abs(im[:, None] - im[None]).mean(axis=2)
        iu = np.triu_indices(len(im), 1)
        rows.append({"space": "microstructure", "arm": arm, "seed": seed_dir.name, "n": len(im),
                     "mean_pairwise_pixel_distance": float(d[iu].mean()), "vf_std": float(im.mean(1).std())})
    for seed_dir in sorted((root / "composition" / arm).glob("seed*")):
        csv = seed_dir / "measurements.csv"
        if not csv.exists():
            continue
        m = pd.read_csv(csv)
        from pymatgen.core import Composition
        systems = {"-".join(sorted(el.symbol for el in Composition(f).elements)) for f in m["formula"]}
        rows.append({"space": "composition", "arm": arm, "seed": seed_dir.name, "n": len(m),
                     "distinct_systems": len(systems)})
t = pd.DataFrame(rows)
print(t.drop(columns="seed").groupby(["space", "arm"]).agg(["mean", "std"]).round(4).to_string())
