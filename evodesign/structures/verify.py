"""Verify a run's designs: candidate crystals, CHGNet relaxation, formation energy, hull.

For each of the top-K formulas of a run folder's ``pareto.csv`` (the first K rows: the
campaign writes the front sorted by its first objective, best first):

1. pyxtal draws ``2 * n_structures`` random symmetric crystals over common space groups
   and formula units per cell (at most ``max_atoms`` atoms), seeded from the run's
   SeedSequence (``manifest.json``) and the formula, so the result does not depend on
   ``top``, ``n_jobs`` or the order of work;
2. CHGNet scores them in one batch, the ``n_structures`` lowest are relaxed (positions and
   cell, at most ``relax_steps`` FIRE steps) and the lowest-energy result is kept;
3. the formation energy per atom is taken against elemental references found the same way
   (prototypes + random crystals, relaxed with the same settings, cached in
   ``structures/elements.json``), and the energy above the convex hull of the phases
   built with the same model for that chemical system: its elements and every verified
   design of the run within it (a lower bound on the distance to the true hull, which
   has more competing phases).

Each composition runs in a worker process (one torch thread each; ``n_jobs`` of them,
driven by joblib threads) with a time limit: a worker past ``timeout_s`` is killed and
the composition gets a ``timed_out`` row. Outcomes (``verify_status``):

* ``ok``: a structure, ``structures/<reduced formula>.cif``, its energies;
* ``too_many_atoms``: the formula unit has more than ``max_atoms`` atoms;
* ``no_structure``: pyxtal cannot place it in any space group tried;
* ``failed``: CHGNet or the worker failed (the reason says how);
* ``timed_out``: past ``timeout_s``; retried by the next ``verify``.

Every other outcome is final: the records live in ``structures/verify_status.json`` and a
re-run skips them unless the settings that shape the result changed.

``pareto.csv`` is rewritten atomically with every existing column kept as it was and the
columns ``e_form_chgnet``, ``e_above_hull_chgnet`` (eV/atom), ``spacegroup``,
``n_atoms_cell``, ``verify_status`` and ``verify_reason`` (empty for rows not verified).
With ``max_e_form`` or ``max_e_above_hull`` set (``[verify]`` in the run's config, or
arguments), a ``verify_pass`` column says whether a verified design meets them and
``pareto_verified.csv`` holds only the designs that pass: the screening constraint applied
to structures.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from evodesign.campaign.checkpoint import atomic_write_text
from evodesign.exceptions import EvodesignError
from evodesign.structures.generation import COMMON_SPACE_GROUPS
from evodesign.structures.workers import WorkerPool

__all__ = [
    "NEW_COLUMNS",
    "VerifyError",
    "VerifySettings",
    "reference_element",
    "verify_composition",
    "verify_run",
]

NEW_COLUMNS = (
    "e_form_chgnet",
    "e_above_hull_chgnet",
    "spacegroup",
    "n_atoms_cell",
    "verify_status",
    "verify_reason",
)
STATUS_FILE = "verify_status.json"
ELEMENTS_FILE = "elements.json"
FINAL = ("ok", "too_many_atoms", "no_structure", "failed")
#: Bumped when candidate generation or relaxation changes, so stored results are redone.
PROCEDURE_VERSION = 2
# Fixed key that separates the verify stream from the search's draws of the same seed.
_VERIFY_STREAM = 0x5645


class VerifyError(EvodesignError, ValueError):
    """A run folder that cannot be verified: the message names the folder, file and column."""


@dataclass(frozen=True)
class VerifySettings:
    """What shapes a verification (the defaults of ``[verify]``).

    Attributes:
        n_structures: candidates relaxed per composition (twice as many are drawn and
            scored in one CHGNet batch first).
        relax_steps: most FIRE steps per relaxation.
        max_atoms: most atoms per cell.
        fmax: force convergence, eV/Angstrom.
        timeout_s: seconds per composition before its worker is killed.
        space_groups: space-group numbers pyxtal tries.
        max_e_form: screening bound on the formation energy, eV/atom (None: off).
        max_e_above_hull: screening bound on the energy above the hull, eV/atom.
    """

    n_structures: int = 3
    relax_steps: int = 50
    max_atoms: int = 24
    fmax: float = 0.1
    timeout_s: float = 180.0
    space_groups: tuple[int, ...] = field(default=COMMON_SPACE_GROUPS)
    max_e_form: float | None = None
    max_e_above_hull: float | None = None

    def key(self) -> str:
        """Hash of the settings that change a composition's result (not the time limit
        or the screening bounds)."""
        return _digest(self._relaxation() | {"max_atoms": self.max_atoms, "space_groups": list(self.space_groups)})

    def reference_key(self) -> str:
        """Hash of the settings that change an elemental reference."""
        return _digest(self._relaxation())

    def _relaxation(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {
            "n_structures": self.n_structures, "relax_steps": self.relax_steps, "fmax": self.fmax,
            "chgnet": version("chgnet"), "pyxtal": version("pyxtal"), "procedure": PROCEDURE_VERSION,
        }


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _rng(entropy: int, spawn_key: tuple[int, ...], name: str) -> np.random.Generator:
    stream = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng(
        np.random.SeedSequence(entropy, spawn_key=(*spawn_key, _VERIFY_STREAM, stream))
    )


def _spacegroup(structure: Any) -> tuple[str, int]:
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        sga = SpacegroupAnalyzer(structure, symprec=0.1)
        return sga.get_space_group_symbol(), int(sga.get_space_group_number())
    except Exception:  # spglib can fail on distorted cells
        return "P1", 1


# ----------------------------------------------------------------------------- worker tasks


def verify_composition(
    formula: str, settings: VerifySettings, entropy: int, spawn_key: tuple[int, ...] = ()
) -> dict[str, Any]:
    """Find the lowest-energy structure of one composition (runs in a worker process).

    Args:
        formula: the composition.
        settings: budgets.
        entropy, spawn_key: the run's SeedSequence; the formula picks the stream.

    Returns:
        A record: ``status``, ``reason`` and, when ``ok``, ``energy_per_atom``, ``cif``,
        ``spacegroup``, ``spacegroup_number``, ``n_atoms_cell``, ``origin``.
    """
    from pymatgen.core import Composition
    from pymatgen.io.cif import CifWriter

    from evodesign.structures.generation import (
        NoStructureError,
        TooManyAtomsError,
        candidate_structures,
    )
    from evodesign.structures.relaxation import predict_energies, relax

    composition = Composition(formula)
    name = composition.reduced_formula
    rng = _rng(entropy, spawn_key, name)
    try:
        candidates = candidate_structures(
            composition, 2 * settings.n_structures, settings.max_atoms, rng, settings.space_groups
        )
    except TooManyAtomsError as err:
        return {"status": "too_many_atoms", "reason": str(err)}
    except NoStructureError as err:
        return {"status": "no_structure", "reason": str(err)}
    energies = predict_energies([c.structure for c in candidates])
    energies = np.where(np.isfinite(energies), energies, np.inf)
    best, errors = None, []
    for i in np.argsort(energies, kind="stable")[: settings.n_structures]:
        try:
            relaxed = relax(candidates[i].structure, settings.relax_steps, settings.fmax)
        except Exception as err:  # a bad candidate must not sink the others
            errors.append(f"{candidates[i].origin}: {err}")
            continue
        if best is None or relaxed.energy_per_atom < best[0].energy_per_atom:
            best = (relaxed, candidates[i])
    if best is None:
        return {"status": "failed", "reason": "CHGNet failed on every candidate: " + "; ".join(errors[:3])}
    relaxed, candidate = best
    symbol, number = _spacegroup(relaxed.structure)
    return {
        "status": "ok",
        "reason": "",
        "energy_per_atom": relaxed.energy_per_atom,
        "cif": str(CifWriter(relaxed.structure)),
        "spacegroup": symbol,
        "spacegroup_number": number,
        "n_atoms_cell": len(relaxed.structure),
        "origin": candidate.origin,
        "n_candidates": len(candidates),
        "relax_errors": errors,
    }


def reference_element(
    symbol: str, settings: VerifySettings, entropy: int, spawn_key: tuple[int, ...] = ()
) -> dict[str, Any]:
    """The lowest CHGNet energy of an element over prototypes and random crystals.

    The ``n_structures`` candidates of lowest single-point energy are relaxed with the
    same steps and convergence as the compositions.

    Returns:
        ``energy_per_atom``, ``spacegroup``, ``origin``, ``n_candidates``.
    """
    from evodesign.structures.generation import element_candidates
    from evodesign.structures.relaxation import predict_energies, relax

    candidates = element_candidates(symbol, settings.n_structures, _rng(entropy, spawn_key, symbol))
    # As for compositions: one batch of single points, then relax the lowest. This also
    # drops the over-dense random cells that crawl through a huge neighbour graph.
    energies = predict_energies([c.structure for c in candidates])
    energies = np.where(np.isfinite(energies), energies, np.inf)
    best, errors = None, []
    for candidate in (candidates[i] for i in np.argsort(energies, kind="stable")[: settings.n_structures]):
        try:
            relaxed = relax(candidate.structure, settings.relax_steps, settings.fmax)
        except Exception as err:
            errors.append(f"{candidate.origin}: {err}")
            continue
        if best is None or relaxed.energy_per_atom < best[0].energy_per_atom:
            best = (relaxed, candidate)
    if best is None:
        raise RuntimeError(f"no relaxed reference for {symbol}: {'; '.join(errors[:3])}")
    symbol_sg, _ = _spacegroup(best[0].structure)
    return {
        "energy_per_atom": best[0].energy_per_atom,
        "spacegroup": symbol_sg,
        "origin": best[1].origin,
        "n_candidates": len(candidates),
    }


# ----------------------------------------------------------------------------- run folder


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise VerifyError(f"{path}: not valid JSON ({err}); delete it to start over") from None


def _seed_of(run_dir: Path) -> tuple[int, tuple[int, ...]]:
    path = run_dir / "manifest.json"
    if not path.exists():
        raise VerifyError(f"run folder {run_dir}: no manifest.json (needed for the seed)")
    manifest = _read_json(path)
    ss = manifest.get("seed_sequence")
    if isinstance(ss, dict) and isinstance(ss.get("entropy"), int):
        return int(ss["entropy"]), tuple(int(k) for k in ss.get("spawn_key", ()))
    if isinstance(manifest.get("seed"), int):
        return int(manifest["seed"]), ()
    raise VerifyError(f"{path}: no integer 'seed' or 'seed_sequence' to seed the structures from")


def _settings_of(run_dir: Path, overrides: dict[str, Any]) -> tuple[VerifySettings, int]:
    """Settings: ``[verify]`` of the run's config.toml, then the non-None overrides."""
    values: dict[str, Any] = {}
    top = 20
    config = run_dir / "config.toml"
    if config.exists():
        from evodesign.campaign.config import CampaignConfig

        section = getattr(CampaignConfig.from_toml(config), "verify", None)
        if section is not None:
            data = section.model_dump()
            top = int(data.pop("top", top))
            values.update({k: v for k, v in data.items() if k in VerifySettings.__dataclass_fields__})
    given = overrides.pop("top", None)
    top = top if given is None else int(given)
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "space_groups" in values:
        values["space_groups"] = tuple(values["space_groups"])
    return VerifySettings(**values), top


