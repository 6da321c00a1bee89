"""Staff payments through the pages: request, validate, pay, cancel; partial payments;
tranche reduction and cancellation; recoveries; the award's status follows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.payments.conftest import text_of

D = Decimal


@pytest.fixture
def signed(payment_world, world_award, sign_award):
    """A signed award of 30,000 (15,000 / 10,000 / 5,000) on the default call (whole first
    tranche at signature, later tranches released by the previous year's report)."""
    award_id = world_award()
    sign_award(award_id)
    return award_id


def _tranches(app, award_id):
    from grants.extensions import db
    from grants.funding.models import Tranche

    with app.app_context():
        rows = db.session.scalars(
            sa.select(Tranche).where(Tranche.award_id == award_id).order_by(Tranche.year)
        ).all()
        values = {
            t.year: (t.id, t.amount, t.requested_amount, t.paid_amount, t.status.value)
            for t in rows
        }
        db.session.remove()
    return values


def _award(app, award_id):
    from grants.extensions import db
    from grants.funding.models import Award

    with app.app_context():
        award = db.session.get(Award, award_id)
        values = (award.status.value, award.allocated_total)
        db.session.remove()
    return values


def _payments(app):
    from grants.extensions import db
    from grants.payments.models import Payment

    with app.app_context():
        rows = [
            (p.id, p.amount, p.status.value, p.paid_on, p.order_ref, p.cancelled_reason)
            for p in db.session.scalars(sa.select(Payment).order_by(Payment.id))
        ]
        db.session.remove()
    return rows


def _request(post_form, staff, tranche_id, amount=None, note=""):
    url = f"/gestion/tranches/{tranche_id}/versement"
    data = {"note": note}
    if amount is not None:
        data["amount"] = amount
    return post_form(staff, url, data)


def test_request_validate_and_pay_a_tranche(
    app, payment_world, signed, as_user, post_form, mails_to, audit_entries
):
    staff = as_user("agent@metropole.example")
    tranches = _tranches(app, signed)
    first_id = tranches[2016][0]
    page = staff.get(f"/gestion/tranches/{first_id}/versement")
    assert page.status_code == 200
    # the default amount is what the conditions allow today: the whole first tranche
    assert 'value="15000"' in page.get_data(as_text=True)
    assert (
        post_form(staff, f"/gestion/tranches/{first_id}/versement", {"amount": "15000"}).status_code
        == 302
    )
    assert _tranches(app, signed)[2016][1:] == (D("15000"), D("15000"), D("0"), "requested")
    assert _award(app, signed)[0] == "in_payment"
    ((payment_id, amount, status, *_),) = _payments(app)
    assert (amount, status) == (D("15000"), "requested")

    award_page = f"/gestion/aides/{signed}"
    post_form(staff, f"/gestion/versements/{payment_id}/validation", page=award_page)
    assert _payments(app)[0][2] == "validated"
    assert _tranches(app, signed)[2016][4] == "validated"

    missing = post_form(
        staff, f"/gestion/versements/{payment_id}/paiement", {"paid_on": "", "order_ref": ""}
    )
    assert missing.status_code == 422
    page = text_of(missing)
    assert "Indiquez la date du paiement." in page
    assert "Indiquez la référence du mandat de paiement." in page
    paid = post_form(
        staff,
        f"/gestion/versements/{payment_id}/paiement",
        {"paid_on": "15/04/2016", "order_ref": "M-2016-0457"},
    )
    assert paid.status_code == 302
    assert _payments(app)[0][2:5] == ("paid", date(2016, 4, 15), "M-2016-0457")
    assert _tranches(app, signed)[2016][1:] == (D("15000"), D("15000"), D("15000"), "paid")
    page = text_of(staff.get(award_page))
    assert "Payé le 15/04/2016, mandat M-2016-0457" in page
    assert "Versé 15 000,00 €" in page and "Reste à verser 15 000,00 €" in page

    # a paid payment can't be paid again nor cancelled
    again = post_form(
        staff,
        f"/gestion/versements/{payment_id}/paiement",
        {"paid_on": "16/04/2016", "order_ref": "M-2"},
        page=f"/gestion/versements/{payment_id}/paiement",
    )
    assert "Un versement « Versé » ne peut pas être payé." in text_of(again)

    for address in ("porteur@asso.example", "tresorier@asso.example"):
        (mail,) = [m for m in mails_to(address) if "Versement" in str(m["Subject"])]
        body = mail.get_body(preferencelist=("plain",)).get_content().replace("\u202f", " ")
        assert "15 000,00" in body and "M-2016-0457" in body and "15/04/2016" in body
    actions = [e["action"] for e in audit_entries()]
    for action in ("payment.requested", "payment.validated", "payment.paid", "award.status"):
        assert action in actions


def test_partial_payments_never_pass_the_tranche(app, signed, as_user, post_form):
    staff = as_user("agent@metropole.example")
    first_id = _tranches(app, signed)[2016][0]
    assert _request(post_form, staff, first_id, "5000").status_code == 302
    assert _request(post_form, staff, first_id, "6000,50").status_code == 302
    over = _request(post_form, staff, first_id, "4000")
    assert over.status_code == 422
    page = text_of(over)
    assert "Le versement dépasserait la tranche : il reste 3 999,50 € à demander" in page
    assert _tranches(app, signed)[2016][2] == D("11000.50")
    # the default is what remains
    assert 'value="3999,50"' in staff.get(f"/gestion/tranches/{first_id}/versement").get_data(
        as_text=True
    )
    assert _request(post_form, staff, first_id, "3999,50").status_code == 302
    assert _tranches(app, signed)[2016][2] == D("15000")
    assert (
        "Demander un versement"
        not in text_of(staff.get(f"/gestion/aides/{signed}"))
        .split("2017")[0]
        .split("Échéancier")[1]
    )


def test_later_tranches_wait_for_the_previous_report(
    app, signed, as_user, post_form, accept_report
):
    staff = as_user("agent@metropole.example")
    second_id = _tranches(app, signed)[2017][0]
    refused = _request(post_form, staff, second_id, "1000")
    assert refused.status_code == 422
    assert "La tranche 2017 est versée après l'acceptation du compte rendu 2016." in text_of(
        refused
    )
    accept_report(signed, 2016)
    assert _request(post_form, staff, second_id, "10000").status_code == 302


def test_nothing_is_paid_before_the_signature(app, payment_world, world_award, as_user, post_form):
    award_id = world_award()
    staff = as_user("agent@metropole.example")
    first_id = _tranches(app, award_id)[2016][0]
    refused = _request(post_form, staff, first_id, "100")
    assert refused.status_code == 422
    assert "La convention n'est pas encore signée." in text_of(refused)
    assert _payments(app) == []


def test_the_advance_share_of_the_call(
    app, payment_world, create_award, sign_award, as_user, post_form
):
    _call, application_id = payment_world.new_call(advance_share=D("0.4"))
    award_id = create_award(application_id, "25000", years={2016: "15000", 2017: "10000"})
    sign_award(award_id)
    staff = as_user("agent@metropole.example")
    first_id = _tranches(app, award_id)[2016][0]
    page = staff.get(f"/gestion/tranches/{first_id}/versement")
    assert 'value="6000"' in page.get_data(as_text=True)
    assert "Avance de 40 % à la signature (6 000,00 €)" in text_of(page)
    refused = _request(post_form, staff, first_id, "6000,01")
    assert "Montant trop élevé : 6 000,00 € au plus" in text_of(refused)
    assert _request(post_form, staff, first_id).status_code == 422  # amount required
    assert _request(post_form, staff, first_id, "6000").status_code == 302


def test_cancel_a_payment_with_a_reason(app, signed, as_user, post_form, audit_entries):
    staff = as_user("agent@metropole.example")
    first_id = _tranches(app, signed)[2016][0]
    _request(post_form, staff, first_id, "5000")
    ((payment_id, *_),) = _payments(app)
    url = f"/gestion/versements/{payment_id}/annulation"
    missing = post_form(staff, url, {"reason": "  "})
    assert missing.status_code == 422 and "Indiquez le motif." in text_of(missing)
    assert post_form(staff, url, {"reason": "Erreur de montant"}).status_code == 302
    assert _payments(app)[0][2] == "cancelled"
    assert _payments(app)[0][5] == "Erreur de montant"
    assert _tranches(app, signed)[2016][2:] == (D("0"), D("0"), "planned")
    (entry,) = audit_entries("payment.cancelled")
    assert entry["changes"]["cancelled_reason"] == [None, "Erreur de montant"]


def test_reduce_and_cancel_tranches(app, signed, as_user, post_form):
    staff = as_user("agent@metropole.example")
    tranches = _tranches(app, signed)
    first_id, second_id, third_id = (tranches[y][0] for y in (2016, 2017, 2018))
    _request(post_form, staff, first_id, "9000")

    url = f"/gestion/tranches/{first_id}/modification"
    below = post_form(staff, url, {"amount": "8999", "reason": "Projet réduit"})
    assert below.status_code == 422
    assert "ne peut pas descendre sous ce qui est déjà demandé (9 000,00 €)" in text_of(below)
    no_reason = post_form(staff, url, {"amount": "12000", "reason": ""})
    assert "Indiquez le motif de la modification." in text_of(no_reason)
    assert post_form(staff, url, {"amount": "12000", "reason": "Projet réduit"}).status_code == 302
    assert _tranches(app, signed)[2016][1] == D("12000")
    assert _award(app, signed)[1] == D("27000")

    # raising a tranche past the award's total is refused; within it, accepted
    too_much = post_form(
        staff, f"/gestion/tranches/{second_id}/modification", {"amount": "13000.01", "reason": "x"}
    )
    assert "Les tranches dépasseraient le montant de l'aide (30 000,00 €)" in text_of(too_much)
    assert (
        post_form(
            staff,
            f"/gestion/tranches/{second_id}/modification",
            {"amount": "13000", "reason": "Report"},
        ).status_code
        == 302
    )
    assert _award(app, signed)[1] == D("30000")

    # cancelling the rest of a tranche: its amount becomes what is requested
    assert (
        post_form(
            staff, f"/gestion/tranches/{first_id}/annulation", {"reason": "Fin anticipée"}
        ).status_code
        == 302
    )
    assert _tranches(app, signed)[2016][1:3] == (D("9000"), D("9000"))
    assert (
        post_form(
            staff, f"/gestion/tranches/{third_id}/annulation", {"reason": "Fin anticipée"}
        ).status_code
        == 302
    )
    assert _tranches(app, signed)[2018][1:] == (D("0"), D("0"), D("0"), "cancelled")
    assert _award(app, signed)[1] == D("22000")
    nothing_left = post_form(
        staff, f"/gestion/tranches/{first_id}/annulation", {"reason": "encore"}
    )
    assert "Toute la tranche est déjà demandée" in text_of(nothing_left)
    page = text_of(staff.get(f"/gestion/aides/{signed}"))
    assert "Modifiée : Fin anticipée" in page


def test_recoveries_stay_within_what_was_paid(app, signed, as_user, post_form, audit_entries):
    from grants.extensions import db
    from grants.payments.models import Recovery

    staff = as_user("agent@metropole.example")
    first_id = _tranches(app, signed)[2016][0]
    _request(post_form, staff, first_id, "15000")
    ((payment_id, *_),) = _payments(app)
    post_form(
        staff, f"/gestion/versements/{payment_id}/validation", page=f"/gestion/aides/{signed}"
    )
    post_form(
        staff,
        f"/gestion/versements/{payment_id}/paiement",
        {"paid_on": "01/05/2016", "order_ref": "M-1"},
    )
    url = f"/gestion/aides/{signed}/reversements/nouveau"
    data = {
        "reason": "Dépenses non réalisées",
        "order_ref": "T-2017-12",
        "requested_on": "01/09/2017",
    }
    over = post_form(staff, url, {**data, "amount": "15000,01"})
    assert over.status_code == 422
    assert "Le reversement dépasse ce qui a été versé : au plus 15 000,00 €" in text_of(over)
    assert post_form(staff, url, {**data, "amount": "4000"}).status_code == 302
    second = post_form(staff, url, {**data, "amount": "11000.01"})
    assert "au plus 11 000,00 €" in text_of(second)
    with app.app_context():
        recovery_id = db.session.scalar(sa.select(Recovery.id))
        db.session.remove()
    received = post_form(
        staff, f"/gestion/reversements/{recovery_id}/reception", {"received_on": "15/10/2017"}
    )
    assert received.status_code == 302
    page = text_of(staff.get(f"/gestion/aides/{signed}"))
    assert "Reçu le 15/10/2017" in page and "Reversé 4 000,00 €" in page
    assert [e["action"] for e in audit_entries() if e["action"].startswith("recovery.")] == [
        "recovery.requested",
        "recovery.received",
    ]


def test_the_award_is_closed_when_everything_is_paid_or_cancelled(
    app, signed, as_user, post_form, accept_report
):
    staff = as_user("agent@metropole.example")
    tranches = _tranches(app, signed)
    accept_report(signed, 2016)
    for year in (2016, 2017):
        assert (
            _request(post_form, staff, tranches[year][0], str(tranches[year][1])).status_code == 302
        )
    for payment_id, *_ in _payments(app):
        post_form(
            staff, f"/gestion/versements/{payment_id}/validation", page=f"/gestion/aides/{signed}"
        )
        post_form(
            staff,
            f"/gestion/versements/{payment_id}/paiement",
            {"paid_on": "01/06/2017", "order_ref": f"M-{payment_id}"},
        )
    assert _award(app, signed)[0] == "in_payment"
    post_form(
        staff, f"/gestion/tranches/{tranches[2018][0]}/annulation", {"reason": "Arrêt du projet"}
    )
    assert _award(app, signed)[0] == "closed"
    assert "Soldée" in text_of(staff.get(f"/gestion/aides/{signed}"))


def test_staff_list_of_awards(app, signed, as_user):
    staff = as_user("agent@metropole.example")
    page = text_of(staff.get("/gestion/aides"))
    assert "La Recyclerie du Quai" in page and "Signée le 01/03/2016" in page
    assert "1 aide." in page
    assert "Aucune aide" in text_of(staff.get("/gestion/aides?statut=closed"))
    assert as_user("porteur@asso.example").get("/gestion/aides").status_code == 403


def test_the_database_guards_the_counters_whatever_the_backend(
    app, signed, as_user, post_form, monkeypatch
):
    """Even when the rules were read before a concurrent request, the conditional UPDATE
    refuses; and the CHECK constraints refuse a direct write past the bounds."""
    from grants.extensions import db
    from grants.funding.models import Award, Tranche
    from grants.payments import operations, rules

    staff = as_user("agent@metropole.example")
    first_id = _tranches(app, signed)[2016][0]
    _request(post_form, staff, first_id, "10000")
    stale = rules.Allowance(D("15000"), D("15000"), D("15000"))  # read before that request
    monkeypatch.setattr(operations, "allowance_of", lambda tranche, today=None: stale)
    refused = _request(post_form, staff, first_id, "6000")
    assert refused.status_code == 422
    page = text_of(refused)
    assert "Demande refusée : elle dépasserait ce qui peut être demandé sur la tranche 2016" in page
    assert (
        "déjà demandé : 10 000,00 €" in page and "reste disponible aujourd'hui : 5 000,00 €" in page
    )
    assert _tranches(app, signed)[2016][2] == D("10000")

    with app.app_context():
        for stmt in (
            sa.update(Tranche).where(Tranche.id == first_id).values(requested_amount=D("15000.01")),
            sa.update(Tranche).where(Tranche.id == first_id).values(paid_amount=D("10000.01")),
            sa.update(Award).where(Award.id == signed).values(allocated_total=D("30000.01")),
        ):
            with pytest.raises(
                sa.exc.IntegrityError, match=r"(?is)check constraint.*_within_(amount|total)"
            ):
                db.session.execute(stmt)
            db.session.rollback()
        db.session.remove()
