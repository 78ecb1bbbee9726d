"""Compare a run's front with the saved seed-0 front of the default campaign.

The fixture tests/data/thermoelectric_seed0_front_v8.txt holds the formulas of
``evodesign run runs/thermoelectric.toml --seed 0`` (with ``[verify] after_run = false``)
as of session 8: 89 formulas, final hypervolume 1.0361183913827725. A change that keeps behaviour keeps
these formulas on the machine that wrote them (networks retrained on another CPU differ: in
session 11, on another machine, the same code gave 117 formulas with none in common, so
there compare against a front written on that machine first). Earlier fronts:
``thermoelectric_seed0_front_v7.txt`` (113 formulas, HV 1.0397459776889588, sessions 6-7)
is the front before the deep ensemble clipped its inputs to the training range (the same
weights; the std calibration on the validation rows moved, 1.1015 -> 1.0983 for
log10_PF_p, and the search took another path); ``thermoelectric_seed0_front.txt`` is the
front from before issue 13, when the search re-encoded every parent (the latent-code policy
"none" of :mod:`evodesign.search.mating` still reproduces it; the default "mean" does not).

Usage::

    evodesign run runs/thermoelectric.toml --seed 0 --out /tmp/front
    python runs/regression_front.py /tmp/front/thermoelectric/seed0
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "thermoelectric_seed0_front_v8.txt"


def main(run_dir: str) -> int:
    table = Path(run_dir) / "pareto.csv"
    with table.open(newline="", encoding="utf-8") as handle:
        now = {row["formula"] for row in csv.DictReader(handle)}
    before = set(FIXTURE.read_text(encoding="utf-8").split())
    same = now & before
    print(f"front now: {len(now)} formulas; saved: {len(before)}; in both: {len(same)} "
          f"(Jaccard {len(same) / len(now | before):.3f})")
    for label, names in (("only now", now - before), ("only saved", before - now)):
        if names:
            print(f"{label} ({len(names)}): {', '.join(sorted(names))}")
    return 0 if now == before else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
