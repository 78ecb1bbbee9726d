"""The table, the HV-vs-evaluations plot and the docs/benchmarks.md section of ``bench loop``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["format_loop_table", "loop_section", "loop_variant_sections", "plot_loop"]

_SHORT = {"adaptive": "adaptive", "fixed": "fixed", "classical": "SBX/PM", "one_shot": "one-shot", "random": "random",
          "adaptive_measured": "measured"}


def _num(x: Any, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _factor(f: dict[str, Any]) -> str:
    """A factor's median over seeds, with ``>=`` when most seeds give a lower bound."""
    if f["median"] is None:
        return "-"
    bound = f["n_lower_bounds"] * 2 >= max(f["n"], 1) and f["n_lower_bounds"] > 0
    return f"{'>=' if bound else ''}{f['median']:.2f} ({f['n_lower_bounds']}/{len(f['per_seed'])} bounds)"


def _space_lines(name: str, r: dict[str, Any]) -> list[str]:
    budget = r["budget"]
    lines = [f"{name}: {budget} lab evaluations per arm and seed (B = {r['settings']['batch']}, "
             f"R = {r['settings']['rounds']}); random acquisition drew up to {r['random_budget']}"]
    top = any("top_found_at_budget" in a for a in r["arms"].values())
    head = f"  {'arm':<10} {'median HV':>10} {'IQR':>17} {'AF vs random':>22} {'EF vs random':>13}"
    lines.append(head + (f" {'top-1% found':>13}" if top else ""))
    for arm, a in r["arms"].items():
        s = a["summary"]
        iqr = f"{_num(s['q25'])}-{_num(s['q75'])}"
        f = r["factors"].get(f"{arm}_vs_random")
        af = _factor(f["acceleration_factor"]) if f else ""
        ef = _num(f["enhancement_factor"]["median"], 2) if f else ""
        row = f"  {_SHORT[arm]:<10} {_num(s['median']):>10} {iqr:>17} {af:>22} {ef:>13}"
        if top:
            row += f" {_num(a['top_found_at_budget']['median'], 1):>13}"
        lines.append(row)
    for arm in ("adaptive", "fixed", "adaptive_measured"):
        f = r["factors"].get(f"{arm}_vs_classical")
        if f:
            line = (f"  {arm} vs SBX/PM loop: AF {_factor(f['acceleration_factor'])}, "
                    f"EF {_num(f['enhancement_factor']['median'], 2)}")
            rev = f.get("reverse_acceleration_factor")  # absent in results of older versions
            if rev:
                reached = [x["loop_evals"] for x in rev["per_seed"]]
                never = " (None: not within the budget)" if None in reached else ""
                line += (f"; reaches the SBX/PM loop's HV at the budget after {reached} evaluations{never}, "
                         f"AF read that way {_num(rev['median'], 2)}")
            lines.append(line)
    for pair, t in r["tests"].items():
        if pair not in ("adaptive_vs_fixed", "adaptive_vs_classical"):  # those two: below, with the verdict
            a, b = pair.split("_vs_")
            lines.append(f"  {_SHORT[a]} vs {_SHORT[b]}: {t['wins']} wins / {t['losses']} losses of {t['n']} seeds, "
                         f"one-sided Wilcoxon p = {_num(t['p_one_sided_greater'])}")
    v = r["verdict"]
    if v is None:  # not every arm of the protocol ran
        return lines
    t = r["tests"]["adaptive_vs_fixed"]
    lines.append(f"  adaptive vs fixed generators: {t['wins']} wins / {t['losses']} losses of {t['n']} seeds, "
                 f"one-sided Wilcoxon p = {_num(t['p_one_sided_greater'])}; adaptation active in every adaptive run: "
                 f"{v['adaptation_active']} (rounds adapted per seed {v['adapted_rounds_per_seed']})")
    lines.append(f"  targets: AF vs random >= 6: {v['af_vs_random_reached']}; >= 1.10x SBX/PM HV or AF >= 1.5: "
                 f"{v['vs_classical_reached']}; adaptive better than fixed (p < 0.05): {v['adaptive_better_than_fixed']}")
    return lines


