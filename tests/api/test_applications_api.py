"""Applications in the JSON API: the same rights, checks and French messages as the pages."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from grants.applications.models import Application, Attachment
from grants.core.db import utcnow
from tests.fixtures.applications import PDF_BYTES

EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200


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
def world(app, create_user, create_organisation, create_call, create_application, api_token):
    """Two applicants (A, B) with an organisation each, a staff member, an open call, and
    a complete draft of A's."""
    a = create_user(email="a@example.org")
    b = create_user(email="b@example.org")
    staff = create_user(email="agent@example.org", roles=("staff",))
    org_a = create_organisation(member_ids=[a], name="Structure A")
    org_b = create_organisation(member_ids=[b], name="Structure B")
    call_id = create_call(reference_prefix="AAP-2016")
    app_a = create_application(call_id, org_a, complete=True)
    from grants.extensions import db

    with app.app_context():
        attachment = db.session.scalar(
            sa.select(Attachment.id).where(Attachment.application_id == app_a).limit(1)
        )
        db.session.remove()
    return {
        "a": auth(api_token(a)),
        "b": auth(api_token(b)),
        "staff": auth(api_token(staff)),
        "org_a": org_a,
        "org_b": org_b,
        "call": call_id,
        "app_a": app_a,
        "attachment": attachment,
    }


def _status(app, app_id) -> str:
    from grants.extensions import db

    with app.app_context():
        status = db.session.get(Application, app_id).status.value
        db.session.remove()
    return status


def test_create_read_and_patch_a_draft(client, world):
    response = client.post(
        "/api/v1/applications",
        json={"call_id": world["call"], "organisation_id": world["org_b"]},
        headers=world["b"],
    )
    assert response.status_code == 201, response.json
    created = response.json
    assert created["status"] == "draft" and created["reference"] is None
    assert response.headers["Location"].endswith(f"/api/v1/applications/{created['id']}")
    assert any(
        p["code"] == "title_missing" and p["step"] == "projet"
        for p in created["eligibility_problems"]
    )

    url = f"/api/v1/applications/{created['id']}"
    response = client.patch(
        url,
        json={
            "title": "Épicerie solidaire",
            "territory": ["33063"],
            "sector": "Économie de proximité",
            "start_date": "2016-02-01",
            "jobs_created": 2,
            "certified": True,
            "budget_lines": [
                {"year": 2016, "account": "64", "label": "Salaires", "amount": "12000"},
                {"year": 2016, "account": "74", "amount": 8000.50, "is_request": True},
                {"year": 2016, "account": "70", "amount": "3 999,50"},
            ],
        },
        headers=world["b"],
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["title"], body["sector"], body["start_date"], body["jobs_created"]) == (
        "Épicerie solidaire",
        "Économie de proximité",
        "2016-02-01",
        2,
    )
    assert body["certified"] is True
    assert body["requested_total"] == "8000.50"
    assert {line["amount"] for line in body["budget_lines"]} == {"12000.00", "8000.50", "3999.50"}
    assert client.get(url, headers=world["b"]).json["title"] == "Épicerie solidaire"

    # listing: B sees their file, not A's; staff see both
    mine = client.get("/api/v1/applications", headers=world["b"]).json
    assert [item["id"] for item in mine["items"]] == [created["id"]]
    everything = client.get(
        f"/api/v1/applications?call_id={world['call']}", headers=world["staff"]
    ).json
    assert everything["total"] == 2


def test_patch_is_all_or_nothing_with_french_messages(client, world, app):
    url = f"/api/v1/applications/{world['app_a']}"
    response = client.patch(
        url,
        json={
            "title": "Nouveau titre",
            "jobs_created": "trois",
            "end_date": "2015-01-01",
            "sector": "Spatial",
            "budget_lines": [{"year": 2016, "account": "99", "amount": "-5", "is_request": True}],
            "colour": "bleu",
        },
        headers=world["a"],
    )
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert fields["jobs_created"] == ["Un nombre entier est attendu."]
    assert fields["end_date"] == ["La date de fin doit suivre la date de début."]
    assert fields["sector"] == ["Choisissez une valeur dans la liste."]
    assert "plan comptable" in fields["budget_lines[0].account"][0]
    assert fields["budget_lines[0].amount"] == ["Le montant ne peut pas être négatif."]
    assert fields["colour"] == ["Champ inconnu."]
    assert client.get(url, headers=world["a"]).json["title"] == "Recyclerie solidaire"


