"""Awards, their yearly tranches, schedule runs, and the budget lines they consume."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.accounts.models import User
from grants.applications.models import Application
from grants.calls.models import Call
from grants.core.db import UTCDateTime, enum_type, money_type, utcnow
from grants.core.models import Funder
from grants.extensions import db


class AwardStatus(enum.StrEnum):
    proposed = "proposed"
    #: its tranches are computed
    scheduled = "scheduled"
    convention_signed = "convention_signed"
    in_payment = "in_payment"
    #: soldé
    closed = "closed"

    @property
    def label(self) -> str:
        return AWARD_STATUS_LABELS[self]


AWARD_STATUS_LABELS = {
    AwardStatus.proposed: "Proposée",
    AwardStatus.scheduled: "Échéancier calculé",
    AwardStatus.convention_signed: "Convention signée",
    AwardStatus.in_payment: "En paiement",
    AwardStatus.closed: "Soldée",
}

AWARD_TRANSITIONS: dict[AwardStatus, set[AwardStatus]] = {
    AwardStatus.proposed: {AwardStatus.scheduled},
    AwardStatus.scheduled: {AwardStatus.scheduled, AwardStatus.convention_signed},
    AwardStatus.convention_signed: {AwardStatus.in_payment},
    AwardStatus.in_payment: {AwardStatus.closed},
    AwardStatus.closed: set(),
}


class Award(db.Model):
    """The money granted to an accepted application (one per application)."""

    __tablename__ = "award"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("application.id", ondelete="CASCADE"), unique=True
    )
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("call.id"), index=True)
    #: the awarded total (from the committee's decision, possibly capped for investment aid)
    total: Mapped[Decimal] = mapped_column(money_type())
    #: rank in the call's ranking (schedules fund in rank order when envelopes run out)
    rank: Mapped[int] = mapped_column(default=0)
    status: Mapped[AwardStatus] = mapped_column(
        enum_type(AwardStatus, "award_status"), default=AwardStatus.proposed, index=True
    )
    #: the de minimis cap check overridden by staff (why)
    de_minimis_override_reason: Mapped[str | None] = mapped_column(sa.Text)
    #: the last schedule error of this award (e.g. too small to be degressive), if any
    schedule_error: Mapped[str | None] = mapped_column(sa.Text)
    #: Σ of its tranches; moved by conditional UPDATEs that keep it ≤ total
    allocated_total: Mapped[Decimal] = mapped_column(money_type(), default=Decimal("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    application: Mapped[Application] = relationship()
    call: Mapped[Call] = relationship()
    tranches: Mapped[list[Tranche]] = relationship(
        back_populates="award", cascade="all, delete-orphan", order_by="Tranche.year"
    )

    __table_args__ = (
        sa.CheckConstraint("total > 0", name="total_positive"),
        sa.CheckConstraint(
            "allocated_total >= 0 AND allocated_total <= total", name="allocated_within_total"
        ),
    )

    @property
    def scheduled_total(self) -> Decimal:
        return sum((t.amount for t in self.tranches), Decimal("0"))


class TrancheStatus(enum.StrEnum):
    planned = "planned"
    #: payment requested, documents uploaded
    requested = "requested"
    validated = "validated"
    paid = "paid"
    cancelled = "cancelled"

    @property
    def label(self) -> str:
        return TRANCHE_STATUS_LABELS[self]


TRANCHE_STATUS_LABELS = {
    TrancheStatus.planned: "Prévue",
    TrancheStatus.requested: "Demandée",
    TrancheStatus.validated: "Validée",
    TrancheStatus.paid: "Versée",
    TrancheStatus.cancelled: "Annulée",
}

#: tranches in these states belong to the beneficiary: a new schedule never overwrites them
LOCKED_TRANCHE_STATES = {TrancheStatus.validated, TrancheStatus.paid}


class Tranche(db.Model):
    """One yearly tranche of an award; unique per (award, year) so a recomputation upserts."""

    __tablename__ = "tranche"

    id: Mapped[int] = mapped_column(primary_key=True)
    award_id: Mapped[int] = mapped_column(sa.ForeignKey("award.id", ondelete="CASCADE"), index=True)
    year: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(money_type())
    status: Mapped[TrancheStatus] = mapped_column(
        enum_type(TrancheStatus, "tranche_status"), default=TrancheStatus.planned, index=True
    )
    #: payments not cancelled (requested, validated or paid) and what is paid; both moved
    #: only by conditional UPDATEs that keep paid ≤ requested ≤ amount
    requested_amount: Mapped[Decimal] = mapped_column(money_type(), default=Decimal("0"))
    paid_amount: Mapped[Decimal] = mapped_column(money_type(), default=Decimal("0"))
    #: why the tranche was cancelled or reduced, if it was
    change_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    award: Mapped[Award] = relationship(back_populates="tranches")

    __table_args__ = (
        sa.UniqueConstraint("award_id", "year"),
        sa.CheckConstraint("amount >= 0", name="amount_positive"),
        sa.CheckConstraint("paid_amount >= 0 AND paid_amount <= amount", name="paid_within_amount"),
        sa.CheckConstraint(
            "paid_amount <= requested_amount AND requested_amount <= amount",
            name="requested_within_amount",
        ),
    )


class RunStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class ScheduleRun(db.Model):
    """A computation of a call's schedules by the worker: progress and outcome."""

    __tablename__ = "schedule_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("call.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    status: Mapped[RunStatus] = mapped_column(
        enum_type(RunStatus, "run_status"), default=RunStatus.queued, index=True
    )
    #: awards processed so far, out of ``total``
    progress: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    #: fits, totals, overflow, alternatives, per-award errors, conflicts with paid tranches
    result: Mapped[dict | None] = mapped_column(sa.JSON)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    call: Mapped[Call] = relationship()
    requested_by: Mapped[User | None] = relationship()