def format_loop_table(result: dict[str, Any]) -> str:
    """The printed summary of a ``bench loop`` result."""
    lines = [f"bench loop ({result['protocol']} protocol{': ' + '; '.join(result['reduced']) if result['reduced'] else ''}), "
             f"{result['settings']['n_seeds']} seeds"]
    for name, r in result["spaces"].items():
        lines += [""] + _space_lines(name, r)
    return "\n".join(lines)


def plot_loop(result: dict[str, Any], path: str | Path) -> Path:
    """HV vs lab evaluations, one panel per space: each arm's median over seeds (the band:
    min to max), random acquisition also beyond the budget (dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    spaces = result["spaces"]
    fig, axes = plt.subplots(1, len(spaces), figsize=(6 * len(spaces), 4.2), squeeze=False)
    for ax, (name, r) in zip(axes[0], spaces.items()):
        budget = r["budget"]
        for arm, a in r["arms"].items():
            curves = [c for c in a["curves"] if c]
            if not curves:
                continue
            n = min(len(c) for c in curves)
            x = np.array([p[0] for p in curves[0][:n]])
            y = np.array([[p[1] for p in c[:n]] for c in curves])
            inside = x <= budget
            marker = "o" if arm == "one_shot" else None
            line = ax.plot(x[inside], np.median(y, axis=0)[inside], marker=marker, label=_SHORT[arm])[0]
            ax.fill_between(x[inside], y.min(axis=0)[inside], y.max(axis=0)[inside], alpha=0.15,
                            color=line.get_color())
            if (~inside).any():
                ax.plot(x[x >= budget], np.median(y, axis=0)[x >= budget], ls="--", color=line.get_color())
        ax.axvline(budget, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("lab evaluations")
        ax.set_ylabel("HV of measured designs (lab values)")
        ax.set_title(f"{name}: median of {result['settings']['n_seeds']} seeds")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _loop_seconds(result: dict[str, Any]) -> float:
    """Search + measure + update seconds of every loop run (from their rounds.csv): what
    the loops cost, also when this call only resumed finished loops."""
    return sum(run.get(k, 0.0) for r in result["spaces"].values() for a in r["arms"].values() for run in a["runs"]
               for k in ("search_s", "evaluate_s", "update_s"))


def loop_section(result: dict[str, Any], heading: str = "## Closed loop (issue 15)") -> list[str]:
    """Markdown lines for docs/benchmarks.md."""
    lines = [heading, "", f"Command: `{result.get('command', 'evodesign bench loop --json docs/benchmarks/loop.json')}` "
             f"({result['protocol']} protocol{': ' + '; '.join(result['reduced']) if result['reduced'] else ''}; "
             f"{result['wall_s'] / 60:.0f} min for this call on {result['environment']['cpus']} CPUs; the loops' own "
             f"search + measure + update time, resumed or not: {_loop_seconds(result) / 60:.0f} min)", ""]
    lines += ["Arms: " + "; ".join(result["arm_labels"].values()) + ".", "",
              f"HV: {result['hv']}.", ""]
    for name, r in result["spaces"].items():
        lines += [f"### {name}", "", "```", *_space_lines(name, r), "```", ""]
    for figure in result.get("figures", []):
        lines += [f"![HV vs lab evaluations](benchmarks/{figure})", ""]
    return lines


def loop_variant_sections(folder: str | Path) -> list[str]:
    """A subsection per ``loop-*.json`` in ``folder`` (runs of one space, reduced protocols),
    shown after ``loop.json``'s section."""
    import json

    lines: list[str] = []
    for path in sorted(Path(folder).glob("loop-*.json")):
        lines += loop_section(json.loads(path.read_text()), heading=f"### Closed loop: `{path.name}`")
    return lines
