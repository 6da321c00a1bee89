"""Read side of conventions and payments: awards with everything that hangs on them,
loaded in a fixed number of queries whatever the number of awards (DESIGN §8), and who
may see them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from grants.applications.models import Application, InvestmentExpense
from grants.calls.models import Call, CallKind
from grants.extensions import db
from grants.funding.models import Award, Tranche, TrancheStatus
from grants.organisations.models import Membership, Organisation
from grants.payments import rules
from grants.payments.models import (
    AnnualReport,
    Convention,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Recovery,
    RecoveryStatus,
    ReportStatus,
)

ZERO = Decimal("0")
PER_PAGE = 50


# --- Who may see ------------------------------------------------------------------------


def is_member(award: Award, user) -> bool:
    return bool(user and user.is_authenticated) and award.application.organisation.is_member(user)


def can_view(award: Award, user) -> bool:
    """Staff, and the members of the beneficiary organisation."""
    if not (user and user.is_authenticated):
        return False
    return user.is_staff or is_member(award, user)


# --- Loading ----------------------------------------------------------------------------


def _award_options():
    return (
        joinedload(Award.application)
        .joinedload(Application.organisation)
        .selectinload(Organisation.memberships),
        joinedload(Award.call).joinedload(Call.funder),
        selectinload(Award.tranches),
    )


def get_award(award_id: int) -> Award | None:
    return db.session.scalar(
        sa.select(Award).options(*_award_options()).where(Award.id == award_id)
    )


def get_tranche(tranche_id: int) -> Tranche | None:
    tranche = db.session.get(Tranche, tranche_id)
    if tranche is not None:
        get_award(tranche.award_id)  # the award and its parties, eagerly
    return tranche


def get_payment(payment_id: int) -> Payment | None:
    payment = db.session.get(Payment, payment_id)
    if payment is not None:
        get_tranche(payment.tranche_id)
    return payment


def get_recovery(recovery_id: int) -> Recovery | None:
    recovery = db.session.get(Recovery, recovery_id)
    if recovery is not None:
        get_award(recovery.award_id)
    return recovery


def get_invoice(invoice_id: int) -> Invoice | None:
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is not None:
        get_award(invoice.award_id)
    return invoice


def convention_of(award_id: int) -> Convention | None:
    return db.session.scalar(sa.select(Convention).where(Convention.award_id == award_id))


# --- Plain state of an award (fresh from the database) -------------------------------------


def conditions_of(call: Call, share: Decimal | None = None) -> rules.Conditions:
    return rules.Conditions(
        advance_share=Decimal(call.advance_share),
        release_on_report=bool(call.release_on_report),
        investment=call.kind == CallKind.investment_aid,
        expense_share=share,
    )


def eligible_expenses(application_ids: list[int]) -> dict[int, Decimal]:
    if not application_ids:
        return {}
    rows = db.session.execute(
        sa.select(InvestmentExpense.application_id, sa.func.sum(InvestmentExpense.amount))
        .where(
            InvestmentExpense.application_id.in_(application_ids),
            InvestmentExpense.eligible.is_(True),
        )
        .group_by(InvestmentExpense.application_id)
    )
    return {app_id: Decimal(total or 0) for app_id, total in rows}


def expense_share_of(award: Award, eligible: Decimal | None = None) -> Decimal | None:
    if award.call.kind != CallKind.investment_aid:
        return None
    if eligible is None:
        eligible = eligible_expenses([award.application_id]).get(award.application_id, ZERO)
    return rules.expense_share(Decimal(award.total), eligible, award.call.max_expense_share)


def fresh_state(award: Award) -> rules.AwardState:
    """The award's figures read by column (never the session's cached objects): what a
    payment request decides on."""
    tranches = tuple(
        rules.TrancheState(
            year=row.year,
            amount=Decimal(row.amount),
            requested=Decimal(row.requested_amount),
            paid=Decimal(row.paid_amount),
            cancelled=row.status == TrancheStatus.cancelled,
        )
        for row in db.session.execute(
            sa.select(
                Tranche.year,
                Tranche.amount,
                Tranche.requested_amount,
                Tranche.paid_amount,
                Tranche.status,
            ).where(Tranche.award_id == award.id)
        )
    )
    signed = db.session.scalar(
        sa.select(Convention.signed_on).where(Convention.award_id == award.id)
    )
    accepted_years = frozenset(
        db.session.scalars(
            sa.select(AnnualReport.year).where(
                AnnualReport.award_id == award.id, AnnualReport.status == ReportStatus.accepted
            )
        )
    )
    invoices = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Invoice.amount), 0)).where(
            Invoice.award_id == award.id, Invoice.status == InvoiceStatus.accepted
        )
    )
    return rules.AwardState(
        tranches=tranches,
        convention_signed=signed is not None,
        accepted_report_years=accepted_years,
        accepted_invoices=Decimal(invoices or 0),
    )


def tranche_state(tranche: Tranche) -> rules.TrancheState:
    return rules.TrancheState(
        year=tranche.year,
        amount=Decimal(tranche.amount),
        requested=Decimal(tranche.requested_amount),
        paid=Decimal(tranche.paid_amount),
        cancelled=tranche.status == TrancheStatus.cancelled,
    )


# --- The whole file of an award -------------------------------------------------------------


@dataclass
class TrancheLine:
    tranche: Tranche
    allowance: rules.Allowance
    payments: list[Payment] = field(default_factory=list)
    report: AnnualReport | None = None

    @property
    def to_come(self) -> Decimal:
        return max(Decimal(self.tranche.amount) - Decimal(self.tranche.paid_amount), ZERO)


@dataclass
class AwardFile:
    award: Award
    convention: Convention | None
    conditions: rules.Conditions
    lines: list[TrancheLine]
    recoveries: list[Recovery]
    invoices: list[Invoice]
    reports: list[AnnualReport]
    today: date

    @property
    def payments(self) -> list[Payment]:
        return sorted(
            (p for line in self.lines for p in line.payments), key=lambda p: (p.requested_at, p.id)
        )

    @property
    def paid_total(self) -> Decimal:
        return sum((Decimal(line.tranche.paid_amount) for line in self.lines), ZERO)

    @property
    def requested_total(self) -> Decimal:
        return sum((Decimal(line.tranche.requested_amount) for line in self.lines), ZERO)

    @property
    def scheduled_total(self) -> Decimal:
        return sum((Decimal(line.tranche.amount) for line in self.lines), ZERO)

    @property
    def to_come(self) -> Decimal:
        return sum((line.to_come for line in self.lines), ZERO)

    @property
    def recovered_total(self) -> Decimal:
        return sum(
            (Decimal(r.amount) for r in self.recoveries if r.status == RecoveryStatus.received),
            ZERO,
        )

    @property
    def recovery_room(self) -> Decimal:
        return rules.recovery_room(
            self.paid_total,
            (Decimal(r.amount) for r in self.recoveries if r.status != RecoveryStatus.cancelled),
        )

    @property
    def accepted_invoices(self) -> Decimal:
        return sum(
            (Decimal(i.amount) for i in self.invoices if i.status == InvoiceStatus.accepted), ZERO
        )

    @property
    def justified(self) -> Decimal:
        return rules.justified_ceiling(self.accepted_invoices, self.conditions.expense_share)

    @property
    def is_investment(self) -> bool:
        return self.conditions.investment

    @property
    def due_reports(self) -> list[AnnualReport]:
        return [r for r in self.reports if r.status in (ReportStatus.due, ReportStatus.returned)]

    def is_late(self, report: AnnualReport) -> bool:
        return (
            report.status in (ReportStatus.due, ReportStatus.returned)
            and report.due_on < self.today
        )

    @property
    def pending_invoices(self) -> list[Invoice]:
        return [i for i in self.invoices if i.status == InvoiceStatus.submitted]


def award_files(awards: list[Award], today: date) -> list[AwardFile]:
    """Everything about ``awards`` in seven queries, however many awards there are."""
    if not awards:
        return []
    ids = [a.id for a in awards]
    conventions = {
        c.award_id: c
        for c in db.session.scalars(sa.select(Convention).where(Convention.award_id.in_(ids)))
    }
    tranche_ids = [t.id for a in awards for t in a.tranches]
    payments: dict[int, list[Payment]] = defaultdict(list)
    if tranche_ids:
        for p in db.session.scalars(
            sa.select(Payment)
            .where(Payment.tranche_id.in_(tranche_ids))
            .order_by(Payment.requested_at, Payment.id)
        ):
            payments[p.tranche_id].append(p)
    reports: dict[int, list[AnnualReport]] = defaultdict(list)
    for r in db.session.scalars(
        sa.select(AnnualReport).where(AnnualReport.award_id.in_(ids)).order_by(AnnualReport.year)
    ):
        reports[r.award_id].append(r)
    invoices: dict[int, list[Invoice]] = defaultdict(list)
    for i in db.session.scalars(
        sa.select(Invoice)
        .where(Invoice.award_id.in_(ids))
        .order_by(Invoice.invoice_date, Invoice.id)
    ):
        invoices[i.award_id].append(i)
    recoveries: dict[int, list[Recovery]] = defaultdict(list)
    for r in db.session.scalars(
        sa.select(Recovery)
        .where(Recovery.award_id.in_(ids))
        .order_by(Recovery.requested_on, Recovery.id)
    ):
        recoveries[r.award_id].append(r)
    expenses = eligible_expenses(
        [a.application_id for a in awards if a.call.kind == CallKind.investment_aid]
    )

    files = []
    for award in awards:
        share = expense_share_of(award, expenses.get(award.application_id, ZERO))
        conditions = conditions_of(award.call, share)
        convention = conventions.get(award.id)
        by_year = {r.year: r for r in reports[award.id]}
        state = rules.AwardState(
            tranches=tuple(tranche_state(t) for t in award.tranches),
            convention_signed=bool(convention and convention.is_signed),
            accepted_report_years=frozenset(
                r.year for r in reports[award.id] if r.status == ReportStatus.accepted
            ),
            accepted_invoices=sum(
                (
                    Decimal(i.amount)
                    for i in invoices[award.id]
                    if i.status == InvoiceStatus.accepted
                ),
                ZERO,
            ),
        )
        lines = [
            TrancheLine(
                tranche=t,
                allowance=rules.allowance(tranche_state(t), state, conditions, today),
                payments=payments[t.id],
                report=by_year.get(t.year),
            )
            for t in award.tranches
        ]
        files.append(
            AwardFile(
                award=award,
                convention=convention,
                conditions=conditions,
                lines=lines,
                recoveries=recoveries[award.id],
                invoices=invoices[award.id],
                reports=reports[award.id],
                today=today,
            )
        )
    return files


def award_file(award: Award, today: date) -> AwardFile:
    return award_files([award], today)[0]


def member_awards(user) -> list[Award]:
    """The awards of the organisations ``user`` is a member of, newest call first."""
    return list(
        db.session.scalars(
            sa.select(Award)
            .options(*_award_options())
            .join(Application, Application.id == Award.application_id)
            .join(Membership, Membership.organisation_id == Application.organisation_id)
            .where(Membership.user_id == user.id)
            .order_by(Award.call_id.desc(), Award.id)
        ).unique()
    )


def visible_awards(user, call_id: int | None = None) -> list[Award]:
    """Every award for staff, the organisation's own for the others."""
    if user.is_staff:
        query = sa.select(Award).options(*_award_options()).order_by(Award.call_id.desc(), Award.id)
        if call_id:
            query = query.where(Award.call_id == call_id)
        return list(db.session.scalars(query).unique())
    awards = member_awards(user)
    return [a for a in awards if not call_id or a.call_id == call_id]


