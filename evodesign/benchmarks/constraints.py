"""``evodesign bench constraints``: how many known compounds each plausibility rule rejects.

Each rule of the default thermoelectric campaign (``runs/thermoelectric.toml``) is applied
to the known compounds of its data set (the transport data, one row per reduced formula),
as it would be applied to a design:

* ``min_elements``: at least ``[space] min_elements`` distinct elements;
* ``max_elements`` / ``max_atoms``: at most ``[space] max_elements`` elements and
  ``max_atoms`` atoms per reduced integer formula unit;
* ``not_only_nonmetals``: at least one metal or metalloid (unless ``molecular = true``);
* ``range_<property>``: every ``[constraints.ranges]`` window, on the data set's own
  values (a known compound has no prediction: its value is taken as the mean, std 0, so
  the confidence plays no part).

* ``charge_balance``: SMACT validity with the campaign's oxidation states (and, when
  ``oxidation_state_min_share`` narrows them, SMACT's default set for comparison, not
  counted in the union).

The other constraints (novelty, element filter, surrogate trust) are not plausibility
rules and are left out; the table ends with the union of the rules listed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["format_constraints_table", "run_constraints_benchmark"]

_EXAMPLES = 6


def run_constraints_benchmark(
    config: str | Path = "runs/thermoelectric.toml", max_rows: int | None = None, seed: int = 0
) -> dict[str, Any]:
    """Count the known compounds that each plausibility rule of a campaign rejects.

    Args:
        config: the campaign file whose rules and data set are measured.
        max_rows: if set, a seeded subsample of this many formulas (smoke tests).
        seed: seed of that subsample.

    Returns:
        A JSON-ready dict: ``config``, ``dataset``, ``n_known`` (formulas measured), ``rules``
        (one dict per rule: ``rule``, ``description``, ``n_rejected``, ``percent``,
        ``examples`` -- the most common kinds first, as reduced formulas), ``any`` (the
        union), ``seconds`` and ``command``.
    """
    from evodesign.campaign import CampaignConfig
    from evodesign.campaign.assembly import analytic_functions
    from evodesign.campaign.models import resolve_dataset
    from evodesign.constraints import (
        DesignBatch,
        MaxAtoms,
        MaxElements,
        MinElements,
        NotOnlyNonmetals,
        ChargeBalance,
        PropertyWindow,
        known_formula_counts,
    )
    from evodesign.objectives import analytic_property_names
    from evodesign.representation import CompositionSpace

    start = time.perf_counter()
    path = Path(config)
    cfg = CampaignConfig.from_toml(path)
    data = resolve_dataset(cfg.campaign.dataset, path.parent, cfg.campaign.formula_column)
    frame = data.frame
    if max_rows is not None and max_rows < len(frame):
        rows = np.sort(np.random.default_rng(seed).choice(len(frame), max_rows, replace=False))
        frame = frame.iloc[rows].reset_index(drop=True)
    # every element of the data, no max_elements cut: the rules themselves measure that
    space = CompositionSpace(data.elements, max_atoms=10**6, max_elements=len(data.elements))
    counts, index = known_formula_counts(space, list(frame["formula"]))
    frame = frame.iloc[index].reset_index(drop=True)
    batch = DesignBatch.of(counts)
    formulas = np.asarray(frame["formula"], dtype=object)
    n_elements = (counts > 0).sum(axis=1)

    rules: list[Any] = [MinElements(cfg.space.min_elements)] if cfg.space.min_elements > 1 else []
    rules += [MaxElements(cfg.space.max_elements), MaxAtoms(cfg.space.max_atoms)]
    if not cfg.constraints.molecular:
        rules.append(NotOnlyNonmetals(space))
    analytic_names = analytic_property_names(space.kind)
    for name, (low, high) in cfg.constraints.ranges.items():
        if name in analytic_names:
            analytic = analytic_functions([name], space)[name]
            rules.append(PropertyWindow(name, low, high, analytic=analytic))
        else:
            values = frame[name].to_numpy(dtype=np.float64)
            batch = DesignBatch(batch.designs, {**batch.mean, name: values},
                                {**batch.std, name: np.zeros(len(values))})
            rules.append(PropertyWindow(name, low, high, confidence=cfg.constraints.range_confidence))

    reference = None
    if cfg.constraints.charge_balance != "off":
        share = cfg.constraints.oxidation_state_min_share
        rules.append(ChargeBalance(space, mode=cfg.constraints.charge_balance, min_state_share=share))
        if share > 0:
            reference = ChargeBalance(space, mode=cfg.constraints.charge_balance)

    n = len(batch)
    rejected_any = np.zeros(n, dtype=bool)
    out_rules = []
    for rule in rules:
        rejected = rule(batch)[:, 0] > 0
        if isinstance(rule, PropertyWindow) and rule.analytic is None:
            rejected &= np.isfinite(batch.mean[rule.property])  # no value: not measured
        rejected_any |= rejected
        out_rules.append(_row(rule.name, rule.describe(), rejected, formulas, n, n_elements))
    if reference is not None:
        rejected = reference(batch)[:, 0] > 0
        row = _row("charge_balance_all_states", reference.describe() + " (all SMACT states; for comparison)",
                   rejected, formulas, n, n_elements)
        out_rules.append(row)
    result: dict[str, Any] = {
        "config": str(path),
        "dataset": cfg.campaign.dataset,
        "n_known": int(n),
        "rules": out_rules,
        "any": _row("any", "rejected by at least one rule above", rejected_any, formulas, n, n_elements),
        "seconds": round(time.perf_counter() - start, 2),
        "command": " ".join(["evodesign", *sys.argv[1:]]) if sys.argv[1:2] == ["bench"] else
        "evodesign bench constraints",
    }
    return result


def _row(
    rule: str, description: str, rejected: np.ndarray, formulas: np.ndarray, n: int, n_elements: np.ndarray
) -> dict[str, Any]:
    picked, n_el = formulas[rejected], n_elements[rejected]
    # compounds before single elements (unless the rule is about those), then short
    # formulas first: the recognisable ones (CO2, NF3) before the long tail
    single_last = rule != "min_elements"
    order = sorted(
        range(len(picked)),
        key=lambda i: (single_last and n_el[i] < 2, len(str(picked[i])), str(picked[i])),
    )
    return {
        "rule": rule,
        "description": description,
        "n_rejected": int(rejected.sum()),
        "percent": round(100.0 * float(rejected.sum()) / max(n, 1), 2),
        "examples": [str(picked[i]) for i in order[:_EXAMPLES]],
    }


def format_constraints_table(result: dict[str, Any]) -> Table:
    """A rich table of :func:`run_constraints_benchmark`'s result."""
    from rich.table import Table

    table = Table(
        title=f"Known compounds rejected per rule, {result['config']} "
        f"({result['dataset']}, {result['n_known']:,} formulas)"
    )
    table.add_column("rule", no_wrap=True)
    table.add_column("rejected", justify="right", no_wrap=True)
    table.add_column("%", justify="right", no_wrap=True)
    table.add_column("examples")
    for row in [*result["rules"], result["any"]]:
        table.add_row(row["rule"], f"{row['n_rejected']:,}", f"{row['percent']:.1f}",
                      ", ".join(row["examples"]))
    table.caption = "; ".join(f"{r['rule']}: {r['description']}" for r in result["rules"])
    return table
