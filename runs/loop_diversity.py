# usage: python runs/loop_diversity.py [MICROSTRUCTURE_ROOT [COMPOSITION_ROOT]]
#   (the --out folders of `evodesign bench loop`; both default to runs/output/bench-loop)
"""Does generator adaptation narrow the loop's proposals? Mean pairwise pixel distance of
each loop's measured images, and the spread of their filler fractions, per arm (bench loop's
saved microstructure runs; compositions: distinct element sets among measured formulas)."""
import numpy as np, pandas as pd
from pathlib import Path
import sys
roots = [Path(a) for a in sys.argv[1:3]] + [Path("runs/output/bench-loop")] * 2
ms_root, comp_root = roots[0], roots[1]
rows = []
ARMS = ("adaptive", "fixed", "classical", "one_shot", "adaptive_measured")
for arm in ARMS:
    for seed_dir in sorted((ms_root / "microstructure" / arm).glob("seed*")):
        npz = seed_dir / "measurements.npz"
        if not npz.exists():
            continue
        im = np.load(npz)["images"].reshape(-1, 32 * 32).astype(np.float32)
        # binary images: mean |a - b| = (|a| + |b| - 2 a.b) / pixels, no n x n x pixels array
        ones = im.sum(axis=1)
        d = (ones[:, None] + ones[None] - 2 * im @ im.T) / im.shape[1]
        iu = np.triu_indices(len(im), 1)
        rows.append({"space": "microstructure", "arm": arm, "seed": seed_dir.name, "n": len(im),
                     "mean_pairwise_pixel_distance": float(d[iu].mean()), "vf_std": float(im.mean(1).std())})
    for seed_dir in sorted((comp_root / "composition" / arm).glob("seed*")):
        csv = seed_dir / "measurements.csv"
        if not csv.exists():
            continue
        m = pd.read_csv(csv, keep_default_na=False, na_values=[""])  # "NaN" is sodium nitride
        from pymatgen.core import Composition
        systems = {"-".join(sorted(el.symbol for el in Composition(f).elements)) for f in m["formula"]}
        rows.append({"space": "composition", "arm": arm, "seed": seed_dir.name, "n": len(m),
                     "distinct_systems": len(systems)})
t = pd.DataFrame(rows)
print(t.drop(columns="seed").groupby(["space", "arm"]).agg(["mean", "std"]).round(4).to_string())
