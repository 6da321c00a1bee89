"""Two staff members accept at the same moment: the envelope holds (PostgreSQL).

SQLAlchemy drops ``with_for_update`` on SQLite, so the guard is a conditional UPDATE in
the database (DESIGN §9); this test runs it for real on PostgreSQL with two threads, each
with its own app context, session and connection, released together by a barrier.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres


def _accept_together(app, committee, application_ids, amount):
    from grants.accounts.models import User
    from grants.decisions import operations, queries
    from grants.decisions.models import Outcome
    from grants.extensions import db

    barrier = threading.Barrier(len(application_ids))
    outcomes: dict[int, str] = {}

    def _worker(application_id):
        with app.app_context():
            try:
                assert db.engine.dialect.name == "postgresql"
                actor = db.session.get(User, committee.staff_id)
                application = queries.get_application(application_id)
                data = operations.DecisionInput(
                    outcome=Outcome.accepted,
                    awarded_total=Decimal(amount),
                    session_id=committee.session_id,
                )
                barrier.wait(timeout=10)
                try:
                    operations.decide(application, actor, data)
                    db.session.commit()
                    outcomes[application_id] = "accepted"
                except operations.EnvelopeExceeded as exc:
                    db.session.rollback()
                    outcomes[application_id] = exc.message
            except Exception as exc:  # reported by the main thread
                outcomes[application_id] = f"crash: {exc!r}"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=_worker, args=(i,)) for i in application_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    return outcomes


def _totals(app, call_id):
    from grants.calls.models import Call
    from grants.decisions.models import Decision, Outcome
    from grants.extensions import db

    with app.app_context():
        awarded = db.session.scalar(sa.select(Call.awarded_total).where(Call.id == call_id))
        accepted = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Decision.awarded_total), 0)).where(
                Decision.outcome == Outcome.accepted
            )
        )
        db.session.remove()
    return awarded, accepted


def test_two_acceptances_that_do_not_both_fit_let_only_one_pass(app, committee):
    # Envelope 165,000 in all; each file asks 40,000 a year and is awarded 120,000.
    files = [committee.file(request="40000"), committee.file(request="40000")]
    outcomes = _accept_together(app, committee, [f.id for f in files], "120000")
    values = sorted(outcomes.values())
    assert values.count("accepted") == 1, outcomes
    refused = [v for v in values if v != "accepted"]
    assert len(refused) == 1 and "dépasserait l'enveloppe totale" in refused[0], outcomes
    awarded, accepted = _totals(app, committee.call_id)
    assert awarded == accepted == Decimal("120000.00")


def test_two_acceptances_that_fit_both_pass(app, committee):
    files = [committee.file(request="40000"), committee.file(request="40000")]
    outcomes = _accept_together(app, committee, [f.id for f in files], "80000")
    assert list(outcomes.values()) == ["accepted", "accepted"], outcomes
    awarded, accepted = _totals(app, committee.call_id)
    assert awarded == accepted == Decimal("160000.00")
