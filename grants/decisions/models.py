"""Committee sessions and their decisions on applications."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.accounts.models import User
from grants.applications.models import Application
from grants.calls.models import Call
from grants.core.db import UTCDateTime, enum_type, money_type, utcnow
from grants.extensions import db


class CommitteeSession(db.Model):
    """A committee meeting (or deliberation) that decides on files of a call."""

    __tablename__ = "committee_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("call.id", ondelete="CASCADE"), index=True)
    held_on: Mapped[date]
    #: the members present, one name per item
    members_present: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: numéro de délibération
    deliberation_ref: Mapped[str] = mapped_column(sa.String(80), default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    call: Mapped[Call] = relationship()


class Outcome(enum.StrEnum):
    accepted = "accepted"
    rejected = "rejected"
    waitlisted = "waitlisted"

    @property
    def label(self) -> str:
        return {"accepted": "Retenu", "rejected": "Non retenu", "waitlisted": "Liste d'attente"}[
            self.value
        ]


class Decision(db.Model):
    """The committee's current decision on a file (history in the audit log and the
    application's transitions). A wait-listed file stays under review."""

    __tablename__ = "decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("application.id", ondelete="CASCADE"), unique=True
    )
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("committee_session.id", ondelete="SET NULL"), index=True
    )
    outcome: Mapped[Outcome] = mapped_column(enum_type(Outcome, "outcome"))
    #: the awarded total (accepted only; may be below the request)
    awarded_total: Mapped[Decimal | None] = mapped_column(money_type())
    #: the reason the applicant reads
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship()
    session: Mapped[CommitteeSession | None] = relationship()
    decided_by: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint(
            "(outcome = 'accepted') = (awarded_total IS NOT NULL)", name="award_iff_accepted"
        ),
        sa.CheckConstraint("awarded_total IS NULL OR awarded_total > 0", name="award_positive"),
        sa.CheckConstraint("outcome != 'rejected' OR reason != ''", name="rejection_has_reason"),
    )
