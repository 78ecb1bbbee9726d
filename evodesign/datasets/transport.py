"""The Ricci et al. ab initio electronic transport data set, as shipped inside matminer.

Ricci, F. et al. An ab initio electronic transport database for inorganic materials.
Sci. Data 4, 170085 (2017). doi:10.1038/sdata.2017.85

The file is ``matminer/utils/data_files/mp_transport/transport_database.tar.xz`` (the one
matminer's ``TransportPropertyData`` reads): 47,737 Materials Project entries, BoltzTraP
with a constant relaxation time, each property the average of the tensor eigenvalues at
300 K and a doping of 1e18 carriers/cm^3, for p-type (``_p``) and n-type (``_n``) doping.
It is read from the installed package, never from the network, and never extracted to disk.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib.util
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

from evodesign.datasets.aggregation import AGGREGATES
from evodesign.datasets.dataset import MaterialsDataset
from evodesign.datasets.loader import build_dataset
from evodesign.datasets.location import FrameRows
from evodesign.exceptions import DataError

__all__ = [
    "LOG10_COLUMNS",
    "RAW_COLUMNS",
    "TRANSPORT_CITATION",
    "load_transport",
    "transport_file",
]

#: Property columns of the file, in file order.
RAW_COLUMNS = (
    "sigma_p", "sigma_n", "S_p", "S_n", "kappa_p", "kappa_n", "PF_p", "PF_n", "m_p", "m_n",
)
# Strictly positive columns that span many orders of magnitude, modelled on log10.
# S is signed (p-type mostly positive, n-type mostly negative) and gets no log.
_LOGGED = tuple(c for c in RAW_COLUMNS if not c.startswith("S_"))
#: ``log10_<name>`` for every strictly positive property column.
LOG10_COLUMNS = tuple(f"log10_{c}" for c in _LOGGED)
TRANSPORT_CITATION = (
    "Ricci, F. et al. An ab initio electronic transport database for inorganic materials. "
    "Sci. Data 4, 170085 (2017). doi:10.1038/sdata.2017.85"
)
_MEMBER = "transport_database.csv"
_RELATIVE_PATH = ("utils", "data_files", "mp_transport", "transport_database.tar.xz")


def load_transport(aggregate: str = "median") -> MaterialsDataset:
    """Load the transport data set, one row per reduced formula.

    Polymorphs (entries with the same reduced formula) are merged per property by
    ``aggregate``. The log10 columns are computed per entry first and merged afterwards, so
    with the default the log10 column is the median of the polymorphs' log10 values (for an
    even number of polymorphs that is not exactly log10 of the raw median).

    Targets and units (as stated in matminer's ``dataset_metadata.json``,
    ``ricci_boltztrap_mp_tabular``; properties that depend on the relaxation time tau are
    divided by the constant tau = 1e-14 s, so treat their absolute scale as nominal):

    * ``sigma_p, sigma_n``: conductivity, 1/(Ohm m s).
    * ``S_p, S_n``: Seebeck coefficient, uV/K, signed.
    * ``kappa_p, kappa_n``: electronic thermal conductivity, W/(K m s).
    * ``PF_p, PF_n``: power factor, uW/(cm K^2 s).
    * ``m_p, m_n``: conductivity effective mass, in electron masses m_e.
    * ``log10_<name>`` for every property above except S: log10 of the raw value.

    The frame also has ``n_polymorphs`` (entries merged into the row) and ``mp_ids``
    (their Materials Project ids, ";"-joined). ``report`` holds the merge statistics;
    ``report["conflicting_duplicates"]`` counts formulas whose polymorphs differ by more
    than 1 % in some property, which is physics, not an error, so no warning is given.

    The parsed table is cached in memory: the first call takes about a second, later ones
    only copy it, and each caller gets its own frame and report.

    Args:
        aggregate: ``"median"`` (default), ``"mean"``, ``"min"`` or ``"max"``.

    Returns:
        A :class:`MaterialsDataset` named ``"transport"``: 34,630 rows (34,631 distinct
        ``pretty_formula`` strings, of which "F" and "F2" reduce to the same formula),
        targets ``RAW_COLUMNS + LOG10_COLUMNS``.

    Raises:
        DataError: matminer or its data file is missing, or ``aggregate`` is unknown.

    Example:
        >>> data = load_transport()  # doctest: +SKIP
        >>> data.frame.set_index("formula").loc["Bi2Te3", "n_polymorphs"]  # doctest: +SKIP
    """
    if aggregate not in AGGREGATES:
        valid = ", ".join(repr(a) for a in AGGREGATES)
        raise DataError(f"aggregate={aggregate!r} is not one of {valid}")
    cached = _load_cached(aggregate)
    # the cache must survive callers that edit their frame or report in place
    return dataclasses.replace(
        cached, frame=cached.frame.copy(), report=copy.deepcopy(cached.report)
    )


def transport_file() -> Path:
    """Path of the tar.xz file inside the installed matminer package.

    Raises:
        DataError: matminer is not installed, or its copy lacks the file.
    """
    spec = importlib.util.find_spec("matminer")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the transport data set ships inside the matminer package, which is not "
            "installed: pip install matminer"
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*_RELATIVE_PATH)
    if not path.is_file():
        raise DataError(
            f"the transport data file is missing from the installed matminer ({path}); "
            "reinstall it: pip install --force-reinstall matminer"
        )
    return path


@functools.lru_cache(maxsize=None)
def _load_cached(aggregate: str) -> MaterialsDataset:
    path = transport_file()
    raw = _read(path)
    with np.errstate(divide="ignore", invalid="ignore"):
        # a non-positive value would become -inf/NaN and be dropped (and counted) below
        logs = {f"log10_{c}": np.log10(raw[c].to_numpy()) for c in _LOGGED}
    frame = pd.concat([raw, pd.DataFrame(logs, index=raw.index)], axis=1)
    dataset, kept, codes = build_dataset(
        frame,
        FrameRows(frame.index, label=f"{_MEMBER} (in {path.name})"),
        formula_column="pretty_formula",
        targets=RAW_COLUMNS + LOG10_COLUMNS,
        on_invalid_target="drop",
        aggregate=aggregate,
        name="transport",
        source=(
            f"{TRANSPORT_CITATION}; file {_MEMBER} from matminer "
            "(BoltzTraP, constant relaxation time, 300 K, 1e18 carriers/cm^3)"
        ),
        warn_on_conflicts=False,
    )
    out = dataset.frame
    out["n_polymorphs"] = np.bincount(codes, minlength=len(out))
    out["mp_ids"] = _join_by_group(raw["mp_id"].to_numpy()[kept], codes, len(out))
    report = dict(dataset.report)
    report["n_unique_pretty_formulas"] = int(raw["pretty_formula"].nunique())
    return dataclasses.replace(dataset, frame=out, report=report)


def _join_by_group(ids: np.ndarray, codes: np.ndarray, n_groups: int) -> list[str]:
    """``";"``-join the ``n_kept`` ids per group, keeping file order within a group.

    A stable sort and slicing: pandas' groupby-join runs Python per group and is ~20x slower.
    """
    order = np.argsort(codes, kind="stable")
    ends = np.cumsum(np.bincount(codes, minlength=n_groups))
    ordered = ids[order].tolist()
    return [";".join(ordered[start:end]) for start, end in zip(np.r_[0, ends[:-1]], ends)]


def _read(path: Path) -> pd.DataFrame:
    """The raw table: ``47,737 x 12`` (mp_id, pretty_formula, then :data:`RAW_COLUMNS`)."""
    try:
        with tarfile.open(path, mode="r:xz") as archive:
            handle = archive.extractfile(_MEMBER)
            if handle is None:
                raise KeyError(_MEMBER)
            raw = pd.read_csv(
                handle,
                dtype={"mp_id": str, "pretty_formula": str, **dict.fromkeys(RAW_COLUMNS, float)},
                # "NA" would otherwise become NaN before the formula check sees it
                keep_default_na=False,
            )
    except (KeyError, tarfile.TarError, OSError, ValueError) as err:
        raise DataError(
            f"cannot read {_MEMBER} from {path} ({err}); the matminer install may be "
            "damaged: pip install --force-reinstall matminer"
        ) from err
    missing = [c for c in ("mp_id", "pretty_formula", *RAW_COLUMNS) if c not in raw.columns]
    if missing:
        raise DataError(f"{_MEMBER} in {path} lacks the columns {missing}")
    return raw
