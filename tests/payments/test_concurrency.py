"""Parallel requests on one tranche or one award: the money holds (PostgreSQL).

SQLAlchemy drops ``with_for_update`` on SQLite, so the guards are conditional UPDATEs in
the database (DESIGN §9); these tests fire them for real on PostgreSQL, each thread with
its own app context, session and connection, released together by a barrier.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres

D = Decimal
THREADS = 8


def _together(app, n, action):
    """Run ``action(i)`` in ``n`` threads at once; ``{i: "ok" | French message}``."""
    from grants.extensions import db
    from grants.payments.operations import PaymentError

    barrier = threading.Barrier(n)
    outcomes: dict[int, str] = {}

    def _worker(i):
        with app.app_context():
            try:
                assert db.engine.dialect.name == "postgresql"
                prepared = action(i, None)
                barrier.wait(timeout=20)
                try:
                    action(i, prepared)
                    db.session.commit()
                    outcomes[i] = "ok"
                except PaymentError as exc:
                    db.session.rollback()
                    outcomes[i] = exc.message
            except Exception as exc:  # reported by the main thread
                outcomes[i] = f"crash: {exc!r}"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=_worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert not [v for v in outcomes.values() if v.startswith("crash")], outcomes
    return outcomes


def _staff(app, payment_world):
    from grants.accounts.models import User
    from grants.extensions import db

    return db.session.get(User, payment_world.staff_id)


def _tranche(award_id, year):
    from grants.extensions import db
    from grants.funding.models import Tranche

    return db.session.scalar(
        sa.select(Tranche).where(Tranche.award_id == award_id, Tranche.year == year)
    )


def test_parallel_payment_requests_never_pass_the_tranche(
    app, payment_world, world_award, sign_award
):
    from grants.extensions import db
    from grants.funding.models import Tranche
    from grants.payments import operations
    from grants.payments.models import Payment, PaymentStatus

    award_id = world_award()  # 2016 tranche: 15,000, all payable at signature
    sign_award(award_id)
    amounts = [
        D("3000"),
        D("4000.50"),
        D("2500"),
        D("5000"),
        D("3000"),
        D("1999.99"),
        D("6000"),
        D("2500"),
    ]
    assert sum(amounts) > D("15000")

    def action(i, prepared):
        if prepared is None:
            return (_staff(app, payment_world), _tranche(award_id, 2016))
        staff, tranche = prepared
        operations.request_payment(tranche, staff, amounts[i])

    outcomes = _together(app, THREADS, action)
    accepted = [amounts[i] for i, v in outcomes.items() if v == "ok"]
    refused = [v for v in outcomes.values() if v != "ok"]
    assert accepted and refused, outcomes
    assert all("dépasse" in v or "au plus" in v for v in refused), refused
    with app.app_context():
        requested = db.session.scalar(
            sa.select(Tranche.requested_amount).where(
                Tranche.award_id == award_id, Tranche.year == 2016
            )
        )
        payments = db.session.scalars(
            sa.select(Payment.amount).where(Payment.status != PaymentStatus.cancelled)
        ).all()
        db.session.remove()
    assert sum(accepted) == sum(payments) == requested <= D("15000")


def test_parallel_raises_never_pass_the_award_total(app, payment_world, create_award):
    from grants.extensions import db
    from grants.funding.models import Award, Tranche
    from grants.payments import operations

    # total 36,000; tranches 15,000 / 10,000 / 5,000: 6,000 left to allocate
    award_id = create_award(
        payment_world.application_id, "36000", years={2016: "15000", 2017: "10000", 2018: "5000"}
    )
    years = [2016, 2017, 2018, 2016, 2017, 2018]
    raise_by = D("4000")

    def action(i, prepared):
        if prepared is None:
            return (_staff(app, payment_world), _tranche(award_id, years[i]))
        staff, tranche = prepared
        operations.change_tranche(tranche, staff, D(tranche.amount) + raise_by, "Hausse")

    outcomes = _together(app, len(years), action)
    assert list(outcomes.values()).count("ok") == 1, outcomes
    with app.app_context():
        allocated = db.session.scalar(sa.select(Award.allocated_total).where(Award.id == award_id))
        tranches = db.session.scalar(
            sa.select(sa.func.sum(Tranche.amount)).where(Tranche.award_id == award_id)
        )
        db.session.remove()
    assert allocated == tranches == D("34000") <= D("36000")


def test_a_payment_is_paid_once_whatever_the_clicks(app, payment_world, world_award, sign_award):
    from datetime import date

    from grants.extensions import db
    from grants.payments import operations
    from grants.payments.models import Payment, PaymentStatus

    award_id = world_award()
    sign_award(award_id)
    with app.app_context():
        staff = _staff(app, payment_world)
        payment = operations.request_payment(_tranche(award_id, 2016), staff, D("15000"))
        operations.transition_payment(payment, staff, PaymentStatus.validated)
        db.session.commit()
        payment_id = payment.id
        db.session.remove()

    def action(i, prepared):
        if prepared is None:
            return (_staff(app, payment_world), db.session.get(Payment, payment_id))
        staff, payment = prepared
        operations.transition_payment(
            payment, staff, PaymentStatus.paid, paid_on=date(2016, 5, 2), order_ref=f"M-{i}"
        )

    outcomes = _together(app, 4, action)
    assert list(outcomes.values()).count("ok") == 1, outcomes
    with app.app_context():
        paid = db.session.scalar(
            sa.select(sa.func.sum(sa.text("paid_amount"))).select_from(sa.table("tranche"))
        )
        db.session.remove()
    assert paid == D("15000")
