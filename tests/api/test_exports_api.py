"""Exports in the JSON API: staff tokens only; ask, follow, download; the SCDL CSV."""

from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook

from tests.exports.conftest import (  # noqa: F401 (fixtures of the exports tests)
    funded,
    job_state,
    new_job,
    run_job,
    stored,
)


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
def enqueued(monkeypatch):
    from grants.exports.tasks import run_export

    sent: list[int] = []
    monkeypatch.setattr(run_export, "apply_async", lambda args=(), **kw: sent.append(args[0]))
    return sent


def post(client, headers, body):
    return client.post(
        "/api/v1/exports",
        data=json.dumps(body),
        headers={**headers, "Content-Type": "application/json"},
    )


@pytest.mark.parametrize("roles", [(), ("reviewer",)])
def test_only_staff(client, create_user, api_token, roles, new_job, enqueued):  # noqa: F811
    headers = auth(api_token(create_user(email="x@example.org", roles=roles)))
    job = new_job("payments")
    assert post(client, headers, {"kind": "payments", "format": "csv"}).status_code == 403
    assert client.get(f"/api/v1/exports/{job}", headers=headers).status_code == 403
    assert client.get(f"/api/v1/exports/{job}/file", headers=headers).status_code == 403
    assert client.get("/api/v1/exports/scdl?year=2016", headers=headers).status_code == 403
    assert client.get(f"/api/v1/exports/{job}").status_code == 401
    assert enqueued == []


def test_ask_follow_download(client, staff, funded, run_job, enqueued):  # noqa: F811
    funded(payments=[(2016, "12000", "paid"), (2017, "3000", "requested")])
    response = post(client, staff, {"kind": "payments", "format": "xlsx", "params": {"year": 2016}})
    assert response.status_code == 202
    job = response.get_json()
    assert job["status"] == "queued" and job["params"] == {"year": 2016}
    assert job["file_url"] is None
    assert response.headers["Location"].endswith(f"/api/v1/exports/{job['id']}")
    assert enqueued == [job["id"]]

    file_url = f"/api/v1/exports/{job['id']}/file"
    early = client.get(file_url, headers=staff)
    assert early.status_code == 409 and "en cours" in early.get_json()["error"]["message"]

    assert run_job(job["id"]) == "done"
    job = client.get(f"/api/v1/exports/{job['id']}", headers=staff).get_json()
    assert (job["status"], job["progress"], job["total"]) == ("done", 1, 1)
    assert job["file_url"] == file_url and job["filename"].endswith(".xlsx")
    response = client.get(file_url, headers=staff)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert [c.value for c in next(sheet.iter_rows())][0] == "N° de paiement"
    assert sheet.max_row == 2


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"kind": "budget", "format": "csv"}, {"kind"}),
        ({"kind": "payments", "format": "pdf"}, {"format"}),
        ({"kind": "payments", "format": "csv", "params": {"year": 1999}}, {"year"}),
        ({"kind": "payments", "format": "csv", "params": {"call_id": 42}}, {"call_id"}),
        ({"kind": "payments", "format": "csv", "params": {"annee": 2016}}, {"params"}),
        ({"kind": "payments", "format": "csv", "params": [2016]}, {"params"}),
        ({"kind": "scdl", "format": "xlsx", "params": {"year": 2016}}, {"format"}),
        ({"kind": "scdl", "format": "csv"}, {"year"}),
        ({"kind": "payments", "format": "csv", "extra": 1}, {"extra"}),
    ],
)
def test_invalid_requests(client, staff, body, fields, enqueued):
    response = post(client, staff, body)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == fields
    assert enqueued == []


def test_not_json(client, staff):
    response = client.post("/api/v1/exports", data="x", headers=staff)
    assert response.status_code == 400


def test_unknown_job(client, staff):
    assert client.get("/api/v1/exports/999", headers=staff).status_code == 404
    assert client.get("/api/v1/exports/999/file", headers=staff).status_code == 404


def test_the_scdl_csv(client, staff, funded):  # noqa: F811
    funded(org={"name": "Recyclerie de la Bastide"})
    funded(org={"name": "Petite structure"}, tranches={2016: "5000"})
    response = client.get("/api/v1/exports/scdl?year=2016", headers=staff)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "subventions-scdl-2016.csv" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))
    assert [r["nomBeneficiaire"] for r in rows] == ["Recyclerie de la Bastide"]
    response = client.get("/api/v1/exports/scdl?year=2016&all=true", headers=staff)
    assert len(list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))) == 2


def test_the_scdl_csv_refuses_invalid_data(client, staff, funded):  # noqa: F811
    funded(org={"name": "SIRET faux", "siret": "12345678901234"})
    response = client.get("/api/v1/exports/scdl?year=2016", headers=staff)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["fields"]["rows"] == [
        "ligne 2, colonne idBeneficiaire : « 12345678901234 » n'est pas un numéro SIRET valide."
    ]
    assert client.get("/api/v1/exports/scdl", headers=staff).status_code == 422
    assert client.get("/api/v1/exports/scdl?year=abc", headers=staff).status_code == 422


def test_the_openapi_document_lists_the_exports(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    for path in ("/exports", "/exports/{job_id}", "/exports/{job_id}/file", "/exports/scdl"):
        assert path in document["paths"]
    assert "ExportJob" in document["components"]["schemas"]
