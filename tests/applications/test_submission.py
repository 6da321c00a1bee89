"""Submission: checks, server-clock deadline, reference, frozen file, receipt, e-mail."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from grants.applications.models import Application, ApplicationTransition
from grants.audit.models import AuditEntry
from grants.core.db import utcnow
from tests.applications.conftest import csrf
from tests.fixtures.accounts import mail_text
from tests.fixtures.notifications import attachment_names


def _page(response) -> str:
    return (
        html.unescape(response.get_data(as_text=True)).replace("\u202f", " ").replace("\xa0", " ")
    )


def _submit(client, app_id):
    token = csrf(client, f"/dossiers/{app_id}")
    return client.post(f"/dossiers/{app_id}/etapes/deposer", data={"csrf_token": token})


def _make_receipt(app, app_id):
    from grants.applications.tasks import make_receipt
    from grants.extensions import db

    with app.app_context():
        application = db.session.get(Application, app_id)
        args = (app_id, application.reference, application.submitted_at.isoformat())
        db.session.remove()
        result = make_receipt.apply(args=args).get()
        db.session.remove()
    return result


def test_submit_a_complete_file(app, applicant, create_call, create_application, load, mails_to):
    call_id = create_call(reference_prefix="AAP-2016")
    client, user_id, org_id = applicant("porteur@example.org")
    app_id = create_application(call_id, org_id, complete=True)
    response = _submit(client, app_id)
    assert response.status_code == 302, _page(response)[:2000]
    assert response.headers["Location"].endswith(f"/dossiers/{app_id}")
    application = load(Application, app_id)
    assert application.status.value == "submitted"
    assert application.reference == "AAP-2016-0001"
    assert application.sequence == 1
    assert abs(application.submitted_at - utcnow()) < timedelta(minutes=1)
    assert application.receipt_key is None
    snapshot = application.snapshot
    assert snapshot["reference"] == "AAP-2016-0001"
    assert snapshot["answers"]["title"] == "Recyclerie solidaire"
    assert len(snapshot["attachments"]) == 2
    assert all(len(a["sha256"]) == 64 for a in snapshot["attachments"])
    assert snapshot["requested_total"] == "30000.00"

    with app.app_context():
        from grants.extensions import db

        (transition,) = db.session.scalars(sa.select(ApplicationTransition)).all()
        assert (transition.from_status.value, transition.to_status.value, transition.actor_id) == (
            "draft",
            "submitted",
            user_id,
        )
        actions = db.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.object_type == "application")
        ).all()
        assert "application.submitted" in actions
        db.session.remove()

    page = _page(client.get(f"/dossiers/{app_id}"))
    assert "Dossier AAP-2016-0001" in page
    assert "il n'est plus modifiable" in page

    # One e-mail per member, sent once the worker made the PDF receipt: it is attached.
    assert mails_to("porteur@example.org") == []
    assert _make_receipt(app, app_id) == "made"
    (mail,) = mails_to("porteur@example.org")
    assert mail["Subject"] == "Accusé de réception du dossier AAP-2016-0001"
    text = mail_text(mail)
    assert "AAP-2016-0001" in text and f"/dossiers/{app_id}" in text
    assert attachment_names(mail) == ["accuse-de-reception-AAP-2016-0001.pdf"]
    (attachment,) = mail.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content().startswith(b"%PDF")
    # a redelivered receipt task sends nothing more
    assert _make_receipt(app, app_id) == "exists"
    assert len(mails_to("porteur@example.org")) == 1


def test_submitted_file_is_read_only(app, applicant, create_call, create_application, load):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id, complete=True)
    assert _submit(client, app_id).status_code == 302
    url = f"/dossiers/{app_id}/etapes/projet"
    response = client.get(url)
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/dossiers/{app_id}"
    )
    token = csrf(client, f"/dossiers/{app_id}")
    response = client.post(url, data={"csrf_token": token, "title": "Changé après dépôt"})
    assert response.status_code == 403
    assert load(Application, app_id).title == "Recyclerie solidaire"
    # a second submission (double click) is refused too
    assert _submit(client, app_id).status_code == 403


def test_problems_block_submission_and_each_says_what_to_fix(
    applicant, create_call, create_application, load
):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id, complete=True, certified=False, sector=None)
    response = _submit(client, app_id)
    assert response.status_code == 422
    page = _page(response)
    assert "Le dossier ne peut pas encore être déposé : corrigez les points signalés." in page
    assert "Projet : choisissez le secteur prioritaire du projet." in page
    assert "Attestation : cochez la case par laquelle le représentant légal certifie" in page
    application = load(Application, app_id)
    assert application.status.value == "draft" and application.reference is None


def test_staff_override_lets_a_file_with_problems_be_submitted(
    app, applicant, create_call, create_application, load
):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(
        call_id, org_id, complete=True, certified=False, eligibility_override=True,
        eligibility_override_reason="Structure reconnue par la commission",
    )  # fmt: skip
    response = _submit(client, app_id)
    assert response.status_code == 302
    application = load(Application, app_id)
    assert application.status.value == "submitted"
    assert application.snapshot["eligibility_problems"][0][0] == "certification_missing"


@pytest.mark.parametrize("minutes_after", [0, 1, 60 * 24])
def test_submission_after_the_closing_time_is_refused_by_the_server_clock(
    app, applicant, create_call, create_application, load, login, minutes_after
):
    closes_at = (utcnow() + timedelta(minutes=10)).replace(microsecond=0)
    call_id = create_call(closes_at=closes_at)
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id, complete=True)
    token = csrf(client, f"/dossiers/{app_id}")
    # (the session's idle timeout is longer than 10 minutes: stay logged in)
    with time_machine.travel(closes_at + timedelta(minutes=minutes_after), tick=False):
        if minutes_after > 30:
            client = app.test_client()  # the old session timed out meanwhile
            login(client, "a@example.org")
            token = csrf(client, f"/dossiers/{app_id}")
        response = client.post(f"/dossiers/{app_id}/etapes/deposer", data={"csrf_token": token})
    assert response.status_code == 409
    page = _page(response)
    assert "La date limite de dépôt de l'appel" in page
    assert "le dossier ne peut plus être déposé" in page
    application = load(Application, app_id)
    assert application.status.value == "draft" and application.reference is None


def test_submission_one_second_before_closing_is_accepted(
    applicant, create_call, create_application, load
):
    closes_at = (utcnow() + timedelta(minutes=10)).replace(microsecond=0)
    call_id = create_call(closes_at=closes_at)
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id, complete=True)
    token = csrf(client, f"/dossiers/{app_id}")
    with time_machine.travel(closes_at - timedelta(seconds=1), tick=False):
        response = client.post(f"/dossiers/{app_id}/etapes/deposer", data={"csrf_token": token})
    assert response.status_code == 302
    assert load(Application, app_id).submitted_at == closes_at - timedelta(seconds=1)


def test_deadline_is_shown_and_the_button_disabled_after_closing(
    applicant, create_call, create_application
):
    closes_at = (utcnow() + timedelta(minutes=10)).replace(microsecond=0)
    call_id = create_call(closes_at=closes_at)
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id, complete=True)
    with time_machine.travel(closes_at + timedelta(minutes=5), tick=False):
        page = _page(client.get(f"/dossiers/{app_id}/etapes/deposer"))
    assert "La date limite de dépôt de l'appel" in page
    assert re.search(r"<button type=\"submit\" disabled", page)


def test_references_are_per_call_and_unique(app, applicant, create_call, create_application, load):
    call_a = create_call(reference_prefix="AAP-2016")
    call_b = create_call(reference_prefix="INV-2016", kind="investment_aid")
    client, _user, org_id = applicant()
    # a file submitted earlier holds number 7 (numbers are MAX + 1, gaps kept)
    create_application(call_a, org_id, status="submitted", sequence=7, reference="AAP-2016-0007")
    first = create_application(call_a, org_id, complete=True)
    second = create_application(call_a, org_id, complete=True)
    other = create_application(call_b, org_id, complete=True)
    for app_id in (first, second, other):
        assert _submit(client, app_id).status_code == 302, app_id
    assert load(Application, first).reference == "AAP-2016-0008"
    assert load(Application, second).reference == "AAP-2016-0009"
    assert load(Application, other).reference == "INV-2016-0001"


def test_reference_taken_meanwhile_is_retried(
    app, applicant, create_call, create_application, load, monkeypatch
):
    """Another submission took the number between our MAX + 1 and our UPDATE: the UNIQUE
    constraint refuses ours, the savepoint is rolled back and the next number is used."""
    from grants.applications import operations

    call_id = create_call(reference_prefix="AAP-2016")
    client, _user, org_id = applicant()
    create_application(call_id, org_id, status="submitted")  # holds number 1
    app_id = create_application(call_id, org_id, complete=True)
    real = operations.next_sequence
    calls = []

    def stale_then_real(call):
        calls.append(call)
        return 1 if len(calls) == 1 else real(call)

    monkeypatch.setattr(operations, "next_sequence", stale_then_real)
    assert _submit(client, app_id).status_code == 302
    assert len(calls) == 2
    application = load(Application, app_id)
    assert (application.reference, application.status.value) == ("AAP-2016-0002", "submitted")
    with app.app_context():
        from grants.extensions import db

        count = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ApplicationTransition)
            .where(ApplicationTransition.application_id == app_id)
        )
        assert count == 1  # the failed attempt left nothing behind


def test_receipt_download(app, applicant, create_call, create_application):
    call_id = create_call(reference_prefix="AAP-2016")
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id, complete=True)
    assert client.get(f"/dossiers/{app_id}/accuse-de-reception.pdf").status_code == 404  # draft
    assert _submit(client, app_id).status_code == 302
    pending = client.get(f"/dossiers/{app_id}/accuse-de-reception.pdf")
    assert pending.status_code == 202
    assert "en cours de production" in _page(pending)
    assert pending.headers["Refresh"] == "5"
    assert _make_receipt(app, app_id) == "made"
    with client.get(f"/dossiers/{app_id}/accuse-de-reception.pdf") as response:
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.get_data().startswith(b"%PDF")
        assert "attachment" in response.headers["Content-Disposition"]
        assert "AAP-2016-0001" in response.headers["Content-Disposition"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
