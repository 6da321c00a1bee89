"""Notifications: the ledger of events per recipient (the in-app inbox) and preferences.

A row is unique per (event, object, recipient, occurrence): writing the same notification
twice — a retried task, beat firing twice — inserts nothing the second time. The e-mail of a
notification is an :class:`~grants.core.models.OutgoingMail` row, sent once by the worker.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.accounts.models import User
from grants.core.db import UTCDateTime, utcnow
from grants.core.models import OutgoingMail
from grants.extensions import db


class Notification(db.Model):
    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: dotted event name, e.g. ``application.submitted``
    event: Mapped[str] = mapped_column(sa.String(80), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(60))
    object_id: Mapped[str] = mapped_column(sa.String(60))
    recipient_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    #: distinguishes repeated occurrences of one event (a date, a round number…)
    occurrence: Mapped[str] = mapped_column(sa.String(60), default="")
    #: legal weight (receipt, decision, convention, payment): can't be turned off
    essential: Mapped[bool] = mapped_column(default=True)
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    #: a page of the application the notification is about
    link: Mapped[str | None] = mapped_column(sa.String(500))
    mail_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("outgoing_mail.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    recipient: Mapped[User] = relationship()
    mail: Mapped[OutgoingMail | None] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("event", "object_type", "object_id", "recipient_id", "occurrence"),
        sa.Index("ix_notification_inbox", "recipient_id", "read_at", "created_at"),
    )


class NotificationPreference(db.Model):
    """What a user chose; absent means the defaults (every e-mail)."""

    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    #: e-mails without legal weight (reminders); the in-app notification stays
    email_reminders: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TaskLock(db.Model):
    """A lease that keeps two runs of a periodic task from overlapping (any backend)."""

    __tablename__ = "task_lock"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    owner: Mapped[str] = mapped_column(sa.String(100))
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime)
