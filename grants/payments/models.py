"""Conventions, payments, recoveries, invoices and annual reports: every euro from award
to payment."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.core.db import UTCDateTime, enum_type, money_type, utcnow
from grants.extensions import db
from grants.funding.models import Award, Tranche


class Convention(db.Model):
    """The grant agreement of an award: generated PDF, then the signed copy."""

    __tablename__ = "convention"

    id: Mapped[int] = mapped_column(primary_key=True)
    award_id: Mapped[int] = mapped_column(
        sa.ForeignKey("award.id", ondelete="CASCADE"), unique=True
    )
    #: e.g. ``CONV-AAP-2016-0003``
    reference: Mapped[str] = mapped_column(sa.String(60), unique=True)
    #: the generated PDF (storage key) and when
    pdf_key: Mapped[str | None] = mapped_column(sa.String(200))
    generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_on: Mapped[date | None]
    signed_copy_key: Mapped[str | None] = mapped_column(sa.String(200))
    signed_copy_name: Mapped[str | None] = mapped_column(sa.String(200))
    signed_copy_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    signed_recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    award: Mapped[Award] = relationship()

    __table_args__ = (
        sa.CheckConstraint(
            "(signed_on IS NULL) = (signed_copy_key IS NULL)", name="signed_with_copy"
        ),
    )

    @property
    def is_signed(self) -> bool:
        return self.signed_on is not None


class PaymentStatus(enum.StrEnum):
    requested = "requested"
    validated = "validated"
    paid = "paid"
    cancelled = "cancelled"

    @property
    def label(self) -> str:
        return {
            "requested": "Demandé",
            "validated": "Validé",
            "paid": "Versé",
            "cancelled": "Annulé",
        }[self.value]


PAYMENT_TRANSITIONS: dict[PaymentStatus, set[PaymentStatus]] = {
    PaymentStatus.requested: {PaymentStatus.validated, PaymentStatus.cancelled},
    PaymentStatus.validated: {PaymentStatus.paid, PaymentStatus.cancelled},
    PaymentStatus.paid: set(),
    PaymentStatus.cancelled: set(),
}


class Payment(db.Model):
    """A payment (or part payment) on a tranche.

    ``Tranche.requested_amount`` (every payment not cancelled) and ``Tranche.paid_amount``
    are moved only by conditional UPDATEs that keep them within the tranche, so parallel
    requests can't pay more than the tranche (DESIGN §9)."""

    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    tranche_id: Mapped[int] = mapped_column(
        sa.ForeignKey("tranche.id", ondelete="CASCADE"), index=True
    )
    amount: Mapped[Decimal] = mapped_column(money_type())
    status: Mapped[PaymentStatus] = mapped_column(
        enum_type(PaymentStatus, "payment_status"), default=PaymentStatus.requested, index=True
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    requested_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    validated_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    #: date of the payment order's execution
    paid_on: Mapped[date | None]
    #: reference of the payment order (mandat)
    order_ref: Mapped[str | None] = mapped_column(sa.String(60))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    cancelled_reason: Mapped[str | None] = mapped_column(sa.Text)

    tranche: Mapped[Tranche] = relationship()

    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint(
            "(status = 'paid') = (paid_on IS NOT NULL AND order_ref IS NOT NULL)",
            name="paid_has_order",
        ),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancelled_reason IS NOT NULL)", name="cancelled_has_reason"
        ),
    )


class RecoveryStatus(enum.StrEnum):
    requested = "requested"
    received = "received"
    cancelled = "cancelled"


