# usage: python runs/loop_reference_reach.py docs/benchmarks/loop-300-microstructure.json [more bench loop JSON ...] [--json OUT]
"""Issue 15: how soon does each learned loop reach the SBX/PM loop's HV at the full budget?

`evodesign bench loop` reads AF against the SBX/PM loop as the evaluations that loop needs to
reach the learned loop's final HV; where it never does (microstructures), that is only a
lower bound (">= 1"). This reads it the other way round, per seed: the evaluations each
learned loop needs to reach the SBX/PM loop's HV at the full budget, and that budget over
them; plus paired HV comparisons at 100/200/300 evaluations (one-sided Wilcoxon).

Since session 10 the bench itself reports the reverse reading (``reverse_acceleration_factor``
of each ``ARM_vs_classical``); this script still reads it from the curves of any result,
older ones included, and adds the paired comparisons at 100/200/300."""
import json, sys
import numpy as np
from scipy.stats import wilcoxon

arms = {}
args = sys.argv[1:]
out_path = None
if "--json" in args:
    i = args.index("--json")
    out_path = args[i + 1]
    del args[i:i + 2]
for path in args:
    d = json.load(open(path))
    for space, sp in d["spaces"].items():
        for arm, a in sp["arms"].items():
            if arm != "random":
                arms.setdefault(space, {})[arm] = a["curves"]
out = {}
for space, by_arm in arms.items():
    ref = by_arm["classical"]
    out[space] = {}
    print(f"== {space}")
    for arm, curves in by_arm.items():
        if arm == "classical":
            continue
        row = {"evals_to_classical_final": [], "af_vs_classical_at_its_final": [], "hv_at": {}}
        for c, r in zip(curves, ref):
            target = r[-1][1]
            n_ref = next(n for n, hv in r if hv >= target)  # the SBX/PM loop's first evaluation count at its final HV
            hit = next((n for n, hv in c if hv >= target), None)
            row["evals_to_classical_final"].append(hit)
            row["af_vs_classical_at_its_final"].append(None if hit is None else n_ref / hit)
        for k in (100, 200, 300):
            hv = [dict(map(tuple, c)).get(k) for c in curves]
            hr = [dict(map(tuple, r)).get(k) for r in ref]
            if None in hv or None in hr:
                continue
            diff = np.array(hv) - np.array(hr)
            row["hv_at"][k] = {"median": float(np.median(hv)), "classical_median": float(np.median(hr)),
                               "wins_vs_classical": int((diff > 0).sum()), "ratio_median": float(np.median(np.array(hv) / np.array(hr)))}
        out[space][arm] = row
        print(arm, "evals to SBX/PM's final HV:", row["evals_to_classical_final"], "AF:", row["af_vs_classical_at_its_final"])
        for k, v in row["hv_at"].items():
            print(f"   at {k}: median {v['median']:.4f} vs SBX/PM {v['classical_median']:.4f}, wins {v['wins_vs_classical']}/5, ratio {v['ratio_median']:.3f}")
    for a, b in (("adaptive_measured", "fixed"), ("adaptive", "fixed")):
        if a in by_arm and b in by_arm:
            for k in (100, 200, 300):
                x = [dict(map(tuple, c)).get(k) for c in by_arm[a]]
                y = [dict(map(tuple, c)).get(k) for c in by_arm[b]]
                if None in x or None in y:
                    continue
                d = np.array(x) - np.array(y)
                p = float(wilcoxon(d, alternative="greater").pvalue) if np.any(d) else None
                out[space][f"{a}_vs_{b}_at_{k}"] = {"wins": int((d > 0).sum()), "losses": int((d < 0).sum()), "p": p,
                                                    "median_diff": float(np.median(d))}
                print(f"   {a} vs {b} at {k}: wins {(d>0).sum()} losses {(d<0).sum()} p {p}")
if out_path:
    json.dump(out, open(out_path, "w"), indent=1)
