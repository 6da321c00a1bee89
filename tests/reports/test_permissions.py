"""Who may read, change and download a report: the organisation's members and staff only.

Another applicant, or a reviewer, gets a 404 for every report id — theirs to guess or not
— on every route, and nothing changes."""

from __future__ import annotations

import io

import pytest

from tests.fixtures.applications import PDF_BYTES
from tests.fixtures.core import csrf_token_from
from tests.fixtures.reports import STAFF_EMAIL
from tests.reports.test_flow import post_report, report_row

BRUNO = "bruno@autre.example"
REVIEWER = "eval@evaluateurs.example"


@pytest.fixture
def with_document(report_world, as_user, in_app):
    alice = as_user("alice@recyclerie.example")
    response = post_report(
        alice,
        report_world.report_a,
        activity="Activité confidentielle",
        files={"document": (io.BytesIO(PDF_BYTES), "comptes.pdf")},
    )
    assert response.status_code == 302
    return report_world


@pytest.mark.parametrize("email", [BRUNO, REVIEWER])
def test_outsiders_get_404_everywhere(with_document, as_user, in_app, email):
    world = with_document
    client = as_user(email)
    # a valid CSRF token (the logout form of every page), so that only the rights answer
    token = csrf_token_from(client.get("/rapports").get_data(as_text=True))
    assert client.get(f"/rapports/{world.report_b}").status_code == (200 if email == BRUNO else 404)
    missing = 999_999
    for rid in (world.report_a, missing):
        assert client.get(f"/rapports/{rid}").status_code == 404
        assert client.get(f"/rapports/{rid}/document").status_code == 404
        data = {"csrf_token": token, "action": "submit", "activity": "Piraté"}
        assert client.post(f"/rapports/{rid}", data=data).status_code == 404
        assert (
            client.post(f"/rapports/{rid}/document/supprimer", data={"csrf_token": token})
        ).status_code == 404
    report = report_row(in_app, world.report_a)
    assert report.activity == "Activité confidentielle" and report.file_key is not None
    # the lists don't show it either
    assert "Atelier vélo" not in client.get("/rapports").get_data(as_text=True)


@pytest.mark.parametrize("email", [BRUNO, REVIEWER, "alice@recyclerie.example"])
def test_staff_pages_are_for_staff(report_world, as_user, email):
    client = as_user(email)
    token = csrf_token_from(client.get("/rapports").get_data(as_text=True))
    rid = report_world.report_a
    assert client.get("/gestion/rapports").status_code == 403
    assert client.get(f"/gestion/rapports/{rid}").status_code == 403
    data = {"csrf_token": token, "comment": "Refusé"}
    assert client.post(f"/gestion/rapports/{rid}/accepter", data=data).status_code == 403
    assert client.post(f"/gestion/rapports/{rid}/renvoyer", data=data).status_code == 403


def test_staff_read_but_do_not_edit_a_report(report_world, as_user, in_app):
    staff = as_user(STAFF_EMAIL)
    page = staff.get(f"/rapports/{report_world.report_a}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="actual_0"' not in html
    token = csrf_token_from(html)
    response = staff.post(
        f"/rapports/{report_world.report_a}",
        data={"csrf_token": token, "action": "save", "activity": "Écrit par le service"},
    )
    assert response.status_code == 403
    assert report_row(in_app, report_world.report_a).activity == ""


def test_a_report_not_handed_in_cannot_be_accepted(report_world, as_user, in_app):
    """Not even by staff: there is nothing to accept yet."""
    staff = as_user(STAFF_EMAIL)
    html = staff.get(f"/gestion/rapports/{report_world.report_a}").get_data(as_text=True)
    assert "Accepter le compte rendu" not in html
    token = csrf_token_from(html)
    response = staff.post(
        f"/gestion/rapports/{report_world.report_a}/accepter", data={"csrf_token": token}
    )
    assert response.status_code == 302
    assert report_row(in_app, report_world.report_a).status.value == "due"


def test_anonymous_visitors_are_sent_to_the_login(report_world, client):
    response = client.get(f"/rapports/{report_world.report_a}")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]
    assert client.get(f"/rapports/{report_world.report_a}/document").status_code == 302