def test_b_cannot_read_change_download_or_submit_a_file(client, world, app):
    app_a, attachment = world["app_a"], world["attachment"]
    base = f"/api/v1/applications/{app_a}"
    assert client.get(base, headers=world["b"]).status_code == 404
    assert client.patch(base, json={"title": "Piraté"}, headers=world["b"]).status_code == 404
    assert client.post(f"{base}/submit", headers=world["b"]).status_code == 404
    assert (
        client.post(f"{base}/withdraw", json={"reason": "x"}, headers=world["b"]).status_code == 404
    )
    response = client.get(f"{base}/attachments/{attachment}", headers=world["b"])
    assert response.status_code == 404
    assert client.delete(f"{base}/attachments/{attachment}", headers=world["b"]).status_code == 404
    response = client.post(
        f"{base}/attachments",
        data={"file": (io.BytesIO(PDF_BYTES), "x.pdf")},
        content_type="multipart/form-data",
        headers=world["b"],
    )
    assert response.status_code == 404
    # B's own file does not open A's attachment either
    own = client.post(
        "/api/v1/applications",
        json={"call_id": world["call"], "organisation_id": world["org_b"]},
        headers=world["b"],
    ).json["id"]
    assert (
        client.get(
            f"/api/v1/applications/{own}/attachments/{attachment}", headers=world["b"]
        ).status_code
        == 404
    )
    # B may not create a file for A's organisation
    response = client.post(
        "/api/v1/applications",
        json={"call_id": world["call"], "organisation_id": world["org_a"]},
        headers=world["b"],
    )
    assert response.status_code == 422
    assert response.json["error"]["fields"]["organisation_id"] == [
        "Choisissez l'une de vos structures."
    ]
    assert _status(app, app_a) == "draft"
    assert client.get(base, headers=world["a"]).json["title"] == "Recyclerie solidaire"


def test_cookies_do_not_authenticate_the_api(client, world):
    assert client.get("/api/v1/applications").status_code == 401


def test_attachments_upload_download_delete(client, world, app):
    base = f"/api/v1/applications/{world['app_a']}"
    response = client.post(
        f"{base}/attachments",
        data={"file": (io.BytesIO(PDF_BYTES), "Lettre de soutien.pdf")},
        content_type="multipart/form-data",
        headers=world["a"],
    )
    assert response.status_code == 201, response.json
    attachment = response.json
    assert attachment["filename"] == "Lettre de soutien.pdf"
    assert attachment["required_document_id"] is None
    with client.get(attachment["url"], headers=world["a"]) as download:
        assert download.status_code == 200
        assert download.get_data() == PDF_BYTES
        assert download.headers["Content-Disposition"].startswith("attachment")
        assert download.headers["X-Content-Type-Options"] == "nosniff"
    with client.get(attachment["url"], headers=world["staff"]) as download:
        assert download.status_code == 200
        download.get_data()
    # staff may read it but not delete it
    assert client.delete(attachment["url"], headers=world["staff"]).status_code == 403
    assert client.delete(attachment["url"], headers=world["a"]).status_code == 204
    assert client.get(attachment["url"], headers=world["a"]).status_code == 404


def test_executable_renamed_pdf_is_refused(client, world):
    response = client.post(
        f"/api/v1/applications/{world['app_a']}/attachments",
        data={"file": (io.BytesIO(EXE_BYTES), "statuts.pdf")},
        content_type="multipart/form-data",
        headers=world["a"],
    )
    assert response.status_code == 422
    assert "n'est pas celui d'un fichier PDF valide" in response.json["error"]["fields"]["file"][0]


