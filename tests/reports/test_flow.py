"""The report through the pages: draft, the explanation of a gap required, submission,
staff sending it back with a comment, correction and resubmission, acceptance — with the
audit trail, the notifications and the document."""

from __future__ import annotations

import re
from decimal import Decimal

import sqlalchemy as sa

from grants.core.money import format_money
from tests.fixtures.accounts import mail_text
from tests.fixtures.applications import PDF_BYTES
from tests.fixtures.core import csrf_token_from
from tests.fixtures.reports import STAFF_EMAIL

ALICE = "alice@recyclerie.example"
ALBERT = "albert@recyclerie.example"

#: a complete report of organisation A (lines: 0 = 64 Salaires 15,000, 1 = 70 Ventes
#: 5,000, 2 = 74 Subvention 10,000); line 1 is 40 % under plan
COMPLETE = {
    "activity": "Deux ateliers ouverts ; 40 personnes accueillies dont 12 en insertion.",
    "actual_0": "15 800",
    "actual_1": "3000",
    "actual_2": "10000",
    "jobs_created": "2",
    "jobs_maintained": "3",
    "people_supported": "40",
    "indicator_name_0": "Tonnes collectées",
    "indicator_value_0": "12,5",
}


def post_report(client, report_id, action="save", files=None, **fields):
    token = csrf_token_from(client.get(f"/rapports/{report_id}").get_data(as_text=True))
    data = {"csrf_token": token, "action": action, **fields}
    if files:
        data.update(files)
    return client.post(f"/rapports/{report_id}", data=data, content_type="multipart/form-data")


def staff_post(client, url, **fields):
    page = url.rsplit("/", 1)[0]
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **fields})


def report_row(in_app, report_id):
    from grants.extensions import db
    from grants.payments.models import AnnualReport

    def _load():
        report = db.session.get(AnnualReport, report_id)
        db.session.expunge(report)
        return report

    return in_app(_load)


def notifications(in_app, event):
    from grants.extensions import db
    from grants.notifications.models import Notification

    return in_app(
        lambda: db.session.execute(
            sa.select(Notification.recipient_id, Notification.mail_id, Notification.subject)
            .where(Notification.event == event)
            .order_by(Notification.id)
        ).all()
    )


def audit_actions(in_app, report_id):
    from grants.audit.models import AuditEntry
    from grants.extensions import db

    return in_app(
        lambda: db.session.scalars(
            sa.select(AuditEntry.action)
            .where(
                AuditEntry.object_type == "annual_report", AuditEntry.object_id == str(report_id)
            )
            .order_by(AuditEntry.id)
        ).all()
    )


def test_the_member_sees_the_planned_budget_of_the_year(report_world, as_user):
    html = as_user(ALICE).get(f"/rapports/{report_world.report_a}").get_data(as_text=True)
    assert "Compte rendu annuel 2016" in html
    assert "Atelier vélo" in html and "Recyclerie du Port" in html
    assert "30/06/2017" in html
    for label, amount in (("Salaires", "15000"), ("Ventes", "5000"), ("Subvention", "10000")):
        assert label in html and format_money(Decimal(amount)) in html
    # real labels for every input of the table
    assert 'aria-label="Montant réalisé, ligne 64 Salaires"' in html
    assert 'aria-label="Explication de l&#39;écart, ligne 70 Ventes"' in html


