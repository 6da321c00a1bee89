"""The worker side of :mod:`grants.core.mail`."""

from __future__ import annotations

import sqlalchemy as sa
from celery import shared_task

from grants.core.db import utcnow
from grants.core.models import MailStatus, OutgoingMail
from grants.extensions import db

MAX_ATTEMPTS = 5


@shared_task(bind=True, name="grants.mail.send", max_retries=MAX_ATTEMPTS, acks_late=True)
def send_mail(self, mail_id: int) -> str:
    from grants.core.mail import build_message, deliver

    mail = db.session.get(OutgoingMail, mail_id)
    if mail is None:
        return "missing"
    if mail.status == MailStatus.sent:
        return "already-sent"
    try:
        deliver(build_message(mail))
    except Exception as exc:
        db.session.execute(
            sa.update(OutgoingMail)
            .where(OutgoingMail.id == mail_id)
            .values(
                attempts=OutgoingMail.attempts + 1,
                last_error=str(exc)[:2000],
                status=MailStatus.failed
                if mail.attempts + 1 >= MAX_ATTEMPTS
                else MailStatus.pending,
            )
        )
        db.session.commit()
        if mail.attempts + 1 >= MAX_ATTEMPTS:
            return "failed"
        raise self.retry(exc=exc, countdown=min(300, 2 ** (mail.attempts + 1))) from exc
    db.session.execute(
        sa.update(OutgoingMail)
        .where(OutgoingMail.id == mail_id, OutgoingMail.status != MailStatus.sent)
        .values(status=MailStatus.sent, sent_at=utcnow(), attempts=OutgoingMail.attempts + 1)
    )
    db.session.commit()
    return "sent"