class Recovery(db.Model):
    """A recovery (reversement) of unspent aid asked of the beneficiary."""

    __tablename__ = "recovery"

    id: Mapped[int] = mapped_column(primary_key=True)
    award_id: Mapped[int] = mapped_column(sa.ForeignKey("award.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(money_type())
    reason: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[RecoveryStatus] = mapped_column(
        enum_type(RecoveryStatus, "recovery_status"), default=RecoveryStatus.requested
    )
    #: the order to pay back (titre de recette)
    order_ref: Mapped[str | None] = mapped_column(sa.String(60))
    requested_on: Mapped[date]
    received_on: Mapped[date | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    award: Mapped[Award] = relationship()

    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint(
            "(status = 'received') = (received_on IS NOT NULL)", name="received_on_iff_received"
        ),
    )


class InvoiceStatus(enum.StrEnum):
    submitted = "submitted"
    accepted = "accepted"
    rejected = "rejected"


class Invoice(db.Model):
    """A justifying invoice of an investment aid; accepted invoices release payments."""

    __tablename__ = "invoice"

    id: Mapped[int] = mapped_column(primary_key=True)
    award_id: Mapped[int] = mapped_column(sa.ForeignKey("award.id", ondelete="CASCADE"), index=True)
    tranche_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tranche.id", ondelete="SET NULL"))
    supplier: Mapped[str] = mapped_column(sa.String(200))
    label: Mapped[str] = mapped_column(sa.String(300))
    invoice_date: Mapped[date]
    #: amount of eligible expenses on the invoice (excl. VAT where recoverable)
    amount: Mapped[Decimal] = mapped_column(money_type())
    file_key: Mapped[str] = mapped_column(sa.String(200))
    file_name: Mapped[str] = mapped_column(sa.String(200))
    file_sha256: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[InvoiceStatus] = mapped_column(
        enum_type(InvoiceStatus, "invoice_status"), default=InvoiceStatus.submitted
    )
    review_comment: Mapped[str] = mapped_column(sa.Text, default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    award: Mapped[Award] = relationship()

    __table_args__ = (sa.CheckConstraint("amount > 0", name="amount_positive"),)


class ReportStatus(enum.StrEnum):
    due = "due"
    submitted = "submitted"
    accepted = "accepted"
    #: sent back to the beneficiary for corrections
    returned = "returned"

    @property
    def label(self) -> str:
        return {
            "due": "À remettre",
            "submitted": "Remis",
            "accepted": "Accepté",
            "returned": "À corriger",
        }[self.value]


class AnnualReport(db.Model):
    """The yearly report of an award (Cerfa 15059): activity, planned vs actual, indicators."""

    __tablename__ = "annual_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    award_id: Mapped[int] = mapped_column(sa.ForeignKey("award.id", ondelete="CASCADE"), index=True)
    year: Mapped[int]
    due_on: Mapped[date]
    status: Mapped[ReportStatus] = mapped_column(
        enum_type(ReportStatus, "report_status"), default=ReportStatus.due, index=True
    )
    activity: Mapped[str] = mapped_column(sa.Text, default="")
    #: ``[{"account", "label", "planned", "actual", "explanation"}]`` (amounts as strings)
    financial: Mapped[list] = mapped_column(sa.JSON, default=list)
    jobs_created: Mapped[int | None]
    jobs_maintained: Mapped[int | None]
    people_supported: Mapped[int | None]
    #: the call's own indicators: ``{name: value}``
    indicators: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    file_key: Mapped[str | None] = mapped_column(sa.String(200))
    file_name: Mapped[str | None] = mapped_column(sa.String(200))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    review_comment: Mapped[str] = mapped_column(sa.Text, default="")

    award: Mapped[Award] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("award_id", "year"),
        sa.CheckConstraint(
            "status = 'due' OR submitted_at IS NOT NULL", name="submitted_at_when_submitted"
        ),
        sa.CheckConstraint(
            "jobs_created IS NULL OR jobs_created >= 0", name="jobs_created_positive"
        ),
        sa.CheckConstraint(
            "jobs_maintained IS NULL OR jobs_maintained >= 0", name="jobs_maintained_positive"
        ),
        sa.CheckConstraint(
            "people_supported IS NULL OR people_supported >= 0", name="people_positive"
        ),
    )
