"""Once files are submitted, the window only moves by extending the closing time; drafts' members
are told by e-mail. The grid is frozen once a review exists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.calls.conftest import field_errors, plain
from tests.calls.test_staff_pages import _form_fields

CLOSES = datetime(2030, 4, 30, 10, 0, tzinfo=UTC)  # 12:00 in Paris


@pytest.fixture
def call_with_files(create_call, create_user, create_organisation, add_application):
    """A published call with one submitted file and two drafts of two organisations."""
    call_id = create_call(opens_at=datetime.now(UTC) - timedelta(days=5), closes_at=CLOSES)
    submitter = create_user(email="deposant@example.org")
    alice = create_user(email="alice@example.org", full_name="Alice Martin")
    bob = create_user(email="bob@example.org")
    carol = create_user(email="carol@example.org")
    outsider = create_user(email="sans-brouillon@example.org")
    org_a = create_organisation(member_ids=[alice, bob], name="Recyclerie du Port")
    org_b = create_organisation(member_ids=[carol], name="Coop Vélo")
    org_c = create_organisation(member_ids=[submitter], name="Déjà déposé")
    create_organisation(member_ids=[outsider], name="Autre structure")
    add_application(call_id, org_c, "submitted")
    add_application(call_id, org_a, "draft", title="Atelier de réemploi")
    add_application(call_id, org_b, "draft", title="Vélos cargo")
    add_application(call_id, org_b, "withdrawn")
    return call_id


def _edit(client, get_csrf, call_id, **changes):
    url = f"/gestion/appels/{call_id}/modifier"
    page = client.get(url).get_data(as_text=True)
    data = {"csrf_token": get_csrf(client, url), "action": "save", **_form_fields(page)}
    data.update(changes)
    return client.post(url, data=data)


def _closes_at(app, call_id):
    from grants.calls.models import Call
    from grants.extensions import db

    with app.app_context():
        value = db.session.get(Call, call_id).closes_at
        db.session.remove()
    return value


def _audit(app, action):
    from grants.audit.models import AuditEntry
    from grants.extensions import db

    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)).all()
        result = [(r.summary, r.changes) for r in rows]
        db.session.remove()
    return result


def test_extension_is_logged_and_drafts_members_are_told(
    app, staff_client, get_csrf, call_with_files, deliver_queued, sent_mails
):
    already = len(sent_mails())
    response = _edit(staff_client, get_csrf, call_with_files, closes_at="2030-05-15T12:00")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert _closes_at(app, call_with_files) == datetime(2030, 5, 15, 10, 0, tzinfo=UTC)
    follow = plain(staff_client.get(response.headers["Location"]).get_data(as_text=True))
    assert "La clôture est reportée" in follow

    [(summary, changes)] = _audit(app, "call.extend_closing")
    assert changes == {"closes_at": [CLOSES.isoformat(), "2030-05-15T10:00:00+00:00"]}
    assert "3 personnes prévenues (2 brouillons)" in summary

    deliver_queued()
    mails = {str(m["To"]): m for m in sent_mails()[already:]}
    assert set(mails) == {"alice@example.org", "bob@example.org", "carol@example.org"}
    text = mails["alice@example.org"].get_body(preferencelist=("plain",)).get_content()
    assert "Bonjour Alice Martin" in text
    assert "30/04/2030 12:00" in text and "15/05/2030 12:00" in text
    assert "Atelier de réemploi (Recyclerie du Port)" in text
    assert "Vélos cargo" not in text
    assert f"/appels/{call_with_files}" in text
    assert "Clôture reportée" in str(mails["carol@example.org"]["Subject"])


def test_shortening_is_refused_once_a_file_is_submitted(
    app, staff_client, get_csrf, call_with_files, deliver_queued, sent_mails
):
    already = len(sent_mails())
    response = _edit(staff_client, get_csrf, call_with_files, closes_at="2030-04-20T12:00")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_errors(page, "closes_at") == [
        "Des dossiers ont déjà été déposés : la clôture ne peut plus être avancée, "
        "seulement reportée."
    ]
    assert _closes_at(app, call_with_files) == CLOSES
    assert deliver_queued() == 0
    assert len(sent_mails()) == already


def test_the_opening_and_the_years_are_locked_once_a_file_is_submitted(
    app, staff_client, get_csrf, call_with_files
):
    response = _edit(
        staff_client,
        get_csrf,
        call_with_files,
        opens_at="2020-01-01T09:00",
        reference_prefix="NOUVEAU-2016",
        **{"years-2-year": "", "years-2-envelope": ""},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_errors(page, "opens_at") == [
        "Des dossiers ont déjà été déposés : l'ouverture ne peut plus changer."
    ]
    assert (
        "le préfixe des références ne peut plus changer"
        in field_errors(page, "reference_prefix")[0]
    )
    assert "les années budgétaires ne peuvent plus changer" in plain(page)


def test_other_fields_stay_editable_once_a_file_is_submitted(
    app, staff_client, get_csrf, call_with_files, deliver_queued
):
    response = _edit(staff_client, get_csrf, call_with_files, summary="Nouveau résumé")
    assert response.status_code == 302
    assert deliver_queued() == 0  # no extension, nobody to tell
    assert _audit(app, "call.extend_closing") == []


def test_without_submitted_files_the_window_moves_freely(
    app, staff_client, get_csrf, create_call, create_organisation, add_application
):
    call_id = create_call(closes_at=CLOSES)
    add_application(call_id, create_organisation(), "draft")
    add_application(call_id, create_organisation(), "withdrawn")
    response = _edit(staff_client, get_csrf, call_id, closes_at="2030-04-20T12:00")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert _closes_at(app, call_id) == datetime(2030, 4, 20, 10, 0, tzinfo=UTC)


def test_the_grid_is_frozen_once_a_review_exists(
    app, staff_client, get_csrf, create_call, monkeypatch
):
    from grants.calls import queries

    call_id = create_call()
    monkeypatch.setattr(queries, "call_has_reviews", lambda call: True)
    page = staff_client.get(f"/gestion/appels/{call_id}/modifier").get_data(as_text=True)
    assert "la grille ne peut plus être modifiée" in page
    response = _edit(staff_client, get_csrf, call_id, **{"criteria-0-weight": "40"})
    assert response.status_code == 422
    assert "Des évaluations ont commencé" in plain(response.get_data(as_text=True))
    # Other changes still go through when the grid is left alone.
    response = _edit(staff_client, get_csrf, call_id, title="Titre corrigé")
    assert response.status_code == 302


def test_call_has_reviews_once_a_review_exists(
    app, create_call, create_organisation, create_application, create_user
):
    from grants.calls.models import Call
    from grants.calls.queries import call_has_reviews
    from grants.extensions import db
    from grants.reviews.models import Review

    call_id = create_call()
    other_call_id = create_call()
    application_id = create_application(call_id, create_organisation(), "submitted")
    reviewer_id = create_user(roles=("reviewer",))
    with app.app_context():
        assert call_has_reviews(db.session.get(Call, call_id)) is False
        db.session.add(Review(application_id=application_id, reviewer_id=reviewer_id))
        db.session.commit()
        assert call_has_reviews(db.session.get(Call, call_id)) is True
        assert call_has_reviews(db.session.get(Call, other_call_id)) is False
        db.session.remove()
