"""Calls (appels à projets, aides à l'investissement): dates, envelopes, documents, grid."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.core.db import UTCDateTime, enum_type, money_type, utcnow
from grants.core.models import Funder
from grants.extensions import db


class CallKind(enum.StrEnum):
    #: operating aid over several years, degressive schedule
    project_call = "project_call"
    #: capped share of eligible investment expenses, co-financed
    investment_aid = "investment_aid"

    @property
    def label(self) -> str:
        return {"project_call": "Appel à projets", "investment_aid": "Aide à l'investissement"}[
            self.value
        ]


class CallStatus(enum.StrEnum):
    draft = "draft"
    published = "published"
    closed = "closed"
    decided = "decided"
    archived = "archived"

    @property
    def label(self) -> str:
        return CALL_STATUS_LABELS[self]


CALL_STATUS_LABELS = {
    CallStatus.draft: "Brouillon",
    CallStatus.published: "Publié",
    CallStatus.closed: "Clos",
    CallStatus.decided: "Décidé",
    CallStatus.archived: "Archivé",
}

#: the allowed transitions of a call (DESIGN §3)
CALL_TRANSITIONS: dict[CallStatus, set[CallStatus]] = {
    CallStatus.draft: {CallStatus.published},
    CallStatus.published: {CallStatus.closed},
    CallStatus.closed: {CallStatus.decided},
    CallStatus.decided: {CallStatus.archived},
    CallStatus.archived: set(),
}

#: the 2022 plan's priority sectors, the default editable list of a new call
DEFAULT_SECTORS = [
    "Logistique décarbonée",
    "Économie circulaire",
    "Écoconstruction et habitat",
    "Économie de proximité",
]

#: accepted attachment types, by extension
FILE_TYPES = {
    "pdf": "PDF",
    "odt": "Texte OpenDocument (ODT)",
    "docx": "Word (DOCX)",
    "xlsx": "Excel (XLSX)",
    "ods": "Classeur OpenDocument (ODS)",
    "png": "Image PNG",
    "jpeg": "Image JPEG",
}


class Call(db.Model):
    __tablename__ = "call"

    id: Mapped[int] = mapped_column(primary_key=True)
    funder_id: Mapped[int] = mapped_column(sa.ForeignKey("funder.id"), index=True)
    kind: Mapped[CallKind] = mapped_column(enum_type(CallKind, "call_kind"))
    status: Mapped[CallStatus] = mapped_column(
        enum_type(CallStatus, "call_status"), default=CallStatus.draft, index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200))
    #: prefix of the applications' references, e.g. ``AAP-2016`` → ``AAP-2016-0007``
    reference_prefix: Mapped[str] = mapped_column(sa.String(20), unique=True)
    summary: Mapped[str] = mapped_column(sa.String(500), default="")
    #: Markdown source; rendered and sanitised (nh3) on display
    description: Mapped[str] = mapped_column(sa.Text, default="")
    #: the règlement, Markdown source, sanitised on display
    rules: Mapped[str] = mapped_column(sa.Text, default="")
    #: window, stored in UTC, entered and shown in Europe/Paris
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the legal forms admitted (values of LegalForm)
    eligible_legal_forms: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: editable list of priority sectors
    sectors: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: ceiling per application (total over the years), or none
    ceiling: Mapped[Decimal | None] = mapped_column(money_type())
    #: degressive profile, one weight per budget year as decimal strings; null = derived
    profile: Mapped[list | None] = mapped_column(sa.JSON)
    #: schedules are rounded to this unit (1 EUR by default)
    rounding_unit: Mapped[Decimal] = mapped_column(money_type(), default=Decimal("1"))
    #: investment aid: maximum share of the eligible expenses (0 < share ≤ 1)
    max_expense_share: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 4))
    #: number of reviews each application needs before a decision
    reviews_required: Mapped[int] = mapped_column(default=2)
    #: the applicants read the reviewers' comments, anonymised, with the decision
    share_review_comments: Mapped[bool] = mapped_column(default=False)
    #: sum of the accepted awards; raised only by a conditional UPDATE that keeps it within
    #: the sum of the envelopes, so two concurrent acceptances can't pass it (DESIGN §9)
    awarded_total: Mapped[Decimal] = mapped_column(money_type(), default=Decimal("0"))
    #: the budget line the call's awards consume
    funding_line_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("funding_line.id", ondelete="SET NULL"), index=True
    )
    #: investment aid: number of yearly tranches (one per year of works), from the first
    #: budget year
    payment_years: Mapped[int | None]
    #: payment conditions: share of the first-year tranche paid at the convention's signature
    advance_share: Mapped[Decimal] = mapped_column(sa.Numeric(5, 4), default=Decimal("1"))
    #: later tranches are released once the previous year's report is accepted
    release_on_report: Mapped[bool] = mapped_column(default=True)
    #: the yearly report is due at the end of this month of the following year
    report_due_month: Mapped[int] = mapped_column(default=6)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    funder: Mapped[Funder] = relationship()
    years: Mapped[list[CallYear]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="CallYear.year"
    )
    documents: Mapped[list[RequiredDocument]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="RequiredDocument.position"
    )
    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="Criterion.position"
    )

    __table_args__ = (
        sa.CheckConstraint("opens_at < closes_at", name="window_ordered"),
        sa.CheckConstraint("ceiling IS NULL OR ceiling > 0", name="ceiling_positive"),
        sa.CheckConstraint("rounding_unit > 0", name="rounding_unit_positive"),
        sa.CheckConstraint(
            "max_expense_share IS NULL OR (max_expense_share > 0 AND max_expense_share <= 1)",
            name="share_in_range",
        ),
        sa.CheckConstraint(
            "kind = 'investment_aid' OR max_expense_share IS NULL", name="share_only_investment"
        ),
        sa.CheckConstraint("reviews_required >= 1", name="reviews_required_positive"),
        sa.CheckConstraint("awarded_total >= 0", name="awarded_total_positive"),
        sa.CheckConstraint("advance_share >= 0 AND advance_share <= 1", name="advance_in_range"),
        sa.CheckConstraint("report_due_month BETWEEN 1 AND 12", name="report_month_range"),
        sa.CheckConstraint(
            "(status = 'draft') = (published_at IS NULL)", name="published_at_iff_published"
        ),
    )

    def is_open_at(self, now: datetime) -> bool:
        return self.status == CallStatus.published and self.opens_at <= now < self.closes_at

    @property
    def is_open(self) -> bool:
        return self.is_open_at(utcnow())

    @property
    def is_upcoming(self) -> bool:
        return self.status == CallStatus.published and utcnow() < self.opens_at

    @property
    def is_public(self) -> bool:
        return self.status != CallStatus.draft

    @property
    def total_envelope(self) -> Decimal:
        return sum((y.envelope for y in self.years), Decimal("0"))

    def can_transition(self, target: CallStatus) -> bool:
        return target in CALL_TRANSITIONS[self.status]


class CallYear(db.Model):
    """One budget year of a call with its envelope."""

    __tablename__ = "call_year"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("call.id", ondelete="CASCADE"))
    year: Mapped[int]
    envelope: Mapped[Decimal] = mapped_column(money_type())

    call: Mapped[Call] = relationship(back_populates="years")

    __table_args__ = (
        sa.UniqueConstraint("call_id", "year"),
        sa.CheckConstraint("envelope >= 0", name="envelope_positive"),
        sa.CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
    )


class RequiredDocument(db.Model):
    __tablename__ = "required_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("call.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(sa.String(200))
    mandatory: Mapped[bool] = mapped_column(default=True)
    #: extensions among FILE_TYPES
    accepted_types: Mapped[list] = mapped_column(sa.JSON, default=list)
    position: Mapped[int] = mapped_column(default=0)

    call: Mapped[Call] = relationship(back_populates="documents")


class Criterion(db.Model):
    """One criterion of a call's scoring grid."""

    __tablename__ = "criterion"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("call.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    weight: Mapped[int]
    #: scores go from 0 to scale_max
    scale_max: Mapped[int] = mapped_column(default=5)
    position: Mapped[int] = mapped_column(default=0)

    call: Mapped[Call] = relationship(back_populates="criteria")

    __table_args__ = (
        sa.CheckConstraint("weight > 0", name="weight_positive"),
        sa.CheckConstraint("scale_max BETWEEN 1 AND 100", name="scale_range"),
    )
