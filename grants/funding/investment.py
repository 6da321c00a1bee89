"""Investment aid (DESIGN §4 "Investment aid"): its payment rule and its cap, as pure rules.

No Flask, no database. An investment aid is not degressive: it follows the call's payment
rule, ``call.payment_years`` yearly tranches from the call's first budget year (one
tranche per year of works):

* :func:`split_investment` splits one award over those years **proportionally to the
  works' yearly amounts** when they are given, else **evenly, the remainder on the first
  year** (``10,001 / 3`` → ``3,335 + 3,333 + 3,333``), every tranche a multiple of the
  rounding unit and the row summing exactly to the award. With works, each tranche is the
  ideal ``A · w_k / Σw`` rounded down or up (the largest remainders get the missing
  units, ties to the earlier year): within one unit of it.
* :func:`investment_schedule` does it for every award of a call and returns the same
  :class:`~grants.funding.rules.ScheduleResult` as the degressive algorithm (rows in the
  canonical order (rank, id), per-year totals and overflow against the envelopes,
  per-award errors, and when a year overflows the two alternatives: proportional
  reduction and funding in rank order), so the worker, the pages and the API treat both
  kinds of call alike. Rows carry only the payment years.
* :func:`capped_total` limits a decided amount to the call's share of the eligible
  expenses and to its ceiling (rounded *down* to the unit, so the cap is never passed).
* :func:`compute_for_call` picks the algorithm of a call's kind.

Since rows are split one by one (no whole-table rounding is needed: a split never
depends on the other awards), a table fits exactly when its column sums do, and the
alternatives are simple: **proportional** reduces every award by the largest factor
``f = min_k E_k / T_k`` (rounded down to the unit; lowered again in the rare case where
the first year's remainders still overflow), **by_rank** funds full awards in canonical
order while they fit, then the largest part of the next one that fits, then nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction

from grants.core.money import format_money
from grants.funding.rules import (
    ScheduleAward,
    ScheduleInputError,
    ScheduleResult,
    ScheduleRow,
    compute_schedule,
)

__all__ = [
    "capped_total",
    "compute_for_call",
    "investment_schedule",
    "payment_years_of",
    "split_investment",
]


def payment_years_of(years: Sequence[int], payment_years: int | None) -> list[int]:
    """The years of the tranches: ``payment_years`` (default 1) from the first budget year."""
    count = 1 if payment_years is None else payment_years
    ordered = sorted(years)
    if count < 1:
        raise ScheduleInputError("Le nombre de tranches annuelles doit être au moins 1.")
    if not ordered:
        raise ScheduleInputError("Indiquez au moins une année budgétaire avec son enveloppe.")
    if count > len(ordered):
        raise ScheduleInputError(
            f"L'aide est versée en {count} tranches annuelles mais l'appel n'a que "
            f"{len(ordered)} année{'s' if len(ordered) > 1 else ''} budgétaire"
            f"{'s' if len(ordered) > 1 else ''} : ajoutez les années manquantes ou réduisez "
            "le nombre de tranches."
        )
    return ordered[:count]


def _units(amount: Decimal, unit: Decimal) -> int | None:
    units, remainder = divmod(amount, unit)
    return None if remainder else int(units)


def _split_units(units: int, count: int, works: Sequence[Decimal] | None) -> list[int]:
    if works is None or not any(works):
        base, remainder = divmod(units, count)
        return [base + remainder] + [base] * (count - 1)
    weights = [Fraction(w) for w in works]
    total = sum(weights)
    ideal = [units * w / total for w in weights]
    row = [int(x) for x in ideal]  # floors (ideal ≥ 0)
    order = sorted(range(count), key=lambda k: (-(ideal[k] - row[k]), k))
    for k in order[: units - sum(row)]:
        row[k] += 1
    return row


def split_investment(
    amount: Decimal,
    years: Sequence[int],
    unit: Decimal = Decimal(1),
    works: Mapping[int, Decimal] | None = None,
) -> dict[int, Decimal]:
    """``amount`` over ``years`` (in order): proportional to ``works`` (``{year: amount of
    works}``, ≥ 0) if given and not all zero, else even with the remainder on the first
    year. ValueError when ``amount`` is not a positive multiple of ``unit``."""
    if amount <= 0 or unit <= 0:
        raise ValueError("amount and unit must be positive")
    units = _units(amount, unit)
    if units is None:
        raise ValueError(f"{amount} is not a multiple of {unit}")
    years = list(years)
    if not years:
        raise ValueError("no year")
    weights = None
    if works is not None:
        weights = [Decimal(works.get(year, 0)) for year in years]
        if any(w < 0 for w in weights):
            raise ValueError("works amounts must be ≥ 0")
    row = _split_units(units, len(years), weights)
    return {year: unit * v for year, v in zip(years, row, strict=True)}


def capped_total(
    decided: Decimal,
    *,
    max_share: Decimal | None,
    eligible_expenses: Decimal,
    ceiling: Decimal | None,
    unit: Decimal = Decimal(1),
) -> tuple[Decimal, str | None]:
    """The award of an investment aid: ``min(decided, share × eligible, ceiling)``; the
    caps are rounded down to the unit. Returns ``(total, French warning or None)``."""
    limits: list[tuple[Decimal, str]] = []
    if max_share is not None:
        share_cap = (eligible_expenses * max_share / unit).to_integral_value(ROUND_FLOOR) * unit
        percent = format(Decimal(max_share * 100).normalize(), "f").replace(".", ",")
        limits.append(
            (
                share_cap,
                f"{percent} % des dépenses éligibles ({format_money(eligible_expenses)})",
            )
        )
    if ceiling is not None:
        limits.append(((ceiling / unit).to_integral_value(ROUND_FLOOR) * unit, "le plafond"))
    total = decided
    reason = None
    for limit, label in limits:
        if limit < total:
            total, reason = limit, label
    if reason is None:
        return decided, None
    return total, (
        f"Le montant décidé ({format_money(decided)}) dépasse {reason} : l'aide est "
        f"plafonnée à {format_money(total)}."
    )


def _quantum(unit: Decimal, envelopes: Iterable[Decimal]) -> Decimal:
    def places(value: Decimal) -> int:
        exponent = value.normalize().as_tuple().exponent
        return max(0, -exponent) if isinstance(exponent, int) else 0

    return Decimal(1).scaleb(-max([places(unit)] + [places(e) for e in envelopes]))


def investment_schedule(
    envelopes: Mapping[int, Decimal],
    awards: Iterable[ScheduleAward],
    *,
    unit: Decimal = Decimal(1),
    payment_years: int | None = None,
    works: Mapping[str, Mapping[int, Decimal]] | None = None,
) -> ScheduleResult:
    """The investment tranches of ``awards`` (module docstring); ``works`` maps an award id
    to its works' yearly amounts. Invalid global input raises ScheduleInputError."""
    if not envelopes:
        raise ScheduleInputError("Indiquez au moins une année budgétaire avec son enveloppe.")
    if unit <= 0:
        raise ScheduleInputError("Unité d'arrondi : le montant doit être strictement positif.")
    if any(e < 0 for e in envelopes.values()):
        raise ScheduleInputError("Une enveloppe ne peut pas être négative.")
    years = tuple(sorted(envelopes))
    checked = {year: Decimal(envelopes[year]) for year in years}
    paid_years = payment_years_of(years, payment_years)
    quantum = _quantum(unit, checked.values())
    works = works or {}

    ordered = sorted(awards, key=lambda a: (a.rank, a.id))
    seen: set[str] = set()
    valid: list[tuple[ScheduleAward, int]] = []
    errors: dict[str, str] = {}
    for award in ordered:
        if award.id in seen:
            raise ScheduleInputError(f"L'aide « {award.id} » figure deux fois.")
        seen.add(award.id)
        if award.amount <= 0:
            raise ScheduleInputError(f"Aide « {award.id} » : le montant doit être positif.")
        units = _units(award.amount, unit)
        if units is None:
            errors[award.id] = (
                f"Le montant {format_money(award.amount)} n'est pas un multiple de l'unité "
                f"d'arrondi ({format_money(unit)}) : il ne peut pas être réparti exactement "
                "en tranches de cette unité."
            )
            continue
        valid.append((award, units))
    caps = [int((checked[y] / unit).to_integral_value(ROUND_FLOOR)) for y in paid_years]

    def weights_of(award: ScheduleAward) -> list[Decimal] | None:
        if award.id not in works:
            return None
        return [Decimal(works[award.id].get(y, 0)) for y in paid_years]

    def vector(award: ScheduleAward, units: int) -> list[int]:
        return _split_units(units, len(paid_years), weights_of(award))

    def sums(vectors: Sequence[list[int] | None]) -> list[int]:
        totals = [0] * len(paid_years)
        for v in vectors:
            if v is not None:
                for k, a in enumerate(v):
                    totals[k] += a
        return totals

    def fits(totals: Sequence[int]) -> bool:
        return all(t <= c for t, c in zip(totals, caps, strict=True))

    def rows_of(vectors: Sequence[list[int] | None]) -> list[ScheduleRow]:
        rows = []
        for (award, _), v in zip(valid, vectors, strict=True):
            tranches = {
                year: (unit * (v[k] if v is not None else 0)).quantize(quantum)
                for k, year in enumerate(paid_years)
            }
            total = sum(tranches.values(), Decimal(0)).quantize(quantum)
            rows.append(ScheduleRow(award.id, total, tranches))
        return rows

    vectors = [vector(a, u) for a, u in valid]
    column = sums(vectors)
    totals = {year: Decimal(0).quantize(quantum) for year in years}
    for k, year in enumerate(paid_years):
        totals[year] = (unit * column[k]).quantize(quantum)
    overflow = {
        year: max(Decimal(0), totals[year] - checked[year]).quantize(quantum) for year in years
    }
    ok = not any(overflow.values())

    alternatives = None
    if not ok:
        alternatives = {
            "proportional": rows_of(_proportional(valid, vector, sums, fits, caps, column)),
            "by_rank": rows_of(_by_rank(valid, vector, weights_of, caps)),
        }
    return ScheduleResult(
        years=years,
        envelopes=checked,
        unit=unit,
        profile=(),
        quantum=quantum,
        fits=ok,
        rows=rows_of(vectors),
        totals=totals,
        overflow=overflow,
        errors=errors,
        warnings={},
        alternatives=alternatives,
    )


