"""Budget lines in the JSON API: staff tokens only, lines, votes, calls, report, commitments."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa


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


def _post(client, url, headers, body):
    return client.post(
        url, data=json.dumps(body), headers={**headers, "Content-Type": "application/json"}
    )


def _patch(client, url, headers, body):
    return client.patch(
        url, data=json.dumps(body), headers={**headers, "Content-Type": "application/json"}
    )


NEW_LINE = {
    "section": "fonctionnement",
    "rubric": "clauses d'insertion (PLIE)",
    "label": "PLIE des Graves",
    "votes": {"2016": "11 500", "2017": 11500},
}


def test_budget_routes_need_a_staff_token(
    client, applicant, create_funding_line, create_commitment
):
    line_id = create_funding_line()
    commitment_id = create_commitment(line_id, 2016)
    routes = [
        ("get", "/api/v1/budget/lines"),
        ("post", "/api/v1/budget/lines"),
        ("get", f"/api/v1/budget/lines/{line_id}"),
        ("patch", f"/api/v1/budget/lines/{line_id}"),
        ("post", f"/api/v1/budget/lines/{line_id}/calls"),
        ("delete", f"/api/v1/budget/lines/{line_id}/calls/1"),
        ("get", "/api/v1/budget/report?year=2016"),
        ("get", "/api/v1/budget/commitments"),
        ("post", "/api/v1/budget/commitments"),
        ("get", f"/api/v1/budget/commitments/{commitment_id}"),
        ("patch", f"/api/v1/budget/commitments/{commitment_id}"),
        ("delete", f"/api/v1/budget/commitments/{commitment_id}"),
    ]
    for method, url in routes:
        assert getattr(client, method)(url).status_code == 401, url
        response = getattr(client, method)(url, headers=applicant, json={"label": "x"})
        assert response.status_code == 403, url
        assert response.get_json()["error"]["message"] == "Réservé aux agents du service."


def test_create_read_list_and_patch_a_line(app, client, staff):
    response = _post(client, "/api/v1/budget/lines", staff, NEW_LINE)
    assert response.status_code == 201, response.get_json()
    line = response.get_json()
    assert line == {
        "id": line["id"],
        "section": "fonctionnement",
        "rubric": "clauses d'insertion (PLIE)",
        "label": "PLIE des Graves",
        "votes": {"2016": "11500.00", "2017": "11500.00"},
        "calls": [],
    }
    url = f"/api/v1/budget/lines/{line['id']}"
    assert client.get(url, headers=staff).get_json() == line
    listed = client.get("/api/v1/budget/lines?year=2017", headers=staff).get_json()
    assert [x["id"] for x in listed["items"]] == [line["id"]]
    assert client.get("/api/v1/budget/lines?year=2030", headers=staff).get_json() == {"items": []}

    # a JSON decimal is read exactly; null removes a vote; absent years stay
    response = client.patch(
        url,
        data='{"votes": {"2017": 11000.10, "2016": null, "2018": "9000"}}',
        headers={**staff, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["votes"] == {"2017": "11000.10", "2018": "9000.00"}
    from grants.audit.models import AuditEntry
    from grants.extensions import db

    with app.app_context():
        changes = db.session.scalar(
            sa.select(AuditEntry.changes).where(AuditEntry.action == "budget_line.update")
        )
        db.session.remove()
    assert changes == {
        "voted_2016": ["11500.00", None],
        "voted_2017": ["11500.00", "11000.10"],
        "voted_2018": [None, "9000.00"],
    }


def test_invalid_line_input_is_422_with_french_messages(client, staff, create_funding_line):
    response = _post(
        client,
        "/api/v1/budget/lines",
        staff,
        {"section": "autre", "label": "", "votes": {"16": "1", "2017": "-3"}, "colour": "red"},
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {
        "section": ["Section « autre » inconnue : fonctionnement ou investissement."],
        "rubric": ["Indiquez la rubrique."],
        "label": ["Indiquez le libellé de la ligne."],
        "votes": [
            "« 16 » : Indiquez une année sur quatre chiffres (ex. 2016).",
            "2017 : Le montant ne peut pas être négatif.",
        ],
        "colour": ["Champ inconnu."],
    }
    create_funding_line(label="CRESS", rubric="têtes de réseau")
    response = _post(
        client,
        "/api/v1/budget/lines",
        staff,
        {"section": "fonctionnement", "rubric": "têtes de réseau", "label": "CRESS"},
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {
        "label": ["Cette ligne existe déjà dans cette section et cette rubrique."]
    }
    assert client.post("/api/v1/budget/lines", data="[]", headers=staff).status_code == 400
    assert client.get("/api/v1/budget/lines/999", headers=staff).status_code == 404


def test_link_a_call_and_the_report_is_the_clis(
    app, client, staff, import_seed_tables, funding_line_id, create_call, create_award
):
    import_seed_tables()
    line_id = funding_line_id("Appels à projets")
    call_id = create_call(title="Appel à projets ESS 2016")
    create_award(call_id, {2016: ("12000", "4000", "paid"), 2017: "10000"})
    url = f"/api/v1/budget/lines/{line_id}/calls"
    assert _post(client, url, staff, {"call_id": "x"}).status_code == 422
    assert _post(client, url, staff, {"call_id": 9999}).get_json()["error"]["fields"] == {
        "call_id": ["Cet appel n'existe pas."]
    }
    response = _post(client, url, staff, {"call_id": call_id})
    assert response.status_code == 200
    assert response.get_json()["calls"] == [{"id": call_id, "title": "Appel à projets ESS 2016"}]

    report = client.get("/api/v1/budget/report?year=2016", headers=staff).get_json()
    cli = app.test_cli_runner().invoke(
        args=["budget", "report", "--year", "2016", "--format", "json"]
    )
    assert json.loads(cli.stdout) == report
    operating = report["sections"][0]
    assert (operating["voted"], operating["committed"], operating["paid"]) == (
        "445520.00",
        "12000.00",
        "4000.00",
    )
    assert operating["remaining"] == "433520.00"

    assert client.delete(f"{url}/{call_id}", headers=staff).status_code == 204
    assert client.delete(f"{url}/{call_id}", headers=staff).status_code == 404
    report = client.get("/api/v1/budget/report?year=2016", headers=staff).get_json()
    assert report["sections"][0]["committed"] == "0.00"


def test_the_report_needs_a_valid_year(client, staff):
    response = client.get("/api/v1/budget/report", headers=staff)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["year"] == [
        "Indiquez l'année (paramètre year, ex. ?year=2016)."
    ]
    assert client.get("/api/v1/budget/report?year=deux", headers=staff).status_code == 422
    empty = client.get("/api/v1/budget/report?year=2030", headers=staff).get_json()
    assert empty == {"year": 2030, "sections": []}


def test_commitments_crud(app, client, staff, create_funding_line, create_organisation):
    line_id = create_funding_line(label="PLIE des Graves", votes={2016: "11500"})
    org_id = create_organisation(name="PLIE des Graves")
    response = _post(
        client,
        "/api/v1/budget/commitments",
        staff,
        {"line_id": line_id, "kind": "plie", "year": 2016, "beneficiary": "PLIE des Graves"},
    )
    assert response.status_code == 201, response.get_json()
    plie = response.get_json()
    assert plie == {
        "id": plie["id"],
        "line_id": line_id,
        "year": 2016,
        "kind": "plie",
        "beneficiary": "PLIE des Graves",
        "organisation_id": None,
        "fixed_amount": "5000.00",
        "hourly_rate": "1.00",
        "hours": None,
        "note": "",
        "amount": "5000.00",
    }
    url = f"/api/v1/budget/commitments/{plie['id']}"
    response = client.patch(
        url,
        data=f'{{"hours": 1250.5, "organisation_id": {org_id}}}',
        headers={**staff, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["amount"] == "6250.50"
    assert response.get_json()["hours"] == "1250.50"
    assert response.get_json()["organisation_id"] == org_id

    fixed = _post(
        client,
        "/api/v1/budget/commitments",
        staff,
        {
            "line_id": line_id,
            "kind": "fixed",
            "year": 2016,
            "beneficiary": "Convention",
            "fixed_amount": "1000",
            "hours": "50",
        },
    ).get_json()
    assert (fixed["amount"], fixed["hours"], fixed["hourly_rate"]) == ("1000.00", None, None)

    listed = client.get(
        f"/api/v1/budget/commitments?line_id={line_id}&year=2016", headers=staff
    ).get_json()
    assert [c["id"] for c in listed["items"]] == [plie["id"], fixed["id"]]
    report = client.get("/api/v1/budget/report?year=2016", headers=staff).get_json()
    assert report["sections"][0]["lines"][0]["committed"] == "7250.50"
    assert report["sections"][0]["lines"][0]["remaining"] == "4249.50"

    assert client.delete(url, headers=staff).status_code == 204
    assert client.get(url, headers=staff).status_code == 404


def test_invalid_commitments_are_422(client, staff, create_funding_line):
    line_id = create_funding_line()
    response = _post(
        client,
        "/api/v1/budget/commitments",
        staff,
        {
            "line_id": 999,
            "kind": "subvention",
            "year": "16",
            "beneficiary": "",
            "fixed_amount": "-1",
            "organisation_id": 12345,
        },
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {
        "line_id": ["Cette ligne budgétaire n'existe pas."],
        "kind": ["Nature attendue : fixed (convention) ou plie."],
        "year": ["Indiquez une année sur quatre chiffres (ex. 2016)."],
        "beneficiary": ["Indiquez le bénéficiaire."],
        "fixed_amount": ["Le montant ne peut pas être négatif."],
        "organisation_id": ["Cette structure n'existe pas."],
    }
    response = _post(
        client,
        "/api/v1/budget/commitments",
        staff,
        {"line_id": line_id, "kind": "plie", "year": 2016, "beneficiary": "P", "hours": "-2"},
    )
    assert response.get_json()["error"]["fields"] == {
        "hours": ["Le nombre d'heures ne peut pas être négatif."]
    }


def test_the_openapi_document_lists_the_budget_routes_and_validates(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    for path in (
        "/budget/lines",
        "/budget/lines/{line_id}",
        "/budget/lines/{line_id}/calls",
        "/budget/lines/{line_id}/calls/{call_id}",
        "/budget/report",
        "/budget/commitments",
        "/budget/commitments/{commitment_id}",
    ):
        assert path in document["paths"], path
    assert "BudgetReport" in document["components"]["schemas"]
