"""The files of a closed loop whose evaluator is a lab: requests, measurements, round log.

A loop's run folder ``ROOT`` holds, per round ``r`` (1-based), ``ROOT/round-NNN/``:

* ``to_measure.csv``: column ``id`` then the design's columns (``formula``, or for
  microstructures e.g. ``volume_fraction``), one row per design to measure;
* ``designs.npz`` (microstructures): key ``images``, an ``(n, H, W)`` uint8 0/1 array in
  ``to_measure.csv``'s row order;
* ``measured.csv.template``: the header the user fills in (``id`` + one column per target) with
  one row per requested id and empty cells;
* ``measured.csv``: written by the user; a blank cell is a failed measurement.

and, for the whole loop, ``measurements.csv`` (+ ``measurements.npz`` for images): every measured
design with its round, and ``rounds.csv``: one row per finished round.

Every file is written atomically (temp file + ``os.replace``) and every write is idempotent for
identical content, so a loop killed at any point resumes without losing or repeating a
measurement. Where two files change together the CSV is written last: it is the commit marker.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from evodesign.campaign.checkpoint import atomic_write_bytes, atomic_write_text
from evodesign.exceptions import DataError, UsageError

if TYPE_CHECKING:
    import os

__all__ = [
    "MEASURED",
    "MEASUREMENTS_CSV",
    "MEASUREMENTS_NPZ",
    "ROUNDS_CSV",
    "TEMPLATE",
    "TO_MEASURE",
    "append_measurements",
    "append_round_row",
    "load_measurements",
    "read_measurements",
    "read_request",
    "read_rounds",
    "read_table",
    "request_message",
    "round_dir",
    "write_request",
]

TO_MEASURE = "to_measure.csv"
DESIGNS_NPZ = "designs.npz"
MEASURED = "measured.csv"
TEMPLATE = "measured.csv.template"
MEASUREMENTS_CSV = "measurements.csv"
MEASUREMENTS_NPZ = "measurements.npz"
ROUNDS_CSV = "rounds.csv"

# cells a lab writes for "no value": all read as a failed measurement
_MISSING = frozenset({"", "nan", "na", "n/a", "null", "none"})
# a plain decimal number; float() alone would also take "1_000", "infinity" and "nan"
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INFINITE = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
_SHOWN = 5  # ids or problems listed in one message before "and N more"


def round_dir(root: str | os.PathLike[str], r: int) -> Path:
    """The folder of round ``r`` (1-based): ``ROOT/round-NNN``."""
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 1:
        raise UsageError(f"round must be an integer >= 1, got {r!r}")
    return Path(root) / f"round-{int(r):03d}"


def _checked_ids(ids: Sequence[object]) -> list[str]:
    out = [str(i).strip() for i in ids]
    if any(not i for i in out):
        raise UsageError("design ids must be non-empty strings")
    seen: set[str] = set()
    twice = [i for i in out if i in seen or seen.add(i)]
    if twice:
        raise UsageError(f"design ids must be unique; repeated: {', '.join(twice[:_SHOWN])}")
    return out


def _checked_images(images: np.ndarray | None, n: int) -> np.ndarray | None:
    if images is None:
        return None
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[0] != n:
        raise UsageError(f"images must be an (n, H, W) array with n = {n} (one per id), got shape {images.shape}")
    if images.size and not np.isin(images, (0, 1)).all():
        raise UsageError("images must hold only 0 (matrix) and 1 (filler)")
    return images.astype(np.uint8)


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _read_npz(path: Path, key: str = "images") -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as error:
        raise DataError(f"{path} cannot be read as an .npz file: {error}") from error
    if key not in arrays:
        raise DataError(f"{path} has no key {key!r} (keys: {', '.join(sorted(arrays)) or 'none'})")
    return arrays


def write_request(
    root: str | os.PathLike[str],
    r: int,
    ids: Sequence[object],
    designs: pd.DataFrame,
    targets: Sequence[str],
    images: np.ndarray | None = None,
) -> Path:
    """Write the designs of round ``r`` for the lab to measure.

    Writes ``round-NNN/designs.npz`` (when ``images`` is given), ``measured.csv.template``, then
    ``to_measure.csv`` last (its presence means the request is complete). Calling it again with
    the same content changes nothing (resume after a kill); different content is refused.

    Args:
        root: the loop's run folder.
        r: the round, 1-based.
        ids: ``n`` unique design ids (compared as strings).
        designs: ``n`` rows, the design's columns in the order to write (no ``id`` column).
        targets: the measured quantities, e.g. ``("k_xx", "k_yy")``: the template's columns.
        images: optional ``(n, H, W)`` 0/1 array, in ``ids``' order.

    Returns:
        The round's folder.

    Raises:
        DataError: ``to_measure.csv`` or ``designs.npz`` already exists with other content.
        UsageError: ids not unique, lengths that disagree, bad images or targets.
    """
    folder = round_dir(root, r)
    ids = _checked_ids(ids)
    targets = _checked_targets(targets)
    if len(designs) != len(ids):
        raise UsageError(f"designs has {len(designs)} rows but there are {len(ids)} ids")
    if "id" in designs.columns:
        raise UsageError("designs must not have an 'id' column: the ids are passed separately")
    images = _checked_images(images, len(ids))
    table = designs.reset_index(drop=True).copy()
    table.insert(0, "id", ids)
    text = table.to_csv(index=False, lineterminator="\n")
    request = folder / TO_MEASURE
    npz = folder / DESIGNS_NPZ
    if request.exists():
        if request.read_text(encoding="utf-8") != text:
            raise DataError(
                f"{request} already exists with other designs; round {r} was already requested. "
                "Resume the loop to read its measurements, or use a new run folder."
            )
        if images is not None and npz.exists():
            if not np.array_equal(_read_npz(npz)["images"], images):
                raise DataError(f"{npz} already exists with other images for round {r}")
            return folder
    if images is not None:
        atomic_write_bytes(npz, _npz_bytes(images=images))
    template = ",".join(["id", *targets]) + "\n" + "".join(i + "," * len(targets) + "\n" for i in ids)
    atomic_write_text(folder / TEMPLATE, template)
    atomic_write_text(request, text)
    return folder


def read_request(root: str | os.PathLike[str], r: int) -> tuple[list[str], pd.DataFrame, np.ndarray | None]:
    """The designs requested in round ``r``, as :func:`write_request` wrote them (for resume).

    Returns:
        ``(ids, designs, images)``: the ids in the request's order, the design columns (floats
        bit-identical to what was written), and the ``(n, H, W)`` uint8 images or None.

    Raises:
        DataError: no request for round ``r``, or ``designs.npz`` that does not match it.
    """
    folder = round_dir(root, r)
    request = folder / TO_MEASURE
    if not request.is_file():
        raise DataError(f"{request} not found: round {r} was never requested in {Path(root)}")
    table = read_table(request)
    if list(table.columns[:1]) != ["id"]:
        raise DataError(f"{request}: the first column must be 'id', got {list(table.columns[:1])}")
    ids = table["id"].astype(str).tolist()
    images = None
    if (folder / DESIGNS_NPZ).exists():
        images = _read_npz(folder / DESIGNS_NPZ)["images"]
        if len(images) != len(ids):
            raise DataError(f"{folder / DESIGNS_NPZ} holds {len(images)} images but {request} lists {len(ids)} designs")
    return ids, table.drop(columns="id"), images


def request_message(
    root: str | os.PathLike[str], r: int, targets: Sequence[str], config: str | os.PathLike[str] | None = None
) -> str:
    """The text the CLI prints when it stops for the lab: what to fill in and how to resume.

    Args:
        root: the loop's run folder.
        r: the round whose request was written.
        targets: the measured quantities (the columns of ``measured.csv`` after ``id``).
        config: the campaign file, for the resume command (``CONFIG`` when not given).
    """
    folder = round_dir(root, r)
    request = folder / TO_MEASURE
    n = sum(1 for _ in csv.reader(io.StringIO(request.read_text(encoding="utf-8")))) - 1 if request.exists() else 0
    header = ",".join(["id", *_checked_targets(targets)])
    lines = [f"Round {r}: {n} design(s) to measure are listed in {request}."]
    if (folder / DESIGNS_NPZ).exists():
        lines.append(f"Their images are in {folder / DESIGNS_NPZ} (key 'images', in the CSV's row order; 1 = filler).")
    lines += [
        f"Write the measurements to {folder / MEASURED} (start from {folder / TEMPLATE}),",
        "with exactly this header and one row per id:",
        f"    {header}",
        "A blank cell means a failed measurement: it is kept and counted, not retried.",
        "Other columns (e.g. notes) are allowed and ignored. Then resume the loop:",
        f"    evodesign loop {config if config is not None else 'CONFIG'} --evaluator lab --out {Path(root)} --resume",
    ]
    return "\n".join(lines)


def _checked_targets(targets: Sequence[str]) -> list[str]:
    targets = [str(t).strip() for t in ([targets] if isinstance(targets, str) else targets)]
    if not targets or any(not t or t == "id" or "," in t for t in targets) or len(set(targets)) != len(targets):
        raise UsageError(f"targets must be distinct non-empty names other than 'id' (no commas), got {targets}")
    return targets


def _cell_value(cell: str) -> float | str:
    """A cell as a float (NaN for a failure), or the reason it is not one."""
    cell = cell.strip()
    if cell.lower() in _MISSING:
        return math.nan
    if cell.lower() in _INFINITE:
        return "an infinite value is not a measurement (leave the cell blank for a failure)"
    if _NUMBER.fullmatch(cell):
        value = float(cell)
        return value if math.isfinite(value) else f"{cell!r} overflows a float"
    hint = " (use a point as the decimal mark)" if re.fullmatch(r"[+-]?\d+,\d+", cell) else ""
    return f"{cell!r} is not a number{hint}"


def read_measurements(path: str | os.PathLike[str], ids: Sequence[object], targets: Sequence[str]) -> pd.DataFrame:
    """Read and validate a lab's ``measured.csv`` against the request.

    Line numbers in errors are the file's lines as a text editor shows them (header = line 1).
    Extra columns are ignored; empty cells and ``nan``/``NA``/``N/A``/``null``/``none`` are failed
    measurements (NaN). Cells and ids are whitespace-trimmed; ids are compared as strings.

    Args:
        path: the measurements file.
        ids: the ``n`` requested ids, in the request's order.
        targets: the columns that must be present.

    Returns:
        float64 frame, index ``id`` (the request's order), columns ``targets``; NaN = failure.

    Raises:
        DataError: missing file, no ``id`` column, a missing target column, an unknown,
            repeated or missing id, a non-numeric or infinite cell, a row with too few or too
            many cells; every problem found is listed with its line.
    """
    path = Path(path)
    ids = _checked_ids(ids)
    targets = _checked_targets(targets)
    header_text = ",".join(["id", *targets])
    if not path.is_file():
        template = path.parent / TEMPLATE
        start = f"copy {template} to it and fill it in" if template.exists() else f"its header is {header_text}"
        raise DataError(f"{path} not found: create it with one row per requested id ({start}).")
    try:
        rows = list(_numbered_rows(path))
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path} cannot be read as a UTF-8 CSV file: {error}") from error
    if not rows:
        raise DataError(f"{path} is empty; its first line must be the header {header_text}")
    header_line, header = rows[0]
    header = [name.strip() for name in header]
    where = f"{path}, line {header_line} (header)"
    if "id" not in header:
        hint = " (the cells must be separated by commas; this header looks ';'-separated)" if ";" in ",".join(header) else ""
        raise DataError(f"{where}: no 'id' column{hint}; the header must be {header_text}")
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise DataError(f"{where}: column(s) {', '.join(repeated)} appear more than once")
    missing = [t for t in targets if t not in header]
    if missing:
        raise DataError(f"{where}: missing target column(s) {', '.join(missing)}; the header must be {header_text}")
    column = {name: k for k, name in enumerate(header)}
    needed = max(column[name] for name in ["id", *targets]) + 1
    wanted = set(ids)
    problems: list[str] = []
    first_line: dict[str, int] = {}
    values = np.full((len(ids), len(targets)), np.nan)
    position = {i: k for k, i in enumerate(ids)}
    for line, cells in rows[1:]:
        if len(cells) > len(header):
            problems.append(f"line {line}: {len(cells)} cells but the header has {len(header)}")
            continue
        if len(cells) < needed:
            problems.append(
                f"line {line}: {len(cells)} cells but the header has {len(header)}; "
                "write an empty cell (e.g. 'id,,') for a failed measurement"
            )
            continue
        key = cells[column["id"]].strip()
        if not key:
            problems.append(f"line {line}: empty id")
            continue
        if key not in wanted:
            problems.append(f"line {line}: id {key!r} was not requested (requested ids: {_listed(ids)})")
            continue
        if key in first_line:
            problems.append(f"line {line}: id {key!r} appears twice (lines {first_line[key]} and {line})")
            continue
        first_line[key] = line
        for j, target in enumerate(targets):
            value = _cell_value(cells[column[target]])
            if isinstance(value, str):
                problems.append(f"line {line}, column {target}: {value}")
            else:
                values[position[key], j] = value
    absent = [i for i in ids if i not in first_line]
    if absent:
        problems.append(
            f"no row for requested id(s) {_listed(absent)}; add a row with blank cells to record a failed measurement"
        )
    if problems:
        shown = problems[:_SHOWN * 2]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise DataError(f"{path}: {len(problems)} problem(s), nothing was recorded:\n  " + "\n  ".join(shown) + more)
    return pd.DataFrame(values, index=pd.Index(ids, name="id"), columns=targets)


def _numbered_rows(path: Path) -> list[tuple[int, list[str]]]:
    """The non-blank rows of a CSV with the line each starts on (1-based); a BOM is dropped."""
    out = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        start = 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                out.append((start, cells))
            start = reader.line_num + 1
    return out


def _listed(ids: Sequence[str]) -> str:
    more = f", ... ({len(ids)} in all)" if len(ids) > _SHOWN else ""
    return ", ".join(ids[:_SHOWN]) + more


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A CSV the loop wrote or the lab filled in, read back exactly: ids and formulas as text
    (only an empty cell is missing, so sodium nitride "NaN" or "NA" stays a formula), floats
    bit-identical to what ``to_csv`` wrote (``float_precision="round_trip"``)."""
    return pd.read_csv(path, dtype={"id": str}, float_precision="round_trip", keep_default_na=False, na_values=[""])


def load_measurements(root: str | os.PathLike[str]) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Every design measured so far in a loop, with its round.

    Returns:
        ``(frame, images)``: columns ``round``, ``id``, the design columns, the targets (NaN =
        failed measurement), one row per measured design in measurement order (an empty frame
        before the first round); ``images`` ``(n, H, W)`` uint8 in the frame's row order, or
        None when the designs have no images.

    Raises:
        DataError: ``measurements.npz`` disagrees with ``measurements.csv`` (rows or ids).
    """
    frame, images, _ = _load(Path(root))
    return frame, images


def _load(root: Path) -> tuple[pd.DataFrame, np.ndarray | None, np.ndarray | None]:
    """The committed measurements, their images and their ids as stored in the npz."""
    table, npz = root / MEASUREMENTS_CSV, root / MEASUREMENTS_NPZ
    if not table.exists():
        return pd.DataFrame(columns=["round", "id"]), None, None
    frame = read_table(table)
    if not npz.exists():
        return frame, None, None
    arrays = _read_npz(npz)
    images, stored = arrays["images"], arrays.get("ids")
    n = len(frame)
    ids = frame["id"].astype(str).to_numpy()
    # the npz is written before the csv: rows past the csv's are an append that was killed before
    # its commit, dropped here; anything else means the two files do not belong together
    if stored is None or len(stored) != len(images) or len(images) < n or not np.array_equal(stored[:n], ids):
        raise DataError(
            f"{npz} ({len(images)} images) does not match {table} ({n} rows, ids in order): "
            "the two files must be from the same loop; restore both from the same state"
        )
    return frame, images[:n], stored[:n]


def append_measurements(
    root: str | os.PathLike[str],
    r: int,
    ids: Sequence[object],
    designs: pd.DataFrame,
    values: pd.DataFrame,
    images: np.ndarray | None = None,
) -> pd.DataFrame:
    """Add round ``r``'s measured designs to ``ROOT/measurements.csv`` (and ``.npz``).

    Idempotent: when ``measurements.csv`` already holds round ``r`` with the same ids and values,
    nothing is written (a loop killed after this call resumes without repeating it).

    Args:
        root: the loop's run folder.
        r: the round, 1-based.
        ids: ``n`` design ids.
        designs: ``n`` rows of design columns (same columns as earlier rounds).
        values: ``n`` rows of target columns (NaN = failed measurement), in ``ids``' order or
            indexed by the ids (as :func:`read_measurements` returns them).
        images: ``(n, H, W)`` 0/1, given in every round or in none.

    Returns:
        All measurements, as :func:`load_measurements` returns them.

    Raises:
        DataError: round ``r`` is already recorded with other ids or values; columns or images
            that disagree with the earlier rounds.
    """
    root = Path(root)
    round_dir(root, r)
    ids = _checked_ids(ids)
    images = _checked_images(images, len(ids))
    if len(designs) != len(ids) or len(values) != len(ids):
        raise UsageError(f"{len(ids)} ids but {len(designs)} design rows and {len(values)} value rows")
    if set(values.index.astype(str)) == set(ids):
        values = values.set_axis(values.index.astype(str)).loc[ids]
    overlap = {"round", "id"} | set(designs.columns)
    if overlap & set(values.columns):
        raise UsageError(f"target columns clash with design columns: {sorted(overlap & set(values.columns))}")
    new = pd.concat(
        [pd.DataFrame({"round": int(r), "id": ids}), designs.reset_index(drop=True), values.reset_index(drop=True).astype(float)],
        axis=1,
    )
    old, old_images, old_ids = _load(root)
    table, npz = root / MEASUREMENTS_CSV, root / MEASUREMENTS_NPZ
    if len(old):
        if list(old.columns) != list(new.columns):
            raise DataError(f"{table} has columns {list(old.columns)}; round {r} has {list(new.columns)}")
        if (old_images is None) != (images is None):
            raise DataError(f"round {r} {'has' if images is not None else 'has no'} images, unlike the rounds in {table}")
        done = old[old["round"] == int(r)]
        if len(done):
            same = list(done["id"]) == ids and np.array_equal(
                done[values.columns].to_numpy(float), new[values.columns].to_numpy(float), equal_nan=True
            )
            if not same:
                raise DataError(f"{table} already holds round {r} with other ids or values; it is not recorded twice")
            return old, old_images
    frame = pd.concat([old, new], ignore_index=True) if len(old) else new
    if images is not None:
        all_images = images if old_images is None else np.concatenate([old_images, images])
        all_ids = np.asarray(ids) if old_ids is None else np.concatenate([old_ids, np.asarray(ids)])
        atomic_write_bytes(npz, _npz_bytes(images=all_images, ids=all_ids.astype(str)))
    atomic_write_text(table, frame.to_csv(index=False, lineterminator="\n"))
    return load_measurements(root)


def read_rounds(root: str | os.PathLike[str]) -> pd.DataFrame:
    """``ROOT/rounds.csv``: one row per finished round (an empty frame before the first)."""
    path = Path(root) / ROUNDS_CSV
    if not path.exists():
        return pd.DataFrame(columns=["round"])
    return pd.read_csv(path, float_precision="round_trip")


def append_round_row(root: str | os.PathLike[str], row: dict[str, object]) -> pd.DataFrame:
    """Log a finished round in ``ROOT/rounds.csv`` (rows sorted by round).

    Args:
        root: the loop's run folder.
        row: ``round`` (int >= 1) and the round's numbers, e.g. ``n_measured``, ``n_failed``,
            ``best_<target>``, ``hypervolume``, ``model_mae_<target>``. Columns that another
            round lacks are left empty there.

    Returns:
        The whole log.

    Raises:
        DataError: the round is already logged with other values (naming the round and the
            columns that differ); logging the same values again changes nothing.
    """
    if "round" not in row:
        raise UsageError(f"a round's row needs a 'round' key, got keys {sorted(row)}")
    r = row["round"]
    round_dir(root, r)  # validates r
    path = Path(root) / ROUNDS_CSV
    log = read_rounds(root)
    new = pd.DataFrame([{key: (v.item() if isinstance(v, np.generic) else v) for key, v in row.items()}])
    # compare through the CSV text, so a value is "the same" exactly when it reads back the same
    new = pd.read_csv(io.StringIO(new.to_csv(index=False)), float_precision="round_trip")
    logged = log[log["round"] == int(r)]
    if len(logged):
        differ = [key for key in new.columns if not _same(logged.iloc[0].get(key, math.nan), new.iloc[0][key])]
        if differ:
            raise DataError(f"{path}: round {r} is already logged with other values of {', '.join(differ)}")
        return log
    log = pd.concat([log, new], ignore_index=True) if len(log) else new
    log = log.sort_values("round", kind="stable").reset_index(drop=True)
    atomic_write_text(path, log.to_csv(index=False, lineterminator="\n"))
    return read_rounds(root)


def _same(a: object, b: object) -> bool:
    if pd.isna(a) and pd.isna(b):
        return True
    try:
        return float(a) == float(b)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(a) == str(b)
