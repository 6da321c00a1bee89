"""The convention: generated PDF (content), sent to the members, signature recorded,
downloads reserved to staff and the organisation's members."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from grants.payments import rules
from tests.fixtures.applications import PDF_BYTES
from tests.payments.conftest import pdf_text, text_of


def _convention(app):
    from grants.extensions import db
    from grants.payments.models import Convention

    with app.app_context():
        row = db.session.scalar(sa.select(Convention))
        values = (
            None
            if row is None
            else {
                "reference": row.reference,
                "pdf_key": row.pdf_key,
                "signed_on": row.signed_on,
                "signed_copy_name": row.signed_copy_name,
            }
        )
        db.session.remove()
    return values


def _stored(app, key):
    from grants.core.storage import get_storage

    with app.app_context():
        return get_storage().read(key)


def _reference(app, application_id):
    from grants.applications.models import Application
    from grants.extensions import db

    with app.app_context():
        ref = db.session.get(Application, application_id).reference
        db.session.remove()
    return ref


def test_staff_generate_the_convention_and_the_members_receive_it(
    app, payment_world, world_award, as_user, post_form, mails_to, audit_entries
):
    award_id = world_award()
    staff = as_user("agent@metropole.example")
    page = staff.get(f"/gestion/aides/{award_id}")
    assert page.status_code == 200
    assert "Générer la convention" in text_of(page)
    response = post_form(
        staff, f"/gestion/aides/{award_id}/convention", page=f"/gestion/aides/{award_id}"
    )
    assert response.status_code == 302
    convention = _convention(app)
    reference = _reference(app, payment_world.application_id)
    assert convention["reference"] == f"CONV-{reference}"
    page = text_of(staff.get(f"/gestion/aides/{award_id}"))
    assert f"CONV-{reference}" in page and "À signer" in page

    text = pdf_text(_stored(app, convention["pdf_key"]))
    assert "Convention d'attribution d'une subvention" in text
    assert f"CONV-{reference}" in text
    # the parties
    assert app.config["FUNDER_NAME"] in text and app.config["FUNDER_SIRET"] in text
    assert "La Recyclerie du Quai" in text and "W332000123" in text
    assert "1 rue de la République, 33000 Bordeaux" in text
    assert "représenté par Camille Martin, Présidente" in text
    # object, total, schedule, conditions, reports
    assert "Recyclerie solidaire" in text
    assert "30 000,00 €" in text
    assert "2016 15 000,00 €" in text and "2017 10 000,00 €" in text and "2018 5 000,00 €" in text
    assert "La tranche 2016 est versée en totalité à la signature" in text
    assert "Cerfa n° 15059" in text
    assert "Année 2016 30/06/2017" in text and "Année 2018 30/06/2019" in text
    assert "2023/2831" not in text  # no economic activity: no de minimis mention
    assert "Pour le bénéficiaire" in text and "Pour l'attribuant" in text

    for address in ("porteur@asso.example", "tresorier@asso.example"):
        (mail,) = [m for m in mails_to(address) if "Convention" in str(m["Subject"])]
        assert f"CONV-{reference} à signer" in str(mail["Subject"])
        (attachment,) = list(mail.iter_attachments())
        assert attachment.get_filename() == f"CONV-{reference}.pdf"
        assert attachment.get_content().startswith(b"%PDF")
        assert "/mes-aides" in mail.get_body(preferencelist=("plain",)).get_content()
    assert mails_to("autre@ailleurs.example") == []
    (entry,) = audit_entries("convention.generated")
    assert entry["object_type"] == "convention"


def test_the_de_minimis_mention_appears_for_an_economic_activity(
    app, payment_world, world_award, as_user, post_form
):
    from grants.extensions import db
    from grants.organisations.models import Organisation

    with app.app_context():
        db.session.get(Organisation, payment_world.org_id).has_economic_activity = True
        db.session.commit()
        db.session.remove()
    award_id = world_award()
    staff = as_user("agent@metropole.example")
    post_form(staff, f"/gestion/aides/{award_id}/convention", page=f"/gestion/aides/{award_id}")
    text = pdf_text(_stored(app, _convention(app)["pdf_key"]))
    assert "règlement (UE) 2023/2831" in text and "aide de minimis" in text


def test_the_convention_states_the_call_payment_conditions(
    app, payment_world, create_award, as_user, post_form
):
    from decimal import Decimal

    _call_id, application_id = payment_world.new_call(
        advance_share=Decimal("0.5"), report_due_month=3, release_on_report=True
    )
    award_id = create_award(application_id, "20000", years={2016: "12000", 2017: "8000"})
    staff = as_user("agent@metropole.example")
    post_form(staff, f"/gestion/aides/{award_id}/convention", page=f"/gestion/aides/{award_id}")
    text = pdf_text(_stored(app, _convention(app)["pdf_key"]))
    assert "une avance de 50 % est versée à la signature" in text
    assert "après l'acceptation du compte rendu 2016" in text
    assert "Année 2016 31/03/2017" in text


def test_no_convention_before_the_schedule_or_when_it_does_not_match(
    app, payment_world, world_award, as_user, post_form
):
    staff = as_user("agent@metropole.example")
    proposed = world_award(status="proposed")
    post_form(staff, f"/gestion/aides/{proposed}/convention", page=f"/gestion/aides/{proposed}")
    assert "l'échéancier de l'aide est calculé" in text_of(staff.get(f"/gestion/aides/{proposed}"))
    assert _convention(app) is None


def test_a_mismatched_schedule_is_refused(app, payment_world, create_award, as_user, post_form):
    award_id = create_award(payment_world.application_id, "30000", years={2016: "20000"})
    staff = as_user("agent@metropole.example")
    response = post_form(
        staff, f"/gestion/aides/{award_id}/convention", page=f"/gestion/aides/{award_id}"
    )
    page = text_of(staff.get(response.headers["Location"]))
    assert "L'échéancier (20 000,00 €) ne correspond pas au montant de l'aide (30 000,00 €)" in page
    assert _convention(app) is None


def test_staff_record_the_signature_and_the_reports_open(
    app, payment_world, world_award, as_user, post_form, audit_entries
):
    from grants.extensions import db
    from grants.funding.models import Award, AwardStatus
    from grants.payments.models import AnnualReport, ReportStatus

    award_id = world_award()
    staff = as_user("agent@metropole.example")
    post_form(staff, f"/gestion/aides/{award_id}/convention", page=f"/gestion/aides/{award_id}")
    url = f"/gestion/aides/{award_id}/convention/signature"

    # a file that is not a PDF, and a date in the future: refused next to the fields
    today = date.today()
    bad = post_form(
        staff,
        url,
        {"signed_on": (today + timedelta(days=3)).isoformat()},
        files={"file": (__import__("io").BytesIO(b"MZ\x90\x00 not a pdf"), "signee.pdf")},
    )
    assert bad.status_code == 422
    page = text_of(bad)
    assert "La date de signature ne peut pas être dans le futur." in page or "PDF" in page
    assert "n'est pas celui d'un fichier PDF valide" in page

    future = post_form(
        staff,
        url,
        {"signed_on": (today + timedelta(days=3)).isoformat()},
        files={"file": (__import__("io").BytesIO(PDF_BYTES), "signee.pdf")},
    )
    assert future.status_code == 422
    assert "La date de signature ne peut pas être dans le futur." in text_of(future)

    ok = post_form(
        staff,
        url,
        {"signed_on": today.strftime("%d/%m/%Y")},
        files={"file": (__import__("io").BytesIO(PDF_BYTES), "Convention signée.pdf")},
    )
    assert ok.status_code == 302
    convention = _convention(app)
    assert convention["signed_on"] == today
    assert convention["signed_copy_name"] == "Convention signée.pdf"
    with app.app_context():
        assert db.session.get(Award, award_id).status == AwardStatus.convention_signed
        reports = db.session.scalars(
            sa.select(AnnualReport)
            .where(AnnualReport.award_id == award_id)
            .order_by(AnnualReport.year)
        ).all()
        assert [(r.year, r.due_on, r.status) for r in reports] == [
            (2016, rules.report_due_on(2016, 6), ReportStatus.due),
            (2017, date(2018, 6, 30), ReportStatus.due),
            (2018, date(2019, 6, 30), ReportStatus.due),
        ]
        db.session.remove()
    signed = staff.get(f"/aides/{award_id}/convention-signee.pdf")
    assert signed.status_code == 200 and signed.data == PDF_BYTES
    assert "attachment" in signed.headers["Content-Disposition"]
    assert [e["action"] for e in audit_entries("convention.signed")] == ["convention.signed"]
    # signed: neither regenerated nor signed twice
    post_form(staff, f"/gestion/aides/{award_id}/convention", page=f"/gestion/aides/{award_id}")
    assert _convention(app)["pdf_key"] == convention["pdf_key"]
    again = post_form(
        staff,
        url,
        {"signed_on": today.isoformat()},
        files={"file": (__import__("io").BytesIO(PDF_BYTES), "bis.pdf")},
    )
    assert "déjà enregistrée" in text_of(again)


def test_only_staff_and_members_download_the_convention(
    app, payment_world, world_award, as_user, post_form, client
):
    award_id = world_award()
    staff = as_user("agent@metropole.example")
    post_form(staff, f"/gestion/aides/{award_id}/convention", page=f"/gestion/aides/{award_id}")
    url = f"/aides/{award_id}/convention.pdf"
    assert staff.get(url).data.startswith(b"%PDF")
    member = as_user("porteur@asso.example")
    response = member.get(url)
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    outsider = as_user("autre@ailleurs.example")
    assert outsider.get(url).status_code == 404
    assert outsider.get(f"/aides/{award_id}/convention-signee.pdf").status_code == 404
    assert outsider.get(f"/aides/{award_id + 1}/convention.pdf").status_code == 404
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/connexion" in anonymous.headers["Location"]
    # the applicant can't use the staff pages
    assert member.get(f"/gestion/aides/{award_id}").status_code == 403
    assert member.get(f"/gestion/aides/{award_id}/convention/signature").status_code == 403
    assert member.post(f"/gestion/aides/{award_id}/convention").status_code in (400, 403)
