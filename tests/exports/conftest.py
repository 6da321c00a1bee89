"""Fixtures of the exports: awards with their decision, tranches, convention and payments,
written directly in the database (the conventions and payments pages are other features)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from stdnum import luhn
from stdnum.fr import siret as stdnum_siret


def valid_siret(n: int) -> str:
    """A Luhn-valid SIRET (SIREN and SIRET check digits) unique to ``n``."""
    siren = f"{40000000 + n:08d}"
    siren += luhn.calc_check_digit(siren)
    body = siren + f"{n % 10000:04d}"
    siret = body + luhn.calc_check_digit(body)
    assert stdnum_siret.is_valid(siret)
    return siret


@pytest.fixture
def funded(app, create_call, create_organisation, create_application, create_committee_session):
    """``funded(**options)`` → ids of a funded file: an accepted application, its decision
    (in a committee session), the award, its tranches, the convention and payments.

    Options: ``call_id`` (default: a new closed call), ``org`` (fields of a new
    organisation) or ``org_id``, ``title``, ``total`` (default the tranches' sum),
    ``tranches`` ``{year: amount}`` (default 12,000 / 10,000 / 8,000 from 2016),
    ``signed_on`` (None: convention not signed; False: no convention at all),
    ``held_on``/``deliberation`` (the session), ``payments`` ``[(year, amount, status)]``.
    """
    counter = {"n": 0}

    def _funded(
        call_id=None,
        org=None,
        org_id=None,
        title=None,
        total=None,
        tranches=None,
        signed_on=date(2016, 7, 1),
        held_on=date(2016, 6, 15),
        deliberation="2016/042",
        payments=(),
        request=Decimal("10000"),
    ):
        from grants.core.db import utcnow
        from grants.decisions.models import Decision, Outcome
        from grants.extensions import db
        from grants.funding.models import Award, AwardStatus, Tranche, TrancheStatus
        from grants.payments.models import Convention, Payment, PaymentStatus

        counter["n"] += 1
        n = counter["n"]
        if call_id is None:
            call_id = create_call(status="closed", title="Appel à projets ESS 2016")
        if org_id is None:
            fields = {"name": f"Structure financée {n}", "siret": valid_siret(n), **(org or {})}
            org_id = create_organisation(**fields)
        application_id = create_application(
            call_id,
            org_id,
            status="accepted",
            complete=True,
            request=request,
            title=title or f"Projet financé {n}",
        )
        tranches = tranches or {2016: "12000", 2017: "10000", 2018: "8000"}
        rows = {year: Tranche(year=year, amount=Decimal(a)) for year, a in tranches.items()}
        total = Decimal(total) if total else sum((t.amount for t in rows.values()), Decimal(0))
        session_id = create_committee_session(call_id, held_on=held_on, ref=deliberation)
        with app.app_context():
            db.session.add(
                Decision(
                    application_id=application_id,
                    session_id=session_id,
                    outcome=Outcome.accepted,
                    awarded_total=total,
                    decided_at=datetime(held_on.year, held_on.month, held_on.day, 12, tzinfo=UTC),
                )
            )
            award = Award(
                application_id=application_id,
                call_id=call_id,
                total=total,
                rank=n,
                status=AwardStatus.convention_signed if signed_on else AwardStatus.scheduled,
                tranches=list(rows.values()),
                allocated_total=sum((t.amount for t in rows.values()), Decimal(0)),
            )
            db.session.add(award)
            db.session.flush()
            if signed_on is not False:
                db.session.add(
                    Convention(
                        award_id=award.id,
                        reference=f"CONV-T-{n:04d}",
                        signed_on=signed_on,
                        signed_copy_key=f"conventions/signed-{n}" if signed_on else None,
                        signed_copy_name="convention-signee.pdf" if signed_on else None,
                        signed_copy_sha256=hashlib.sha256(b"x").hexdigest() if signed_on else None,
                    )
                )
            payment_ids = []
            for year, amount, status in payments:
                tranche = rows[year]
                amount = Decimal(amount)
                status = PaymentStatus(status)
                payment = Payment(
                    tranche_id=tranche.id,
                    amount=amount,
                    status=status,
                    validated_at=utcnow() if status != PaymentStatus.requested else None,
                    paid_on=date(year, 9, 1) if status == PaymentStatus.paid else None,
                    order_ref=f"MANDAT-{year}-{n}" if status == PaymentStatus.paid else None,
                    cancelled_reason="Erreur de saisie"
                    if status == PaymentStatus.cancelled
                    else None,
                )
                db.session.add(payment)
                if status != PaymentStatus.cancelled:
                    tranche.requested_amount += amount
                if status == PaymentStatus.paid:
                    tranche.paid_amount += amount
                    tranche.status = TrancheStatus.paid
                db.session.flush()
                payment_ids.append(payment.id)
            db.session.commit()
            ids = SimpleNamespace(
                call_id=call_id,
                org_id=org_id,
                application_id=application_id,
                award_id=award.id,
                tranche_ids={year: t.id for year, t in rows.items()},
                payment_ids=payment_ids,
            )
            db.session.remove()
        return ids

    return _funded


@pytest.fixture
def run_job(app):
    """``run_job(job_id, every=…)`` → what the task returned, run in-process."""

    def _run(job_id, every=1000):
        from grants.exports.tasks import run
        from grants.extensions import db

        with app.app_context():
            try:
                return run(job_id, every=every)
            finally:
                db.session.remove()

    return _run


@pytest.fixture
def new_job(app):
    """``new_job(kind, format="xlsx", params=None, user_id=None)`` → a queued job's id."""

    def _new(kind, format_="xlsx", params=None, user_id=None):
        from grants.exports.models import ExportFormat, ExportJob, ExportKind
        from grants.extensions import db

        with app.app_context():
            job = ExportJob(
                kind=ExportKind(kind),
                format=ExportFormat(format_),
                params=params or {},
                requested_by_id=user_id,
            )
            db.session.add(job)
            db.session.commit()
            job_id = job.id
            db.session.remove()
        return job_id

    return _new


@pytest.fixture
def job_state(app):
    """``job_state(job_id)`` → the job's columns as a namespace."""

    def _state(job_id):
        from grants.exports.models import ExportJob
        from grants.extensions import db

        with app.app_context():
            job = db.session.get(ExportJob, job_id)
            state = SimpleNamespace(
                **{c.name: getattr(job, c.key) for c in ExportJob.__table__.columns}
            )
            db.session.remove()
        return state

    return _state


@pytest.fixture
def stored(app):
    """``stored(key)`` → the bytes of a stored file."""

    def _read(key):
        from grants.core.storage import get_storage

        with app.app_context():
            return get_storage().read(key)

    return _read
