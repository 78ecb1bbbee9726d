"""Where a row came from, in words a user can act on: "data.csv, row 3 (line 4)"."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import os

__all__ = ["CsvRows", "FrameRows", "RowLocator"]


class RowLocator:
    """Names rows of a table by their 0-based position among the data rows.

    Attributes:
        label: what the table is called in messages: a path, or ``"DataFrame"``.
    """

    label: str

    def row(self, position: int) -> str:
        """``"<label>, row <1-based number>"`` plus whatever else pins the row down."""
        raise NotImplementedError

    def cell(self, position: int, column: str) -> str:
        """:meth:`row` plus the column: ``"data.csv, row 3 (line 4), column 'formula'"``."""
        return f"{self.row(position)}, column {column!r}"


class FrameRows(RowLocator):
    """Rows of an in-memory DataFrame; the index label is shown unless it is the default.

    Args:
        index: the frame's index, length ``n_rows``.
        label: the name used in messages.
    """

    def __init__(self, index: pd.Index, label: str = "DataFrame") -> None:
        self.label = label
        self._index = index
        self._default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1

    def row(self, position: int) -> str:
        text = f"{self.label}, row {position + 1}"
        if not self._default:
            text += f" (index {self._index[position]!r})"
        return text


class CsvRows(RowLocator):
    """Rows of a CSV file, with the physical line number of each.

    Line numbers are worked out only when a message needs one, by re-reading the file with
    the csv module: blank lines and quoted cells that span lines make "row + 1" wrong.

    Args:
        path: the CSV file, as the user gave it (shown in messages).
        encoding: the encoding the file was read with.
    """

    def __init__(self, path: str | os.PathLike[str], encoding: str = "utf-8-sig") -> None:
        self.label = str(path)
        self._path = Path(path)
        self._encoding = encoding
        self._lines: list[int] | None = None

    def row(self, position: int) -> str:
        lines = self._line_numbers()
        text = f"{self.label}, row {position + 1}"
        if position < len(lines):
            text += f" (line {lines[position]})"
        return text

    def _line_numbers(self) -> list[int]:
        if self._lines is None:
            try:
                self._lines = _data_line_numbers(self._path, self._encoding)
            except (OSError, UnicodeDecodeError, csv.Error):
                # a compressed or odd file: the row number alone still identifies the row
                self._lines = []
        return self._lines


def _data_line_numbers(path: Path, encoding: str) -> list[int]:
    """1-based starting line of every data record, skipping blank lines like pandas does."""
    starts = []
    seen_header = False
    with path.open(newline="", encoding=encoding) as handle:
        reader = csv.reader(handle)
        end = 0
        for record in reader:
            start, end = end + 1, reader.line_num
            if len(record) <= 1 and not "".join(record).strip():
                continue
            if seen_header:
                starts.append(start)
            seen_header = True
    return starts
