"""The submission snapshot and the PDF receipt made from it; the idempotent receipt task."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from grants.applications.receipt import build_receipt_pdf, build_snapshot, pdf_text

#: 21/11/2026 14:05 in Paris (UTC+1 in November)
SUBMITTED_AT = datetime(2026, 11, 21, 13, 5, 42, 123456, tzinfo=UTC)
SHA_STATUTS = "a3" * 32
SHA_BUDGET = "0f" * 32


def create_submitted_application(
    app, call_id: int, organisation_id: int, submitted_at: datetime = SUBMITTED_AT, **fields
) -> int:
    """An application as the submission leaves it: submitted, referenced, snapshot taken."""
    from grants.applications.models import (
        Application,
        ApplicationStatus,
        Attachment,
        BudgetLine,
    )
    from grants.calls.models import Call
    from grants.extensions import db

    with app.app_context():
        call = db.session.get(Call, call_id)
        sequence = fields.pop("sequence", 7)
        application = Application(
            call_id=call_id,
            organisation_id=organisation_id,
            status=ApplicationStatus.submitted,
            reference=fields.pop("reference", f"{call.reference_prefix}-{sequence:04d}"),
            sequence=sequence,
            submitted_at=submitted_at,
            title="Ressourcerie solidaire des Chartrons",
            summary="Collecte, réemploi et vente d'objets.",
            territory=["33063"],
            start_date=date(2016, 1, 1),
            end_date=date(2018, 12, 31),
            signatory_name="Élise Martin",
            signatory_role="Présidente",
            certified=True,
            **fields,
        )
        application.budget_lines = [
            BudgetLine(year=2016, account="64", label="Salaires", amount=Decimal("30000")),
            BudgetLine(
                year=2016, account="74", label="Métropole", amount=Decimal("12000"), is_request=True
            ),
            BudgetLine(year=2016, account="70", label="Ventes", amount=Decimal("18000")),
            BudgetLine(
                year=2017,
                account="74",
                label="Métropole",
                amount=Decimal("11000.5"),
                is_request=True,
            ),
        ]
        statuts = next(d for d in call.documents if d.label.startswith("Statuts"))
        application.attachments = [
            Attachment(
                required_document_id=statuts.id,
                filename="Statuts signés.pdf",
                storage_key="attachments/2026/11/" + "1" * 32,
                content_type="application/pdf",
                size=245_760,
                sha256=SHA_STATUTS,
            ),
            Attachment(
                filename="Budget prévisionnel.xlsx",
                storage_key="attachments/2026/11/" + "2" * 32,
                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                size=1_572_864,
                sha256=SHA_BUDGET,
            ),
        ]
        db.session.add(application)
        db.session.flush()
        application.snapshot = build_snapshot(application)
        application.receipt_key = None
        db.session.commit()
        application_id = application.id
        db.session.remove()
    return application_id


@pytest.fixture
def submitted(app, create_call, create_organisation):
    call_id = create_call(title="Appel à projets ESS 2016", reference_prefix="AAP-2016")
    org_id = create_organisation(name="Les Amis d'Ève & <Cie>", siret="73282932000074")
    return create_submitted_application(app, call_id, org_id)


def pdf_text_of(data: bytes) -> str:
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    # French grouping uses no-break spaces; compare on plain spaces
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def _load(app, application_id):
    from grants.applications.models import Application
    from grants.extensions import db

    return db.session.get(Application, application_id)


# --- the snapshot ------------------------------------------------------------------------


def test_the_snapshot_freezes_answers_amounts_and_checksums(app, submitted):
    with app.app_context():
        snapshot = _load(app, submitted).snapshot
    assert snapshot["version"] == 1
    assert snapshot["reference"] == "AAP-2016-0007"
    assert datetime.fromisoformat(snapshot["submitted_at"]) == SUBMITTED_AT
    assert snapshot["call"]["title"] == "Appel à projets ESS 2016"
    assert snapshot["call"]["kind"] == "project_call"
    assert snapshot["funder"]["name"] == app.config["FUNDER_NAME"]
    assert snapshot["organisation"]["name"] == "Les Amis d'Ève & <Cie>"
    assert snapshot["organisation"]["siret"] == "73282932000074"
    assert snapshot["answers"]["title"] == "Ressourcerie solidaire des Chartrons"
    assert snapshot["answers"]["territory"] == ["33063"]
    assert snapshot["answers"]["start_date"] == "2016-01-01"
    assert snapshot["requested"] == {"2016": "12000.00", "2017": "11000.50"}
    assert snapshot["requested_total"] == "23000.50"
    assert {"year": 2016, "account": "64", "label": "Salaires", "amount": "30000.00",
            "is_request": False} in snapshot["budget"]  # fmt: skip
    statuts, budget = snapshot["attachments"]
    assert statuts["filename"] == "Statuts signés.pdf"
    assert statuts["sha256"] == SHA_STATUTS
    assert statuts["size"] == 245_760
    assert statuts["required_document"] == "Statuts de la structure"
    assert budget["required_document"] is None
    assert budget["sha256"] == SHA_BUDGET
    assert json.loads(json.dumps(snapshot)) == snapshot


def test_a_snapshot_needs_a_reference_and_a_submission_time(app, create_call, create_organisation):
    from grants.applications.models import Application

    call_id = create_call()
    org_id = create_organisation()
    with app.app_context():
        with pytest.raises(ValueError, match="reference and submitted_at"):
            build_snapshot(Application(call_id=call_id, organisation_id=org_id))


def test_investment_aid_requests_the_authority_share_of_the_funding_plan(
    app, create_call, create_organisation
):
    from grants.applications.models import (
        Application,
        ApplicationStatus,
        FunderType,
        FundingSource,
        FundingStatus,
    )
    from grants.extensions import db

    call_id = create_call(kind="investment_aid", years={2016: "159000"})
    org_id = create_organisation()
    with app.app_context():
        application = Application(
            call_id=call_id,
            organisation_id=org_id,
            status=ApplicationStatus.submitted,
            reference="INV-2016-0001",
            sequence=1,
            submitted_at=SUBMITTED_AT,
        )
        application.funding_sources = [
            FundingSource(name="Métropole", funder_type=FunderType.authority,
                          amount=Decimal("20000"), status=FundingStatus.requested),
            FundingSource(name="Région", funder_type=FunderType.region,
                          amount=Decimal("15000"), status=FundingStatus.obtained),
        ]  # fmt: skip
        db.session.add(application)
        db.session.flush()
        snapshot = build_snapshot(application)
        db.session.rollback()
    assert snapshot["requested"] == {"2016": "20000.00"}
    assert snapshot["requested_total"] == "20000.00"
    assert snapshot["funding_sources"][1]["funder_type"] == "region"


# --- the PDF -----------------------------------------------------------------------------


def test_the_receipt_shows_what_was_submitted(app, submitted):
    with app.app_context():
        data = build_receipt_pdf(_load(app, submitted))
    assert data.startswith(b"%PDF")
    text = pdf_text_of(data)
    assert "Accusé de réception" in text
    assert app.config["FUNDER_NAME"] in text
    assert "AAP-2016-0007" in text
    assert "Appel à projets ESS 2016" in text
    assert "Les Amis d'Ève & <Cie>" in text
    assert "73282932000074" in text
    assert "21/11/2026 14:05" in text  # Paris time, not UTC (13:05)
    assert "13:05" not in text
    assert "12 000,00 €" in text
    assert "11 000,50 €" in text
    assert "23 000,50 €" in text
    assert "Statuts de la structure" in text
    assert "Statuts signés.pdf" in text
    assert "Budget prévisionnel.xlsx" in text
    assert "1,5 Mo" in text and "240 Ko" in text
    assert SHA_STATUTS in text.replace("\n", "")
    assert SHA_BUDGET in text.replace("\n", "")


def test_the_receipt_is_made_from_the_snapshot_not_the_live_rows(app, submitted):
    from grants.extensions import db

    with app.app_context():
        application = _load(app, submitted)
        application.organisation.name = "Nouveau nom après le dépôt"
        application.attachments[0].sha256 = "f" * 64
        db.session.flush()
        text = pdf_text_of(build_receipt_pdf(application))
        db.session.rollback()
    assert "Les Amis d'Ève & <Cie>" in text
    assert "Nouveau nom" not in text
    assert SHA_STATUTS in text.replace("\n", "")


def test_summer_time_is_shown_in_paris_time(app, create_call, create_organisation):
    call_id = create_call()
    org_id = create_organisation()
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    application_id = create_submitted_application(app, call_id, org_id, submitted_at=summer)
    with app.app_context():
        text = pdf_text_of(build_receipt_pdf(_load(app, application_id)))
    assert "01/07/2026 12:00" in text


def test_an_application_never_submitted_has_no_receipt(app, create_call, create_organisation):
    from grants.applications.models import Application

    with app.app_context():
        with pytest.raises(ValueError, match="no submission snapshot"):
            build_receipt_pdf(Application(id=1, snapshot=None))


def test_pdf_text_escapes_markup_and_replaces_what_the_font_cannot_draw():
    assert pdf_text("A & B <b>") == "A &amp; B &lt;b&gt;"
    assert pdf_text("60\u202f000,00\u00a0€") == "60\u00a0000,00\u00a0€"
    assert pdf_text("Œuvre « élan » – ok") == "Œuvre « élan » – ok"
    assert pdf_text("Dvořák ✓") == "Dvorák ?"


# --- the task ----------------------------------------------------------------------------


def _receipt_files(app) -> set[Path]:
    root = Path(app.config["STORAGE_PATH"]) / "receipts"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _run(app, *args):
    from grants.applications.tasks import make_receipt
    from grants.extensions import db

    with app.app_context():
        try:
            return make_receipt.run(*args)
        finally:
            db.session.remove()


def test_the_task_stores_one_receipt_however_often_it_runs(app, submitted):
    from grants.core.storage import get_storage

    before = _receipt_files(app)
    args = (submitted, "AAP-2016-0007", SUBMITTED_AT.isoformat())
    assert _run(app, *args) == "made"
    assert _run(app, *args) == "exists"
    with app.app_context():
        application = _load(app, submitted)
        key = application.receipt_key
        updated_at = application.updated_at
        assert key and key.startswith("receipts/")
        stored = get_storage().read(key)
    assert stored.startswith(b"%PDF")
    assert "AAP-2016-0007" in pdf_text_of(stored)
    new_files = _receipt_files(app) - before
    assert new_files == {Path(app.config["STORAGE_PATH"]) / key}
    with app.app_context():
        assert _load(app, submitted).updated_at == updated_at


def test_a_message_for_an_older_submission_does_nothing(app, submitted):
    from grants.core.storage import get_storage
    from grants.extensions import db

    older = SUBMITTED_AT.isoformat()
    newer = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    with app.app_context():  # complements asked, then submitted again
        application = _load(app, submitted)
        application.submitted_at = newer
        application.snapshot = build_snapshot(application)
        application.receipt_key = None
        db.session.commit()
    before = _receipt_files(app)
    assert _run(app, submitted, "AAP-2016-0007", older) == "stale"
    assert _receipt_files(app) == before
    assert _run(app, submitted, "AAP-2016-0007", newer.isoformat()) == "made"
    with app.app_context():
        text = pdf_text_of(get_storage().read(_load(app, submitted).receipt_key))
    assert "02/12/2026 10:30" in text


def test_a_missing_application_or_a_wrong_reference_does_nothing(app, submitted):
    before = _receipt_files(app)
    assert _run(app, 999_999, "AAP-2016-0007", SUBMITTED_AT.isoformat()) == "missing"
    assert _run(app, submitted, "AAP-2016-0099", SUBMITTED_AT.isoformat()) == "stale"
    assert _receipt_files(app) == before


def test_two_deliveries_at_once_keep_one_receipt(app, submitted, monkeypatch):
    """The other delivery records its key while this one builds: this one cleans up."""
    from grants.applications import receipt as receipt_module
    from grants.applications.models import Application
    from grants.extensions import db

    real_build = receipt_module.build_receipt_pdf

    def build_while_another_worker_finishes(application):
        pdf = real_build(application)
        with db.engine.begin() as conn:
            conn.execute(
                sa.update(Application)
                .where(Application.id == application.id)
                .values(receipt_key="receipts/2026/11/" + "e" * 32)
            )
        return pdf

    monkeypatch.setattr(receipt_module, "build_receipt_pdf", build_while_another_worker_finishes)
    before = _receipt_files(app)
    assert _run(app, submitted, "AAP-2016-0007", SUBMITTED_AT.isoformat()) == "lost-race"
    assert _receipt_files(app) == before
    with app.app_context():
        assert _load(app, submitted).receipt_key == "receipts/2026/11/" + "e" * 32


def test_a_storage_failure_leaves_the_file_without_receipt_for_a_retry(app, submitted, monkeypatch):
    from grants.core.storage import LocalStorage

    def broken_put(self, key, data):
        raise OSError("disk full")

    monkeypatch.setattr(LocalStorage, "put", broken_put)
    with pytest.raises(OSError, match="disk full"):
        _run(app, submitted, "AAP-2016-0007", SUBMITTED_AT.isoformat())
    with app.app_context():
        assert _load(app, submitted).receipt_key is None


def test_the_sweeper_reenqueues_submissions_without_receipt(app, submitted, monkeypatch):
    from grants.applications import tasks

    sent = []
    monkeypatch.setattr(tasks.make_receipt, "delay", lambda *args: sent.append(args))
    with app.app_context():
        assert tasks.sweep_receipts.run() == 1
    application_id, reference, iso = sent[0]
    assert (application_id, reference) == (submitted, "AAP-2016-0007")
    assert datetime.fromisoformat(iso) == SUBMITTED_AT
    assert _run(app, *sent[0]) == "made"
    sent.clear()
    with app.app_context():
        assert tasks.sweep_receipts.run() == 0
    assert sent == []