def _read_pareto(run_dir: Path) -> pd.DataFrame:
    path = run_dir / "pareto.csv"
    if not path.exists():
        raise VerifyError(f"run folder {run_dir}: no pareto.csv")
    # Strings throughout: every existing column is written back exactly as it was read,
    # and a formula such as 'NaN' (sodium nitride) stays a formula.
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "formula" not in table.columns:
        raise VerifyError(f"{path}: no 'formula' column (columns: {', '.join(table.columns)})")
    return table


def _reduced(table: pd.DataFrame, path: Path) -> list[str]:
    from pymatgen.core import Composition

    names = []
    for i, formula in enumerate(table["formula"], start=2):
        try:
            composition = Composition(formula, strict=True)
            if composition.num_atoms <= 0:
                raise ValueError("no atoms")
        except Exception as err:
            raise VerifyError(
                f"{path}, line {i}, column 'formula': {formula!r} is not a formula ({err})"
            ) from None
        names.append(composition.reduced_formula)
    return names


def _energies(
    records: dict[str, dict[str, Any]], references: dict[str, dict[str, Any]]
) -> dict[str, tuple[float, float]]:
    """(formation energy, energy above hull) per ``ok`` formula whose elements all have
    a reference; the hull of each chemical system holds its elements and every verified
    formula within it."""
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    entries = {}
    for name, record in records.items():
        if record.get("status") != "ok":
            continue
        composition = Composition(name)
        if all(el.symbol in references for el in composition.elements):
            entries[name] = PDEntry(composition, record["energy_per_atom"] * composition.num_atoms, name=name)
    out: dict[str, tuple[float, float]] = {}
    for name, entry in entries.items():
        system = {el.symbol for el in entry.composition.elements}
        phases = [
            PDEntry(Composition(el), references[el]["energy_per_atom"], name=el) for el in sorted(system)
        ]
        phases += [e for e in entries.values() if {el.symbol for el in e.composition.elements} <= system]
        diagram = PhaseDiagram(phases)
        out[name] = (
            float(diagram.get_form_energy_per_atom(entry)),
            float(diagram.get_e_above_hull(entry, allow_negative=True)),
        )
    return out