def test_the_whole_flow(report_world, as_user, in_app, mails_to):
    rid = report_world.report_a
    alice = as_user(ALICE)

    # A draft: saved, still due.
    response = post_report(alice, rid, activity="Premier jet", actual_0="15800")
    assert response.status_code == 302
    report = report_row(in_app, rid)
    assert report.status.value == "due" and report.activity == "Premier jet"
    assert report.financial[0] == {
        "account": "64",
        "label": "Salaires",
        "planned": "15000.00",
        "actual": "15800.00",
        "explanation": "",
    }
    assert report.financial[1]["actual"] is None

    # Submitting with a 40 % gap and no explanation: refused, message next to the field,
    # the draft kept.
    response = post_report(alice, rid, action="submit", **COMPLETE)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert (
        "le compte rendu n&#39;est pas remis" in html or "le compte rendu n'est pas remis" in html
    )
    errors = re.search(r'<ul class="errors" id="explanation_1-erreurs">(.*?)</ul>', html, re.S)
    assert errors and "Écart de plus de 10 %" in errors.group(1)
    assert 'aria-describedby="explanation_1-erreurs"' in html
    assert 'value="15 800"' in html  # the typed values are kept
    report = report_row(in_app, rid)
    assert report.status.value == "due"
    assert report.jobs_created == 2 and report.indicators == {"Tonnes collectées": "12,5"}
    assert report.financial[1]["actual"] == "3000.00"

    # With the explanation: handed in; staff told in the inbox (no e-mail).
    response = post_report(
        alice, rid, action="submit", explanation_1="Boutique fermée trois mois.", **COMPLETE
    )
    assert response.status_code == 302
    report = report_row(in_app, rid)
    assert report.status.value == "submitted" and report.submitted_at is not None
    staff_notes = notifications(in_app, "report.submitted")
    assert [(r, m) for r, m, _ in staff_notes] == [(report_world.staff, None)]
    assert "Compte rendu 2016 remis" in staff_notes[0][2]
    assert mails_to(STAFF_EMAIL) == []
    # no longer editable by the member
    html = alice.get(f"/rapports/{rid}").get_data(as_text=True)
    assert 'name="actual_0"' not in html and "le service l'examine" in html

    # Staff: the review page shows the gap and its explanation.
    staff = as_user(STAFF_EMAIL)
    html = staff.get(f"/gestion/rapports/{rid}").get_data(as_text=True)
    assert "Écart de plus de 10 %" in html and "Boutique fermée trois mois." in html
    assert "Tonnes collectées" in html

    # Sending back needs a comment.
    response = staff_post(staff, f"/gestion/rapports/{rid}/renvoyer", comment="  ")
    assert response.status_code == 422
    assert "Indiquez ce que la structure doit corriger." in response.get_data(as_text=True)
    assert report_row(in_app, rid).status.value == "submitted"
    response = staff_post(
        staff, f"/gestion/rapports/{rid}/renvoyer", comment="Joignez le bilan certifié."
    )
    assert response.status_code == 302
    report = report_row(in_app, rid)
    assert (
        report.status.value == "returned" and report.review_comment == "Joignez le bilan certifié."
    )
    for address in (ALICE, ALBERT):
        [mail] = mails_to(address)
        assert "à corriger" in str(mail["Subject"])
        assert "Joignez le bilan certifié." in mail_text(mail)
        assert f"/rapports/{rid}" in mail_text(mail)

    # The member reads the comment, corrects and hands it in again.
    html = alice.get(f"/rapports/{rid}").get_data(as_text=True)
    assert "Joignez le bilan certifié." in html and 'name="actual_0"' in html
    response = post_report(
        alice,
        rid,
        action="submit",
        files={"document": (__import__("io").BytesIO(PDF_BYTES), "bilan 2016.pdf")},
        explanation_1="Boutique fermée trois mois.",
        **COMPLETE,
    )
    assert response.status_code == 302
    assert report_row(in_app, rid).status.value == "submitted"
    assert len(notifications(in_app, "report.submitted")) == 2  # a new occurrence

    # Accepted: the members are told by e-mail; the report is final.
    response = staff_post(staff, f"/gestion/rapports/{rid}/accepter")
    assert response.status_code == 302
    report = report_row(in_app, rid)
    assert report.status.value == "accepted" and report.reviewed_by_id == report_world.staff
    accepted = [m for m in mails_to(ALICE) if "accepté" in str(m["Subject"])]
    assert len(accepted) == 1
    response = post_report(alice, rid, activity="Changement tardif")
    assert response.status_code == 302
    assert report_row(in_app, rid).activity == COMPLETE["activity"]
    response = staff_post(staff, f"/gestion/rapports/{rid}/accepter")
    assert response.status_code == 302  # refused with a message, nothing twice
    assert len([m for m in mails_to(ALICE) if "accepté" in str(m["Subject"])]) == 1

    assert audit_actions(in_app, rid) == [
        "report.save",  # the draft
        "report.save",  # the refused submission kept the draft
        "report.save",  # the explanation
        "report.submit",
        "report.return",
        "report.document_add",
        "report.submit",
        "report.accept",
    ]


