"""What the applicant reads of the decision, and the laureates on the call's public page."""

from __future__ import annotations

import pytest

from tests.decisions.conftest import text_of

SECRET_COMMENT = "Budget de communication surévalué"
SUMMARY_ONE = "Un projet utile, bien ancré dans le quartier."
SUMMARY_TWO = "Le modèle économique reste fragile."
# 5,4,3,2,1 → 70/100; 2,2,2,2,1 → 38/100; mean 54, σ 16.
SCORES = ((5, 4, 3, 2, 1), (2, 2, 2, 2, 1))
LEAKS = ["Irène Évalue", "Marc Note", "eval.une@example.org", "70,00", "38,00", "54,00", "/100"]


@pytest.fixture
def decided_file(app, committee, add_review, get_csrf, login, client):
    """A file accepted by the committee, with two submitted reviews that carry comments."""

    def _make(share: bool, outcome="accepted"):
        from grants.calls.models import Call
        from grants.extensions import db

        with app.app_context():
            db.session.get(Call, committee.call_id).share_review_comments = share
            db.session.commit()
            db.session.remove()
        f = committee.file(member_email="porteuse@asso.example", reviews=())
        add_review(
            f.id,
            committee.reviewer_ids[0],
            scores=SCORES[0],
            summary=SUMMARY_ONE,
            comments=["Très innovant", "", "", SECRET_COMMENT, ""],
        )
        add_review(
            f.id,
            committee.reviewer_ids[1],
            scores=SCORES[1],
            summary=SUMMARY_TWO,
            opinion="reserved",
        )
        staff = app.test_client()
        login(staff, committee.staff_email)
        url = f"/gestion/dossiers/{f.id}/decision"
        data = {
            "csrf_token": get_csrf(staff, url),
            "outcome": outcome,
            "session_id": str(committee.session_id),
            "awarded_total": "24 000" if outcome == "accepted" else "",
            "reason": "Projet retenu pour son ancrage local ; budget de communication réduit.",
        }
        assert staff.post(url, data=data).status_code == 302
        login(client, "porteuse@asso.example")
        return f

    return _make


def test_the_applicant_reads_outcome_amount_reason_and_date_but_no_review(client, decided_file):
    f = decided_file(share=False)
    response = client.get(f"/dossiers/{f.id}")
    assert response.status_code == 200
    text = text_of(response)
    assert "Décision du comité" in text
    assert "Retenu" in text
    assert "24 000,00 €" in text
    assert "Projet retenu pour son ancrage local" in text
    assert "Date de la décision" in text
    for leak in [*LEAKS, SECRET_COMMENT, SUMMARY_ONE, SUMMARY_TWO, "Évaluateur 1", "Réservé"]:
        assert leak not in text, leak


def test_shared_comments_are_anonymised_and_without_scores(client, decided_file):
    f = decided_file(share=True)
    text = text_of(client.get(f"/dossiers/{f.id}"))
    assert "Commentaires des évaluateurs (anonymisés)" in text
    assert "Évaluateur 1" in text and "Évaluateur 2" in text
    assert SUMMARY_ONE in text and SUMMARY_TWO in text
    assert SECRET_COMMENT in text and "Très innovant" in text
    for leak in [*LEAKS, "Réservé", "Favorable"]:
        assert leak not in text, leak


def test_the_api_shows_members_the_same_and_no_more(app, client, decided_file):
    from grants.accounts.models import User
    from grants.accounts.operations import create_api_token
    from grants.extensions import db

    f = decided_file(share=False)
    with app.app_context():
        _, token = create_api_token(db.session.get(User, f.member_id), "tests")
        db.session.commit()
        db.session.remove()
    headers = {"Authorization": f"Bearer {token}"}
    response = client.get(f"/api/v1/applications/{f.id}/decision", headers=headers)
    assert response.status_code == 200
    body = response.json
    assert body["outcome"] == "accepted" and body["awarded_total"] == "24000.00"
    assert body["shared_reviews"] == []
    assert "session" not in body and "decided_by" not in body
    raw = response.get_data(as_text=True)
    for leak in ["Irène", "Marc Note", SECRET_COMMENT, "score"]:
        assert leak not in raw
    assert client.get(f"/api/v1/applications/{f.id}/scores", headers=headers).status_code == 403


def test_a_wait_listed_file_says_so(client, decided_file):
    f = decided_file(share=False, outcome="waitlisted")
    text = text_of(client.get(f"/dossiers/{f.id}"))
    assert "Liste d'attente" in text
    assert "vous serez informé de la décision définitive" in text


def test_no_decision_no_block(client, committee, login):
    f = committee.file(member_email="sans-decision@asso.example")
    login(client, "sans-decision@asso.example")
    text = text_of(client.get(f"/dossiers/{f.id}"))
    assert "Décision du comité" not in text


def test_another_organisation_sees_nothing(app, decided_file, create_user, login):
    f = decided_file(share=True)
    create_user(email="voisin@autre.example")
    neighbour = app.test_client()
    login(neighbour, "voisin@autre.example")
    assert neighbour.get(f"/dossiers/{f.id}").status_code == 404


# --- Laureates ----------------------------------------------------------------------------


def test_laureates_are_public_once_the_call_is_decided(app, committee, staff_client, get_csrf):
    from grants.calls.models import Call, CallStatus
    from grants.extensions import db

    laureate = committee.file(org_name="La Recyclerie du Lac", title="Recyclerie solidaire")
    turned_down = committee.file(org_name="Atelier discret", title="Projet non retenu")
    for f, data in (
        (laureate, {"outcome": "accepted", "awarded_total": "27 500"}),
        (turned_down, {"outcome": "rejected", "reason": "Hors priorités."}),
    ):
        url = f"/gestion/dossiers/{f.id}/decision"
        data = {
            "csrf_token": get_csrf(staff_client, url),
            "session_id": committee.session_id,
            **data,
        }
        assert staff_client.post(url, data=data).status_code == 302
    public = f"/appels/{committee.call_id}"
    visitor = app.test_client()  # anonymous
    text = text_of(visitor.get(public))
    assert "Lauréats" not in text  # closed, not decided yet

    with app.app_context():
        call = db.session.get(Call, committee.call_id)
        call.status = CallStatus.decided
        db.session.commit()
        db.session.remove()
    text = text_of(visitor.get(public))
    assert "Lauréats" in text
    assert "La Recyclerie du Lac" in text and "Recyclerie solidaire" in text
    assert "27 500,00 €" in text
    assert "Atelier discret" not in text and "Projet non retenu" not in text
