"""Applications (dossiers): the Cerfa 12156 content, budget, attachments and history."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.accounts.models import User
from grants.calls.models import Call, RequiredDocument
from grants.core.db import UTCDateTime, enum_type, money_type, utcnow
from grants.extensions import db
from grants.organisations.models import Organisation


class ApplicationStatus(enum.StrEnum):
    draft = "draft"
    submitted = "submitted"
    under_review = "under_review"
    #: staff asked for complements; back with the applicant until submitted again
    incomplete = "incomplete"
    accepted = "accepted"
    rejected = "rejected"
    withdrawn = "withdrawn"

    @property
    def label(self) -> str:
        return APPLICATION_STATUS_LABELS[self]


APPLICATION_STATUS_LABELS = {
    ApplicationStatus.draft: "Brouillon",
    ApplicationStatus.submitted: "Déposé",
    ApplicationStatus.under_review: "En instruction",
    ApplicationStatus.incomplete: "À compléter",
    ApplicationStatus.accepted: "Retenu",
    ApplicationStatus.rejected: "Non retenu",
    ApplicationStatus.withdrawn: "Retiré",
}

S = ApplicationStatus
#: the allowed transitions (DESIGN §3); decisions (→ accepted/rejected) belong to review
APPLICATION_TRANSITIONS: dict[ApplicationStatus, set[ApplicationStatus]] = {
    S.draft: {S.submitted, S.withdrawn},
    S.submitted: {S.under_review, S.incomplete, S.withdrawn},
    S.under_review: {S.incomplete, S.accepted, S.rejected, S.withdrawn},
    S.incomplete: {S.submitted, S.withdrawn},
    S.accepted: set(),
    S.rejected: set(),
    S.withdrawn: set(),
}
#: states in which the applicant may edit the file
EDITABLE_STATES = {S.draft, S.incomplete}
FINAL_STATES = {S.accepted, S.rejected}


class Application(db.Model):
    __tablename__ = "application"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(sa.ForeignKey("call.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    status: Mapped[ApplicationStatus] = mapped_column(
        enum_type(ApplicationStatus, "application_status"), default=S.draft, index=True
    )
    #: given at the first submission, e.g. ``AAP-2016-0007``
    reference: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    #: per-call counter behind the reference
    sequence: Mapped[int | None]

    # Cerfa 12156 §2: relations with administrations
    approvals: Mapped[str] = mapped_column(sa.Text, default="")
    # §4–5: the project
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    objectives: Mapped[str] = mapped_column(sa.Text, default="")
    target_public: Mapped[str] = mapped_column(sa.Text, default="")
    #: INSEE codes of the communes where the project takes place
    territory: Mapped[list] = mapped_column(sa.JSON, default=list)
    in_qpv: Mapped[bool] = mapped_column(default=False)
    sector: Mapped[str | None] = mapped_column(sa.String(120))
    innovation: Mapped[str] = mapped_column(sa.Text, default="")
    partners: Mapped[str] = mapped_column(sa.Text, default="")
    jobs_created: Mapped[int | None]
    jobs_maintained: Mapped[int | None]
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    # §7: sworn statement of the legal representative
    signatory_name: Mapped[str] = mapped_column(sa.String(200), default="")
    signatory_role: Mapped[str] = mapped_column(sa.String(120), default="")
    certified: Mapped[bool] = mapped_column(default=False)

    #: staff override of the automatic eligibility checks
    eligibility_override: Mapped[bool | None]
    eligibility_override_reason: Mapped[str | None] = mapped_column(sa.Text)
    eligibility_override_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )

    #: frozen copy of the answers and attachment checksums at the last submission
    snapshot: Mapped[dict | None] = mapped_column(sa.JSON)
    #: the PDF receipt of the last submission (storage key), made by the worker
    receipt_key: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    call: Mapped[Call] = relationship()
    organisation: Mapped[Organisation] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    budget_lines: Mapped[list[BudgetLine]] = relationship(
        back_populates="application",
        cascade="all, delete-orphan",
        order_by="(BudgetLine.year, BudgetLine.account, BudgetLine.position)",
    )
    expenses: Mapped[list[InvestmentExpense]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="InvestmentExpense.id"
    )
    funding_sources: Mapped[list[FundingSource]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="FundingSource.id"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="Attachment.id"
    )
    transitions: Mapped[list[ApplicationTransition]] = relationship(
        back_populates="application",
        cascade="all, delete-orphan",
        order_by="ApplicationTransition.id",
    )
    complement_requests: Mapped[list[ComplementRequest]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="ComplementRequest.id"
    )

    __table_args__ = (
        sa.UniqueConstraint("call_id", "sequence"),
        sa.CheckConstraint("(reference IS NULL) = (sequence IS NULL)", name="reference_sequence"),
        sa.CheckConstraint(
            "status IN ('draft', 'withdrawn') OR submitted_at IS NOT NULL",
            name="submitted_at_when_submitted",
        ),
        sa.CheckConstraint(
            "(submitted_at IS NULL) = (reference IS NULL)", name="reference_iff_submitted"
        ),
        sa.CheckConstraint(
            "(status IN ('accepted', 'rejected')) = (decided_at IS NOT NULL)",
            name="decided_at_iff_decided",
        ),
        sa.CheckConstraint(
            "(status = 'withdrawn') = (withdrawn_at IS NOT NULL)", name="withdrawn_at_iff_withdrawn"
        ),
        sa.CheckConstraint(
            "jobs_created IS NULL OR jobs_created >= 0", name="jobs_created_positive"
        ),
        sa.CheckConstraint(
            "jobs_maintained IS NULL OR jobs_maintained >= 0", name="jobs_maintained_positive"
        ),
        sa.CheckConstraint(
            "eligibility_override IS NULL OR eligibility_override_reason IS NOT NULL",
            name="override_has_reason",
        ),
    )

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATES

    def can_transition(self, target: ApplicationStatus) -> bool:
        return target in APPLICATION_TRANSITIONS[self.status]

    def is_member(self, user) -> bool:
        return self.organisation.is_member(user)

    def can_view(self, user) -> bool:
        if not (user and user.is_authenticated):
            return False
        return self.is_member(user) or user.is_staff

    def can_edit(self, user) -> bool:
        return self.is_editable and self.is_member(user)

    def can_submit(self, user) -> bool:
        return self.can_edit(user)

    def can_withdraw(self, user) -> bool:
        return self.is_member(user) and self.can_transition(S.withdrawn)

    def can_request_complements(self, user) -> bool:
        return bool(user and user.is_authenticated and user.is_staff) and self.can_transition(
            S.incomplete
        )


class AccountKind(enum.StrEnum):
    charge = "charge"
    product = "product"
    in_kind = "in_kind"


class BudgetLine(db.Model):
    """One line of the project budget of a year (associative chart of accounts)."""

    __tablename__ = "budget_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    year: Mapped[int]
    #: account of the chart: 60–68 charges, 70–78 products, 86/87 contributions in kind
    account: Mapped[str] = mapped_column(sa.String(2))
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    amount: Mapped[Decimal] = mapped_column(money_type())
    #: the line 74 amount requested from this call's funder
    is_request: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)

    application: Mapped[Application] = relationship(back_populates="budget_lines")

    __table_args__ = (
        sa.CheckConstraint("amount >= 0", name="amount_positive"),
        sa.CheckConstraint(
            "account IN ('60','61','62','63','64','65','66','67','68',"
            "'70','71','72','73','74','75','76','77','78','86','87')",
            name="account_known",
        ),
        sa.CheckConstraint("NOT is_request OR account = '74'", name="request_on_74"),
    )


class InvestmentExpense(db.Model):
    """A line of the investment programme (eligible or not)."""

    __tablename__ = "investment_expense"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(sa.String(200))
    amount: Mapped[Decimal] = mapped_column(money_type())
    eligible: Mapped[bool] = mapped_column(default=True)

    application: Mapped[Application] = relationship(back_populates="expenses")

    __table_args__ = (sa.CheckConstraint("amount >= 0", name="amount_positive"),)


class FunderType(enum.StrEnum):
    authority = "authority"
    region = "region"
    department = "department"
    commune = "commune"
    state = "state"
    eu = "eu"
    bank = "bank"
    solidarity_finance = "solidarity_finance"
    own_funds = "own_funds"
    other = "other"

    @property
    def label(self) -> str:
        return FUNDER_TYPE_LABELS[self]


FUNDER_TYPE_LABELS = {
    FunderType.authority: "Métropole (ce dispositif)",
    FunderType.region: "Région",
    FunderType.department: "Département",
    FunderType.commune: "Commune",
    FunderType.state: "État",
    FunderType.eu: "Fonds européens",
    FunderType.bank: "Prêt bancaire",
    FunderType.solidarity_finance: "Finance solidaire (France Active…)",
    FunderType.own_funds: "Fonds propres",
    FunderType.other: "Autre",
}


class FundingStatus(enum.StrEnum):
    requested = "requested"
    obtained = "obtained"


class FundingSource(db.Model):
    """A co-funder of the investment's funding plan (tour de table)."""

    __tablename__ = "funding_source"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    funder_type: Mapped[FunderType] = mapped_column(enum_type(FunderType, "funder_type"))
    amount: Mapped[Decimal] = mapped_column(money_type())
    status: Mapped[FundingStatus] = mapped_column(
        enum_type(FundingStatus, "funding_status"), default=FundingStatus.requested
    )

    application: Mapped[Application] = relationship(back_populates="funding_sources")

    __table_args__ = (sa.CheckConstraint("amount >= 0", name="amount_positive"),)


