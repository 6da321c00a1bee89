"""Read side of notifications: the inbox, the unread count, the staff outbox.

Every page is a bounded number of statements whatever the data size: one COUNT and one
page of rows (plus the counts by status for the outbox).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import defer

from grants.core.models import MailStatus, OutgoingMail
from grants.extensions import db
from grants.notifications.models import Notification

PER_PAGE = 20
OUTBOX_PER_PAGE = 50

MAIL_STATUS_LABELS = {
    MailStatus.pending: "En attente",
    MailStatus.sending: "En cours d'envoi",
    MailStatus.sent: "Envoyé",
    MailStatus.failed: "Échec",
}


def unread_count(user_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.recipient_id == user_id, Notification.read_at.is_(None))
    )


def inbox_query(user_id: int, unread_only: bool = False):
    query = sa.select(Notification).where(Notification.recipient_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return query.order_by(Notification.created_at.desc(), Notification.id.desc())


def inbox_page(user_id: int, page: int, unread_only: bool = False, per_page: int = PER_PAGE):
    return db.paginate(
        inbox_query(user_id, unread_only),
        page=page,
        per_page=per_page,
        error_out=False,
        max_per_page=100,
        count=True,
    )


def own_notification(notification_id: int, user_id: int) -> Notification | None:
    """The notification if it is the user's (None otherwise: the caller answers 404)."""
    return db.session.scalar(
        sa.select(Notification).where(
            Notification.id == notification_id, Notification.recipient_id == user_id
        )
    )


@dataclass(frozen=True)
class OutboxFilters:
    status: str = ""
    recipient: str = ""
    subject: str = ""

    @property
    def active(self) -> bool:
        return bool(self.status or self.recipient or self.subject)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def outbox_query(filters: OutboxFilters):
    query = sa.select(OutgoingMail).options(
        defer(OutgoingMail.text_body), defer(OutgoingMail.html_body)
    )
    if filters.status in MailStatus.__members__:
        query = query.where(OutgoingMail.status == MailStatus(filters.status))
    if filters.recipient:
        like = f"%{_escape_like(filters.recipient.strip().lower())}%"
        query = query.where(sa.func.lower(OutgoingMail.recipient).like(like, escape="\\"))
    if filters.subject:
        like = f"%{_escape_like(filters.subject.strip().lower())}%"
        query = query.where(sa.func.lower(OutgoingMail.subject).like(like, escape="\\"))
    return query.order_by(OutgoingMail.created_at.desc(), OutgoingMail.id.desc())


def outbox_page(filters: OutboxFilters, page: int, per_page: int = OUTBOX_PER_PAGE):
    return db.paginate(
        outbox_query(filters),
        page=page,
        per_page=per_page,
        error_out=False,
        max_per_page=200,
        count=True,
    )


def outbox_counts() -> dict[MailStatus, int]:
    """How many e-mails in each state (one GROUP BY)."""
    rows = db.session.execute(
        sa.select(OutgoingMail.status, sa.func.count()).group_by(OutgoingMail.status)
    ).all()
    counts = dict.fromkeys(MailStatus, 0)
    for status, count in rows:
        counts[MailStatus(status)] = count
    return counts