def _proportional(valid, vector, sums, fits, caps, column) -> list[list[int] | None]:
    factor = min(
        (Fraction(c, t) for c, t in zip(caps, column, strict=True) if t > 0),
        default=Fraction(1),
    )
    factor = min(Fraction(1), factor)
    while True:
        reduced = [u * factor.numerator // factor.denominator for _, u in valid]
        vectors = [
            vector(a, r) if r > 0 else None for (a, _), r in zip(valid, reduced, strict=True)
        ]
        totals = sums(vectors)
        if fits(totals) or factor == 0:
            return vectors
        # Only the first year's remainders can still overflow: lower the factor by it.
        kept = sum(reduced)
        excess = sum(max(0, t - c) for t, c in zip(totals, caps, strict=True))
        factor = max(Fraction(0), factor * Fraction(max(0, kept - 2 * excess), kept))


def _largest_fitting(limit: int, room: Sequence[int], weights: Sequence[Decimal] | None) -> int:
    """The largest ``m`` in ``[0, limit]`` (units) whose split fits ``room`` year by year."""
    size = len(room)
    if limit <= 0 or min(room) < 0:
        return 0
    if weights is None or not any(weights):
        # Even split: the first year takes q + r, the others q (m = qK + r, 0 ≤ r < K).
        # A larger q always gives a larger m, so take the largest q, then the largest r.
        q = min([*room[1:], room[0], limit // size])
        r = min(size - 1, room[0] - q, limit - q * size)
        return q * size + r
    ratios = [Fraction(w) / sum(Fraction(x) for x in weights) for w in weights]
    # Floors must fit: m · w_k < room_k + 1; ceilings always fit below m · w_k ≤ room_k − 1.
    high = min([limit] + [int((r + 1) / w) for r, w in zip(room, ratios, strict=True) if w])
    low = max(0, min([high] + [int((r - 1) / w) for r, w in zip(room, ratios, strict=True) if w]))
    for m in range(high, low - 1, -1):
        split = _split_units(m, size, weights)
        if all(a <= r for a, r in zip(split, room, strict=True)):
            return m
    return 0


def _by_rank(valid, vector, weights_of, caps) -> list[list[int] | None]:
    room = list(caps)
    vectors: list[list[int] | None] = []
    stopped = False
    for award, units in valid:
        if stopped:
            vectors.append(None)
            continue
        full = vector(award, units)
        if all(a <= r for a, r in zip(full, room, strict=True)):
            vectors.append(full)
            room = [r - a for r, a in zip(room, full, strict=True)]
            continue
        stopped = True  # the envelopes are spent in rank order: later awards get nothing
        part = _largest_fitting(units - 1, room, weights_of(award))
        vectors.append(vector(award, part) if part > 0 else None)
    return vectors


def compute_for_call(
    kind: str,
    envelopes: Mapping[int, Decimal],
    awards: Iterable[ScheduleAward],
    *,
    unit: Decimal = Decimal(1),
    profile: Sequence[Decimal | str] | None = None,
    payment_years: int | None = None,
) -> ScheduleResult:
    """The schedule table of a call: degressive for a call for projects, the payment rule
    for an investment aid (``kind`` is a :class:`~grants.calls.models.CallKind` value)."""
    if str(kind) == "investment_aid":
        return investment_schedule(envelopes, awards, unit=unit, payment_years=payment_years)
    return compute_schedule(envelopes, awards, unit=unit, profile=profile)
