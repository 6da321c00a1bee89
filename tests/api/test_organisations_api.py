"""Organisations in the JSON API: tokens, the same checks and messages as the pages."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.fixtures.organisations import VALID_SIRETS

NEW_ORG = {
    "name": "Api Coop",
    "legal_form": "scop",
    "siret": "73282932000074",
    "address": "3 quai des Chartrons",
    "postal_code": "33000",
    "city": "Bordeaux",
    "commune_insee": "33063",
    "in_qpv": True,
    "employees": 4,
    "fte": "3,5",
    "volunteers": 0,
}


@pytest.fixture
def api_token(app):
    """``api_token(user_id)`` → a clear personal access token for that user."""

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
def alice(create_user, api_token):
    user_id = create_user(email="alice@example.org")
    return user_id, auth(api_token(user_id))


@pytest.fixture
def bob_org(create_user, create_organisation):
    bob = create_user(email="bob@example.org")
    return create_organisation(member_ids=[bob], name="Structure de Bob", siret=VALID_SIRETS[2])


def _org_row(app, org_id):
    from grants.extensions import db
    from grants.organisations.models import Organisation

    with app.app_context():
        org = db.session.get(Organisation, org_id)
        row = {c.key: getattr(org, c.key) for c in Organisation.__table__.columns}
        db.session.remove()
    return row


def test_a_token_is_required(client, bob_org):
    for method, url in [
        ("get", "/api/v1/organisations"),
        ("post", "/api/v1/organisations"),
        ("get", f"/api/v1/organisations/{bob_org}"),
        ("patch", f"/api/v1/organisations/{bob_org}"),
        ("get", f"/api/v1/organisations/{bob_org}/members"),
    ]:
        response = getattr(client, method)(url, json={})
        assert response.status_code == 401, (method, url)
        assert response.json["error"]["status"] == 401
    bad = client.get("/api/v1/organisations", headers=auth("grt_not-a-token"))
    assert bad.status_code == 401


def test_a_revoked_token_is_refused(app, client, create_user, api_token):
    user_id = create_user()
    token = api_token(user_id)
    assert client.get("/api/v1/organisations", headers=auth(token)).status_code == 200
    from grants.accounts.models import ApiToken, User
    from grants.accounts.operations import revoke_api_token
    from grants.extensions import db

    with app.app_context():
        row = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user_id))
        revoke_api_token(row, db.session.get(User, user_id))
        db.session.commit()
        db.session.remove()
    assert client.get("/api/v1/organisations", headers=auth(token)).status_code == 401


def test_the_session_cookie_does_not_open_the_api(app, create_user, login, bob_org):
    client = app.test_client()
    create_user(email="web@example.org")
    login(client, "web@example.org")
    assert client.get("/api/v1/organisations").status_code == 401


def test_create_then_read_and_list(app, client, alice, org_member_ids, audit_entries):
    user_id, headers = alice
    response = client.post("/api/v1/organisations", json=NEW_ORG, headers=headers)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["siret"] == "73282932000074" and body["siren"] == "732829320"
    assert body["fte"] == "3.50"
    assert body["commune_name"] == "Bordeaux" and body["in_metropolis"] is True
    assert body["is_ess"] is True and body["in_qpv"] is True and body["rna"] is None
    assert response.headers["Location"].endswith(f"/api/v1/organisations/{body['id']}")
    assert org_member_ids(body["id"]) == {user_id}
    (entry,) = audit_entries("organisation.create")
    assert entry["actor_id"] == user_id and entry["object_id"] == str(body["id"])

    assert client.get(f"/api/v1/organisations/{body['id']}", headers=headers).json == body
    listing = client.get("/api/v1/organisations", headers=headers).json
    assert [o["id"] for o in listing["items"]] == [body["id"]]
    assert (listing["page"], listing["total"]) == (1, 1)

    members = client.get(f"/api/v1/organisations/{body['id']}/members", headers=headers).json
    assert [m["email"] for m in members["items"]] == ["alice@example.org"]


def test_outside_the_metropolis_is_null(client, alice):
    _, headers = alice
    data = {**NEW_ORG, "commune_insee": None, "legal_form": "association", "rna": "W332001234"}
    response = client.post("/api/v1/organisations", json=data, headers=headers)
    assert response.status_code == 201, response.json
    assert response.json["commune_insee"] is None and response.json["in_metropolis"] is False
    assert response.json["rna"] == "W332001234"


def test_invalid_input_gets_the_pages_french_messages(app, client, alice, create_organisation):
    _, headers = alice
    bad = {
        **NEW_ORG,
        "siret": "73282932000079",
        "legal_form": "association",
        "postal_code": "330",
        "fte": "1,234",
        "commune_insee": "hors",
        "employees": 2.5,
        "in_qpv": "oui",
        "colour": "red",
    }
    response = client.post("/api/v1/organisations", json=bad, headers=headers)
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    # type problems are reported first, each on its field
    assert fields == {
        "employees": ["Un nombre entier est attendu."],
        "in_qpv": ["Un booléen est attendu (true ou false)."],
        "colour": ["Champ inconnu."],
    }

    del bad["colour"]
    bad.update(employees=2, in_qpv=True)
    fields = client.post("/api/v1/organisations", json=bad, headers=headers).json["error"]["fields"]
    assert "clé de contrôle est incorrecte" in fields["siret"][0]
    assert "obligatoire pour une association" in fields["rna"][0]
    assert "5 chiffres" in fields["postal_code"][0]
    assert "2 décimales" in fields["fte"][0]
    assert fields["commune_insee"] == ["Choisissez une valeur dans la liste."]

    missing = client.post("/api/v1/organisations", json={}, headers=headers).json["error"]
    assert missing["fields"]["name"] == ["Indiquez le nom de la structure."]
    assert missing["fields"]["legal_form"] == ["Choisissez la forme juridique."]

    create_organisation(siret="73282932000074")
    taken = client.post("/api/v1/organisations", json=NEW_ORG, headers=headers).json["error"]
    assert taken["fields"] == {
        "siret": [
            "Une structure avec ce SIRET est déjà enregistrée : "
            "demandez à l'un de ses membres de vous inviter."
        ]
    }

    assert client.post("/api/v1/organisations", data="nope", headers=headers).status_code == 400


def test_patch_changes_only_what_is_sent(app, client, alice, audit_entries):
    user_id, headers = alice
    org_id = client.post("/api/v1/organisations", json=NEW_ORG, headers=headers).json["id"]
    response = client.patch(
        f"/api/v1/organisations/{org_id}",
        json={"employees": 6, "fte": 4.25, "esus_approved": True},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    assert (response.json["employees"], response.json["fte"]) == (6, "4.25")
    assert response.json["name"] == "Api Coop" and response.json["in_qpv"] is True
    (entry,) = audit_entries("organisation.update")
    assert entry["actor_id"] == user_id
    assert entry["changes"] == {
        "esus_approved": [False, True],
        "employees": [4, 6],
        "fte": ["3.50", "4.25"],
    }

    bad = client.patch(
        f"/api/v1/organisations/{org_id}", json={"rna": "W332001234"}, headers=headers
    )
    assert bad.status_code == 422
    assert "ne concerne que les associations" in bad.json["error"]["fields"]["rna"][0]
    assert _org_row(app, org_id)["rna"] is None


def test_another_applicant_gets_404_and_changes_nothing(app, client, alice, bob_org):
    _, headers = alice
    before = _org_row(app, bob_org)
    assert client.get(f"/api/v1/organisations/{bob_org}", headers=headers).status_code == 404
    assert (
        client.get(f"/api/v1/organisations/{bob_org}/members", headers=headers).status_code == 404
    )
    response = client.patch(
        f"/api/v1/organisations/{bob_org}", json={"name": "Piratée"}, headers=headers
    )
    assert response.status_code == 404
    assert "Structure de Bob" not in response.get_data(as_text=True)
    assert _org_row(app, bob_org) == before
    assert client.get("/api/v1/organisations", headers=headers).json["items"] == []
    assert client.get("/api/v1/organisations/999999", headers=headers).status_code == 404


def test_staff_reads_everything_but_cannot_patch(app, client, create_user, api_token, bob_org):
    staff = create_user(email="agent@example.org", roles=["staff"])
    headers = auth(api_token(staff))
    listing = client.get("/api/v1/organisations", headers=headers).json
    assert [o["name"] for o in listing["items"]] == ["Structure de Bob"]
    assert client.get(f"/api/v1/organisations/{bob_org}", headers=headers).status_code == 200
    members = client.get(f"/api/v1/organisations/{bob_org}/members", headers=headers).json
    assert [m["email"] for m in members["items"]] == ["bob@example.org"]
    response = client.patch(
        f"/api/v1/organisations/{bob_org}", json={"name": "Changée"}, headers=headers
    )
    assert response.status_code == 403
    assert _org_row(app, bob_org)["name"] == "Structure de Bob"


def test_the_list_is_paginated(client, create_user, api_token, create_organisation):
    from stdnum import luhn

    def siret(n: int) -> str:
        siren_body = f"{20000000 + n:08d}"
        siren = siren_body + luhn.calc_check_digit(siren_body)
        body = siren + "0001"
        return body + luhn.calc_check_digit(body)

    user_id = create_user()
    for i in range(53):
        create_organisation(member_ids=[user_id], name=f"S{i:02d}", siret=siret(i))
    headers = auth(api_token(user_id))
    first = client.get("/api/v1/organisations", headers=headers).json
    assert (len(first["items"]), first["total"], first["pages"]) == (50, 53, 2)
    second = client.get("/api/v1/organisations?page=2", headers=headers).json
    assert [o["name"] for o in second["items"]] == ["S50", "S51", "S52"]


def test_the_openapi_document_is_valid_and_lists_the_organisations(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").json
    validate(document)
    paths = document["paths"]
    assert set(paths["/organisations"]) == {"get", "post"}
    assert set(paths["/organisations/{org_id}"]) == {"get", "patch"}
    assert "get" in paths["/organisations/{org_id}/members"]
    assert "422" in paths["/organisations"]["post"]["responses"]
    schemas = document["components"]["schemas"]
    assert {"Organisation", "OrganisationInput", "OrganisationPatch", "Member"} <= set(schemas)
