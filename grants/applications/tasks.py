"""Worker tasks of applications: the PDF receipt of a submission.

``make_receipt(application_id, reference, submitted_at_iso)`` is enqueued after the commit
of a submission::

    enqueue_after_commit(db.session, make_receipt, app.id, app.reference,
                         app.submitted_at.isoformat())

Once the receipt is recorded, the organisation's members are notified in the same
transaction (``application.submitted``, occurrence = the submission time): one e-mail with
the PDF attached, and the in-app notification.

It is idempotent (DESIGN §9: delivery is at least once): it does nothing when the file was
submitted again since (its snapshot is of another submission) or when the receipt of this
submission exists already (``receipt_key`` set — the submission clears it). Two deliveries
running at once both build a PDF, but the key is recorded with a conditional UPDATE, so one
wins and the other deletes its file: one receipt per submission, none lost.

``sweep_receipts`` (periodic) re-enqueues submissions whose receipt is missing after a few
minutes — a broker down at enqueue time, or a task that failed for good.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from celery import shared_task

from grants.core.db import utcnow
from grants.extensions import db

log = logging.getLogger(__name__)

#: storage prefix of the receipts
RECEIPT_PREFIX = "receipts"
MAX_ATTEMPTS = 5
#: a submission without a receipt after this long lost its task
LOST_RECEIPT = timedelta(minutes=5)


def _same_instant(a: str | datetime | None, b: str | datetime | None) -> bool:
    if a is None or b is None:
        return False
    a = datetime.fromisoformat(a) if isinstance(a, str) else a
    b = datetime.fromisoformat(b) if isinstance(b, str) else b
    return a == b


@shared_task(bind=True, name="grants.applications.make_receipt", max_retries=MAX_ATTEMPTS)
def make_receipt(self, application_id: int, reference: str, submitted_at_iso: str) -> str:
    """Build and store the receipt of the submission made at ``submitted_at_iso``.

    Returns what happened: ``made``, ``missing`` (no such application), ``stale`` (it was
    submitted again or reset since), ``exists`` (already made) or ``lost-race``.
    """
    from grants.applications.models import Application
    from grants.applications.receipt import build_receipt_pdf
    from grants.core.storage import get_storage, new_key

    application = db.session.get(Application, application_id)
    if application is None:
        return "missing"
    snapshot = application.snapshot or {}
    if not (
        application.reference == reference
        and snapshot.get("reference") == reference
        and _same_instant(application.submitted_at, submitted_at_iso)
        and _same_instant(snapshot.get("submitted_at"), submitted_at_iso)
    ):
        return "stale"
    if application.receipt_key:
        return "exists"

    storage = get_storage()
    key = new_key(RECEIPT_PREFIX)
    try:
        pdf = build_receipt_pdf(application)
        db.session.rollback()  # end the read transaction: no lock held while storing
        storage.put(key, pdf)
    except Exception as exc:
        db.session.rollback()
        if self.request.retries >= MAX_ATTEMPTS:
            log.exception("receipt of application %s failed for good", application_id)
            raise
        # Short backoff only: long countdowns are unsafe on Redis (DESIGN §9).
        raise self.retry(exc=exc, countdown=min(120, 5 * 2**self.request.retries)) from exc

    result = db.session.execute(
        sa.update(Application)
        .where(
            Application.id == application_id,
            Application.receipt_key.is_(None),
            Application.reference == reference,
            Application.submitted_at == datetime.fromisoformat(submitted_at_iso),
        )
        # The receipt is not a change of the file: updated_at stays as the applicant left it.
        .values(receipt_key=key, updated_at=Application.updated_at)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        storage.delete(key)
        return "lost-race"
    try:
        # The receipt e-mail (PDF attached) and the in-app notification, in the same
        # transaction as the receipt: both or neither, once per submission.
        from grants.applications.operations import notify_submitted

        notify_submitted(db.session.get(Application, application_id), key)
        db.session.commit()
    except Exception:
        db.session.rollback()
        storage.delete(key)
        raise
    return "made"


@shared_task(name="grants.applications.sweep_receipts")
def sweep_receipts() -> int:
    """Enqueue ``make_receipt`` again for submissions still without a receipt."""
    from grants.applications.models import Application

    rows = db.session.execute(
        sa.select(Application.id, Application.reference, Application.submitted_at)
        .where(
            Application.receipt_key.is_(None),
            Application.reference.is_not(None),
            Application.submitted_at < utcnow() - LOST_RECEIPT,
        )
        .order_by(Application.id)
        .limit(500)
    ).all()
    db.session.commit()
    for application_id, reference, submitted_at in rows:
        make_receipt.delay(application_id, reference, submitted_at.isoformat())
    return len(rows)
