"""Cross-feature tables: reference communes and the outgoing mail ledger."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from grants.core.db import UTCDateTime, enum_type, utcnow
from grants.extensions import db


class Commune(db.Model):
    """One of the 28 communes of the metropolis (``grants/data/communes.csv``)."""

    __tablename__ = "commune"

    #: INSEE code, e.g. ``33063`` for Bordeaux
    insee: Mapped[str] = mapped_column(sa.String(5), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))

    __table_args__ = (sa.CheckConstraint("length(insee) = 5", name="insee_length"),)


class Funder(db.Model):
    """The public body that attributes the money (attribuant): owns calls, budget lines,
    conventions and exports. The default configuration has one (``FUNDER_*`` settings)."""

    __tablename__ = "funder"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    #: 14 digits; the SCDL export's ``idAttribuant``
    siret: Mapped[str] = mapped_column(sa.String(14), unique=True)
    service: Mapped[str] = mapped_column(sa.String(200), default="")

    __table_args__ = (sa.CheckConstraint("length(siret) = 14", name="siret_length"),)

    @property
    def siren(self) -> str:
        return self.siret[:9]


def default_funder() -> Funder:
    """The configured funder, created on first use."""
    from flask import current_app

    siret = current_app.config["FUNDER_SIRET"]
    funder = db.session.scalar(sa.select(Funder).where(Funder.siret == siret))
    if funder is None:
        funder = Funder(
            name=current_app.config["FUNDER_NAME"],
            siret=siret,
            service=current_app.config.get(
                "FUNDER_SERVICE", "Service économie sociale et solidaire"
            ),
        )
        db.session.add(funder)
        db.session.flush()
    return funder


class MailStatus(enum.StrEnum):
    pending = "pending"
    #: claimed by a worker (``claimed_at``); a stale claim is released by the sweeper
    sending = "sending"
    sent = "sent"
    failed = "failed"


class OutgoingMail(db.Model):
    """Every e-mail, written in the transaction that caused it, sent by the worker."""

    __tablename__ = "outgoing_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the Message-ID header; the worker never sends a row twice
    message_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    recipient: Mapped[str] = mapped_column(sa.String(254), index=True)
    subject: Mapped[str] = mapped_column(sa.String(300))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str | None] = mapped_column(sa.Text)
    #: an attached file in the storage (e.g. the PDF receipt), and its name
    attachment_key: Mapped[str | None] = mapped_column(sa.String(200))
    attachment_name: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[MailStatus] = mapped_column(
        enum_type(MailStatus, "mail_status"), default=MailStatus.pending, index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name="sent_at_iff_sent"),
        sa.CheckConstraint("attempts >= 0", name="attempts_positive"),
        sa.CheckConstraint(
            "(status = 'sending') = (claimed_at IS NOT NULL)", name="claimed_iff_sending"
        ),
    )
