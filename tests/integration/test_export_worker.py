"""The real worker produces an export asked for on the staff page, and the file downloads
(embedded default: SQLite + filesystem broker; PostgreSQL + Redis in the services run)."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.exports.conftest import funded  # noqa: F401 (fixture)
from tests.fixtures.services import wait_until

pytestmark = pytest.mark.integration


def _job(app):
    import sqlalchemy as sa

    from grants.exports.models import ExportJob
    from grants.extensions import db

    with app.app_context():
        try:
            job = db.session.scalar(sa.select(ExportJob).order_by(ExportJob.id.desc()))
            return None if job is None else (job.id, job.status.value, job.progress, job.total)
        finally:
            db.session.remove()


def test_an_export_asked_on_the_page_is_made_by_the_worker(
    app,
    celery_worker,
    client,
    create_user,
    login,
    get_csrf,
    funded,  # noqa: F811
):
    funded(payments=[(2016, "12000", "paid"), (2017, "4000", "requested")])
    funded(org={"name": "Garage associatif"}, payments=[(2016, "9000", "validated")])
    create_user(email="agent@bordeaux-metropole.fr", roles=["staff"])
    login(client, "agent@bordeaux-metropole.fr")
    token = get_csrf(client, "/gestion/exports")
    response = client.post(
        "/gestion/exports", data={"csrf_token": token, "kind": "payments", "format": "xlsx"}
    )
    assert response.status_code == 302

    done = wait_until(lambda: (_job(app) or (0, ""))[1] in {"done", "failed"} and _job(app), 60)
    if not done:
        pytest.fail(f"the export was not made after 60 s; worker log:\n{celery_worker.log_tail()}")
    job_id, status, progress, total = done
    assert (status, progress, total) == ("done", 3, 3), celery_worker.log_tail()

    status = client.get(f"/gestion/exports/etat?ids={job_id}").get_json()["jobs"][0]
    assert status["status"] == "done"
    response = client.get(f"/gestion/exports/{job_id}/fichier")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[0][0] == "N° de paiement"
    assert sorted(r[7] for r in rows[1:]) == [4000, 9000, 12000]
