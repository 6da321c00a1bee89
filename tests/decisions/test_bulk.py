"""Decisions in bulk from the ranking: each file in its own savepoint, one message per file."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.decisions.conftest import text_of


@pytest.fixture
def bulk(get_csrf):
    def _bulk(client, committee, ids, outcome, **fields):
        ranking = f"/gestion/appels/{committee.call_id}/classement"
        data = {
            "csrf_token": get_csrf(client, ranking),
            "application_ids": [str(i) for i in ids],
            "outcome": outcome,
            "session_id": str(committee.session_id),
            **fields,
        }
        return client.post(f"{ranking}/decisions", data=data, follow_redirects=True)

    return _bulk


def _statuses(app, ids):
    from grants.applications.models import Application
    from grants.calls.models import Call
    from grants.decisions.models import Decision
    from grants.extensions import db

    with app.app_context():
        rows = {a.id: a.status.value for a in db.session.scalars(sa.select(Application))}
        decisions = {
            d.application_id: (d.outcome.value, d.awarded_total)
            for d in db.session.scalars(sa.select(Decision))
        }
        total = db.session.scalar(sa.select(Call.awarded_total))
        db.session.remove()
    return [rows[i] for i in ids], [decisions.get(i) for i in ids], total


def test_bulk_acceptance_awards_the_request_and_stops_at_the_envelope(
    app, staff_client, committee, bulk
):
    # 165,000 in all; each file asks 20,000 a year (60,000): the third doesn't fit.
    files = [committee.file(request="20000") for _ in range(3)]
    short = committee.file(request="1000", reviews=((4, 4, 4, 4, 4),))
    ids = [f.id for f in files] + [short.id]
    response = bulk(staff_client, committee, ids, "accepted")
    assert response.status_code == 200
    text = text_of(response)
    statuses, decisions, total = _statuses(app, ids)
    assert statuses == ["accepted", "accepted", "under_review", "under_review"]
    assert decisions[:2] == [("accepted", Decimal("60000.00"))] * 2
    assert decisions[2:] == [None, None]
    assert total == Decimal("120000.00")
    assert text.count("est retenu (60 000,00 €)") == 2
    assert "dépasserait l'enveloppe totale de l'appel" in text
    assert "1 avis rendu sur 2 requis" in text


def test_bulk_override_reason_lets_files_without_all_reviews_through(
    app, staff_client, committee, bulk, audit_entries
):
    short = committee.file(reviews=((4, 4, 4, 4, 4),))
    response = bulk(
        staff_client,
        committee,
        [short.id],
        "waitlisted",
        override_reason="Évaluateur indisponible.",
    )
    assert "est en liste d'attente" in text_of(response)
    assert _statuses(app, [short.id])[1] == [("waitlisted", None)]
    assert len(audit_entries("decision.reviews_override")) == 1


def test_bulk_rejection_needs_a_reason(app, staff_client, committee, bulk):
    files = [committee.file() for _ in range(2)]
    ids = [f.id for f in files]
    response = bulk(staff_client, committee, ids, "rejected", reason="")
    text = text_of(response)
    assert "Indiquez le motif du refus" in text
    assert _statuses(app, ids)[0] == ["under_review", "under_review"]
    # The boxes stay checked.
    html = response.get_data(as_text=True)
    assert all(f'value="{i}" id="sel-{i}" checked' in html for i in ids)

    response = bulk(staff_client, committee, ids, "rejected", reason="Enveloppe insuffisante.")
    assert text_of(response).count("n'est pas retenu") == 2
    assert _statuses(app, ids)[0] == ["rejected", "rejected"]


def test_bulk_needs_files_and_an_outcome(app, staff_client, committee, bulk):
    f = committee.file()
    text = text_of(bulk(staff_client, committee, [], "accepted"))
    assert "Cochez au moins un dossier." in text
    text = text_of(bulk(staff_client, committee, [f.id], ""))
    assert "Choisissez une décision." in text
    assert _statuses(app, [f.id])[0] == ["under_review"]


def test_bulk_ignores_files_of_another_call(
    app, staff_client, committee, bulk, create_call, create_organisation, create_application
):
    other_call = create_call(status="closed")
    stranger = create_application(other_call, create_organisation(), status="under_review")
    mine = committee.file()
    text = text_of(bulk(staff_client, committee, [stranger, mine.id], "waitlisted"))
    assert "1 dossier(s) coché(s) n'appartiennent pas à cet appel." in text
    from grants.applications.models import Application
    from grants.decisions.models import Decision
    from grants.extensions import db

    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Decision)
                .where(Decision.application_id == stranger)
            )
            == 0
        )
        assert db.session.get(Application, mine.id).status.value == "under_review"
        db.session.remove()
