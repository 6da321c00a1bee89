"""The streaming writers: CSV for Excel (BOM, semicolons), XLSX with typed cells, and rows
pulled from the iterator one by one — never gathered before writing.

The constant-memory claim itself is measured by ``bench/exports.py`` (100,000 rows), not
here: a test only proves that the writers consume their input lazily.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from grants.exports import writers
from grants.exports.rules import Column
from grants.exports.rules import ColumnType as T

COLUMNS = (
    Column("Référence"),
    Column("Montant", T.money),
    Column("Versé le", T.date),
    Column("Demandé le", T.datetime),
    Column("Lignes", T.integer),
)
ROW = ["AAP-2016-0001", Decimal("1234.5"), date(2016, 9, 1), datetime(2016, 3, 1, 9, tzinfo=UTC), 3]


def test_csv_for_excel(tmp_path):
    path = tmp_path / "out.csv"
    assert writers.write_csv(path, COLUMNS, iter([ROW, [None] * 5])) == 2
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows == [
        ["Référence", "Montant", "Versé le", "Demandé le", "Lignes"],
        ["AAP-2016-0001", "1234.50", "2016-09-01", "2016-03-01T10:00:00+01:00", "3"],
        ["", "", "", "", ""],
    ]


def test_xlsx_typed_cells(tmp_path):
    path = tmp_path / "out.xlsx"
    writers.write_xlsx(path, COLUMNS, iter([ROW]), title="Paiements: 2016/2017")
    book = load_workbook(path)
    sheet = book.active
    assert sheet.title == "Paiements  2016 2017"
    assert sheet.freeze_panes == "A2"
    header, row = list(sheet.iter_rows())
    assert [c.value for c in header] == [c.header for c in COLUMNS]
    assert row[1].value == 1234.5 and row[1].number_format.endswith('"€"')
    assert row[2].value == datetime(2016, 9, 1) and row[2].is_date
    assert row[3].value == datetime(2016, 3, 1, 10, 0)  # Paris wall-clock time
    assert row[4].value == 3


class LazyProbe:
    """Rows that fail the test if the writer pulls more than ``every`` + 1 of them before
    reporting what it wrote: a writer that gathered its input first would trip it."""

    def __init__(self, total: int, every: int):
        self.total, self.every = total, every
        self.pulled = 0
        self.reported = 0

    def progress(self, count: int) -> None:
        assert count <= self.pulled
        self.reported = count

    def rows(self):
        for n in range(self.total):
            if self.pulled - self.reported > self.every:
                pytest.fail(f"{self.pulled} rows pulled, only {self.reported} written")
            self.pulled += 1
            yield [f"AAP-{n}", Decimal(n), None, None, n]


@pytest.mark.parametrize("write", [writers.write_csv, writers.write_xlsx])
def test_writers_consume_rows_lazily(tmp_path, write):
    probe = LazyProbe(total=5000, every=100)
    count = write(tmp_path / "out", COLUMNS, probe.rows(), progress=probe.progress, every=100)
    assert count == probe.pulled == probe.reported == 5000


def test_the_probe_catches_a_writer_that_gathers_its_rows(tmp_path):
    probe = LazyProbe(total=500, every=100)

    def greedy(path, columns, rows, progress, every):
        return writers.write_csv(path, columns, list(rows), progress=progress, every=every)

    with pytest.raises(pytest.fail.Exception, match="rows pulled"):
        greedy(tmp_path / "out", COLUMNS, probe.rows(), probe.progress, 100)


def test_an_export_stopped_half_way_leaves_no_temporary_sheet(tmp_path):
    from openpyxl.worksheet._writer import ALL_TEMP_FILES

    before = set(ALL_TEMP_FILES)

    def stop(count):
        if count >= 200:
            raise RuntimeError("stop")

    rows = ([f"AAP-{n}", Decimal(n), None, None, n] for n in range(1000))
    with pytest.raises(RuntimeError):
        writers.write_xlsx(tmp_path / "out", COLUMNS, rows, progress=stop, every=100)
    assert set(ALL_TEMP_FILES) == before
