"""The exports page: staff only; asking for an export creates a job and enqueues the
worker after the commit; progress and download; French messages next to the fields."""

from __future__ import annotations

import io
from html import unescape

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

URL = "/gestion/exports"


@pytest.fixture
def enqueued(monkeypatch):
    """The job ids sent to the broker (``run_export.apply_async``), instead of sending."""
    from grants.exports.tasks import run_export

    sent: list[int] = []
    monkeypatch.setattr(run_export, "apply_async", lambda args=(), **kw: sent.append(args[0]))
    return sent


@pytest.fixture
def staff_client(client, create_user, login):
    create_user(email="agent@bordeaux-metropole.fr", roles=["staff"], full_name="Agnès Agent")
    login(client, "agent@bordeaux-metropole.fr")
    return client


def jobs(app):
    from grants.exports.models import ExportJob
    from grants.extensions import db

    with app.app_context():
        rows = [
            (j.id, j.kind.value, j.format.value, j.params, j.status.value, j.requested_by_id)
            for j in db.session.scalars(sa.select(ExportJob))
        ]
        db.session.remove()
    return rows


def post_form(client, get_csrf, url, data):
    token = get_csrf(client, URL)
    return client.post(url, data={"csrf_token": token, **data})


@pytest.mark.parametrize("roles", [(), ("reviewer",)])
def test_applicants_and_reviewers_are_refused(
    app, client, create_user, login, roles, new_job, run_job, funded, get_csrf, enqueued
):
    funded(payments=[(2016, "12000", "paid")])
    create_user(email="autre@example.org", roles=roles)
    login(client, "autre@example.org")
    job = new_job("payments")
    assert run_job(job) == "done"
    token = get_csrf(client, "/appels")  # the logout form of any page
    assert client.get(URL).status_code == 403
    data = {"csrf_token": token, "kind": "payments", "format": "csv"}
    assert client.post(URL, data=data).status_code == 403
    data = {"csrf_token": token, "scdl-year": "2016"}
    assert client.post(f"{URL}/scdl", data=data).status_code == 403
    assert len(jobs(app)) == 1 and enqueued == []
    assert client.get(f"{URL}/etat?ids={job}").status_code == 403
    assert client.get(f"{URL}/{job}/fichier").status_code == 403


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_the_page_offers_the_exports(staff_client, create_call):
    create_call(title="Appel ESS 2016")
    page = unescape(staff_client.get(URL).get_data(as_text=True))
    assert "Export tableur" in page and "Données ouvertes" in page
    assert "Appel ESS 2016" in page
    assert "Aucun export demandé" in page
    assert "<script>" not in page and 'style="' not in page


def test_asking_for_an_export_creates_a_job_enqueued_after_commit(
    app, staff_client, get_csrf, create_call, enqueued, audit_entries
):
    call_id = create_call()
    response = post_form(
        staff_client,
        get_csrf,
        URL,
        {"kind": "payments", "format": "xlsx", "call_id": str(call_id), "year": "2016"},
    )
    assert response.status_code == 302
    [(job_id, kind, fmt, params, status, requested_by)] = jobs(app)
    assert (kind, fmt, params, status) == (
        "payments",
        "xlsx",
        {"call_id": call_id, "year": 2016},
        "queued",
    )
    assert requested_by is not None
    assert enqueued == [job_id]
    assert audit_entries("export.requested")[0]["object_id"] == str(job_id)
    page = unescape(staff_client.get(URL).get_data(as_text=True))
    assert f"L'export n° {job_id} est demandé" in page
    assert "En attente" in page and "<progress" in page
    assert f'data-active="{job_id}"' in page


def test_bad_input_is_shown_next_to_the_field(app, staff_client, get_csrf, enqueued):
    response = post_form(
        staff_client, get_csrf, URL, {"kind": "payments", "format": "csv", "year": "16"}
    )
    assert response.status_code == 422
    page = unescape(response.get_data(as_text=True))
    assert "Indiquez une année entre 2000 et 2100." in page
    assert 'id="year-erreurs"' in page
    assert jobs(app) == [] and enqueued == []

    response = post_form(
        staff_client, get_csrf, URL, {"kind": "payments", "format": "csv", "call_id": "999"}
    )
    assert response.status_code == 422
    assert "Cet appel n'existe pas." in unescape(response.get_data(as_text=True))


def test_without_csrf_token_nothing_happens(app, staff_client, enqueued):
    response = staff_client.post(URL, data={"kind": "payments", "format": "csv"})
    assert response.status_code == 400
    assert jobs(app) == []


def test_asking_for_the_scdl_file(app, staff_client, get_csrf, enqueued):
    response = post_form(
        staff_client, get_csrf, f"{URL}/scdl", {"scdl-year": "", "scdl-include_all": "y"}
    )
    assert response.status_code == 422
    assert "Indiquez l'année des décisions d'attribution." in unescape(
        response.get_data(as_text=True)
    )

    response = post_form(
        staff_client, get_csrf, f"{URL}/scdl", {"scdl-year": "2016", "scdl-include_all": "y"}
    )
    assert response.status_code == 302
    [(job_id, kind, fmt, params, _status, _by)] = jobs(app)
    assert (kind, fmt, params) == ("scdl", "csv", {"year": 2016, "all": True})
    assert enqueued == [job_id]


def test_progress_then_download_by_another_staff_member(
    app, client, create_user, login, get_csrf, enqueued, funded, run_job
):
    funded(payments=[(2016, "12000", "paid")])
    create_user(email="a@bordeaux-metropole.fr", roles=["staff"])
    create_user(email="b@bordeaux-metropole.fr", roles=["admin"])
    login(client, "a@bordeaux-metropole.fr")
    post_form(client, get_csrf, URL, {"kind": "payments", "format": "xlsx"})
    [job_id] = enqueued

    status = client.get(f"{URL}/etat?ids={job_id},abc").get_json()
    assert status == {
        "jobs": [
            {
                "id": job_id,
                "status": "queued",
                "status_label": "En attente",
                "progress": 0,
                "total": 0,
            }
        ]
    }
    assert client.get(f"{URL}/{job_id}/fichier").status_code == 404  # not ready

    assert run_job(job_id) == "done"
    status = client.get(f"{URL}/etat?ids={job_id}").get_json()["jobs"][0]
    assert (status["status"], status["progress"], status["total"]) == ("done", 1, 1)

    client.post("/deconnexion", data={"csrf_token": get_csrf(client, URL)})
    login(client, "b@bordeaux-metropole.fr")
    page = unescape(client.get(URL).get_data(as_text=True))
    assert "Prêt" in page and f"{URL}/{job_id}/fichier" in page
    response = client.get(f"{URL}/{job_id}/fichier")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet.max_row == 2


def test_a_failed_job_shows_its_message(app, staff_client, new_job, run_job, monkeypatch):
    from grants.exports import writers

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(writers, "write_csv", broken)
    job = new_job("payments", "csv")
    run_job(job)
    page = unescape(staff_client.get(URL).get_data(as_text=True))
    assert "Échec" in page and "n'a pas pu être produit" in page
    assert staff_client.get(f"{URL}/{job}/fichier").status_code == 404


def test_unknown_job(staff_client):
    assert staff_client.get(f"{URL}/999/fichier").status_code == 404
