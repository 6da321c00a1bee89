"""The notification service: ``notify`` records an event for its recipients.

Called by every feature's operations (and by worker tasks), in the transaction of the
change that caused the event. Each (event, object, recipient, occurrence) is written at
most once — the insert is ``ON CONFLICT DO NOTHING`` — so a retried task or a beat that
fires twice notifies nobody twice. The e-mail goes through the mail ledger
(:mod:`grants.core.mail`) and is sent by the worker after the commit, each row claimed
before it is sent; a non-essential e-mail (a reminder) is skipped when the recipient
turned reminders off, but the in-app notification is always written.

Also here: reading notifications (inbox), preferences, and the staff's resend of a failed
e-mail.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from grants.accounts.models import User
from grants.audit.operations import record
from grants.core.db import utcnow
from grants.core.mail import SUBJECT_MAX, enqueue_mails, record_mails, render_mail
from grants.core.models import MailStatus, OutgoingMail
from grants.core.tasks import enqueue_after_commit
from grants.extensions import db
from grants.notifications.models import Notification, NotificationPreference

_KEY = ["event", "object_type", "object_id", "recipient_id", "occurrence"]
#: recipients written per statement
CHUNK = 500
_LINK_MAIL = (
    sa.update(Notification.__table__)
    .where(Notification.__table__.c.id == sa.bindparam("notification_id"))
    .values(mail_id=sa.bindparam("mail_id"))
)

#: what can't be turned off (shown on the preferences page): legal weight or a deadline
ESSENTIAL_KINDS = (
    "l'accusé de réception d'un dossier déposé (avec son PDF)",
    "les demandes de compléments",
    "le report d'une date de clôture",
    "les décisions d'attribution ou de refus",
    "les échéanciers, les conventions à signer et les versements",
    "les demandes de compte rendu",
    "les affectations d'évaluation",
)
#: what a user may turn off (e-mail only: the inbox keeps them)
REMINDER_KINDS = (
    "le rappel d'un dossier en brouillon 48 heures avant la clôture de l'appel",
    "le rappel d'une évaluation à rendre dans 3 jours, puis en retard",
)


class NotificationError(Exception):
    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.message = message
        self.status = status


def _insert_notifications():
    """INSERT … ON CONFLICT DO NOTHING RETURNING (id, recipient_id), for many rows at once
    (SQLAlchemy's "insertmanyvalues": a few statements, compiled once)."""
    table = Notification.__table__
    dialect = db.session.get_bind().dialect.name
    return (
        (postgresql if dialect == "postgresql" else sqlite)
        .insert(table)
        .on_conflict_do_nothing(index_elements=_KEY)
        .returning(table.c.id, table.c.recipient_id)
    )


def _reminders_off(user_ids: list[int]) -> set[int]:
    """Among ``user_ids``, those who turned reminder e-mails off (one query per 500)."""
    off: set[int] = set()
    for start in range(0, len(user_ids), 500):
        chunk = user_ids[start : start + 500]
        off.update(
            db.session.scalars(
                sa.select(NotificationPreference.user_id).where(
                    NotificationPreference.user_id.in_(chunk),
                    NotificationPreference.email_reminders.is_(False),
                )
            )
        )
    return off


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
    ``(storage key, file name)``. Disabled users are skipped; so are those already
    notified of this occurrence. Never commits.
    """
    context = dict(context or {})
    if getattr(obj, "id", None) is None:
        db.session.flush()
    object_type = getattr(obj, "__tablename__", type(obj).__name__.lower())
    object_id = str(obj.id)
    users: list[User] = []
    seen: set[int] = set()
    for user in recipients:
        if user is None or user.id in seen or not user.is_active:
            continue
        seen.add(user.id)
        users.append(user)
    no_mail = set() if essential else _reminders_off([u.id for u in users])
    key = {
        "event": event,
        "object_type": object_type,
        "object_id": object_id,
        "occurrence": occurrence,
    }
    created: list[int] = []
    mail_ids: list[int] = []
    for start in range(0, len(users), CHUNK):
        chunk = users[start : start + CHUNK]
        # Skip (without rendering) who was notified already; the insert below still
        # resolves a race with ON CONFLICT DO NOTHING.
        done = set(
            db.session.scalars(
                sa.select(Notification.recipient_id).where(
                    *(getattr(Notification, name) == value for name, value in key.items()),
                    Notification.recipient_id.in_([u.id for u in chunk]),
                )
            )
        )
        todo = [u for u in chunk if u.id not in done]
        if not todo:
            continue
        rendered = {u.id: render_mail(template, user=u, link=link, **context) for u in todo}
        now = utcnow()
        inserted = db.session.execute(
            _insert_notifications(),
            [
                {
                    **key,
                    "recipient_id": u.id,
                    "essential": essential,
                    "subject": subject[:SUBJECT_MAX],
                    "body": rendered[u.id][0],
                    "link": link,
                    "created_at": now,
                }
                for u in todo
            ],
        ).all()
        new_ids = {recipient_id: notification_id for notification_id, recipient_id in inserted}
        created.extend(new_ids[u.id] for u in todo if u.id in new_ids)
        mailed = [u for u in todo if u.id in new_ids and u.id not in no_mail]
        if not mailed:
            continue  # already notified, or reminders turned off: in the inbox only
        by_message = record_mails(
            [(u.email, subject, *rendered[u.id]) for u in mailed], attachment=attachment
        )
        links = [
            {"notification_id": new_ids[u.id], "mail_id": mail_id}
            for u, mail_id in zip(mailed, by_message, strict=True)
        ]
        db.session.execute(_LINK_MAIL, links)
        mail_ids.extend(by_message)
    if mail_ids:
        enqueue_mails(mail_ids)  # after the commit, batched
    return created


# --- the inbox ----------------------------------------------------------------------------


def mark_read(notification: Notification, actor: User) -> bool:
    """Mark one of the actor's notifications read; False when it already was."""
    if notification.recipient_id != actor.id:
        raise NotificationError("Cette notification ne vous est pas adressée.", status=404)
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.id == notification.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.expire(notification, ["read_at"])
    return result.rowcount == 1


def mark_all_read(actor: User) -> int:
    """Mark every unread notification of the actor read; how many were."""
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.recipient_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


# --- preferences --------------------------------------------------------------------------


def preferences_of(user: User) -> NotificationPreference:
    """The user's preferences (defaults when never saved; not added to the session)."""
    pref = db.session.get(NotificationPreference, user.id)
    return pref or NotificationPreference(user_id=user.id, email_reminders=True)


def set_preferences(actor: User, *, email_reminders: bool) -> bool:
    """Save the actor's choice; False when nothing changed. Audited."""
    pref = db.session.get(NotificationPreference, actor.id)
    before = True if pref is None else pref.email_reminders
    if before == email_reminders:
        return False
    if pref is None:
        pref = NotificationPreference(user_id=actor.id)
        db.session.add(pref)
    pref.email_reminders = email_reminders
    record(
        actor,
        "notifications.preferences",
        actor,
        summary="Rappels par e-mail " + ("réactivés" if email_reminders else "désactivés"),
        changes={"email_reminders": [before, email_reminders]},
    )
    return True


# --- the staff outbox ---------------------------------------------------------------------


def resend(mail: OutgoingMail, actor: User) -> None:
    """Send a failed e-mail again: back to pending with no attempt, enqueued after commit."""
    if not (actor and actor.is_staff):
        raise NotificationError("Action réservée au service.", status=403)
    result = db.session.execute(
        sa.update(OutgoingMail)
        .where(OutgoingMail.id == mail.id, OutgoingMail.status == MailStatus.failed)
        .values(status=MailStatus.pending, attempts=0, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise NotificationError(
            "Seul un envoi en échec peut être renvoyé (celui-ci ne l'est pas ou plus)."
        )
    db.session.expire(mail)
    record(
        actor,
        "mail.resend",
        mail,
        summary=f"Renvoi de l'e-mail « {mail.subject} » à {mail.recipient}",
        changes={"status": ["failed", "pending"]},
    )
    from grants.core.mail_tasks import send_mail

    enqueue_after_commit(db.session, send_mail, mail.id)


def resend_all_failed(actor: User, limit: int = 1000) -> int:
    """Send every failed e-mail again (the oldest ``limit`` first); how many. Audited."""
    if not (actor and actor.is_staff):
        raise NotificationError("Action réservée au service.", status=403)
    ids = db.session.scalars(
        sa.select(OutgoingMail.id)
        .where(OutgoingMail.status == MailStatus.failed)
        .order_by(OutgoingMail.id)
        .limit(limit)
    ).all()
    if not ids:
        return 0
    result = db.session.execute(
        sa.update(OutgoingMail)
        .where(OutgoingMail.id.in_(ids), OutgoingMail.status == MailStatus.failed)
        .values(status=MailStatus.pending, attempts=0, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    record(
        actor,
        "mail.resend_failed",
        object_type="outgoing_mail",
        summary=f"Renvoi de {result.rowcount} e-mail{'s' if result.rowcount > 1 else ''} en échec",
        changes={"ids": [None, list(ids)[:100]]},
    )
    enqueue_mails(ids)
    return result.rowcount
