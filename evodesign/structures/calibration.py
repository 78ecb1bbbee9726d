"""Calibration of ``verify`` on known compounds: can it tell a real compound?

The same procedure as :func:`evodesign.structures.verify_run` (pyxtal candidates, CHGNet
relaxation, elemental references found the same way) is run on known compounds of the
transport data whose ground-state prototype pymatgen/ase can build: rock salt,
zincblende, wurtzite, fluorite/antifluorite, cubic perovskite and CsCl. For each it
records whether the formation energy found is negative, and how the energy of the
structure found compares with the known prototype relaxed the same way
(``delta = E_found - E_prototype``, eV/atom: > 0 means the random search missed the
ground state by that much; < 0 means it found a structure CHGNet ranks lower).

The lattice constants only start the relaxation (room-temperature experimental values).
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from evodesign.exceptions import EvodesignError

__all__ = ["PROTOTYPES", "format_verify_table", "prototype_structure", "run_verify_calibration"]

#: formula -> (prototype, a [, c]) in Angstrom.
PROTOTYPES: dict[str, tuple[Any, ...]] = {
    "NaCl": ("rocksalt", 5.64), "KCl": ("rocksalt", 6.29), "LiF": ("rocksalt", 4.03),
    "MgO": ("rocksalt", 4.21), "CaO": ("rocksalt", 4.81), "SrO": ("rocksalt", 5.16),
    "NaF": ("rocksalt", 4.63), "CaS": ("rocksalt", 5.69), "KF": ("rocksalt", 5.35),
    "LiCl": ("rocksalt", 5.13),
    "GaAs": ("zincblende", 5.65), "ZnS": ("zincblende", 5.41), "ZnSe": ("zincblende", 5.67),
    "InP": ("zincblende", 5.87), "GaP": ("zincblende", 5.45), "AlP": ("zincblende", 5.46),
    "InAs": ("zincblende", 6.06),
    "ZnO": ("wurtzite", 3.25, 5.21), "GaN": ("wurtzite", 3.19, 5.19), "AlN": ("wurtzite", 3.11, 4.98),
    "CaF2": ("fluorite", 5.46), "SrF2": ("fluorite", 5.80), "Li2O": ("antifluorite", 4.61),
    "Na2O": ("antifluorite", 5.55), "Li2S": ("antifluorite", 5.71), "Mg2Si": ("antifluorite", 6.35),
    "SrTiO3": ("perovskite", 3.905), "BaTiO3": ("perovskite", 4.00), "KMgF3": ("perovskite", 3.99),
    "BaZrO3": ("perovskite", 4.19),
    "CsCl": ("cesiumchloride", 4.12), "CsBr": ("cesiumchloride", 4.29),
    "NaBr": ("rocksalt", 5.97), "KBr": ("rocksalt", 6.60), "BaO": ("rocksalt", 5.52),
    "SrS": ("rocksalt", 6.02), "CaSe": ("rocksalt", 5.92), "ScN": ("rocksalt", 4.50),
    "AlAs": ("zincblende", 5.66), "GaSb": ("zincblende", 6.10), "ZnTe": ("zincblende", 6.10),
    "CuCl": ("zincblende", 5.41), "SiC": ("zincblende", 4.36),
    "InN": ("wurtzite", 3.54, 5.70), "BeO": ("wurtzite", 2.70, 4.38),
    "BaF2": ("fluorite", 6.20), "K2O": ("antifluorite", 6.44), "Na2S": ("antifluorite", 6.54),
    "KTaO3": ("perovskite", 3.99), "CsI": ("cesiumchloride", 4.57),
}


def prototype_structure(formula: str) -> Any:
    """The known prototype crystal of ``formula`` (a pymatgen Structure)."""
    from ase.build import bulk
    from pymatgen.core import Composition, Lattice, Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    kind, a, *rest = PROTOTYPES[formula]
    symbols = [el.symbol for el in Composition(formula).elements]
    counts = Composition(formula)
    if kind == "perovskite":
        # A is the larger, more electropositive cation: first in pymatgen's formula order
        order = [s for s in Composition(formula).formula.split() if s]
        cations = [s.rstrip("0123456789") for s in order if s.rstrip("0123456789") not in ("O", "F")]
        anion = "O" if "O" in symbols else "F"
        return Structure.from_spacegroup(
            "Pm-3m", Lattice.cubic(a), [cations[0], cations[1], anion],
            [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]],
        )
    if kind == "antifluorite":
        # ase's fluorite puts the first symbol on the fcc site: the anion here.
        metal = next(s for s in symbols if counts[s] == 2)
        other = next(s for s in symbols if s != metal)
        atoms = bulk(f"{other}{metal}2", "fluorite", a=a)
    elif kind == "fluorite":
        metal = next(s for s in symbols if counts[s] == 1)
        other = next(s for s in symbols if s != metal)
        atoms = bulk(f"{metal}{other}2", "fluorite", a=a)
    elif kind == "wurtzite":
        atoms = bulk(formula, "wurtzite", a=a, c=rest[0])
    else:
        atoms = bulk(formula, kind, a=a)
    structure = AseAtomsAdaptor.get_structure(atoms)
    if structure.composition.reduced_formula != Composition(formula).reduced_formula:
        raise EvodesignError(f"prototype of {formula} came out as {structure.composition.reduced_formula}")
    return structure


def _relax_prototype(formula: str, steps: int, fmax: float) -> dict[str, Any]:
    from evodesign.structures.relaxation import relax

    relaxed = relax(prototype_structure(formula), steps, fmax)
    return {"energy_per_atom": relaxed.energy_per_atom, "n_atoms": len(relaxed.structure)}


def run_verify_calibration(
    out: str | Path = "runs/output/verify-calibration",
    formulas: list[str] | None = None,
    n_jobs: int = 2,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Run ``verify`` on known compounds and compare with their known prototypes.

    Args:
        out: scratch run folder (a ``pareto.csv`` of the compounds is written there; its
            ``structures/`` keeps CIFs, records and elemental references, so a re-run
            reuses them).
        formulas: compounds (keys of :data:`PROTOTYPES`); default all of them that are in
            the transport data.
        n_jobs: worker processes.
        seed: seed of the candidate structures.
        progress: called with progress lines.
        **settings: overrides of :class:`~evodesign.structures.VerifySettings` fields.

    Returns:
        The benchmark record (``compounds``, ``summary``, ``settings``, timings).
    """
    import pandas as pd
    from pymatgen.core import Composition

    from evodesign.campaign.checkpoint import atomic_write_text
    from evodesign.datasets import load_dataset
    from evodesign.structures.verify import VerifySettings, settings_dict, verify_run
    from evodesign.structures.workers import WorkerPool

    known = set(load_dataset("transport").formulas)
    if formulas is None:
        formulas = [f for f in PROTOTYPES if Composition(f).reduced_formula in known]
    unknown = [f for f in formulas if f not in PROTOTYPES]
    if unknown:
        raise EvodesignError(f"no prototype for {', '.join(unknown)}; known: {', '.join(PROTOTYPES)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "pareto.csv", pd.DataFrame({"formula": formulas}).to_csv(index=False))
    atomic_write_text(out / "manifest.json", json.dumps({"seed": seed}))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    start = time.perf_counter()
    table = verify_run(out, top=len(formulas), n_jobs=n_jobs, progress=progress, **settings)
    verify_s = time.perf_counter() - start
    full = VerifySettings(**{k: (tuple(v) if k == "space_groups" else v) for k, v in settings.items()})
    pool = WorkerPool()
    prototypes: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    try:
        from joblib import Parallel, delayed

        def one(formula: str) -> None:
            kind, value = pool.call(_relax_prototype, (formula, full.relax_steps, full.fmax), full.timeout_s)
            prototypes[formula] = value if kind == "ok" else {"error": f"{kind}: {value}"}

        Parallel(n_jobs=n_jobs, backend="threading")(delayed(one)(f) for f in formulas)
    finally:
        pool.close()
    prototype_s = time.perf_counter() - start
    records = json.loads((out / "structures" / "verify_status.json").read_text())["records"]
    rows = []
    for formula, row in zip(formulas, table.to_dict("records")):
        name = Composition(formula).reduced_formula
        record = records.get(name, {})
        proto = prototypes.get(formula, {})
        e_found = record.get("energy_per_atom")
        e_proto = proto.get("energy_per_atom")
        rows.append({
            "formula": formula,
            "prototype": PROTOTYPES[formula][0],
            "status": row["verify_status"],
            "spacegroup_found": row["spacegroup"],
            "e_form_chgnet": float(row["e_form_chgnet"]) if row["e_form_chgnet"] else None,
            "energy_found": e_found,
            "energy_prototype": e_proto,
            "delta": (e_found - e_proto) if e_found is not None and e_proto is not None else None,
            "prototype_error": proto.get("error"),
            "seconds": record.get("seconds"),
        })
    return {
        "benchmark": "verify",
        "compounds": rows,
        "summary": _summary(rows),
        "settings": settings_dict(full) | {"n_jobs": n_jobs, "seed": seed},
        "timings": {"verify_s": verify_s, "prototype_s": prototype_s},
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "load_1min_at_start": load},
    }


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if r["status"] == "ok"]
    e_form = np.array([r["e_form_chgnet"] for r in ok if r["e_form_chgnet"] is not None])
    delta = np.array([r["delta"] for r in rows if r["delta"] is not None])
    return {
        "n_compounds": len(rows),
        "n_ok": len(ok),
        "n_e_form_negative": int((e_form < 0).sum()),
        "fraction_e_form_negative": float((e_form < 0).mean()) if len(e_form) else None,
        "n_delta": int(len(delta)),
        "median_delta": float(np.median(delta)) if len(delta) else None,
        "fraction_within_0.05": float((delta <= 0.05).mean()) if len(delta) else None,
        "fraction_within_0.2": float((delta <= 0.2).mean()) if len(delta) else None,
        "max_delta": float(delta.max()) if len(delta) else None,
    }


def format_verify_table(result: dict[str, Any]) -> str:
    """A plain-text table of a calibration record."""
    lines = [f"{'formula':<8} {'prototype':<14} {'status':<14} {'found':<10} {'E_form':>8} {'delta':>8}"]
    for r in result["compounds"]:
        e = "" if r["e_form_chgnet"] is None else f"{r['e_form_chgnet']:.3f}"
        d = "" if r["delta"] is None else f"{r['delta']:+.3f}"
        lines.append(f"{r['formula']:<8} {r['prototype']:<14} {r['status']:<14} {r['spacegroup_found'] or '':<10} {e:>8} {d:>8}")
    s = result["summary"]
    lines.append(
        f"E_form < 0: {s['n_e_form_negative']}/{s['n_ok']}; found within 0.05 eV/atom of the prototype: "
        f"{s['fraction_within_0.05']}; median delta {s['median_delta']}"
    )
    return "\n".join(lines)
