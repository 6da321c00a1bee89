"""The life of the 2016 laureates after the committee, through the funding, payments and
reports operations.

* **Schedules** (:func:`load_schedules`): the awards of « Appel à projets ESS 2016 » synced
  from the decisions and their degressive tranches computed **in-process** — the worker's
  task body (:func:`grants.funding.tasks.run_schedule`) is called directly, so the demo has
  tranches without a worker. Skipped once every award's tranches sum to its total.
* **Conventions**: generated (``generate_convention``) then signed in July 2016
  (``record_signature``); the signed copy is the generated PDF passed through
  :func:`grants.core.files.inspect_upload` as a « scanned copy ». The generation date is
  set back to 2016 before the signature (a convention can't be signed before it is made).
* **Payments**: the 2016 tranches paid in 2016 on payment orders ``MAND-2016-01xx`` — one
  paid in part only, one asked for and not yet validated; the 2017 tranches of the two
  first laureates paid in 2017, after their 2016 report was accepted.
* **Annual reports** (2016): handed in by the organisation's member and accepted for most,
  one returned with a comment, one late (due on 30 June 2017, never handed in).

The operations stamp the server's time; the payments, reports and their notifications are
then given the scenario's dates (the audit log keeps the real time). Each step looks at
the state first (a signed convention, a tranche with payments, a report no longer due), so
a second run changes nothing.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from grants.demo.calls import AAP_2016, paris

#: per laureate, in the order of the ranking (largest award first)
#: (signed on, 2016 payment: "paid" | "partial" | "requested", report 2016: "accepted" |
#: "returned" | "late", pay the 2017 tranche)
PLAN = [
    (date(2016, 7, 5), "paid", "accepted", True),
    (date(2016, 7, 6), "paid", "accepted", True),
    (date(2016, 7, 8), "paid", "accepted", False),
    (date(2016, 7, 12), "paid", "returned", False),
    (date(2016, 7, 13), "requested", "late", False),
    (date(2016, 7, 19), "partial", "accepted", False),
]
RETURN_COMMENT = (
    "Merci de détailler l'écart sur les charges de personnel (compte 64) et de joindre "
    "le bilan d'activité validé par votre conseil d'administration."
)
ACTIVITY = (
    "Lancement de l'activité conforme au projet présenté : recrutement de l'équipe, "
    "premiers partenariats avec les acteurs du territoire, accueil des premiers publics. "
    "Le comité de suivi s'est réuni deux fois (septembre et décembre 2016)."
)


def _awards(call) -> list:
    from grants.extensions import db
    from grants.funding.models import Award

    return list(
        db.session.scalars(
            sa.select(Award).where(Award.call_id == call.id).order_by(Award.rank, Award.id)
        )
    )


def load_schedules(call, staff) -> list:
    """The call's awards with their tranches (computed in-process when missing)."""
    from grants.calls.models import CallStatus
    from grants.extensions import db
    from grants.funding.operations import request_schedule
    from grants.funding.tasks import run_schedule

    if call.status != CallStatus.decided:
        return []
    awards = _awards(call)
    if awards and all(a.allocated_total == a.total and a.tranches for a in awards):
        return awards
    run = request_schedule(call, staff, enqueue=False)
    run_id = run.id
    db.session.commit()  # the worker's task reads committed rows
    outcome = run_schedule(run_id)
    if outcome != "stored":
        raise RuntimeError(f"Échéanciers de démonstration non calculés : {outcome}")
    db.session.expire_all()
    return _awards(call)


def _sign(award, staff, signed_on: date) -> None:
    from flask import current_app

    from grants.core.files import inspect_upload
    from grants.core.storage import get_storage
    from grants.payments import queries
    from grants.payments.operations import generate_convention, record_signature

    convention = queries.convention_of(award.id)
    if convention is not None and convention.is_signed:
        return
    if convention is None or convention.pdf_key is None:
        convention = generate_convention(award, staff)
    convention.generated_at = paris(signed_on - timedelta(days=14), 10)
    pdf = get_storage().read(convention.pdf_key)
    upload = inspect_upload(
        io.BytesIO(pdf),
        f"{convention.reference}-signee-scan.pdf",
        {"pdf"},
        current_app.config["UPLOAD_MAX_BYTES"],
    )
    record_signature(award, staff, signed_on, upload)
    _dated("award.convention_ready", "convention", convention.id, convention.generated_at)