def _fmt(value: float) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.4f}"


def _write_pareto(
    run_dir: Path,
    table: pd.DataFrame,
    names: list[str],
    records: dict[str, dict[str, Any]],
    energies: dict[str, tuple[float, float]],
    settings: VerifySettings,
    references: dict[str, dict[str, Any]],
) -> pd.DataFrame:
    columns: dict[str, list[str]] = {c: [] for c in NEW_COLUMNS}
    screen = settings.max_e_form is not None or settings.max_e_above_hull is not None
    passed: list[str] = []
    for name in names:
        record = records.get(name)
        if record is None:
            for c in NEW_COLUMNS:
                columns[c].append("")
            passed.append("")
            continue
        e_form, e_hull = energies.get(name, (float("nan"), float("nan")))
        ok = record["status"] == "ok"
        reason = record.get("reason", "")
        if ok and not math.isfinite(e_form):
            missing = [el for el in _symbols(name) if el not in references]
            reason = "no elemental reference for " + (", ".join(missing) or "an element")
        columns["e_form_chgnet"].append(_fmt(e_form))
        columns["e_above_hull_chgnet"].append(_fmt(e_hull))
        columns["spacegroup"].append(record.get("spacegroup", "") if ok else "")
        columns["n_atoms_cell"].append(str(record["n_atoms_cell"]) if ok else "")
        columns["verify_status"].append(record["status"])
        columns["verify_reason"].append(reason)
        if screen:
            good = ok and all(
                bound is None or (math.isfinite(value) and value <= bound)
                for bound, value in ((settings.max_e_form, e_form), (settings.max_e_above_hull, e_hull))
            )
            passed.append(str(good) if record["status"] != "timed_out" else "")
    table = table.copy()
    for c, values in columns.items():
        table[c] = values
    if screen:
        table["verify_pass"] = passed
        atomic_write_text(run_dir / "pareto_verified.csv",
                          table[table["verify_pass"] == "True"].to_csv(index=False))
    elif "verify_pass" in table.columns:
        table = table.drop(columns=["verify_pass"])
    atomic_write_text(run_dir / "pareto.csv", table.to_csv(index=False))
    return table


