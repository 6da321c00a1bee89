"""Budget lines, the ``funding`` feature's budget side: read helpers.

The report reads a whole year in a fixed number of statements whatever the number of
lines, calls, awards or tranches:

1. the funder's lines with their vote for the year (outer join);
2. the tranches of the year, summed per line in SQL (``SUM`` of amount and paid, grouped
   by the calls' ``funding_line_id``; cancelled tranches left out) — the part that grows
   with the calls (thousands of awards);
3. the year's commitments outside the calls (conventions, PLIE), a handful per line, read
   as rows and summed with the pure rule, because a PLIE amount (fixed part + rate × hours)
   is rounded to the cent per commitment, which SQLite's floating point can't do exactly.

The figures are assembled by :func:`grants.funding.budget.build_report` (pure).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from grants.calls.models import Call
from grants.core.db import money_type
from grants.extensions import db
from grants.funding import budget
from grants.funding.models import (
    Award,
    Commitment,
    FundingLine,
    FundingLineYear,
    Tranche,
    TrancheStatus,
)
from grants.organisations.models import Organisation

ZERO = Decimal("0")


def _dec(value) -> Decimal:
    return budget.cents(Decimal(value)) if value is not None else ZERO


def _tranche_sums(funder_id: int, year: int | None = None, line_id: int | None = None):
    """``{(line_id, year): (Σ amount, Σ paid)}`` of the tranches not cancelled."""
    amount = sa.type_coerce(sa.func.sum(Tranche.amount), money_type())
    paid = sa.type_coerce(sa.func.sum(Tranche.paid_amount), money_type())
    query = (
        sa.select(Call.funding_line_id, Tranche.year, amount, paid)
        .select_from(Tranche)
        .join(Award, Award.id == Tranche.award_id)
        .join(Call, Call.id == Award.call_id)
        .join(FundingLine, FundingLine.id == Call.funding_line_id)
        .where(FundingLine.funder_id == funder_id, Tranche.status != TrancheStatus.cancelled)
        .group_by(Call.funding_line_id, Tranche.year)
    )
    if year is not None:
        query = query.where(Tranche.year == year)
    if line_id is not None:
        query = query.where(Call.funding_line_id == line_id)
    return {(row[0], row[1]): (_dec(row[2]), _dec(row[3])) for row in db.session.execute(query)}


def _commitment_sums(funder_id: int, year: int | None = None, line_id: int | None = None):
    """``{(line_id, year): Σ amount}`` of the commitments (each rounded to the cent)."""
    query = (
        sa.select(
            Commitment.line_id,
            Commitment.year,
            Commitment.kind,
            Commitment.fixed_amount,
            Commitment.hourly_rate,
            Commitment.hours,
        )
        .join(FundingLine, FundingLine.id == Commitment.line_id)
        .where(FundingLine.funder_id == funder_id)
    )
    if year is not None:
        query = query.where(Commitment.year == year)
    if line_id is not None:
        query = query.where(Commitment.line_id == line_id)
    sums: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for line, row_year, kind, fixed, rate, hours in db.session.execute(query):
        sums[(line, row_year)] += budget.commitment_amount(kind, fixed or ZERO, rate, hours)
    return sums


def report(funder_id: int, year: int) -> budget.BudgetReport:
    """Every line of the funder for ``year``: voted, committed, paid, remaining (3 queries)."""
    lines = db.session.execute(
        sa.select(
            FundingLine.id,
            FundingLine.section,
            FundingLine.rubric,
            FundingLine.label,
            FundingLineYear.voted,
        )
        .outerjoin(
            FundingLineYear,
            sa.and_(FundingLineYear.line_id == FundingLine.id, FundingLineYear.year == year),
        )
        .where(FundingLine.funder_id == funder_id)
    ).all()
    tranches = _tranche_sums(funder_id, year=year)
    commitments = _commitment_sums(funder_id, year=year)
    inputs = []
    for line_id, section, rubric, label, voted in lines:
        amount, paid = tranches.get((line_id, year), (ZERO, ZERO))
        inputs.append(
            budget.LineInput(
                id=line_id,
                section=section.value,
                rubric=rubric,
                label=label,
                voted=None if voted is None else _dec(voted),
                tranches=amount,
                paid=paid,
                commitments=commitments.get((line_id, year), ZERO),
            )
        )
    return budget.build_report(year, inputs)


def years(funder_id: int) -> list[int]:
    """The years with a vote on one of the funder's lines, most recent first."""
    return list(
        db.session.scalars(
            sa.select(FundingLineYear.year)
            .join(FundingLine, FundingLine.id == FundingLineYear.line_id)
            .where(FundingLine.funder_id == funder_id)
            .distinct()
            .order_by(FundingLineYear.year.desc())
        )
    )