def test_nothing_is_saved_when_a_value_cannot_be_read(report_world, as_user, in_app):
    alice = as_user(ALICE)
    response = post_report(
        alice, report_world.report_a, activity="Texte", actual_0="quinze mille", jobs_created="-2"
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Rien n&#39;a été enregistré" in html or "Rien n'a été enregistré" in html
    assert "Indiquez un montant en euros" in html
    assert "nombre entier positif ou nul" in html
    assert 'value="quinze mille"' in html  # the input is kept to be corrected
    report = report_row(in_app, report_world.report_a)
    assert report.activity == "" and report.financial == []


def test_the_document_is_checked_stored_and_downloaded(report_world, as_user, in_app):
    import io

    rid = report_world.report_a
    alice = as_user(ALICE)
    response = post_report(
        alice, rid, files={"document": (io.BytesIO(b"MZ\x90\x00binary"), "bilan.pdf")}
    )
    assert response.status_code == 422
    assert "n&#39;est pas celui d&#39;un fichier PDF" in response.get_data(as_text=True)
    assert report_row(in_app, rid).file_key is None

    response = post_report(
        alice, rid, files={"document": (io.BytesIO(PDF_BYTES), "Bilan 2016.pdf")}
    )
    assert response.status_code == 302
    report = report_row(in_app, rid)
    assert report.file_name == "Bilan 2016.pdf" and report.file_key.startswith("reports/")

    for client in (alice, as_user(STAFF_EMAIL)):
        download = client.get(f"/rapports/{rid}/document")
        assert download.status_code == 200
        assert download.data == PDF_BYTES
        assert download.headers["Content-Disposition"].startswith("attachment")
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        assert download.mimetype == "application/pdf"

    page = alice.get(f"/rapports/{rid}").get_data(as_text=True)
    token = csrf_token_from(page)
    response = alice.post(f"/rapports/{rid}/document/supprimer", data={"csrf_token": token})
    assert response.status_code == 302
    assert report_row(in_app, rid).file_key is None
    assert alice.get(f"/rapports/{rid}/document").status_code == 404


def test_indicator_rows_grow_with_the_filled_ones(report_world, as_user):
    alice = as_user(ALICE)
    fields = {f"indicator_name_{i}": f"Indicateur {i}" for i in range(3)}
    fields.update({f"indicator_value_{i}": str(i) for i in range(3)})
    assert post_report(alice, report_world.report_a, **fields).status_code == 302
    html = alice.get(f"/rapports/{report_world.report_a}").get_data(as_text=True)
    assert 'name="indicator_name_5"' in html and 'name="indicator_name_6"' not in html
    assert 'value="Indicateur 2"' in html


def test_a_report_without_budget_lines_for_its_year(report_world, as_user, create_report, in_app):
    """The 2019 report of a file budgeted 2016–2018: no table, the rest still required."""
    rid = create_report(report_world.award_a, 2019)
    alice = as_user(ALICE)
    html = alice.get(f"/rapports/{rid}").get_data(as_text=True)
    assert "ne comporte pas de ligne pour 2019" in html
    response = post_report(
        alice,
        rid,
        action="submit",
        activity="Activité 2019",
        jobs_created="0",
        jobs_maintained="1",
        people_supported="5",
    )
    assert response.status_code == 302
    assert report_row(in_app, rid).status.value == "submitted"