class BudgetSection(enum.StrEnum):
    fonctionnement = "fonctionnement"
    investissement = "investissement"


class FundingLine(db.Model):
    """A line of the funder's budget (section, rubric, line); voted amounts per year."""

    __tablename__ = "funding_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    funder_id: Mapped[int] = mapped_column(sa.ForeignKey("funder.id"), index=True)
    section: Mapped[BudgetSection] = mapped_column(enum_type(BudgetSection, "budget_section"))
    rubric: Mapped[str] = mapped_column(sa.String(200))
    label: Mapped[str] = mapped_column(sa.String(300))

    funder: Mapped[Funder] = relationship()
    years: Mapped[list[FundingLineYear]] = relationship(
        back_populates="line", cascade="all, delete-orphan", order_by="FundingLineYear.year"
    )

    __table_args__ = (sa.UniqueConstraint("funder_id", "section", "rubric", "label"),)


class FundingLineYear(db.Model):
    __tablename__ = "funding_line_year"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(sa.ForeignKey("funding_line.id", ondelete="CASCADE"))
    year: Mapped[int]
    voted: Mapped[Decimal] = mapped_column(money_type())

    line: Mapped[FundingLine] = relationship(back_populates="years")

    __table_args__ = (
        sa.UniqueConstraint("line_id", "year"),
        sa.CheckConstraint("voted >= 0", name="voted_positive"),
    )


class CommitmentKind(enum.StrEnum):
    #: a convention with a fixed yearly amount (têtes de réseau: CRESS, ADIE…)
    fixed = "fixed"
    #: PLIE insertion clauses: a fixed part plus a rate per insertion hour realised
    plie = "plie"


class Commitment(db.Model):
    """A commitment on a budget line outside the calls (conventions, PLIE)."""

    __tablename__ = "commitment"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(
        sa.ForeignKey("funding_line.id", ondelete="CASCADE"), index=True
    )
    year: Mapped[int]
    kind: Mapped[CommitmentKind] = mapped_column(enum_type(CommitmentKind, "commitment_kind"))
    beneficiary: Mapped[str] = mapped_column(sa.String(200))
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="SET NULL")
    )
    #: fixed: the yearly amount; plie: the fixed part (5,000 EUR in the seeds)
    fixed_amount: Mapped[Decimal] = mapped_column(money_type(), default=Decimal("0"))
    #: plie: EUR per insertion hour (1 EUR in the seeds)
    hourly_rate: Mapped[Decimal | None] = mapped_column(money_type())
    #: plie: hours realised (entered by staff or reported by the PLIE)
    hours: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 2))
    note: Mapped[str] = mapped_column(sa.String(500), default="")

    line: Mapped[FundingLine] = relationship()

    __table_args__ = (
        sa.CheckConstraint("fixed_amount >= 0", name="fixed_positive"),
        sa.CheckConstraint("hours IS NULL OR hours >= 0", name="hours_positive"),
        sa.CheckConstraint(
            "kind != 'plie' OR (hourly_rate IS NOT NULL AND hourly_rate >= 0)",
            name="plie_has_rate",
        ),
    )

    @property
    def amount(self) -> Decimal:
        if self.kind == CommitmentKind.plie:
            return self.fixed_amount + (self.hourly_rate or 0) * (self.hours or 0)
        return self.fixed_amount
