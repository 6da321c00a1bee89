"""Read side of the staff dashboards: every figure is an aggregate computed in SQL, so a
page runs the same handful of statements whether there are 5 awards or 50,000.

* calls: envelope (``call_year``) against committed (Σ tranches not cancelled) and paid
  (Σ ``paid_amount``) per call and year — two statements;
* budget lines: the budget report of :mod:`grants.funding.budget_queries` (voted,
  committed with the commitments outside calls, paid) — reused, not recomputed;
* payments over time: paid payments summed per month of ``paid_on`` — one statement;
* jobs: ``jobs_created`` / ``jobs_maintained`` of the accepted applications, summed per
  sector and per commune of the organisation — one statement each;
* awards and their next step, each an SQL condition: schedule to compute, convention to
  sign, a tranche to pay, a report late, a report to examine — one statement for the
  counts, three for a page of the table (count, page, flags).

« A tranche to pay » follows the payments' conditions (:func:`_to_pay`, the SQL twin of
:func:`grants.payments.rules.allowance`): something can be asked for now on one of the
award's tranches.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased, joinedload

from grants.applications.models import Application, ApplicationStatus, InvestmentExpense
from grants.calls.models import Call, CallKind, CallStatus, CallYear
from grants.core.db import money_type
from grants.core.models import Commune
from grants.extensions import db
from grants.funding import budget, budget_queries
from grants.funding.models import Award, AwardStatus, FundingLine, FundingLineYear, Tranche
from grants.funding.models import TrancheStatus as TS
from grants.organisations.models import Organisation
from grants.payments.models import (
    AnnualReport,
    Convention,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    ReportStatus,
)
from grants.reports.queries import late_condition, today_paris

ZERO = Decimal("0")
PER_PAGE = 25
#: the payments chart shows at most this many months (the most recent)
MAX_MONTHS = 60
MONTHS_FR = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip
UNKNOWN_SECTOR = "Secteur non renseigné"
OUTSIDE = "Hors métropole"


def _money(expression):
    return sa.type_coerce(sa.func.coalesce(sa.func.sum(expression), 0), money_type())


def _dec(value) -> Decimal:
    return budget.cents(Decimal(value)) if value is not None else ZERO


# --- years ----------------------------------------------------------------------------------


def years(funder_id: int) -> list[int]:
    """The years of the calls' envelopes and of the budget lines' votes, latest first."""
    call_years = sa.select(CallYear.year).join(Call, Call.id == CallYear.call_id)
    line_years = (
        sa.select(FundingLineYear.year)
        .join(FundingLine, FundingLine.id == FundingLineYear.line_id)
        .where(FundingLine.funder_id == funder_id)
    )
    union = sa.union(call_years, line_years).subquery()
    return sorted(db.session.scalars(sa.select(union.c.year)), reverse=True)


def default_year(known: list[int], today_year: int) -> int:
    if not known or today_year in known:
        return today_year
    return min(known, key=lambda y: (abs(y - today_year), -y))


# --- calls ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallFigures:
    call_id: int
    title: str
    year: int
    figures: budget.Figures

    @property
    def remaining(self) -> Decimal:
        return self.figures.remaining


def _tranche_sums(call_id: int | None = None, year: int | None = None):
    query = (
        sa.select(Award.call_id, Tranche.year, _money(Tranche.amount), _money(Tranche.paid_amount))
        .join(Award, Award.id == Tranche.award_id)
        .where(Tranche.status != TS.cancelled)
        .group_by(Award.call_id, Tranche.year)
    )
    if call_id is not None:
        query = query.where(Award.call_id == call_id)
    if year is not None:
        query = query.where(Tranche.year == year)
    return {(c, y): (_dec(a), _dec(p)) for c, y, a, p in db.session.execute(query)}


def call_figures(*, year: int | None = None, call_id: int | None = None) -> list[CallFigures]:
    """Envelope, committed, paid (and remaining) per call and year — two statements.

    Draft calls are left out; a year with tranches but no envelope shows an envelope of 0
    (an over-commitment, then)."""
    query = (
        sa.select(Call.id, Call.title, CallYear.year, CallYear.envelope)
        .join(CallYear, CallYear.call_id == Call.id)
        .where(Call.status != CallStatus.draft)
    )
    if year is not None:
        query = query.where(CallYear.year == year)
    if call_id is not None:
        query = query.where(Call.id == call_id)
    envelopes = {(cid, y): (title, _dec(env)) for cid, title, y, env in db.session.execute(query)}
    sums = _tranche_sums(call_id=call_id, year=year)
    titles = {cid: title for (cid, _), (title, _) in envelopes.items()}
    missing = {cid for cid, _ in sums} - set(titles)
    if missing:
        titles.update(
            db.session.execute(sa.select(Call.id, Call.title).where(Call.id.in_(missing))).all()
        )
    rows = []
    for key in sorted(set(envelopes) | set(sums), key=lambda k: (-k[0], k[1])):
        cid, y = key
        envelope = envelopes.get(key, (None, ZERO))[1]
        committed, paid = sums.get(key, (ZERO, ZERO))
        rows.append(
            CallFigures(cid, titles.get(cid, f"Appel n° {cid}"), y,
                        budget.Figures(voted=envelope, committed=committed, paid=paid))
        )  # fmt: skip
    return rows


# --- budget lines ---------------------------------------------------------------------------


def line_report(funder_id: int, year: int) -> budget.BudgetReport:
    """The funder's budget lines for ``year`` (three statements, from the budget report)."""
    return budget_queries.report(funder_id, year)