def _dated(event: str, object_type: str, object_id: int, when: datetime) -> None:
    from grants.demo.reviews import _settle_notifications

    _settle_notifications(event, object_type, [object_id], when)


def _pay(tranche, staff, amount: Decimal | None, paid_on: date | None, order_ref: str) -> None:
    """Ask for ``amount`` (None: what is payable) on ``tranche``; validate and pay it on
    ``paid_on`` (None: left asked for)."""
    from grants.extensions import db
    from grants.payments.models import Payment, PaymentStatus
    from grants.payments.operations import request_payment, transition_payment

    if db.session.scalar(sa.select(Payment.id).where(Payment.tranche_id == tranche.id).limit(1)):
        return
    payment = request_payment(tranche, staff, amount)
    asked = paris((paid_on or date(2016, 12, 12)) - timedelta(days=10), 9)
    payment.requested_at = asked
    if paid_on is None:
        return
    transition_payment(payment, staff, PaymentStatus.validated)
    transition_payment(payment, staff, PaymentStatus.paid, paid_on=paid_on, order_ref=order_ref)
    payment.requested_at = asked
    payment.validated_at = asked + timedelta(days=3)
    _dated("payment.made", "payment", payment.id, paris(paid_on, 15))


def _report(award, year: int, outcome: str, staff) -> bool:
    """The ``year`` report handed in and accepted or returned; True when it is accepted."""
    from grants.payments.models import AnnualReport, ReportStatus
    from grants.reports import queries
    from grants.reports.operations import accept_report, return_report, save_report, submit_report
    from grants.reports.rules import ReportValues

    report = _report_row(AnnualReport, award, year)
    if report is None or outcome == "late":
        return False
    if report.status != ReportStatus.due:
        return report.status == ReportStatus.accepted
    members = [m.user for m in award.application.organisation.memberships if m.user]
    if not members:
        return False
    member = members[0]
    lines = tuple(replace(line, actual=line.planned) for line in queries.lines_of(report))
    values = ReportValues(
        activity=ACTIVITY,
        lines=lines,
        jobs_created=2,
        jobs_maintained=4,
        people_supported=120,
    )
    save_report(report, member, values)
    submit_report(report, member)
    handed_in = paris(date(year + 1, 5, 22), 16)
    if outcome == "returned":
        return_report(report, staff, RETURN_COMMENT)
        event = "report.returned"
    else:
        accept_report(report, staff)
        event = "report.accepted"
    report.submitted_at = handed_in
    report.reviewed_at = handed_in + timedelta(days=9)
    _dated("report.submitted", "annual_report", report.id, handed_in)
    _dated(event, "annual_report", report.id, report.reviewed_at)
    return outcome == "accepted"


def _report_row(model, award, year: int):
    from grants.extensions import db

    return db.session.scalar(sa.select(model).where(model.award_id == award.id, model.year == year))


def load_payments(calls: dict, staff) -> None:
    from grants.extensions import db

    call = calls[AAP_2016].call
    awards = load_schedules(call, staff)
    for n, (award, (signed_on, first, report, second)) in enumerate(
        zip(awards, PLAN, strict=False), start=1
    ):
        _sign(award, staff, signed_on)
        db.session.refresh(award)
        tranches = {t.year: t for t in award.tranches}
        t2016 = tranches.get(2016)
        if t2016 is not None and t2016.amount > 0:
            paid_on = date(2016, 9, 1) + timedelta(days=7 * n)
            ref = f"MAND-2016-{120 + n:04d}"
            if first == "paid":
                _pay(t2016, staff, None, paid_on, ref)
            elif first == "partial":
                half = (Decimal(t2016.amount) / 2).quantize(Decimal("1"))
                _pay(t2016, staff, half, paid_on, ref)
            else:
                _pay(t2016, staff, None, None, ref)
        accepted = _report(award, 2016, report, staff)
        t2017 = tranches.get(2017)
        if second and accepted and t2017 is not None and t2017.amount > 0:
            _pay(t2017, staff, None, date(2017, 7, 10) + timedelta(days=n), f"MAND-2017-{n:04d}")
        db.session.flush()
