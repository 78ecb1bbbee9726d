"""The plain-text table and the plots of an ``evodesign bench search`` result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from evodesign.benchmarks.search.protocol import SECONDARY

__all__ = ["format_search_table", "plot_search"]


def _fmt(stat: dict[str, Any], digits: int = 4) -> str:
    if stat.get("median") is None:
        return "-"
    if stat["n"] == 1 or stat["q25"] == stat["q75"]:
        return f"{stat['median']:.{digits}g}"
    return f"{stat['median']:.{digits}g} [{stat['q25']:.{digits}g}, {stat['q75']:.{digits}g}]"


def format_search_table(result: dict[str, Any]) -> str:
    """A plain-text table of the medians [25th, 75th percentile] per arm."""
    cols = [("oracle HV", "hv_oracle", 4), ("surr. HV", "hv_surrogate", 4), ("gap", "optimism_gap", 3),
            ("IGD", "igd", 3), ("redisc.", "rediscovered", 3), ("novel", "novelty_all", 3),
            ("designs", "n_designs", 4), ("evals", "n_evaluations", 5), ("s", "search_s", 3)]
    rows = [["arm", *[c[0] for c in cols], "p(HV vs a)"]]
    for arm, r in result["arms"].items():
        test = r["vs_learned"].get("hv_oracle", {})
        p = test.get("p_value")
        rows.append([arm, *[_fmt(r["summary"][key], d) for _, key, d in cols], "-" if p is None else f"{p:.3g}"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    v = result["verdict"]
    lines.append("")
    lines.append(f"learned / classical oracle HV (medians): {v['hv_ratio_vs_classical']:.3f} (target >= 1.10)")
    if v["hv_ratio_vs_screen"] is not None:
        lines.append(f"learned / screen oracle HV (medians): {v['hv_ratio_vs_screen']:.3f} (target >= 1.10)")
    frac = v["evals_fraction_to_classical_hv"]
    lines.append("learned reaches classical's final HV after " + ("never (median)" if frac is None else f"{frac:.2f}") + " of its evaluations (target <= 0.5)")
    o = result["oracle"]["cv"]
    lines.append("oracle CV: " + "; ".join(f"{t} MAE {m['mae']:.4g} R2 {m['r2']:.3f}" for t, m in o.items()))
    if result.get("parallel"):
        p = result["parallel"]
        lines.append(f"2 seeds in parallel: {p['speedup']:.2f}x faster than one after another ({p['cpus_usable']} CPUs)")
    if result.get("zdt1"):
        z = result["zdt1"]
        lines.append(f"ZDT1 HV per seed: {', '.join(f'{h:.4f}' for h in z['hv'])} (>= {z['target']} in every seed: {z['met']})")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- plots
_COLORS = {"learned": "tab:red", "classical": "tab:blue", "latent_ga": "tab:purple", "screen": "tab:orange",
           "train_best": "black", "random": "tab:green"}


def plot_search(result: dict[str, Any], folder: str | Path, stem: str = "search") -> list[Path]:
    """Draw ``<stem>_hv.png`` (oracle HV vs evaluations per arm) and ``<stem>_fronts.png``
    (the first seed's designs of each arm, oracle-scored, over the oracle front of the full
    data) in ``folder`` from a :func:`run_search_benchmark` result.

    Returns:
        The paths written.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arms = result["arms"]
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    for arm, r in arms.items():
        color = _COLORS.get(arm, None)
        trajectories = [t for t in r["trajectories"] if t]
        label = r["label"]
        if arm == "train_best":
            ax.axhline(r["summary"]["hv_oracle"]["median"], color=color, ls="--", lw=1, label=label)
            continue
        if trajectories and max(len(t) for t in trajectories) > 1:
            n = min(len(t) for t in trajectories)
            E = np.array([[p[0] for p in t[:n]] for t in trajectories], dtype=float)
            H = np.array([[p[1] for p in t[:n]] for t in trajectories], dtype=float)
            x = np.median(E, axis=0)
            if arm in SECONDARY:  # thin lines without bands: context for (a), not arms of their own
                ax.plot(x, np.median(H, axis=0), lw=0.9, ls="--", label=label)
                continue
            ax.plot(x, np.median(H, axis=0), color=color, lw=1.8, label=label)
            ax.fill_between(x, np.quantile(H, 0.25, axis=0), np.quantile(H, 0.75, axis=0), color=color, alpha=0.15, lw=0)
        else:
            s = r["summary"]
            x = s["n_evaluations"]["median"] or 0
            h = s["hv_oracle"]
            ax.errorbar([x], [h["median"]], yerr=[[h["median"] - h["q25"]], [h["q75"] - h["median"]]], fmt="o",
                        color=color, capsize=3, label=label)
    ax.set_xlabel("surrogate evaluations")
    ax.set_ylabel("oracle hypervolume (normalised, ref 1.1)")
    s = result["settings"]
    ax.set_title(f"oracle HV of the front vs evaluations: median and IQR of {s['n_seeds']} seeds", fontsize=10)
    ax.legend(fontsize=6, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    hv_path = folder / f"{stem}_hv.png"
    fig.savefig(hv_path, dpi=110)
    plt.close(fig)

    names = [o["name"] for o in s["objectives"]]
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))] or [(0, 0)]
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.8 * len(pairs), 4.4), squeeze=False)
    ref = np.asarray(result["reference_front"], dtype=float).reshape(-1, len(names))
    true = np.asarray(result.get("true_front", []), dtype=float).reshape(-1, len(names))
    for ax, (i, j) in zip(axes[0], pairs):
        ax.scatter(ref[:, i], ref[:, j], s=8, c="0.7", lw=0, label="oracle front of all data")
        if len(true):
            ax.scatter(true[:, i], true[:, j], s=14, marker="x", c="0.2", lw=0.8, label="held-out true Pareto set")
        for arm, r in arms.items():
            if arm in SECONDARY:
                continue
            F = np.asarray(r["oracle_F_seed0"], dtype=float).reshape(-1, len(names))
            if len(F):
                ax.scatter(F[:, i], F[:, j], s=10, color=_COLORS.get(arm), alpha=0.8, lw=0, label=arm)
        ax.set_xlabel(f"{names[i]} (normalised, 0 = best known)")
        ax.set_ylabel(f"{names[j]} (normalised)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("final designs of seed 0, scored by the oracle (lower-left is better)", fontsize=10)
    fig.tight_layout()
    fronts_path = folder / f"{stem}_fronts.png"
    fig.savefig(fronts_path, dpi=110)
    plt.close(fig)
    return [hv_path, fronts_path]