def verify_run(
    run_dir: str | Path,
    top: int | None = None,
    n_jobs: int = 1,
    *,
    n_structures: int | None = None,
    relax_steps: int | None = None,
    max_atoms: int | None = None,
    timeout_s: float | None = None,
    max_e_form: float | None = None,
    max_e_above_hull: float | None = None,
    space_groups: tuple[int, ...] | None = None,
    references: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Verify the top designs of a run folder; update its ``pareto.csv`` (module docs).

    Settings come from the ``[verify]`` table of the run's ``config.toml`` (defaults when
    it has none); arguments that are not None override them.

    Args:
        run_dir: the run folder (``pareto.csv`` + ``manifest.json``).
        top: verify the first ``top`` rows of ``pareto.csv``.
        n_jobs: compositions verified at once (worker processes).
        n_structures, relax_steps, max_atoms, timeout_s, space_groups: see
            :class:`VerifySettings`.
        max_e_form, max_e_above_hull: screening bounds, eV/atom.
        references: JSON file caching the elemental references (default
            ``RUN_DIR/structures/elements.json``).
        progress: called with one line per finished composition.

    Returns:
        The updated ``pareto.csv`` table (all columns as strings, as written).

    Raises:
        VerifyError: the folder lacks ``pareto.csv`` or ``manifest.json``, or a formula
            cannot be read.
    """
    from joblib import Parallel, delayed

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise VerifyError(f"run folder {run_dir} not found")
    table = _read_pareto(run_dir)
    names = _reduced(table, run_dir / "pareto.csv")
    entropy, spawn_key = _seed_of(run_dir)
    settings, top = _settings_of(run_dir, {
        "top": top, "n_structures": n_structures, "relax_steps": relax_steps,
        "max_atoms": max_atoms, "timeout_s": timeout_s, "max_e_form": max_e_form,
        "max_e_above_hull": max_e_above_hull, "space_groups": space_groups,
    })
    if top < 0:
        raise VerifyError(f"top must be >= 0, got {top}")
    key = settings.key()
    folder = run_dir / "structures"
    folder.mkdir(exist_ok=True)
    status_path = folder / STATUS_FILE
    stored = _read_json(status_path).get("records", {})
    records = {n: r for n, r in stored.items() if r.get("settings_key") == key}
    say = progress or (lambda line: None)

    wanted = list(dict.fromkeys(names[:top]))
    todo = [n for n in wanted if records.get(n, {}).get("status") not in FINAL]
    lock = threading.Lock()

    def save(name: str, record: dict[str, Any]) -> None:
        with lock:
            records[name] = {**record, "settings_key": key}
            atomic_write_text(status_path, json.dumps({"settings_key": key, "records": records}, indent=1))

    todo = _precheck(todo, settings, save)
    ref_path = Path(references) if references is not None else folder / ELEMENTS_FILE
    cache = _read_json(ref_path)
    ref_key = settings.reference_key()
    refs: dict[str, dict[str, Any]] = dict(cache.get(ref_key, {}))
    # References for what will run and for finished structures still lacking one (a
    # reference that timed out last time is retried).
    done = [n for n in wanted if records.get(n, {}).get("status") == "ok"]
    elements = sorted({el for n in [*todo, *done] for el in _symbols(n)} - set(refs))
    pool = WorkerPool()
    try:
        with Parallel(n_jobs=n_jobs, backend="threading") as parallel:
            def element(symbol: str) -> None:
                start = time.perf_counter()
                kind, value = pool.call(reference_element, (symbol, settings, entropy, spawn_key), settings.timeout_s)
                if kind == "ok":
                    with lock:
                        refs[symbol] = {**value, "seconds": round(time.perf_counter() - start, 2)}
                        fresh = _read_json(ref_path)
                        fresh[ref_key] = {**fresh.get(ref_key, {}), symbol: refs[symbol]}
                        atomic_write_text(ref_path, json.dumps(fresh, indent=1, sort_keys=True))
                    say(f"reference {symbol}: {value['energy_per_atom']:.4f} eV/atom ({value['origin']})")
                else:
                    say(f"reference {symbol}: {kind}: {value}")

            def composition(name: str) -> None:
                start = time.perf_counter()
                kind, value = pool.call(verify_composition, (name, settings, entropy, spawn_key), settings.timeout_s)
                seconds = round(time.perf_counter() - start, 2)
                if kind == "ok":
                    record = dict(value)
                    cif = record.pop("cif", None)
                    if cif is not None:
                        atomic_write_text(folder / f"{name}.cif", cif)
                        record["cif_file"] = f"structures/{name}.cif"
                elif kind == "timed_out":
                    record = {"status": "timed_out", "reason": value}
                else:
                    record = {"status": "failed", "reason": str(value)}
                record["seconds"] = seconds
                save(name, record)
                say(f"{name}: {record['status']} in {seconds:.1f} s {record.get('reason', '')}".rstrip())

            # One queue, references first: a worker free of references starts on the
            # compositions, which need the references only for the energies at the end.
            tasks = [delayed(element)(s) for s in elements] + [delayed(composition)(n) for n in todo]
            parallel(tasks)
    finally:
        pool.close()
    energies = _energies(records, refs)
    return _write_pareto(run_dir, table, names, records, energies, settings, refs)


def _symbols(name: str) -> list[str]:
    from pymatgen.core import Composition

    return [el.symbol for el in Composition(name).elements]


def _precheck(todo: list[str], settings: VerifySettings, save: Callable[[str, dict[str, Any]], None]) -> list[str]:
    """Record the compositions that cannot get a structure without starting a worker."""
    from pymatgen.core import Composition

    from evodesign.structures.generation import _placements

    left = []
    for name in todo:
        composition = Composition(name)
        counts = tuple(int(round(composition[el])) for el in composition.elements)
        if sum(counts) > settings.max_atoms:
            save(name, {"status": "too_many_atoms", "reason": (
                f"{name} has {sum(counts)} atoms per formula unit, more than max_atoms = "
                f"{settings.max_atoms}")})
        elif not _placements(counts, settings.max_atoms, tuple(settings.space_groups)):
            save(name, {"status": "no_structure", "reason": (
                f"pyxtal cannot place {name} with <= {settings.max_atoms} atoms per cell in any "
                f"of the {len(settings.space_groups)} space groups tried")})
        else:
            left.append(name)
    return left


def settings_dict(settings: VerifySettings) -> dict[str, Any]:
    """The settings as JSON-able data (for benchmark records)."""
    data = asdict(settings)
    data["space_groups"] = list(settings.space_groups)
    return data

