"""The export task, run in-process: every kind in both formats, opened back; filters;
idempotence (done jobs left alone, running jobs restarted, superseded runs stopped);
failures recorded in French."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

KINDS = ["applications", "scores", "decisions", "schedules", "payments"]


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for Excel"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


def read_xlsx(data: bytes) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(data)).active
    return [tuple(c.value for c in row) for row in sheet.iter_rows()]


def xlsx_cells(data: bytes):
    sheet = load_workbook(io.BytesIO(data)).active
    return list(sheet.iter_rows())


@pytest.fixture
def dataset(funded, create_call, create_user, add_review, app):
    """Two funded files of one call (with payments and reviews), one of another call."""
    call_id = create_call(status="closed", title="Appel ESS 2016", reference_prefix="AAP-2016")
    first = funded(
        call_id=call_id,
        org={"name": "Recyclerie de la Bastide", "siret": "73282932000074"},
        title="Recyclerie solidaire",
        payments=[(2016, "12000", "paid"), (2017, "5000", "requested")],
    )
    second = funded(
        call_id=call_id,
        org={"name": "Épicerie « solidaire »", "siret": "55210055400013"},
        title='=HYPERLINK("http://evil")',
        payments=[(2016, "4000", "cancelled")],
    )
    other_call = create_call(
        status="closed",
        title="Appel ESS 2022",
        reference_prefix="AAP-2022",
        years={2022: "50000", 2023: "50000"},
    )
    third = funded(
        call_id=other_call,
        org={"name": "Garage associatif", "siret": "35600000000048"},
        tranches={2022: "20000", 2023: "15000"},
        held_on=date(2022, 6, 1),
        payments=[(2022, "20000", "paid")],
    )
    reviewer = create_user(email="eval@example.org", roles=["reviewer"], full_name="Irène Évalue")
    add_review(first.application_id, reviewer, scores=[5, 4, 3, 2, 1], comments=["Très bien"] * 5)
    add_review(third.application_id, reviewer, scores=[1, 1, 1, 1, 1])
    return first, second, third, call_id, other_call


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_as_xlsx_and_csv(kind, dataset, new_job, run_job, job_state, stored):
    xlsx_job = new_job(kind, "xlsx")
    csv_job = new_job(kind, "csv")
    assert run_job(xlsx_job) == "done"
    assert run_job(csv_job) == "done"

    xlsx_state, csv_state = job_state(xlsx_job), job_state(csv_job)
    assert xlsx_state.status == csv_state.status == "done"
    assert xlsx_state.filename.endswith(".xlsx") and csv_state.filename.endswith(".csv")
    xlsx_rows = read_xlsx(stored(xlsx_state.file_key))
    csv_rows = read_csv(stored(csv_state.file_key))
    # the same rows in both formats; French headers
    assert len(xlsx_rows) == len(csv_rows) == xlsx_state.total + 1 == csv_state.total + 1
    assert xlsx_state.progress == xlsx_state.total > 0
    assert list(xlsx_rows[0]) == csv_rows[0]
    assert any("é" in h or "è" in h for h in csv_rows[0]) or kind == "scores"


def test_applications_columns_and_values(dataset, new_job, run_job, job_state, stored):
    job = new_job("applications", "csv")
    run_job(job)
    rows = read_csv(stored(job_state(job).file_key))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["Référence", "Appel", "Structure", "SIRET"]
    record = dict(zip(header, body[0], strict=True))
    assert record["Structure"] == "Recyclerie de la Bastide"
    assert record["Statut"] == "Retenu"
    assert record["Décision"] == "Retenu"
    # 10,000 asked each year on line 74, three years; amounts with a dot, no grouping
    assert record["Montant demandé"] == "30000.00"
    assert record["Montant attribué"] == "30000.00"
    assert record["Début du projet"] == "2016-01-01"
    assert datetime.fromisoformat(record["Déposé le"]).utcoffset() is not None
    # the formula-like title is neutralised in CSV
    titles = [dict(zip(header, r, strict=True))["Projet"] for r in body]
    assert '\'=HYPERLINK("http://evil")' in titles


def test_xlsx_amounts_are_numbers_dates_are_dates_formulas_are_text(
    dataset, new_job, run_job, job_state, stored
):
    job = new_job("payments", "xlsx")
    run_job(job)
    cells = xlsx_cells(stored(job_state(job).file_key))
    header = [c.value for c in cells[0]]
    assert cells[0][0].font.b
    amount = cells[1][header.index("Montant")]
    assert isinstance(amount.value, int | float) and amount.value == 12000
    assert "€" in amount.number_format
    paid_on = cells[1][header.index("Versé le")]
    assert isinstance(paid_on.value, datetime) and paid_on.value.date() == date(2016, 9, 1)
    assert cells[1][header.index("Statut")].value == "Versé"

    job = new_job("applications", "xlsx")
    run_job(job)
    cells = xlsx_cells(stored(job_state(job).file_key))
    header = [c.value for c in cells[0]]
    title = cells[2][header.index("Projet")]
    assert title.value == '=HYPERLINK("http://evil")'
    assert title.data_type == "s"  # a string, never a formula


def test_payments_and_schedules_rows(dataset, new_job, run_job, job_state, stored):
    job = new_job("payments", "csv")
    run_job(job)
    header, *body = read_csv(stored(job_state(job).file_key))
    records = [dict(zip(header, r, strict=True)) for r in body]
    assert [(r["Montant"], r["Statut"]) for r in records] == [
        ("12000.00", "Versé"),
        ("5000.00", "Demandé"),
        ("4000.00", "Annulé"),
        ("20000.00", "Versé"),
    ]
    assert records[0]["Versé le"] == "2016-09-01"
    assert records[0]["Référence du mandat"].startswith("MANDAT-2016")
    assert records[2]["Motif d'annulation"] == "Erreur de saisie"
    assert records[0]["Convention"].startswith("CONV-T-")

    job = new_job("schedules", "csv")
    run_job(job)
    header, *body = read_csv(stored(job_state(job).file_key))
    records = [dict(zip(header, r, strict=True)) for r in body]
    first_2016 = next(r for r in records if r["Année"] == "2016")
    assert first_2016["Montant de la tranche"] == "12000.00"
    assert first_2016["Versé"] == "12000.00"
    assert first_2016["Reste à verser"] == "0.00"
    assert len(records) == 3 + 3 + 2


def test_scores_and_decisions_rows(dataset, new_job, run_job, job_state, stored):
    job = new_job("scores", "csv")
    run_job(job)
    header, *body = read_csv(stored(job_state(job).file_key))
    records = [dict(zip(header, r, strict=True)) for r in body]
    assert len(records) == 10  # two submitted reviews, five criteria
    assert records[0]["Évaluateur"] == "Irène Évalue"
    assert records[0]["Note"] == "5" and records[0]["Critère"] == "Innovation sociale"
    assert records[0]["Commentaire"] == "Très bien"

    job = new_job("decisions", "csv")
    run_job(job)
    header, *body = read_csv(stored(job_state(job).file_key))
    records = [dict(zip(header, r, strict=True)) for r in body]
    assert len(records) == 3
    assert records[0]["Décision"] == "Retenu"
    assert records[0]["N° de délibération"] == "2016/042"
    assert records[0]["Date de la séance"] == "2016-06-15"


def test_filters_by_call_and_year(dataset, new_job, run_job, job_state, stored):
    first, second, third, call_2016, call_2022 = dataset
    cases = [
        ("applications", {"call_id": call_2016}, 2),
        ("applications", {"year": 2022}, 1),
        ("applications", {"year": 2017}, 2),  # the 2016–2018 call runs in 2017
        ("applications", {"year": 2019}, 0),
        ("schedules", {"year": 2017}, 2),
        ("schedules", {"call_id": call_2022}, 2),
        ("payments", {"year": 2016}, 2),
        ("payments", {"call_id": call_2022, "year": 2022}, 1),
        ("scores", {"call_id": call_2022}, 5),
        ("decisions", {"year": 2022}, 1),
    ]
    for kind, params, expected in cases:
        job = new_job(kind, "csv", params)
        assert run_job(job) == "done"
        state = job_state(job)
        rows = read_csv(stored(state.file_key))
        assert len(rows) - 1 == state.total == expected, (kind, params)
    state = job_state(new_job("payments", "xlsx", {"call_id": call_2016, "year": 2016}))
    assert state.status == "queued"


def test_file_name_says_what_is_inside(dataset, new_job, run_job, job_state):
    _first, _second, _third, call_2016, _ = dataset
    job = new_job("payments", "xlsx", {"call_id": call_2016, "year": 2016})
    run_job(job)
    assert job_state(job).filename == f"paiements-AAP-2016-2016-n{job}.xlsx"


def test_an_empty_export_is_a_file_with_its_header(app, new_job, run_job, job_state, stored):
    job = new_job("payments", "xlsx")
    assert run_job(job) == "done"
    state = job_state(job)
    assert state.total == state.progress == 0
    assert read_xlsx(stored(state.file_key))[0][0] == "N° de paiement"


def test_progress_is_recorded_while_writing(dataset, new_job, app, monkeypatch):
    """Progress is written every N rows, in its own transactions, with the total known."""
    from grants.exports import tasks

    job = new_job("schedules", "csv")
    seen = []
    original = tasks._write

    def spy(job_id, stamp, **values):
        seen.append(values)
        return original(job_id, stamp, **values)

    monkeypatch.setattr(tasks, "_write", spy)
    with app.app_context():
        assert tasks.run(job, every=3) == "done"
    assert seen[0] == {"total": 8}
    progress = [v["progress"] for v in seen if set(v) == {"progress"}]
    assert progress == [3, 6, 8]
    assert seen[-1]["status"] == "done"


def export_files(app) -> set:
    from grants.core.storage import get_storage

    with app.app_context():
        root = get_storage().root / "exports"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_a_job_already_done_is_left_alone(dataset, new_job, run_job, job_state, app):
    job = new_job("payments", "csv")
    files = export_files(app)
    assert run_job(job) == "done"
    before = job_state(job)
    assert run_job(job) == "done"  # redelivered: nothing happens
    after = job_state(job)
    assert (after.file_key, after.finished_at, after.started_at) == (
        before.file_key,
        before.finished_at,
        before.started_at,
    )
    assert len(export_files(app) - files) == 1


def test_a_running_job_redelivered_restarts_cleanly(dataset, new_job, run_job, job_state, app):
    from grants.core.db import utcnow
    from grants.exports.models import ExportJob, ExportStatus
    from grants.extensions import db

    job = new_job("payments", "csv")
    with app.app_context():  # a worker died half-way through
        row = db.session.get(ExportJob, job)
        row.status, row.progress, row.total, row.started_at = ExportStatus.running, 2, 4, utcnow()
        db.session.commit()
        db.session.remove()
    assert run_job(job) == "done"
    state = job_state(job)
    assert (state.status, state.progress, state.total) == ("done", 4, 4)


def test_an_older_run_stops_when_a_newer_delivery_takes_over(
    dataset, new_job, job_state, app, monkeypatch
):
    from grants.exports import tasks, writers

    job = new_job("schedules", "xlsx")
    original = writers.write_xlsx

    def takeover(*args, **kwargs):
        with app.app_context():
            # another delivery of the same job claims it mid-way
            assert tasks._claim(job) is not None
        return original(*args, **kwargs)

    monkeypatch.setattr(writers, "write_xlsx", takeover)
    files = export_files(app)
    with app.app_context():
        assert tasks.run(job, every=2) == "superseded"
    state = job_state(job)
    # the newer run owns the job now; the older one left no file behind
    assert state.status == "running" and state.file_key is None
    assert export_files(app) == files


def test_a_failure_is_recorded_in_french(dataset, new_job, run_job, job_state, monkeypatch):
    from grants.exports import writers

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(writers, "write_csv", broken)
    job = new_job("payments", "csv")
    assert run_job(job) == "failed"
    state = job_state(job)
    assert state.status == "failed" and state.file_key is None
    assert "n'a pas pu être produit" in state.error and f"n° {job}" in state.error
    assert run_job(job) == "failed"  # a failed job stays failed: ask again


def test_a_missing_job(app, run_job):
    assert run_job(999) == "missing"


def test_requested_amount_of_an_investment_aid(
    app, create_call, create_organisation, create_application, new_job, run_job, job_state, stored
):
    call_id = create_call(kind="investment_aid", status="closed")
    create_application(
        call_id, create_organisation(), status="submitted", complete=True, request=Decimal("12500")
    )
    job = new_job("applications", "csv")
    run_job(job)
    header, row = read_csv(stored(job_state(job).file_key))
    assert dict(zip(header, row, strict=True))["Montant demandé"] == "12500.00"
