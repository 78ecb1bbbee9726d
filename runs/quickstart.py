"""Quick start: surrogate-guided screening of new p-type thermoelectric compositions.

An end-to-end job on the foundation layer (until the NSGA-II campaign lands):

1. load the ab initio transport data set that ships inside matminer (offline);
2. train a deep-ensemble PropertyModel for log10 power factor and Seebeck coefficient
   (cached under runs/output/models/, keyed by the data hash);
3. draw random compositions over the data's elements (no noble gases, no elements
   heavier than Bi that are radioactive), decode them into integer formulas (<= 4
   elements, <= 20 atoms per formula unit), drop the known ones;
4. screen: keep the charge-neutral, electronegativity-balanced ones (SMACT, strict) whose
   predictions the surrogate trusts (std no larger than its 90th percentile on known
   compounds);
5. keep the non-dominated set of (max log10 PF_p, max S_p) and write candidates.csv + a
   plot to runs/output/quickstart/<run-id>/.

Run it with ``make run`` (or ``.venv/bin/python runs/quickstart.py --help``).
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from evodesign.chemistry import SmactValidity
from evodesign.datasets import load_dataset
from evodesign.exceptions import ArtifactError
from evodesign.representation import CompositionSpace
from evodesign.surrogates import DeepEnsembleRegressor, PropertyModel, data_hash

TARGETS = ("log10_PF_p", "S_p")
# Noble gases and radioactive elements: present in the data as rare entries, not design targets.
EXCLUDED = {"He", "Ne", "Ar", "Kr", "Xe", "Rn", "Tc", "Pm", "Po", "At", "Fr", "Ra", "Ac",
            "Th", "Pa", "U", "Np", "Pu"}
OUTPUT = Path(__file__).resolve().parent / "output"


def pareto_mask(F: np.ndarray) -> np.ndarray:
    """Non-dominated rows of `(n, n_obj)` objectives to minimise (pymoo's fast sorting)."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    front = NonDominatedSorting().do(F, only_non_dominated_front=True)
    mask = np.zeros(len(F), dtype=bool)
    mask[front] = True
    return mask


def train_or_load(space: CompositionSpace, X: np.ndarray, Y: np.ndarray, seed: int) -> PropertyModel:
    path = OUTPUT / "models" / f"quickstart-{data_hash(X, Y)[:16]}-seed{seed}"
    try:
        model = PropertyModel.load(path, elements=space.elements, targets=TARGETS)
        print(f"loaded cached surrogates from {path}.json")
        return model
    except ArtifactError as err:
        if path.with_suffix(".json").exists():
            print(f"not using {path}.json: {err}")
    print(f"training a 5-member deep ensemble on {len(X)} formulas ...")
    start = time.perf_counter()
    model = PropertyModel(
        space.elements, TARGETS, estimator=DeepEnsembleRegressor(random_state=seed, verbose=True)
    ).fit(X, Y)
    print(f"trained in {time.perf_counter() - start:.0f} s")
    model.save(path, overwrite=True)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-candidates", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=None, help="run folder (must not exist)")
    args = parser.parse_args()

    rng = np.random.default_rng(np.random.SeedSequence(args.seed))
    data = load_dataset("transport")
    space = CompositionSpace(data.elements, max_atoms=20, max_elements=4)
    X = space.to_vectors(data.compositions)
    Y = data.frame[list(TARGETS)].to_numpy(dtype=np.float64)
    model = train_or_load(space, X, Y, args.seed)

    # Random sparse compositions: 2-4 elements with Dirichlet fractions.
    n = args.n_candidates
    start = time.perf_counter()
    raw = space.random_vectors(n, rng, min_elements=2, exclude=EXCLUDED)
    counts = space.decode(raw)
    ids = space.row_ids(counts)
    _, first = np.unique(ids, return_index=True)
    first = np.sort(first)
    counts = counts[first[~np.isin(ids[first], space.row_ids(space.decode(X)))]]
    n_novel = len(counts)
    mean, std = model.predict(space.fractions(counts))
    seconds = time.perf_counter() - start
    print(
        f"{n} random compositions -> {n_novel} novel unique formulas, decoded and scored in "
        f"{seconds:.1f} s ({n_novel / seconds:,.0f} per s)"
    )
    _, known_std = model.predict(X)
    trusted = (std <= np.quantile(known_std, 0.9, axis=0)).all(axis=1)
    valid = SmactValidity(space.elements)(counts)
    keep = trusted & valid
    print(
        f"screening: {valid.sum()} charge-neutral and electronegativity-balanced (SMACT), "
        f"{trusted.sum()} trusted by the surrogate, {keep.sum()} both"
    )
    counts, mean, std = counts[keep], mean[keep], std[keep]

    front = pareto_mask(-mean)
    formulas = np.asarray(space.formulas(counts[front]))
    table = pd.DataFrame(
        {
            "formula": formulas,
            "log10_PF_p_mean": mean[front, 0],
            "log10_PF_p_std": std[front, 0],
            "S_p_mean": mean[front, 1],
            "S_p_std": std[front, 1],
        }
    ).sort_values("log10_PF_p_mean", ascending=False)

    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + f"-seed{args.seed}"
    out = args.out or OUTPUT / "quickstart" / run_id
    if out.exists():
        raise SystemExit(f"{out} already exists; choose another --out (nothing was written)")
    out.mkdir(parents=True)
    table.to_csv(out / "candidates.csv", index=False)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(Y[:, 0], Y[:, 1], s=2, c="0.8", label="known (transport data)", rasterized=True)
    ax.errorbar(
        table["log10_PF_p_mean"], table["S_p_mean"],
        xerr=table["log10_PF_p_std"], yerr=table["S_p_std"],
        fmt="o", ms=4, color="C3", ecolor="C3", alpha=0.7, label="predicted front (+/- 1 std)",
    )
    ax.set_xlabel("log10 PF_p  [uW / (cm K^2)]")
    ax.set_ylabel("S_p  [uV / K]")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Surrogate-screened novel compositions")
    fig.tight_layout()
    fig.savefig(out / "front.png", dpi=150)

    print(table.head(15).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"wrote {out / 'candidates.csv'} ({len(table)} non-dominated formulas) and front.png")


if __name__ == "__main__":
    main()