def test_submit_withdraw_and_complements_round_trip(client, world, app):
    base = f"/api/v1/applications/{world['app_a']}"
    # staff can't submit for the applicant
    assert client.post(f"{base}/submit", headers=world["staff"]).status_code == 403
    response = client.post(f"{base}/submit", headers=world["a"])
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "submitted" and body["reference"] == "AAP-2016-0001"
    assert body["editable"] is False
    # frozen
    response = client.patch(base, json={"title": "Changé"}, headers=world["a"])
    assert response.status_code == 409
    assert "n'est plus modifiable" in response.json["error"]["message"]
    assert (
        client.delete(f"{base}/attachments/{world['attachment']}", headers=world["a"]).status_code
        == 409
    )
    # complements: staff only
    due = (utcnow() + timedelta(days=10)).date().isoformat()
    payload = {"message": "Joignez le RIB.", "due_on": due}
    assert (
        client.post(f"{base}/request-complements", json=payload, headers=world["a"]).status_code
        == 403
    )
    response = client.post(
        f"{base}/request-complements",
        json={"message": "", "due_on": "hier"},
        headers=world["staff"],
    )
    assert response.status_code == 422
    assert response.json["error"]["fields"]["due_on"][0].startswith("Indiquez une date valide")
    response = client.post(f"{base}/request-complements", json=payload, headers=world["staff"])
    assert response.status_code == 200
    assert response.json["status"] == "incomplete"
    assert response.json["complement_requests"][0]["message"] == "Joignez le RIB."
    assert (
        client.patch(
            base, json={"partners": "La Banque alimentaire"}, headers=world["a"]
        ).status_code
        == 200
    )
    response = client.post(f"{base}/submit", headers=world["a"])
    assert response.status_code == 200
    assert response.json["reference"] == "AAP-2016-0001"
    assert response.json["complement_requests"][0]["answered_at"] is not None
    # withdraw needs a reason
    response = client.post(f"{base}/withdraw", json={"reason": "  "}, headers=world["a"])
    assert response.status_code == 422
    assert response.json["error"]["fields"]["reason"] == [
        "Indiquez pourquoi vous retirez le dossier."
    ]
    response = client.post(
        f"{base}/withdraw", json={"reason": "Projet abandonné"}, headers=world["a"]
    )
    assert response.status_code == 200 and response.json["status"] == "withdrawn"
    response = client.post(f"{base}/withdraw", json={"reason": "Encore"}, headers=world["a"])
    assert response.status_code == 409


def test_submit_with_problems_lists_them_by_code(client, world, create_application, app):
    draft = client.post(
        "/api/v1/applications",
        json={"call_id": world["call"], "organisation_id": world["org_b"]},
        headers=world["b"],
    ).json["id"]
    response = client.post(f"/api/v1/applications/{draft}/submit", headers=world["b"])
    assert response.status_code == 422
    error = response.json["error"]
    assert error["title"] == "Dépôt impossible"
    assert error["fields"]["title_missing"] == ["Projet : indiquez l'intitulé du projet."]
    assert (
        "Pièces : joignez le document « Statuts de la structure »."
        in error["fields"]["document_missing"]
    )


def test_submit_after_closing_time_is_refused(client, world, app):
    from grants.calls.models import Call
    from grants.extensions import db

    with app.app_context():
        closes_at = db.session.get(Call, world["call"]).closes_at
        db.session.remove()
    with time_machine.travel(closes_at + timedelta(seconds=1), tick=False):
        response = client.post(f"/api/v1/applications/{world['app_a']}/submit", headers=world["a"])
    assert response.status_code == 409
    assert "La date limite de dépôt de l'appel" in response.json["error"]["message"]
    assert _status(app, world["app_a"]) == "draft"


def test_openapi_lists_the_application_routes(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").json
    validate(document)
    for path in (
        "/applications",
        "/applications/{application_id}",
        "/applications/{application_id}/attachments",
        "/applications/{application_id}/attachments/{attachment_id}",
        "/applications/{application_id}/submit",
        "/applications/{application_id}/withdraw",
        "/applications/{application_id}/request-complements",
    ):
        assert path in document["paths"], path
    assert {"get", "post"} <= set(document["paths"]["/applications"])
    assert {"get", "patch"} <= set(document["paths"]["/applications/{application_id}"])
