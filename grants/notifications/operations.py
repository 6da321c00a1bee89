"""The notification service: ``notify`` records an event for its recipients.

Called by every feature's operations, in the transaction of the change that caused the
event. Each (event, object, recipient, occurrence) is written at most once — the insert is
``ON CONFLICT DO NOTHING`` — so a retried task or a beat that fires twice notifies nobody
twice. The e-mail goes through the mail ledger (:func:`grants.core.mail.queue_mail`) and is
sent by the worker after the commit; a non-essential e-mail is skipped when the recipient
turned reminders off (the in-app notification is always written).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from flask import render_template
from sqlalchemy.dialects import postgresql, sqlite

from grants.accounts.models import User
from grants.core.mail import queue_mail
from grants.extensions import db
from grants.notifications.models import Notification, NotificationPreference

_KEY = ["event", "object_type", "object_id", "recipient_id", "occurrence"]


def _insert():
    dialect = db.session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(Notification)


def wants_email(user: User, essential: bool) -> bool:
    if essential:
        return True
    pref = db.session.get(NotificationPreference, user.id)
    return pref is None or pref.email_reminders


def notify(
    event: str,
    obj,
    recipients: Iterable[User],
    *,
    subject: str,
    template: str,
    context: dict | None = None,
    occurrence: str = "",
    essential: bool = True,
    link: str | None = None,
    attachment: tuple[str, str] | None = None,
) -> list[int]:
    """Notify ``recipients`` of ``event`` on ``obj``; returns the ids of the new rows.

    ``template`` names ``templates/emails/<template>.txt`` (and ``.html``), rendered with
    ``user`` (the recipient), ``link`` and ``context``; ``attachment`` is
    ``(storage key, file name)``.
    """
    context = dict(context or {})
    object_type = getattr(obj, "__tablename__", type(obj).__name__.lower())
    object_id = str(obj.id)
    created: list[int] = []
    seen: set[int] = set()
    for user in recipients:
        if user is None or user.id in seen or not user.is_active:
            continue
        seen.add(user.id)
        body = render_template(f"emails/{template}.txt", user=user, link=link, **context)
        statement = (
            _insert()
            .values(
                event=event,
                object_type=object_type,
                object_id=object_id,
                recipient_id=user.id,
                occurrence=occurrence,
                essential=essential,
                subject=subject[:300],
                body=body,
                link=link,
            )
            .on_conflict_do_nothing(index_elements=_KEY)
            .returning(Notification.id)
        )
        new_id = db.session.execute(statement).scalar()
        if new_id is None:
            continue  # already notified of this occurrence
        created.append(new_id)
        if wants_email(user, essential):
            mail = queue_mail(user.email, subject, template, user=user, link=link, **context)
            if attachment:
                mail.attachment_key, mail.attachment_name = attachment
            db.session.execute(
                sa.update(Notification).where(Notification.id == new_id).values(mail_id=mail.id)
            )
    return created