@dataclass
class Page:
    items: list
    page: int
    pages: int
    total: int


def staff_page(page: int = 1, call_id: int | None = None, status: str | None = None) -> Page:
    query = sa.select(Award)
    if call_id:
        query = query.where(Award.call_id == call_id)
    if status:
        query = query.where(Award.status == status)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(page, 1), pages)
    awards = list(
        db.session.scalars(
            query.options(*_award_options())
            .order_by(Award.call_id.desc(), Award.rank, Award.id)
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        ).unique()
    )
    return Page(awards, page, pages, total)


def calls_with_awards() -> list[tuple[int, str]]:
    return list(
        db.session.execute(
            sa.select(Call.id, Call.title)
            .where(sa.exists().where(Award.call_id == Call.id))
            .order_by(Call.id.desc())
        ).all()
    )


def members_of(award: Award) -> list:
    return [m.user for m in award.application.organisation.memberships if m.user is not None]


def pending_counts(tranche_id: int) -> tuple[int, int]:
    """Payments of the tranche waiting: (requested, validated), read fresh."""
    rows = dict(
        db.session.execute(
            sa.select(Payment.status, sa.func.count())
            .where(
                Payment.tranche_id == tranche_id,
                Payment.status.in_([PaymentStatus.requested, PaymentStatus.validated]),
            )
            .group_by(Payment.status)
        ).all()
    )
    return rows.get(PaymentStatus.requested, 0), rows.get(PaymentStatus.validated, 0)
