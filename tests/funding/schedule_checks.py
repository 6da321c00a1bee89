"""Independent checks of the schedule invariants (DESIGN §4), shared by the tests.

They re-derive every property from the inputs with ``Fraction`` arithmetic, without
using the algorithm's internals.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from fractions import Fraction

from grants.funding.rules import ScheduleAward, ScheduleResult, ScheduleRow


def canonical(awards: list[ScheduleAward]) -> list[ScheduleAward]:
    return sorted(awards, key=lambda a: (a.rank, a.id))


def strictly_degressive(values: list[Decimal]) -> bool:
    return all(a > b for a, b in itertools.pairwise(values))


def degressive_rows_near(amount_units: int, ideal: list[Fraction], *, strict: bool) -> list:
    """Brute force: every strictly degressive row of positive integers summing to the
    amount with ``|a_k − x_k| < 1`` (strict) or ``≤ 1``."""

    def near(v, x):
        return abs(v - x) < 1 if strict else abs(v - x) <= 1

    boxes = [[v for v in range(int(x) - 2, int(x) + 3) if v >= 1 and near(v, x)] for x in ideal]
    return [
        row
        for row in itertools.product(*boxes)
        if sum(row) == amount_units and all(a > b for a, b in itertools.pairwise(row))
    ]


def check_row(row: ScheduleRow, years, unit: Decimal, total: Decimal) -> None:
    tranches = [row.tranches[y] for y in years]
    assert list(row.tranches) == list(years)
    assert row.total == total
    assert sum(tranches) == total, (row, "row sum")
    assert all(t % unit == 0 for t in tranches), (row, "multiples of the unit")
    if total == 0:
        assert all(t == 0 for t in tranches), row
    else:
        assert tranches[-1] >= unit, (row, "positive tranches")
        assert strictly_degressive(tranches), (row, "strictly degressive")


def check_fits(rows: list[ScheduleRow], years, envelopes) -> None:
    for year in years:
        assert sum(r.tranches[year] for r in rows) <= envelopes[year], (year, "envelope")


def check_result(
    result: ScheduleResult,
    envelopes: dict[int, Decimal],
    awards: list[ScheduleAward],
    unit: Decimal,
    weights: list[Decimal],
) -> None:
    """Every invariant of the module docstring of grants.funding.rules."""
    years = sorted(envelopes)
    size = len(years)
    assert result.years == tuple(years)
    assert list(result.profile) == weights
    minimum = unit * (size * (size + 1) // 2)

    # Per-award errors: exactly the amounts that are not multiples or are too small.
    ordered = canonical(awards)
    expected_errors = [a.id for a in ordered if a.amount % unit != 0 or a.amount < minimum]
    assert list(result.errors) == expected_errors
    scheduled = [a for a in ordered if a.id not in result.errors]
    assert [r.id for r in result.rows] == [a.id for a in scheduled]
    assert set(result.warnings) <= {a.id for a in scheduled}

    # 1, 2, 4: exact sums, strictly degressive, within one unit of the ideal (or warned).
    all_free = True
    for award, row in zip(scheduled, result.rows, strict=True):
        check_row(row, years, unit, award.amount)
        units = award.amount / unit
        ideal = [Fraction(units) * Fraction(w) for w in weights]
        got = [Fraction(row.tranches[y] / unit) for y in years]
        floors = [int(x) for x in ideal]
        ceils = [f + (x != f) for f, x in zip(floors, ideal, strict=True)]
        free = floors[-1] >= 1 and all(floors[k] > ceils[k + 1] for k in range(size - 1))
        all_free = all_free and free
        deviation = max(abs(g - x) for g, x in zip(got, ideal, strict=True))
        if award.id in result.warnings:
            # Only when no strictly degressive row stays within one unit.
            assert not free
            assert deviation > 1
            assert degressive_rows_near(int(units), ideal, strict=False) == []
        else:
            assert deviation <= 1, (row, ideal, "within one unit")
            if deviation == 1:
                # Exactly one unit away only when rounding down or up can't be degressive.
                assert not free
                assert degressive_rows_near(int(units), ideal, strict=True) == []

    # 3: totals, overflow reported exactly.
    for year in years:
        total = sum((r.tranches[year] for r in result.rows), Decimal(0))
        assert result.totals[year] == total
        assert result.overflow[year] == max(Decimal(0), total - envelopes[year])
    assert result.fits == all(v == 0 for v in result.overflow.values())

    # Whole-table rounding: when every row rounds freely and the ideal table fits, so
    # does the rounded one (the transportation problem is feasible).
    ideal_fits = all(
        sum(Fraction(a.amount) * Fraction(w) for a in scheduled)
        <= Fraction(envelopes[y] // unit * unit)
        for y, w in zip(years, weights, strict=True)
    )
    if all_free and ideal_fits:
        assert result.fits, "the ideal table fits, the rounded one must too"
    # The overflow stays in the short years: when every year is either fine in the ideal
    # table or over its envelope with the floors alone, only the latter overflow.
    if all_free:
        fine = []
        for year, w in zip(years, weights, strict=True):
            cap = Fraction(envelopes[year] // unit * unit)
            ideal_sum = sum(Fraction(a.amount) * Fraction(w) for a in scheduled)
            floors = sum(int(Fraction(a.amount / unit) * Fraction(w)) for a in scheduled)
            if ideal_sum <= cap:
                fine.append(year)
            elif floors * unit <= cap:
                break  # a year between the two: no promise
        else:
            assert all(result.overflow[y] == 0 for y in fine), "overflow spilled"

    if result.fits:
        assert result.alternatives is None
        return
    check_alternatives(result, envelopes, scheduled, unit, minimum)


def check_alternatives(result, envelopes, scheduled, unit, minimum) -> None:
    years = sorted(envelopes)
    assert set(result.alternatives) == {"proportional", "by_rank"}
    for rows in result.alternatives.values():
        assert [r.id for r in rows] == [a.id for a in scheduled]
        for award, row in zip(scheduled, rows, strict=True):
            assert 0 <= row.total <= award.amount
            assert row.total == 0 or row.total >= minimum
            check_row(row, years, unit, row.total)
        check_fits(rows, years, envelopes)

    # Proportional: one factor f with total_i = ⌊f·A_i⌋ (in units), or 0 below the minimum.
    low, high = Fraction(0), Fraction(2)
    for award, row in zip(scheduled, result.alternatives["proportional"], strict=True):
        amount = Fraction(award.amount / unit)
        granted = Fraction(row.total / unit)
        if granted:
            low = max(low, granted / amount)
            high = min(high, (granted + 1) / amount)
        else:
            high = min(high, Fraction(minimum / unit) / amount)
    assert low < high, "no single factor explains the proportional table"

    # By rank: full awards, then at most one partial one, then nothing.
    totals = [row.total for row in result.alternatives["by_rank"]]
    amounts = [a.amount for a in scheduled]
    first = next((n for n, (t, a) in enumerate(zip(totals, amounts, strict=True)) if t != a), None)
    assert first is not None, "the whole table does not fit: someone is not fully funded"
    assert totals[:first] == amounts[:first]
    assert totals[first] < amounts[first]
    assert all(t == 0 for t in totals[first + 1 :])
