"""The beneficiary's side: « Mes aides » (convention, schedule, payments received and to
come, reports due, what to upload), invoices of an investment aid — and nothing of it
for another applicant, whatever ids they guess."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.fixtures.applications import PDF_BYTES
from tests.payments.conftest import text_of

D = Decimal
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81"
    b"\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _ids(app, model, **where):
    from grants.extensions import db

    with app.app_context():
        query = sa.select(model.id)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        ids = list(db.session.scalars(query.order_by(model.id)))
        db.session.remove()
    return ids


def test_my_awards_show_the_convention_schedule_payments_and_reports(
    app, payment_world, world_award, sign_award, as_user, pay
):
    from grants.payments.models import AnnualReport

    award_id = world_award()
    sign_award(award_id)
    pay(award_id, 2016, "9000")
    pay(award_id, 2016, "6000", status="validated")
    member = as_user("porteur@asso.example")

    dashboard = member.get("/dossiers").get_data(as_text=True)
    assert 'href="/mes-aides"' in dashboard

    page = text_of(member.get("/mes-aides"))
    assert "Recyclerie solidaire — La Recyclerie du Quai" in page
    assert "Montant de l'aide 30 000,00 €" in page
    assert "Reçu 9 000,00 €" in page and "À venir 21 000,00 €" in page
    assert "Signée le 01/03/2016" in page
    # schedule by year: amount, received, to come
    assert "2016 15 000,00 € 9 000,00 € 6 000,00 €" in page
    assert "2017 10 000,00 € 0,00 € 10 000,00 €" in page
    # payments received and to come
    assert "9 000,00 € Versé versé le 01/04/2016" in page
    assert "6 000,00 € À venir (validé)" in page
    # reports due, with their dates, late ones flagged, and where to send them
    report_ids = _ids(app, AnnualReport, award_id=award_id)
    html = member.get("/mes-aides").get_data(as_text=True)
    for report_id in report_ids:
        assert f'href="/rapports/{report_id}"' in html
    assert "Remettre le compte rendu 2016" in page and "au plus tard le 30/06/2017" in page
    assert "En retard" in page  # 2017 is long gone
    assert "Déposer vos factures" not in page  # not an investment aid
    assert (
        "La tranche 2017 est versée à partir du 1er janvier 2017, après l'acceptation du "
        "compte rendu 2016." in page
    )


def test_a_convention_to_sign_is_announced(app, payment_world, world_award, as_user, get_csrf):
    award_id = world_award()
    member = as_user("porteur@asso.example")
    assert "En préparation par le service" in text_of(member.get("/mes-aides"))
    staff = as_user("agent@metropole.example")
    staff.post(
        f"/gestion/aides/{award_id}/convention",
        data={"csrf_token": get_csrf(staff, f"/gestion/aides/{award_id}")},
    )
    page = text_of(member.get("/mes-aides"))
    assert "Signez la convention CONV-" in page and "À signer" in page
    assert f'href="/aides/{award_id}/convention.pdf"' in member.get("/mes-aides").get_data(
        as_text=True
    )


@pytest.fixture
def investment(app, payment_world, create_call, create_application, create_award, sign_award):
    call_id = create_call(kind="investment_aid", status="decided", years={2016: "159000"})
    application_id = create_application(
        call_id, payment_world.org_id, status="accepted", complete=True, request=D("20000")
    )
    award_id = create_award(application_id, "20000", years={2016: "20000"})
    sign_award(award_id)
    return award_id


def test_invoices_of_an_investment_aid_release_payments(
    app, payment_world, investment, as_user, post_form, audit_entries
):
    from grants.funding.models import Tranche
    from grants.payments import operations
    from grants.payments.models import Invoice

    member = as_user("porteur@asso.example")
    assert "Déposer vos factures justificatives" in text_of(member.get("/mes-aides"))
    url = f"/mes-aides/{investment}/factures"
    page = member.get(url)
    assert page.status_code == 200 and "à hauteur de 50 %" in text_of(page)

    data = {
        "supplier": "Tri Équipement SA",
        "label": "Tapis de tri",
        "invoice_date": "12/05/2016",
        "amount": "10 000",
        "tranche_id": "",
    }
    exe = post_form(
        member, url, data, files={"file": (io.BytesIO(b"MZ\x90\x00binary"), "facture.pdf")}
    )
    assert exe.status_code == 422
    assert "n'est pas celui d'un fichier PDF valide" in text_of(exe)
    assert 'value="Tri Équipement SA"' in exe.get_data(as_text=True)  # the input is kept
    missing = post_form(
        member, url, {**data, "supplier": ""}, files={"file": (io.BytesIO(PDF_BYTES), "f.pdf")}
    )
    assert "Indiquez le fournisseur." in text_of(missing)
    ok = post_form(
        member, url, data, files={"file": (io.BytesIO(PNG_BYTES), "facture scannée.png")}
    )
    assert ok.status_code == 302
    (invoice_id,) = _ids(app, Invoice)
    page = text_of(member.get(url))
    assert "Tapis de tri" in page and "À examiner" in page
    download = member.get(f"/aides/{investment}/factures/{invoice_id}")
    assert download.status_code == 200 and download.data == PNG_BYTES
    assert download.headers["Content-Type"] == "image/png"

    # nothing payable until the service accepts the invoice
    with app.app_context():
        from grants.extensions import db

        tranche = db.session.scalar(sa.select(Tranche).where(Tranche.award_id == investment))
        assert operations.allowance_of(tranche).payable == 0
        db.session.remove()
    staff = as_user("agent@metropole.example")
    assert "Tapis de tri" in text_of(staff.get(f"/gestion/aides/{investment}"))
    review = f"/gestion/factures/{invoice_id}/examen"
    no_comment = post_form(staff, review, {"decision": "reject", "comment": ""})
    assert "Indiquez pourquoi la facture est refusée." in text_of(no_comment)
    assert post_form(staff, review, {"decision": "accept", "comment": ""}).status_code == 302
    with app.app_context():
        tranche = db.session.scalar(sa.select(Tranche).where(Tranche.award_id == investment))
        assert operations.allowance_of(tranche).payable == D("5000")  # 10,000 × 50 %
        db.session.remove()
    page = text_of(staff.get(f"/gestion/aides/{investment}"))
    assert "Factures acceptées : 10 000,00 €, soit 5 000,00 € d'aide justifiée" in page
    assert "invoice.accepted" in [e["action"] for e in audit_entries()]
    # the member can't review; the staff can't accept twice
    assert member.get(review).status_code == 403
    assert "déjà été examinée" in text_of(
        post_form(staff, review, {"decision": "reject", "comment": "x"})
    )


def test_an_operating_aid_takes_no_invoices(
    app, payment_world, world_award, sign_award, as_user, post_form
):
    award_id = world_award()
    sign_award(award_id)
    member = as_user("porteur@asso.example")
    page = member.get(f"/mes-aides/{award_id}/factures")
    assert "ne se justifie pas par factures" in text_of(page)


def test_another_applicant_sees_and_downloads_nothing(
    app, payment_world, investment, as_user, post_form, get_csrf
):
    from grants.payments.models import Invoice

    member = as_user("porteur@asso.example")
    post_form(
        member,
        f"/mes-aides/{investment}/factures",
        {"supplier": "F", "label": "L", "invoice_date": "12/05/2016", "amount": "100"},
        files={"file": (io.BytesIO(PDF_BYTES), "f.pdf")},
    )
    (invoice_id,) = _ids(app, Invoice)
    outsider = as_user("autre@ailleurs.example")
    page = text_of(outsider.get("/mes-aides"))
    assert "Aucune aide n'a encore été attribuée à vos structures" in page
    assert "Recyclerie" not in page
    for url in (
        f"/aides/{investment}/convention.pdf",
        f"/aides/{investment}/convention-signee.pdf",
        f"/aides/{investment}/factures/{invoice_id}",
        f"/mes-aides/{investment}/factures",
    ):
        assert outsider.get(url).status_code == 404, url
    token = get_csrf(outsider, "/mes-aides")
    upload = outsider.post(
        f"/mes-aides/{investment}/factures",
        data={"csrf_token": token, "supplier": "X", "label": "X", "invoice_date": "12/05/2016",
              "amount": "1", "file": (io.BytesIO(PDF_BYTES), "x.pdf")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert upload.status_code == 404
    assert _ids(app, Invoice) == [invoice_id]
    for url in (
        f"/gestion/aides/{investment}",
        f"/gestion/factures/{invoice_id}/examen",
        "/gestion/aides",
    ):
        assert outsider.get(url).status_code == 403, url
    # staff see everything, but upload no invoice in the beneficiary's name
    staff = as_user("agent@metropole.example")
    assert staff.get(f"/aides/{investment}/factures/{invoice_id}").data == PDF_BYTES
    assert staff.get(f"/mes-aides/{investment}/factures").status_code == 404
