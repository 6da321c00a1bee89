"""Calls in the JSON API: public read without a token, staff write, the form's checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

NEW_CALL = {
    "kind": "project_call",
    "title": "Appel à projets ESS 2016",
    "reference_prefix": "AAP-2016",
    "summary": "Soutenir 5 à 6 projets par an.",
    "rules": "## Article 1\n\n<script>alert(1)</script>Dépôt en ligne.",
    "opens_at": "2030-03-01T09:00:00+01:00",
    "closes_at": "2030-04-30T12:00",
    "years": [
        {"year": 2016, "envelope": "60 000,00"},
        {"year": 2017, "envelope": 55000},
        {"year": 2018, "envelope": "50000.00"},
    ],
    "eligible_legal_forms": ["association", "scop"],
    "sectors": ["Économie circulaire"],
    "ceiling": "40000",
    "documents": [{"label": "Statuts", "mandatory": True, "accepted_types": ["pdf"]}],
    "criteria": [
        {"label": "Innovation sociale", "weight": 30, "scale_max": 5},
        {"label": "Création d'emplois", "weight": 25, "scale_max": 5},
    ],
}


@pytest.fixture
def api_token(app):
    def _token(user_id: int) -> str:
        from grants.accounts.models import User
        from grants.accounts.operations import create_api_token
        from grants.extensions import db

        with app.app_context():
            _, clear = create_api_token(db.session.get(User, user_id), "tests")
            db.session.commit()
            db.session.remove()
        return clear

    return _token


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def staff(create_user, api_token):
    return auth(api_token(create_user(email="agent@example.org", roles=["staff"])))


@pytest.fixture
def applicant(create_user, api_token):
    return auth(api_token(create_user(email="porteur@example.org")))


def _status(app, call_id):
    from grants.calls.models import Call
    from grants.extensions import db

    with app.app_context():
        status = db.session.get(Call, call_id).status.value
        db.session.remove()
    return status


def test_reading_calls_needs_no_token(client, create_call):
    open_id = create_call(title="Appel ouvert")
    draft_id = create_call(title="Brouillon", status="draft")
    response = client.get("/api/v1/calls")
    assert response.status_code == 200
    items = response.json["items"]
    assert [c["id"] for c in items] == [open_id]
    call = items[0]
    assert call["phase"] == "open" and call["is_open"] is True
    assert call["total_envelope"] == "165000.00"
    assert [(y["year"], y["envelope"], y["weight"]) for y in call["years"]] == [
        (2016, "60000.00", "0.363637"),
        (2017, "55000.00", "0.333333"),
        (2018, "50000.00", "0.303030"),
    ]
    assert call["profile"] is None
    assert call["effective_profile"] == ["0.363637", "0.333333", "0.303030"]
    assert call["ceiling"] == "40000.00"
    assert call["documents"][0]["label"] == "Statuts de la structure"
    assert call["url"] == f"/appels/{open_id}"

    one = client.get(f"/api/v1/calls/{open_id}")
    assert one.status_code == 200 and one.json["title"] == "Appel ouvert"
    assert client.get(f"/api/v1/calls/{draft_id}").status_code == 404


def test_drafts_are_visible_to_staff_only(client, create_call, staff, applicant):
    draft_id = create_call(status="draft")
    assert client.get(f"/api/v1/calls/{draft_id}", headers=applicant).status_code == 404
    assert draft_id not in [
        c["id"] for c in client.get("/api/v1/calls", headers=applicant).json["items"]
    ]
    assert client.get(f"/api/v1/calls/{draft_id}", headers=staff).status_code == 200
    assert draft_id in [c["id"] for c in client.get("/api/v1/calls", headers=staff).json["items"]]


def test_writing_needs_a_staff_token(app, client, create_call, applicant):
    call_id = create_call(status="draft")
    for method, url in [
        ("post", "/api/v1/calls"),
        ("patch", f"/api/v1/calls/{call_id}"),
        ("post", f"/api/v1/calls/{call_id}/publish"),
    ]:
        response = getattr(client, method)(url, json=NEW_CALL)
        assert response.status_code == 401, (method, url)
        response = getattr(client, method)(url, json=NEW_CALL, headers=applicant)
        assert response.status_code == 403, (method, url)
    assert _status(app, call_id) == "draft"


def test_staff_create_patch_and_publish(app, client, staff):
    response = client.post("/api/v1/calls", json=NEW_CALL, headers=staff)
    assert response.status_code == 201, response.json
    call = response.json
    assert response.headers["Location"].endswith(f"/api/v1/calls/{call['id']}")
    assert call["status"] == "draft"
    assert call["opens_at"] == "2030-03-01T08:00:00+00:00"
    assert call["closes_at"] == "2030-04-30T10:00:00+00:00"  # no offset: Paris time
    assert [y["envelope"] for y in call["years"]] == ["60000.00", "55000.00", "50000.00"]
    assert "<script>" not in call["rules_html"] and "<h3>Article 1</h3>" in call["rules_html"]

    response = client.patch(
        f"/api/v1/calls/{call['id']}",
        json={"title": "Appel ESS 2016", "profile": ["0.4", "0.33", "0.27"]},
        headers=staff,
    )
    assert response.status_code == 200, response.json
    assert response.json["title"] == "Appel ESS 2016"
    assert response.json["profile"] == ["0.4", "0.33", "0.27"]
    assert response.json["years"][0]["envelope"] == "60000.00"  # untouched

    response = client.post(f"/api/v1/calls/{call['id']}/publish", headers=staff)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "published"
    again = client.post(f"/api/v1/calls/{call['id']}/publish", headers=staff)
    assert again.status_code == 409
    assert client.get(f"/api/v1/calls/{call['id']}").status_code == 200


def test_invalid_input_is_422_with_the_forms_messages(app, client, staff, create_call):
    create_call(reference_prefix="AAP-2016")
    payload = {
        **NEW_CALL,
        "title": "",
        "closes_at": "2030-02-01T09:00",
        "ceiling": 40000.5,
        "years": [{"year": 2016, "envelope": "60.000,00"}],
        "criteria": [{"label": "Innovation", "weight": 0, "scale_max": 5}],
        "colour": "bleu",
    }
    response = client.post("/api/v1/calls", json=payload, headers=staff)
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert fields["title"] == ["Indiquez le titre de l'appel."]
    assert fields["reference_prefix"] == ["Ce préfixe est déjà utilisé par un autre appel."]
    assert fields["closes_at"] == ["La clôture doit être postérieure à l'ouverture."]
    assert "Montant invalide" in fields["years"][0]
    assert fields["criteria"] == [
        "Critère « Innovation » : le poids doit être un entier strictement positif."
    ]
    assert fields["colour"] == ["Champ inconnu."]
    # A JSON decimal is read exactly, never through a float: 40000.5 is a valid amount.
    assert "ceiling" not in fields


def test_a_float_like_amount_is_exact(client, staff):
    payload = {**NEW_CALL, "ceiling": 0.1, "reference_prefix": "AAP-DEC"}
    response = client.post("/api/v1/calls", json=payload, headers=staff)
    assert response.status_code == 201, response.json
    assert response.json["ceiling"] == "0.10"


def test_publishing_an_incomplete_call_lists_the_problems(app, client, staff, create_call):
    call_id = create_call(status="draft", criteria=[])
    response = client.post(f"/api/v1/calls/{call_id}/publish", headers=staff)
    assert response.status_code == 422
    assert (
        "Ajoutez au moins un critère à la grille d'évaluation."
        in (response.json["error"]["fields"]["publish"])
    )
    assert _status(app, call_id) == "draft"


def test_patch_can_only_extend_once_a_file_is_submitted(
    app, client, staff, create_call, create_organisation, add_application_api
):
    closes = datetime(2030, 4, 30, 10, 0, tzinfo=UTC)
    call_id = create_call(closes_at=closes)
    add_application_api(call_id, create_organisation())
    response = client.patch(
        f"/api/v1/calls/{call_id}", json={"closes_at": "2030-04-01T12:00"}, headers=staff
    )
    assert response.status_code == 422
    assert "seulement reportée" in response.json["error"]["fields"]["closes_at"][0]
    response = client.patch(
        f"/api/v1/calls/{call_id}", json={"closes_at": "2030-05-15T12:00:00+02:00"}, headers=staff
    )
    assert response.status_code == 200
    assert response.json["closes_at"] == "2030-05-15T10:00:00+00:00"


def test_a_decided_call_is_a_conflict(client, staff, create_call):
    call_id = create_call(status="decided")
    response = client.patch(f"/api/v1/calls/{call_id}", json={"title": "X"}, headers=staff)
    assert response.status_code == 409


def test_a_row_of_another_call_cannot_be_hijacked(app, client, staff, create_call):
    from grants.calls.models import RequiredDocument
    from grants.extensions import db

    other = create_call()
    mine = create_call(status="draft")
    with app.app_context():
        foreign_id = db.session.scalar(
            sa.select(RequiredDocument.id).where(RequiredDocument.call_id == other).limit(1)
        )
        db.session.remove()
    response = client.patch(
        f"/api/v1/calls/{mine}",
        json={"documents": [{"id": foreign_id, "label": "Volé", "accepted_types": ["pdf"]}]},
        headers=staff,
    )
    assert response.status_code == 422
    assert "n'appartient pas à cet appel" in response.json["error"]["fields"]["documents"][0]


def test_a_body_that_is_not_a_json_object_is_400(client, staff):
    response = client.post(
        "/api/v1/calls", data="[1, 2]", headers={**staff, "Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_the_openapi_document_still_validates(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").json
    validate(document)
    assert {"/calls", "/calls/{call_id}", "/calls/{call_id}/publish"} <= set(document["paths"])
    assert document["paths"]["/calls"]["get"]["security"] == [{}, {"bearerAuth": []}]
    assert "post" in document["paths"]["/calls"]
    assert "patch" in document["paths"]["/calls/{call_id}"]


@pytest.fixture
def add_application_api(app):
    """A submitted application row on a call (the applications feature makes real ones)."""

    def _add(call_id: int, org_id: int) -> int:
        from grants.applications.models import Application, ApplicationStatus
        from grants.calls.models import Call
        from grants.core.db import utcnow
        from grants.extensions import db

        with app.app_context():
            call = db.session.get(Call, call_id)
            application = Application(
                call_id=call_id,
                organisation_id=org_id,
                status=ApplicationStatus.submitted,
                reference=f"{call.reference_prefix}-0001",
                sequence=1,
                submitted_at=utcnow(),
            )
            db.session.add(application)
            db.session.commit()
            app_id = application.id
            db.session.remove()
        return app_id

    return _add
