"""The real worker process makes the PDF receipt of a submitted file (issue 3, point 10).

Runs on the embedded default (SQLite, filesystem broker, local storage under the shared
instance folder) and on PostgreSQL + Redis when TEST_DATABASE_URL / TEST_REDIS_URL are set.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from tests.applications.test_receipt import SUBMITTED_AT, create_submitted_application
from tests.fixtures.services import wait_until

pytestmark = pytest.mark.integration

RECEIPT_DONE = re.compile(
    r"Task grants\.applications\.make_receipt\[[0-9a-f-]+\] succeeded in [0-9.e-]+s: '([\w-]+)'"
)


def _receipt_key(app, application_id: int) -> str | None:
    from grants.applications.models import Application
    from grants.extensions import db

    with app.app_context():
        try:
            application = db.session.get(Application, application_id)
            return application.receipt_key if application else None
        finally:
            db.session.remove()


def _receipt_files(app) -> set[Path]:
    root = Path(app.config["STORAGE_PATH"]) / "receipts"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _submit(app, create_call, create_organisation) -> int:
    call_id = create_call(title="Appel à projets ESS 2016", reference_prefix="AAP-2016")
    org_id = create_organisation(name="Régie de quartier Bastide")
    return create_submitted_application(app, call_id, org_id)


def test_the_worker_makes_the_receipt_of_a_submission(
    app, celery_worker, create_call, create_organisation
):
    from grants.applications.tasks import make_receipt
    from grants.core.storage import get_storage

    application_id = _submit(app, create_call, create_organisation)  # committed
    make_receipt.delay(application_id, "AAP-2016-0007", SUBMITTED_AT.isoformat())

    key = wait_until(lambda: _receipt_key(app, application_id), 30)
    if not key:
        pytest.fail(f"no receipt after 30 s; worker log:\n{celery_worker.log_tail()}")
    with app.app_context():
        data = get_storage().read(key)
    assert data.startswith(b"%PDF")
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "AAP-2016-0007" in text
    assert "Régie de quartier Bastide" in text
    assert "21/11/2026 14:05" in text


def test_a_receipt_task_delivered_twice_stores_one_receipt(
    app, celery_worker, create_call, create_organisation
):
    from grants.applications.tasks import make_receipt

    application_id = _submit(app, create_call, create_organisation)
    before = _receipt_files(app)
    offset = celery_worker.log_size()
    args = (application_id, "AAP-2016-0007", SUBMITTED_AT.isoformat())
    make_receipt.delay(*args)
    make_receipt.delay(*args)

    done = wait_until(lambda: len(RECEIPT_DONE.findall(celery_worker.log_since(offset))) >= 2, 30)
    log = celery_worker.log_since(offset)
    assert done, f"the two deliveries did not both run; worker log:\n{log}"
    outcomes = sorted(RECEIPT_DONE.findall(log))
    assert outcomes in (["exists", "made"], ["lost-race", "made"]), log
    key = _receipt_key(app, application_id)
    assert _receipt_files(app) - before == {Path(app.config["STORAGE_PATH"]) / key}
