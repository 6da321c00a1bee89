"""Scoring aggregation, ranking and running sums: pure functions on plain values.

Scale: every review score is on 0–100 (the weighted mean of each criterion's score divided
by its scale). Arithmetic is exact (``Fraction``) until the result is handed back as a
``Decimal`` (28 significant digits); nothing is rounded here: pages and exports quantize to
0.01 when they show a value (:func:`display`).

Choices, stated once:

* the dispersion of a file is the **population** standard deviation of its submitted
  reviews (divided by *n*, not *n − 1*): it describes the two or three reviews the
  committee has, it does not estimate anything, and it is 0 — not undefined — with one;
* reviewers **disagree** when the highest and lowest review scores of a file are more than
  :data:`DISAGREEMENT_THRESHOLD` points apart (on 0–100), the same threshold for every call;
* the **normalised** score is the mean of the file's z-scores, each computed over that
  reviewer's submitted reviews in the call with the population deviation; a reviewer with
  a single review, or who gave the same score everywhere, contributes z = 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Any

#: reviewers disagree on a file when its review scores are more than this far apart (0–100)
DISAGREEMENT_THRESHOLD = Decimal("20")
HUNDRED = Fraction(100)
ZERO = Decimal("0")
CENT = Decimal("0.01")


def _fraction(value: Any) -> Fraction:
    if isinstance(value, float):
        raise TypeError("scores must not be floats")
    return value if isinstance(value, Fraction) else Fraction(value)


def _decimal(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


def display(value: Decimal | None, unit: Decimal = CENT) -> Decimal | None:
    """Quantize a score for display (0.01 by default)."""
    return None if value is None else value.quantize(unit, rounding=ROUND_HALF_UP)


# --- One review ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GridCriterion:
    id: int
    weight: int
    scale_max: int


def review_score(
    grid: Iterable[GridCriterion | tuple[int, int, int]], scores: Mapping[int, int]
) -> Decimal | None:
    """The weighted score of a review on 0–100: Σ w·(s/scale) / Σ w × 100.

    ``grid`` lists the call's criteria (id, weight, scale); ``scores`` maps a criterion id
    to its score. A criterion without a score is left out and the remaining weights carry
    the mean (a submitted review scores every criterion); None when nothing is scored.
    Scores above the scale are capped to it.
    """
    numerator = Fraction(0)
    weights = Fraction(0)
    for item in grid:
        criterion = item if isinstance(item, GridCriterion) else GridCriterion(*item)
        if criterion.id not in scores or criterion.weight <= 0 or criterion.scale_max <= 0:
            continue
        score = min(max(_fraction(scores[criterion.id]), Fraction(0)), criterion.scale_max)
        numerator += criterion.weight * score / criterion.scale_max
        weights += criterion.weight
    if not weights:
        return None
    return _decimal(numerator / weights * HUNDRED)


# --- The reviews of one file --------------------------------------------------------------


def _sqrt(value: Fraction) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 40
        root = _decimal(value).sqrt()
    return +root  # back to the default precision


@dataclass(frozen=True)
class Aggregate:
    """What the committee reads of a file's submitted reviews."""

    count: int
    mean: Decimal | None
    #: population standard deviation (0 with a single review)
    std_dev: Decimal | None
    minimum: Decimal | None
    maximum: Decimal | None
    disagreement: bool

    @property
    def spread(self) -> Decimal | None:
        if self.minimum is None or self.maximum is None:
            return None
        return self.maximum - self.minimum


def aggregate(
    review_scores: Iterable[Decimal], threshold: Decimal = DISAGREEMENT_THRESHOLD
) -> Aggregate:
    """Mean, population standard deviation, count and the disagreement flag."""
    values = [_fraction(v) for v in review_scores if v is not None]
    if not values:
        return Aggregate(0, None, None, None, None, False)
    n = len(values)
    mean = sum(values, Fraction(0)) / n
    variance = sum(((v - mean) ** 2 for v in values), Fraction(0)) / n
    low, high = min(values), max(values)
    return Aggregate(
        count=n,
        mean=_decimal(mean),
        std_dev=_sqrt(variance),
        minimum=_decimal(low),
        maximum=_decimal(high),
        disagreement=(high - low) > _fraction(threshold),
    )


# --- Normalisation per reviewer -----------------------------------------------------------


def z_scores(values: Sequence[Decimal]) -> list[Decimal]:
    """z-scores of one reviewer's review scores (population deviation; 0 when it is 0)."""
    exact = [_fraction(v) for v in values]
    if len(exact) < 2:
        return [ZERO for _ in exact]
    mean = sum(exact, Fraction(0)) / len(exact)
    variance = sum(((v - mean) ** 2 for v in exact), Fraction(0)) / len(exact)
    if variance == 0:
        return [ZERO for _ in exact]
    sigma = _sqrt(variance)
    return [_decimal(v - mean) / sigma for v in exact]