def call_line(call: Call):
    """The budget line the call's awards consume, with its years' figures, or None."""
    if call.funding_line_id is None:
        return None, []
    line = budget_queries.get_line(call.funding_line_id, call.funder_id)
    if line is None:
        return None, []
    return line, budget_queries.line_years(line)


# --- payments over time ---------------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    amount: Decimal

    @property
    def short(self) -> str:
        return f"{self.month:02d}/{self.year % 100:02d}"

    @property
    def long(self) -> str:
        return f"{MONTHS_FR[self.month - 1]} {self.year}"


def payments_by_month(call_id: int | None = None) -> list[Month]:
    """Paid payments summed per month of payment, every month from the first to the last
    (empty months at 0), the last ``MAX_MONTHS`` months at most — one statement."""
    y = sa.extract("year", Payment.paid_on)
    m = sa.extract("month", Payment.paid_on)
    query = (
        sa.select(y, m, _money(Payment.amount))
        .where(Payment.status == PaymentStatus.paid)
        .group_by(y, m)
    )
    if call_id is not None:
        query = (
            query.join(Tranche, Tranche.id == Payment.tranche_id)
            .join(Award, Award.id == Tranche.award_id)
            .where(Award.call_id == call_id)
        )
    sums = {(int(a), int(b)): _dec(c) for a, b, c in db.session.execute(query)}
    if not sums:
        return []
    first, last = min(sums), max(sums)
    months = []
    year, month = first
    while (year, month) <= last:
        months.append(Month(year, month, sums.get((year, month), ZERO)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months[-MAX_MONTHS:]


def payments_by_year(months: list[Month]) -> list[tuple[int, Decimal]]:
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for month in months:
        totals[month.year] += month.amount
    return sorted(totals.items())


# --- jobs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobsRow:
    label: str
    files: int
    created: int
    maintained: int


def _jobs(group_columns, label_of, call_id: int | None, join_commune: bool) -> list[JobsRow]:
    query = sa.select(
        *group_columns,
        sa.func.count(Application.id),
        sa.func.coalesce(sa.func.sum(Application.jobs_created), 0),
        sa.func.coalesce(sa.func.sum(Application.jobs_maintained), 0),
    ).where(Application.status == ApplicationStatus.accepted)
    if join_commune:
        query = query.join(Organisation, Organisation.id == Application.organisation_id).outerjoin(
            Commune, Commune.insee == Organisation.commune_insee
        )
    if call_id is not None:
        query = query.where(Application.call_id == call_id)
    query = query.group_by(*group_columns)
    rows = [
        JobsRow(label_of(row), int(row[-3]), int(row[-2]), int(row[-1]))
        for row in db.session.execute(query)
    ]
    return sorted(rows, key=lambda r: (-r.created, -r.maintained, r.label))


def jobs_by_sector(call_id: int | None = None) -> list[JobsRow]:
    """Jobs created and maintained by the accepted applications, per sector."""
    return _jobs([Application.sector], lambda r: r[0] or UNKNOWN_SECTOR, call_id, False)


def jobs_by_commune(call_id: int | None = None) -> list[JobsRow]:
    """The same per commune of the organisation (« Hors métropole » when it has none)."""
    return _jobs([Commune.insee, Commune.name], lambda r: r[1] or OUTSIDE, call_id, True)


# --- awards and their next step -------------------------------------------------------------

STEPS = {
    "a-calculer": "Échéancier à calculer",
    "a-signer": "Convention à signer",
    "a-verser": "Tranche à verser",
    "retard": "Compte rendu en retard",
    "a-examiner": "Compte rendu à examiner",
}


def _to_pay(today: date, signed) -> sa.ColumnElement[bool]:
    """SQL twin of :func:`grants.payments.rules.allowance` > 0 for one of the award's
    tranches (the payments' rules, evaluated for every award at once):

    * nothing before the convention is signed, nothing on a cancelled tranche;
    * call for projects — the first tranche: its advance (``advance_share × amount``,
      rounded down to the cent) from the signature, the whole tranche once that year's
      report is accepted (or, when the call doesn't wait for reports, from 1 January of
      the next year); a later tranche: from 1 January of its year, and once the report of
      the previous tranche's year is accepted when the call waits for reports;
    * investment aid: what the accepted invoices justify (their total × the award's
      share of the eligible expenses, rounded down) beyond what the award already asked,
      on a tranche with room, from 1 January of its year (the first one at once).

    « rounded down to the cent, more than ``requested`` » is ``raw >= requested + 0.01``
    (amounts are in cents), written ``raw >= requested + 0.0099995``: the same for a raw
    amount of at most 6 decimals (cents × a 4-decimal share), and safe from the binary
    rounding of SQLite's arithmetic at an exact boundary (500.00 × 0.5 against 249.99)."""
    cent = sa.literal(Decimal("0.0099995"), sa.Numeric(14, 7))
    t = aliased(Tranche)
    other = aliased(Tranche)
    report = aliased(AnnualReport)
    # Subqueries nested in the EXISTS on the tranche: correlated explicitly (automatic
    # correlation only reaches the enclosing SELECT, not the award two levels up).
    first_year = (
        sa.select(sa.func.min(other.year))
        .where(other.award_id == Award.id, other.status != TS.cancelled)
        .correlate(Award)
        .scalar_subquery()
    )
    earlier = aliased(Tranche)
    previous_year = (
        sa.select(sa.func.max(earlier.year))
        .where(
            earlier.award_id == Award.id,
            earlier.status != TS.cancelled,
            earlier.year < t.year,
        )
        .correlate(Award, t)
        .scalar_subquery()
    )

    def accepted(year):
        return (
            sa.exists()
            .where(
                report.award_id == Award.id,
                report.year == year,
                report.status == ReportStatus.accepted,
            )
            .correlate(Award, t)
        )

    is_first = t.year <= first_year
    year_open = t.year <= today.year
    has_room = t.requested_amount < t.amount
    whole_first = sa.or_(
        sa.and_(Call.release_on_report.is_(True), accepted(t.year)),
        sa.and_(Call.release_on_report.is_(False), t.year < today.year),
    )
    project = sa.or_(
        sa.and_(
            is_first,
            sa.or_(
                sa.and_(whole_first, has_room),
                t.amount * Call.advance_share >= t.requested_amount + cent,
            ),
        ),
        sa.and_(
            ~is_first,
            year_open,
            has_room,
            sa.or_(
                Call.release_on_report.is_(False),
                previous_year.is_(None),
                accepted(previous_year),
            ),
        ),
    )
    invoices = (
        sa.select(sa.func.coalesce(sa.func.sum(Invoice.amount), 0))
        .where(Invoice.award_id == Award.id, Invoice.status == InvoiceStatus.accepted)
        .correlate(Award)
        .scalar_subquery()
    )
    eligible = (
        sa.select(sa.func.coalesce(sa.func.sum(InvestmentExpense.amount), 0))
        .where(
            InvestmentExpense.application_id == Award.application_id,
            InvestmentExpense.eligible.is_(True),
        )
        .correlate(Award)
        .scalar_subquery()
    )
    asked = aliased(Tranche)
    requested_total = (
        sa.select(sa.func.coalesce(sa.func.sum(asked.requested_amount), 0))
        .where(asked.award_id == Award.id)
        .correlate(Award)
        .scalar_subquery()
    )
    justified = sa.case(
        (
            eligible > 0,
            sa.case((Award.total >= eligible, invoices), else_=invoices * Award.total / eligible),
        ),
        else_=invoices * sa.func.coalesce(Call.max_expense_share, 0),
    )
    investment = sa.and_(sa.or_(is_first, year_open), has_room, justified >= requested_total + cent)
    return sa.and_(
        signed,
        sa.exists().where(
            t.award_id == Award.id,
            t.status != TS.cancelled,
            sa.case((Call.kind == CallKind.investment_aid, investment), else_=project),
        ),
    )


def step_conditions(today: date) -> dict[str, sa.ColumnElement[bool]]:
    """The SQL condition of each next step, on ``award`` joined to its ``call``
    (correlated subqueries)."""
    signed = sa.exists().where(Convention.award_id == Award.id, Convention.signed_on.is_not(None))
    report = aliased(AnnualReport)
    return {
        "a-calculer": Award.status == AwardStatus.proposed,
        "a-signer": sa.and_(Award.status == AwardStatus.scheduled, ~signed),
        "a-verser": sa.and_(Award.status != AwardStatus.closed, _to_pay(today, signed)),
        "retard": sa.exists().where(
            report.award_id == Award.id,
            report.status.in_([ReportStatus.due, ReportStatus.returned]),
            report.due_on < today,
        ),
        "a-examiner": sa.exists().where(
            report.award_id == Award.id, report.status == ReportStatus.submitted
        ),
    }


def _award_base(call_id: int | None):
    query = (
        sa.select(Award)
        .join(Call, Call.id == Award.call_id)
        .where(Award.status != AwardStatus.closed)
    )
    if call_id is not None:
        query = query.where(Award.call_id == call_id)
    return query


def step_counts(call_id: int | None = None, today: date | None = None) -> dict[str, int]:
    """How many awards (not closed) are at each step — one statement."""
    conditions = step_conditions(today or today_paris())
    columns = [
        sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0).label(key.replace("-", "_"))
        for key, cond in conditions.items()
    ]
    query = (
        sa.select(sa.func.count(Award.id), *columns)
        .select_from(Award)
        .join(Call, Call.id == Award.call_id)
        .where(Award.status != AwardStatus.closed)
    )
    if call_id is not None:
        query = query.where(Award.call_id == call_id)
    row = db.session.execute(query).one()
    counts = {"total": int(row[0])}
    counts.update({key: int(value) for key, value in zip(conditions, row[1:], strict=True)})
    return counts


@dataclass(frozen=True)
class AwardRow:
    award: Award
    steps: list[str]
    paid: Decimal


def awards_page(
    call_id: int | None = None,
    step: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
    today: date | None = None,
):
    """One page of awards (not closed) with their next steps, optionally only those at
    ``step``: three statements (count, page, steps and paid of the page's awards)."""
    conditions = step_conditions(today or today_paris())
    query = _award_base(call_id).options(
        joinedload(Award.application).joinedload(Application.organisation),
        joinedload(Award.call),
    )
    if step in conditions:
        query = query.where(conditions[step])
    query = query.order_by(Award.call_id.desc(), Award.rank, Award.id)
    pagination = db.paginate(query, page=page, per_page=per_page, error_out=False)
    ids = [a.id for a in pagination.items]
    flags: dict[int, tuple] = {}
    if ids:
        paid = (
            sa.select(_money(Tranche.paid_amount))
            .where(Tranche.award_id == Award.id)
            .correlate(Award)
            .scalar_subquery()
        )
        rows = db.session.execute(
            sa.select(Award.id, paid, *conditions.values())
            .join(Call, Call.id == Award.call_id)
            .where(Award.id.in_(ids))
        ).all()
        flags = {row[0]: row[1:] for row in rows}
    keys = list(conditions)
    rows = []
    for award in pagination.items:
        values = flags.get(award.id, (ZERO, *([False] * len(keys))))
        rows.append(
            AwardRow(
                award=award,
                paid=_dec(values[0]),
                steps=[key for key, flag in zip(keys, values[1:], strict=True) if flag],
            )
        )
    return pagination, rows


def late_reports_count(call_id: int | None = None) -> int:
    query = sa.select(sa.func.count(AnnualReport.id)).where(late_condition())
    if call_id is not None:
        query = query.join(Award, Award.id == AnnualReport.award_id).where(Award.call_id == call_id)
    return db.session.scalar(query)