def default_year(funder_id: int, today_year: int) -> int:
    """The current year if it has votes, else the closest year that has some."""
    known = years(funder_id)
    if not known or today_year in known:
        return today_year
    return min(known, key=lambda y: (abs(y - today_year), -y))


def get_line(line_id: int, funder_id: int) -> FundingLine | None:
    line = db.session.scalar(
        sa.select(FundingLine)
        .where(FundingLine.id == line_id, FundingLine.funder_id == funder_id)
        .options(selectinload(FundingLine.years))
    )
    return line


def line_years(line: FundingLine) -> list[tuple[int, budget.Figures, bool]]:
    """``(year, figures, has_vote)`` of one line for every year it has a vote or a use."""
    tranches = _tranche_sums(line.funder_id, line_id=line.id)
    commitments = _commitment_sums(line.funder_id, line_id=line.id)
    votes = {y.year: y.voted for y in line.years}
    all_years = set(votes) | {year for (_, year) in tranches} | {year for (_, year) in commitments}
    rows = []
    for year in sorted(all_years):
        amount, paid = tranches.get((line.id, year), (ZERO, ZERO))
        figures = budget.Figures(
            voted=_dec(votes.get(year)),
            committed=amount + commitments.get((line.id, year), ZERO),
            paid=paid,
        )
        rows.append((year, figures, year in votes))
    return rows


def linked_calls(line_id: int) -> list[Call]:
    return list(
        db.session.scalars(
            sa.select(Call).where(Call.funding_line_id == line_id).order_by(Call.id.desc())
        )
    )


def funder_calls(funder_id: int) -> list[Call]:
    """The funder's calls, newest first (the choices of « link a call »)."""
    return list(
        db.session.scalars(
            sa.select(Call).where(Call.funder_id == funder_id).order_by(Call.id.desc())
        )
    )


def line_labels(line_ids) -> dict[int, str]:
    ids = {i for i in line_ids if i is not None}
    if not ids:
        return {}
    return {
        row.id: row.label
        for row in db.session.execute(
            sa.select(FundingLine.id, FundingLine.label).where(FundingLine.id.in_(ids))
        )
    }


def commitments(line_id: int) -> list[Commitment]:
    return list(
        db.session.scalars(
            sa.select(Commitment)
            .where(Commitment.line_id == line_id)
            .order_by(Commitment.year.desc(), Commitment.kind, Commitment.beneficiary)
        )
    )


def get_commitment(commitment_id: int, funder_id: int) -> Commitment | None:
    return db.session.scalar(
        sa.select(Commitment)
        .join(FundingLine, FundingLine.id == Commitment.line_id)
        .where(Commitment.id == commitment_id, FundingLine.funder_id == funder_id)
        .options(selectinload(Commitment.line))
    )


def api_commitments(
    funder_id: int, line_id: int | None = None, year: int | None = None
) -> list[Commitment]:
    query = (
        sa.select(Commitment)
        .join(FundingLine, FundingLine.id == Commitment.line_id)
        .where(FundingLine.funder_id == funder_id)
        .order_by(Commitment.line_id, Commitment.year, Commitment.id)
    )
    if line_id is not None:
        query = query.where(Commitment.line_id == line_id)
    if year is not None:
        query = query.where(Commitment.year == year)
    return list(db.session.scalars(query))


def lines(funder_id: int, year: int | None = None) -> list[FundingLine]:
    """The funder's lines with their votes (two statements), optionally only those voted
    for ``year``."""
    query = (
        sa.select(FundingLine)
        .where(FundingLine.funder_id == funder_id)
        .options(selectinload(FundingLine.years))
        .order_by(FundingLine.section, FundingLine.id)
    )
    if year is not None:
        query = query.where(
            FundingLine.id.in_(
                sa.select(FundingLineYear.line_id).where(FundingLineYear.year == year)
            )
        )
    return list(db.session.scalars(query))


def organisation_names(ids) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(
        db.session.execute(
            sa.select(Organisation.id, Organisation.name).where(Organisation.id.in_(wanted))
        ).all()
    )


def organisation_choices() -> list[tuple[int, str]]:
    return [
        (row.id, row.name)
        for row in db.session.execute(
            sa.select(Organisation.id, Organisation.name).order_by(
                Organisation.name, Organisation.id
            )
        )
    ]