def normalised_scores(
    reviews_by_reviewer: Mapping[Any, Sequence[tuple[Any, Decimal]]],
) -> dict[Any, Decimal]:
    """``{reviewer: [(application, review score), …]}`` → ``{application: mean z-score}``.

    Each reviewer's scores are centred and scaled over their own reviews (in the call), so a
    harsh or a lenient reviewer weighs like the others; a file's normalised score is the
    mean z-score of its reviews.
    """
    per_file: dict[Any, list[Decimal]] = {}
    for reviewer in sorted(reviews_by_reviewer, key=repr):
        reviews = [(app, s) for app, s in reviews_by_reviewer[reviewer] if s is not None]
        for (application, _), z in zip(reviews, z_scores([s for _, s in reviews]), strict=True):
            per_file.setdefault(application, []).append(z)
    return {
        application: _decimal(sum((_fraction(z) for z in zs), Fraction(0)) / len(zs))
        for application, zs in per_file.items()
    }


# --- Ranking ------------------------------------------------------------------------------

#: sort keys of the ranking: query value → (label, attribute, descending)
SORT_KEYS = {
    "note": ("Note", "score", True),
    "normalisee": ("Note normalisée", "normalised", True),
    "demande": ("Montant demandé", "requested_total", True),
    "reference": ("Référence", "reference", False),
}
DEFAULT_SORT = "note"


def _attr(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)


def ranking(rows: Iterable[Any], sort_key: str = DEFAULT_SORT) -> list[Any]:
    """The rows sorted by ``sort_key`` (see :data:`SORT_KEYS`), deterministically.

    Missing values (a file without a submitted review) come last; ties are broken by
    reference, then id, so the order never depends on the order of the input.
    """
    _label, name, descending = SORT_KEYS.get(sort_key, SORT_KEYS[DEFAULT_SORT])

    def tie(row):
        return (str(_attr(row, "reference") or ""), _attr(row, "id") or 0)

    rows = sorted(rows, key=tie)  # the tie-break, then a stable sort on the key
    present = [r for r in rows if _attr(r, name) is not None]
    missing = [r for r in rows if _attr(r, name) is None]
    # ``reverse`` keeps equal keys in input order (the tie order): the sort stays stable.
    present.sort(key=lambda r: _attr(r, name), reverse=descending)
    return present + missing


# --- Running sums against the envelopes ---------------------------------------------------


@dataclass
class RunningYear:
    year: int
    requested: Decimal
    cumulative: Decimal
    envelope: Decimal
    #: the cumulative sum is above the envelope at this row
    over: bool
    #: this is the first row where the cumulative sum passes the envelope
    runs_out: bool


@dataclass
class RunningRow:
    years: list[RunningYear] = field(default_factory=list)
    requested_total: Decimal = ZERO
    cumulative_total: Decimal = ZERO
    envelope_total: Decimal = ZERO
    over_total: bool = False
    runs_out_total: bool = False

    @property
    def runs_out_years(self) -> list[int]:
        return [y.year for y in self.years if y.runs_out]


def running_sums(
    requested_by_year: Sequence[Mapping[int, Decimal]], envelopes: Mapping[int, Decimal]
) -> list[RunningRow]:
    """For each file, in the given (ranked) order: what it asks per year and the cumulative
    sums against each year's envelope, flagging the row where an envelope runs out.

    Amounts asked for a year that has no envelope count in the total only.
    """
    years = sorted(envelopes)
    envelope_total = sum((Decimal(envelopes[y]) for y in years), ZERO)
    cumulative = dict.fromkeys(years, ZERO)
    cumulative_total = ZERO
    rows: list[RunningRow] = []
    for requested in requested_by_year:
        row = RunningRow(envelope_total=envelope_total)
        for year in years:
            amount = Decimal(requested.get(year, ZERO))
            before = cumulative[year]
            cumulative[year] = before + amount
            envelope = Decimal(envelopes[year])
            row.years.append(
                RunningYear(
                    year=year,
                    requested=amount,
                    cumulative=cumulative[year],
                    envelope=envelope,
                    over=cumulative[year] > envelope,
                    runs_out=before <= envelope < cumulative[year],
                )
            )
        row.requested_total = sum((Decimal(a) for a in requested.values()), ZERO)
        before_total = cumulative_total
        cumulative_total += row.requested_total
        row.cumulative_total = cumulative_total
        row.over_total = cumulative_total > envelope_total
        row.runs_out_total = before_total <= envelope_total < cumulative_total
        rows.append(row)
    return rows
