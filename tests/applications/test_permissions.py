"""Applicant B can neither read, change, download nor submit applicant A's file by guessing ids."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from grants.applications.models import Application, Attachment
from tests.applications.conftest import csrf
from tests.applications.test_attachments import multipart, status_of
from tests.fixtures.applications import PDF_BYTES


@pytest.fixture
def two_applicants(app, applicant, create_call, create_application):
    call_id = create_call()
    client_a, _ua, org_a = applicant("a@example.org", has_economic_activity=True)
    client_b, _ub, org_b = applicant("b@example.org")
    app_a = create_application(call_id, org_a, complete=True, title="Projet de A")
    app_b = create_application(call_id, org_b)
    from grants.extensions import db

    with app.app_context():
        attachment_id = db.session.scalar(
            sa.select(Attachment.id).where(Attachment.application_id == app_a).limit(1)
        )
    return {
        "a": client_a,
        "b": client_b,
        "app_a": app_a,
        "app_b": app_b,
        "attachment": attachment_id,
        "call": call_id,
    }


def test_b_cannot_read_a_file(two_applicants):
    b, app_a = two_applicants["b"], two_applicants["app_a"]
    for url in [
        f"/dossiers/{app_a}",
        *(
            f"/dossiers/{app_a}/etapes/{step}"
            for step in (
                "structure",
                "projet",
                "budget",
                "minimis",
                "pieces",
                "attestation",
                "deposer",
            )
        ),
        f"/dossiers/{app_a}/retirer",
        f"/dossiers/{app_a}/accuse-de-reception.pdf",
    ]:
        response = b.get(url)
        assert response.status_code == 404, url
        assert "Projet de A" not in response.get_data(as_text=True)
    assert "Projet de A" not in b.get("/dossiers").get_data(as_text=True)


def test_b_cannot_download_a_attachment_even_through_their_own_file(two_applicants):
    b = two_applicants["b"]
    attachment = two_applicants["attachment"]
    assert status_of(b.get(f"/dossiers/{two_applicants['app_a']}/pieces/{attachment}")) == 404
    assert status_of(b.get(f"/dossiers/{two_applicants['app_b']}/pieces/{attachment}")) == 404
    # and A can
    assert (
        status_of(
            two_applicants["a"].get(f"/dossiers/{two_applicants['app_a']}/pieces/{attachment}")
        )
        == 200
    )


def test_b_cannot_change_a_file(app, two_applicants, load):
    b, app_a, app_b = two_applicants["b"], two_applicants["app_a"], two_applicants["app_b"]
    token = csrf(b, f"/dossiers/{app_b}")
    posts = [
        (f"/dossiers/{app_a}/etapes/projet", {"title": "Piraté"}),
        (f"/dossiers/{app_a}/etapes/budget", {"request_2016": "1"}),
        (f"/dossiers/{app_a}/etapes/attestation", {"certified": ""}),
        (
            f"/dossiers/{app_a}/etapes/minimis",
            {"granted_on": "2024-01-01", "funder": "X", "amount": "1"},
        ),
        (f"/dossiers/{app_a}/pieces/{two_applicants['attachment']}/supprimer", {}),
        (f"/dossiers/{app_b}/pieces/{two_applicants['attachment']}/supprimer", {}),
        (f"/dossiers/{app_a}/retirer", {"reason": "Je retire"}),
    ]
    for url, data in posts:
        response = b.post(url, data={"csrf_token": token, **data})
        assert response.status_code == 404, url
    response = b.post(
        f"/dossiers/{app_a}/pieces/envoyer",
        **multipart({"csrf_token": token, "file": FileStorage(io.BytesIO(PDF_BYTES), "x.pdf")}),
    )
    assert response.status_code == 404
    saved = load(Application, app_a)
    assert saved.title == "Projet de A" and saved.certified and saved.status.value == "draft"
    with app.app_context():
        from grants.extensions import db

        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Attachment)
                .where(Attachment.application_id == app_a)
            )
            == 2
        )


def test_b_cannot_submit_a_file(two_applicants, load):
    b, app_a, app_b = two_applicants["b"], two_applicants["app_a"], two_applicants["app_b"]
    token = csrf(b, f"/dossiers/{app_b}")
    assert (
        b.post(f"/dossiers/{app_a}/etapes/deposer", data={"csrf_token": token}).status_code == 404
    )
    assert load(Application, app_a).status.value == "draft"


def test_applicants_cannot_reach_staff_pages(two_applicants):
    b = two_applicants["b"]
    token = csrf(b, f"/dossiers/{two_applicants['app_b']}")
    assert b.get(f"/gestion/appels/{two_applicants['call']}/dossiers").status_code == 403
    assert b.get(f"/gestion/dossiers/{two_applicants['app_b']}").status_code == 403
    for action in ("complements", "instruction", "recevabilite"):
        url = f"/gestion/dossiers/{two_applicants['app_b']}/{action}"
        assert b.post(url, data={"csrf_token": token}).status_code == 403


def test_staff_can_read_but_not_edit_an_applicants_draft(two_applicants, staff_client, load):
    app_a = two_applicants["app_a"]
    assert staff_client.get(f"/dossiers/{app_a}").status_code == 200
    assert (
        status_of(staff_client.get(f"/dossiers/{app_a}/pieces/{two_applicants['attachment']}"))
        == 200
    )
    token = csrf(staff_client, f"/dossiers/{app_a}")
    response = staff_client.post(
        f"/dossiers/{app_a}/etapes/projet", data={"csrf_token": token, "title": "X"}
    )
    assert response.status_code == 403
    assert (
        staff_client.post(
            f"/dossiers/{app_a}/etapes/deposer", data={"csrf_token": token}
        ).status_code
        == 403
    )
    assert load(Application, app_a).title == "Projet de A"


def test_anonymous_is_sent_to_login(client, two_applicants):
    response = client.get(f"/dossiers/{two_applicants['app_a']}")
    assert response.status_code in (302, 401)
    assert status_of(
        client.get(f"/dossiers/{two_applicants['app_a']}/pieces/{two_applicants['attachment']}")
    ) in (302, 401)
