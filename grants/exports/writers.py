"""Streaming writers: rows go from an iterator to a file one at a time, never all at once.

``write_csv`` and ``write_xlsx`` take the columns (:class:`grants.exports.rules.Column`)
and an *iterator* of rows (sequences of Python values in the columns' order) and pull it
row by row; every ``every`` rows they call ``progress(count)`` (the task records the
progress there, and may stop the export by raising). Memory stays constant whatever the
number of rows: the CSV goes through a buffered file, the XLSX through openpyxl's
write-only workbook, which streams each row to a temporary XML file as it is appended.

CSV files for people (staff exports): UTF-8 *with* a BOM, so that Excel reads the accents
right when the file is double-clicked; semicolon-separated, as Excel expects in French;
CRLF line ends; amounts with a dot (``1234.50``), dates ISO (see :mod:`grants.exports.rules`).
The open-data SCDL file is written by :mod:`grants.exports.scdl` (commas, no BOM).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from grants.exports.rules import Column, ColumnType, csv_cell, xlsx_cell

#: rows between two progress calls
EVERY = 1000
CSV_DELIMITER = ";"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: an XLSX sheet title: 31 characters at most, none of []:*?/\
_SHEET_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})

Progress = Callable[[int], None]


def _tick(count: int, every: int, progress: Progress | None) -> None:
    if progress is not None and count % every == 0:
        progress(count)


def write_csv(
    path: str | os.PathLike[str],
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    *,
    progress: Progress | None = None,
    every: int = EVERY,
    delimiter: str = CSV_DELIMITER,
) -> int:
    """Write a CSV for people (BOM, ``;``); the number of rows written."""
    types = [c.type for c in columns]
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow([c.header for c in columns])
        for row in rows:
            writer.writerow([csv_cell(v, t) for v, t in zip(row, types, strict=True)])
            count += 1
            _tick(count, every, progress)
    if progress is not None:
        progress(count)
    return count


def sheet_title(title: str) -> str:
    return title.translate(_SHEET_FORBIDDEN).strip()[:31] or "Export"


def write_xlsx(
    path: str | os.PathLike[str],
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    *,
    title: str = "Export",
    progress: Progress | None = None,
    every: int = EVERY,
) -> int:
    """Write an XLSX workbook of one sheet (bold header, frozen first row); the number of
    rows written."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title(title))
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.header)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    types = [c.type for c in columns]
    count = 0
    try:
        count = _append_rows(sheet, types, rows, progress, every)
    except BaseException:
        _discard(sheet)
        raise
    workbook.save(os.fspath(path))
    if progress is not None:
        progress(count)
    return count


def _discard(sheet) -> None:
    """Close an abandoned write-only sheet and remove its temporary file."""
    try:
        sheet.close()
    except Exception:  # noqa: S110 (best effort: the original error is what matters)
        pass
    writer = getattr(sheet, "_writer", None)
    if writer is not None:
        try:
            writer.cleanup()
        except Exception:  # noqa: S110
            pass


def _append_rows(sheet, types, rows, progress, every) -> int:
    count = 0
    for row in rows:
        values = []
        for raw, type_ in zip(row, types, strict=True):
            value, number_format = xlsx_cell(raw, type_)
            if number_format is not None:
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = number_format
                values.append(cell)
            elif type_ == ColumnType.text and value is not None and value.startswith("="):
                # openpyxl would write "=…" as a formula: force a string cell
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"
                values.append(cell)
            else:
                values.append(value)
        sheet.append(values)
        count += 1
        _tick(count, every, progress)
    return count
