"""The worker side of :mod:`grants.core.mail`.

Each row is *claimed* with a conditional UPDATE (pending → sending) before it is sent, so
two deliveries of the same task — a retry, a redelivery after a worker died, the sweeper —
cannot both send it. A worker killed after the claim leaves the row in ``sending``; the
sweeper (Celery beat) puts stale claims back to pending and enqueues them again, so nothing
is lost. The one window left is a crash between the SMTP server's acceptance and the commit
of ``sent``: that message may go out twice, which SMTP cannot prevent.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from celery import shared_task

from grants.core.db import utcnow
from grants.core.models import MailStatus, OutgoingMail
from grants.extensions import db

MAX_ATTEMPTS = 5
#: a claim older than this belongs to a dead worker
STALE_CLAIM = timedelta(minutes=10)
#: a pending row older than this lost its task (e.g. broker down at enqueue time)
LOST_PENDING = timedelta(minutes=2)


def _claim(mail_id: int) -> bool:
    now = utcnow()
    result = db.session.execute(
        sa.update(OutgoingMail)
        .where(
            OutgoingMail.id == mail_id,
            sa.or_(
                OutgoingMail.status == MailStatus.pending,
                sa.and_(
                    OutgoingMail.status == MailStatus.sending,
                    OutgoingMail.claimed_at < now - STALE_CLAIM,
                ),
            ),
        )
        .values(status=MailStatus.sending, claimed_at=now)
    )
    db.session.commit()
    return result.rowcount == 1


@shared_task(bind=True, name="grants.mail.send", max_retries=MAX_ATTEMPTS)
def send_mail(self, mail_id: int) -> str:
    from grants.core.mail import build_message, deliver

    if not _claim(mail_id):
        return "skipped"
    mail = db.session.get(OutgoingMail, mail_id)
    attempts = mail.attempts + 1
    try:
        deliver(build_message(mail))
    except Exception as exc:
        failed = attempts >= MAX_ATTEMPTS
        db.session.execute(
            sa.update(OutgoingMail)
            .where(OutgoingMail.id == mail_id)
            .values(
                attempts=attempts,
                last_error=f"{exc.__class__.__name__}: {exc}"[:2000],
                status=MailStatus.failed if failed else MailStatus.pending,
                claimed_at=None,
            )
        )
        db.session.commit()
        if failed:
            return "failed"
        # Short backoff only: long countdowns are unsafe on Redis (DESIGN §9).
        raise self.retry(exc=exc, countdown=min(120, 5 * 2**attempts)) from exc
    db.session.execute(
        sa.update(OutgoingMail)
        .where(OutgoingMail.id == mail_id)
        .values(status=MailStatus.sent, sent_at=utcnow(), claimed_at=None, attempts=attempts)
    )
    db.session.commit()
    return "sent"


@shared_task(name="grants.mail.sweep")
def sweep_mail() -> int:
    """Re-enqueue rows whose task was lost and release claims of dead workers."""
    now = utcnow()
    db.session.execute(
        sa.update(OutgoingMail)
        .where(
            OutgoingMail.status == MailStatus.sending,
            OutgoingMail.claimed_at < now - STALE_CLAIM,
        )
        .values(status=MailStatus.pending, claimed_at=None)
    )
    ids = db.session.scalars(
        sa.select(OutgoingMail.id)
        .where(
            OutgoingMail.status == MailStatus.pending,
            OutgoingMail.created_at < now - LOST_PENDING,
        )
        .order_by(OutgoingMail.id)
        .limit(1000)
    ).all()
    db.session.commit()
    for mail_id in ids:
        send_mail.delay(mail_id)
    return len(ids)