class DeMinimisRegime(enum.StrEnum):
    #: Regulation (EU) 2023/2831: 300,000 EUR over three rolling years
    general = "general"
    #: Regulation (EU) 2023/2832, services of general economic interest: 750,000 EUR
    sgei = "sgei"


class DeMinimisAid(db.Model):
    """A de minimis aid received by an organisation, as declared by its members."""

    __tablename__ = "de_minimis_aid"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    granted_on: Mapped[date]
    funder: Mapped[str] = mapped_column(sa.String(200))
    amount: Mapped[Decimal] = mapped_column(money_type())
    regime: Mapped[DeMinimisRegime] = mapped_column(
        enum_type(DeMinimisRegime, "de_minimis_regime"), default=DeMinimisRegime.general
    )
    declared_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.CheckConstraint("amount > 0", name="amount_positive"),)


class Attachment(db.Model):
    """An uploaded file; the bytes live in the storage under a random key."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    #: the call's required document it answers, or null for another document
    required_document_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("required_document.id", ondelete="SET NULL")
    )
    #: cleaned original name, shown and used in Content-Disposition
    filename: Mapped[str] = mapped_column(sa.String(200))
    #: random storage key; never derived from the name
    storage_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    #: detected from the content, not the name
    content_type: Mapped[str] = mapped_column(sa.String(120))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="attachments")
    required_document: Mapped[RequiredDocument | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint("size > 0", name="size_positive"),
        sa.CheckConstraint("length(sha256) = 64", name="sha256_length"),
    )


class ApplicationTransition(db.Model):
    """Every status change: who, when, from, to, why (DESIGN §3)."""

    __tablename__ = "application_transition"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    from_status: Mapped[ApplicationStatus] = mapped_column(
        enum_type(ApplicationStatus, "from_status")
    )
    to_status: Mapped[ApplicationStatus] = mapped_column(enum_type(ApplicationStatus, "to_status"))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="transitions")
    actor: Mapped[User | None] = relationship()


class ComplementRequest(db.Model):
    """Staff ask for complements: a message and a due date; answered by a new submission."""

    __tablename__ = "complement_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    message: Mapped[str] = mapped_column(sa.Text)
    due_on: Mapped[date]
    requested_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    application: Mapped[Application] = relationship(back_populates="complement_requests")
    requested_by: Mapped[User | None] = relationship()
