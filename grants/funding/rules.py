"""Degressive multi-year funding schedules (DESIGN §4): the pure algorithm.

No Flask, no database: the worker that stores tranches, the what-if pages, the API and
``grants schedule simulate`` all call :func:`compute_schedule`, so a table is computed the
same way everywhere.

API
===

``compute_schedule(envelopes, awards, *, unit=Decimal("1"), profile=None) -> ScheduleResult``

* ``envelopes``: ``{year: Decimal}`` (or ``[(year, Decimal), …]``), 1 to ``MAX_YEARS``
  distinct integer years, each envelope ≥ 0 with at most two decimals. The years are
  sorted: ``years[0]`` is the first budget year (K = number of years).
* ``awards``: :class:`ScheduleAward` ``(id: str, amount: Decimal, rank: int)`` — not the
  ``grants.funding.models.Award`` row: build one per row, e.g.
  ``ScheduleAward(str(award.id), award.total, award.rank)``. Ids are unique, amounts > 0.
  Their order does not matter: they are sorted by ``(rank, id)`` (the *canonical order*,
  ids compared as strings) and every output lists them in that order.
* ``unit``: the rounding unit ``u`` (> 0, at most two decimals; 1 EUR by default, 0.01 for
  cents). Every tranche is a multiple of it.
* ``profile``: the weights ``w_1 > … > w_K > 0`` with ``Σw = 1`` (Decimal or strings, at
  most 6 decimals, checked by :func:`grants.calls.rules.profile_problems`); ``None`` means
  the derived profile ``w_k = E_k / ΣE`` of :func:`grants.calls.rules.default_profile`,
  which exists only when the envelopes are positive and strictly decrease.

Invalid *global* input (no year, a negative envelope, a bad profile, no derivable profile,
a duplicated award id, a float…) raises :class:`ScheduleInputError` (``ValueError``), whose
``problems`` are French messages. An award that is valid but cannot be scheduled gets a
per-award error instead (``ScheduleResult.errors``): its amount is not a multiple of the
unit, or it is below the minimum ``u · K(K+1)/2`` (:func:`minimum_amount`: the smallest
strictly degressive schedule of positive tranches is K, K−1, …, 1 units).

:class:`ScheduleResult`:

* ``fits``: every year's total is within its envelope;
* ``rows``: one :class:`ScheduleRow` ``(id, total, tranches={year: Decimal})`` per award
  that has no error, in canonical order;
* ``totals`` / ``overflow``: per year, ``Σ tranches`` and ``max(0, Σ tranches − E)``
  (exactly; ``0`` when the year holds);
* ``errors``: ``{award id: French message}`` — these awards have no row;
* ``warnings``: ``{award id: French message}`` for the rare rows that could not be
  strictly degressive within one unit of their ideal tranches (see below);
* ``alternatives``: ``None`` when the table fits, else ``{"proportional": [rows],
  "by_rank": [rows]}``, two complete tables with a row for every award of ``rows``
  (``total`` is the amount granted in that alternative; ``0`` with every tranche ``0``
  means not funded);
* ``years``, ``envelopes``, ``unit``, ``profile`` (the weights used), ``quantum``.

Every Decimal of the result is quantized to ``quantum``: the decimals of the unit, or of
the envelopes if they have more (``1`` → ``"12000"``, ``0.01`` → ``"12000.00"``).
:func:`result_to_json` gives the JSON of ``grants schedule simulate`` (every amount a
decimal string); :func:`parse_simulation` / :func:`parse_simulation_text` read its input.

The guarantees
==============

Let ``x_ik = A_i · w_k`` be the ideal tranche (in units: ``A_i/u · w_k``).

1. ``Σ_k a_ik = A_i`` exactly (integer arithmetic on units, no float anywhere).
2. ``a_i1 > a_i2 > … > a_iK ≥ u``: tranches are positive and strictly decrease.
3. The table is rounded as a whole: if ``fits`` is false, ``overflow`` says by how much
   each year is over and both alternatives hold every envelope.
4. Every tranche is within one unit of ``x_ik`` (``|a_ik − x_ik| ≤ u``), and in fact
   ``x_ik`` rounded down or up (``< u``) unless no such row is strictly degressive; then
   the row is the best strictly degressive one within ``≤ u`` (an integer ideal may move
   by a whole unit). Only when *no* strictly degressive row of positive multiples of ``u``
   stays within one unit (tiny awards, weights nearly equal) is the row the nearest
   strictly degressive one found (units moved to the earlier years), listed in
   ``warnings`` with its largest gap.
5. Deterministic: only the canonical order, never the input order, decides ties; the
   whole table is one pure call (a worker computes every award of a call at once), so the
   number of workers cannot change it.

The rounding (``_round_table``)
-------------------------------

Each ideal tranche is floored; a row then lacks ``d_i`` units (``0 ≤ d_i < K``), to give
one each to ``d_i`` of its years with a positive remainder. Which ones is a
transportation problem between rows and years (a year can take as many units as its
envelope has left): all the (row, year) remainders are sorted, largest first (ties: the
canonical order, then the earlier year), and a unit goes to a year while it has room;
the units left over go to the rows' best remaining years, and a repair step moves units
out of the overflowing years along augmenting paths (one row moves its extra unit from
year k to year j, another from j to l… until a year with room): when no path is left the
overflow cannot be avoided by rounding (max-flow/min-cut), and it is reported. Rows
whose ideal tranches are less than two units apart ("constrained") only take the
floor/ceiling combinations that stay strictly degressive; if none does, the row is
fixed to the best strictly degressive row within one unit, else to the nearest one
(isotonic regression) and gets a warning.

A year whose floors alone already exceed its envelope will overflow whatever the
rounding does: it takes the units no other year has room for, so the overflow stays in
the short years instead of spilling a unit onto a year that holds; then units leave it
for whatever room is left elsewhere, so the reported overflow is as small as rounding
down or up allows.

Whenever the ideal table fits (``Σ_i x_ik ≤ E_k``, envelopes counted in whole units) and
no row is constrained, the rounded table fits too (the transportation problem then has a
fractional, hence an integral, solution; property-tested). With the derived profile this
is the case as soon as ``ΣA ≤ ΣE``, up to the profile's rounding to 10⁻⁶ (60,000.105
instead of 60,000 for the seeds' 165,000), which the rounding absorbs when it can.

The alternatives (when the table does not fit)
----------------------------------------------

* **proportional**: ``f = min(1, min_k E_k / (ΣA · w_k))`` (exact fraction, envelopes
  counted in whole units); every award becomes ``⌊f · A_i⌋`` (rounded *down* to the unit,
  so a few units stay unused), an award that drops below the minimum gets nothing, and
  the reduced table is rounded as above. If rounding still overflows (only possible with
  constrained rows), ``f`` is lowered step by step until it fits.
* **by_rank**: in canonical order (rank, then id), awards get their full amount as long as
  the table of the awards funded so far still fits (rounded as a whole). The first award
  that does not fit gets the largest amount (a multiple of the unit, below its award)
  that still fits, if it is at least the minimum; otherwise nothing. Every later award
  gets nothing, even a smaller one that would fit: the envelopes are spent in rank order.
"""

from __future__ import annotations

import heapq
import json
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction
from itertools import combinations
from math import floor

from grants.calls.rules import (
    MAX_AMOUNT,
    MAX_YEAR,
    MAX_YEARS,
    MIN_YEAR,
    PROFILE_PLACES,
    default_profile,
    parse_weight,
    profile_problems,
)
from grants.core.money import format_money

#: weights are integers over this denominator (a profile has at most 6 decimals)
SCALE = 10**PROFILE_PLACES
#: at most two decimals: units, envelopes (``Numeric(14, 2)``)
MONEY_PLACES = 2

__all__ = [
    "ScheduleAward",
    "ScheduleInputError",
    "ScheduleResult",
    "ScheduleRow",
    "Simulation",
    "compute_schedule",
    "column_totals",
    "format_amount",
    "minimum_amount",
    "parse_simulation",
    "parse_simulation_text",
    "result_to_json",
    "simulate",
]


class ScheduleInputError(ValueError):
    """Invalid global input; ``problems`` are French messages (``str()`` joins them)."""

    def __init__(self, problems: str | Sequence[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(" ".join(self.problems))


@dataclass(frozen=True)
class ScheduleAward:
    """An award to schedule: ``amount`` is its total ``A_i``; ``rank`` orders the funding."""

    id: str
    amount: Decimal
    rank: int


@dataclass(frozen=True)
class ScheduleRow:
    """One award's tranches, ``{year: amount}`` in year order; ``total`` = their sum."""

    id: str
    total: Decimal
    tranches: dict[int, Decimal]


@dataclass(frozen=True)
class ScheduleResult:
    """The table (see the module docstring for every field)."""

    years: tuple[int, ...]
    envelopes: dict[int, Decimal]
    unit: Decimal
    profile: tuple[Decimal, ...]
    quantum: Decimal
    fits: bool
    rows: list[ScheduleRow]
    totals: dict[int, Decimal]
    overflow: dict[int, Decimal]
    errors: dict[str, str]
    warnings: dict[str, str]
    alternatives: dict[str, list[ScheduleRow]] | None


def minimum_amount(years: int, unit: Decimal = Decimal(1)) -> Decimal:
    """The smallest award that can be strictly degressive over ``years`` years:
    ``u · K(K+1)/2`` (tranches K, K−1, …, 1 units)."""
    return unit * (years * (years + 1) // 2)


def format_amount(value: Decimal, quantum: Decimal) -> str:
    """A plain decimal string with the result's decimals (``"12000"``, ``"0.00"``)."""
    return format(value.quantize(quantum), "f")


def column_totals(rows: Iterable[ScheduleRow], years: Sequence[int]) -> dict[int, Decimal]:
    """Per-year sums of some rows (e.g. of an alternative table)."""
    totals = {year: Decimal(0) for year in years}
    for row in rows:
        for year, amount in row.tranches.items():
            totals[year] += amount
    return totals


# --- checking the input -------------------------------------------------------------------


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _money(value: object, what: str, *, positive: bool) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ScheduleInputError(
            f"{what} : attendu un montant décimal (Decimal), pas {type(value).__name__}."
        )
    amount = Decimal(value)
    if not amount.is_finite():
        raise ScheduleInputError(f"{what} : ce montant n'est pas un nombre.")
    if amount < 0 or (positive and amount == 0):
        raise ScheduleInputError(
            f"{what} : le montant doit être strictement positif."
            if positive
            else f"{what} : le montant ne peut pas être négatif."
        )
    if amount > MAX_AMOUNT:
        raise ScheduleInputError(f"{what} : ce montant est trop élevé.")
    return amount


def _check_envelopes(envelopes) -> tuple[tuple[int, ...], dict[int, Decimal]]:
    pairs = list(envelopes.items() if isinstance(envelopes, Mapping) else envelopes)
    if not pairs:
        raise ScheduleInputError("Indiquez au moins une année budgétaire avec son enveloppe.")
    if len(pairs) > MAX_YEARS:
        raise ScheduleInputError(f"Un échéancier couvre au plus {MAX_YEARS} années budgétaires.")
    checked: dict[int, Decimal] = {}
    for year, envelope in pairs:
        if isinstance(year, bool) or not isinstance(year, int):
            raise ScheduleInputError(f"Année invalide : {year!r} (attendu un entier, ex. 2016).")
        if year in checked:
            raise ScheduleInputError(f"L'année {year} figure deux fois.")
        amount = _money(envelope, f"Enveloppe {year}", positive=False)
        if _places(amount) > MONEY_PLACES:
            raise ScheduleInputError(f"Enveloppe {year} : au plus deux décimales.")
        checked[year] = amount
    years = tuple(sorted(checked))
    return years, {year: checked[year] for year in years}


def _check_unit(unit: object) -> Decimal:
    value = _money(unit, "Unité d'arrondi", positive=True)
    if _places(value) > MONEY_PLACES:
        raise ScheduleInputError(
            "Unité d'arrondi : au plus deux décimales (par exemple 1 ou 0.01)."
        )
    return value


def _check_profile(profile, envelopes: Sequence[Decimal]) -> list[Decimal]:
    if profile is None:
        derived = default_profile(list(envelopes))
        if derived is None:
            raise ScheduleInputError(
                "Le profil dégressif ne peut pas être dérivé des enveloppes : il faut "
                "qu'elles soient strictement positives et strictement décroissantes (et "
                "pas trop proches). Indiquez un poids par année."
            )
        return derived
    weights = list(profile)
    if any(isinstance(w, float | bool) for w in weights):
        raise ScheduleInputError("Profil : écrivez les poids en décimal exact, pas en float.")
    problems = profile_problems(weights, len(envelopes))
    if problems:
        raise ScheduleInputError([f"Profil : {p}" for p in problems])
    return [w if isinstance(w, Decimal) else parse_weight(w) for w in weights]


def _check_awards(awards: Iterable[ScheduleAward]) -> list[ScheduleAward]:
    checked: list[ScheduleAward] = []
    seen: set[str] = set()
    for n, award in enumerate(awards, start=1):
        if not isinstance(award, ScheduleAward):
            raise ScheduleInputError(f"Aide n° {n} : attendu un objet ScheduleAward.")
        if not isinstance(award.id, str) or not award.id:
            raise ScheduleInputError(f"Aide n° {n} : l'identifiant doit être un texte non vide.")
        if award.id in seen:
            raise ScheduleInputError(f"L'aide « {award.id} » figure deux fois.")
        seen.add(award.id)
        if isinstance(award.rank, bool) or not isinstance(award.rank, int):
            raise ScheduleInputError(f"Aide « {award.id} » : le rang doit être un entier.")
        amount = _money(award.amount, f"Aide « {award.id} »", positive=True)
        checked.append(ScheduleAward(award.id, amount, award.rank))
    checked.sort(key=lambda a: (a.rank, a.id))
    return checked


# --- rounding a whole table ------------------------------------------------------------------

_FREE, _CONSTRAINED, _FIXED = 0, 1, 2


def _pava_nonincreasing(values: Sequence[Fraction]) -> list[Fraction]:
    """The least-squares non-increasing fit (pool adjacent violators)."""
    blocks: list[list] = []
    for value in values:
        blocks.append([value, 1])
        while len(blocks) > 1 and blocks[-2][0] * blocks[-1][1] < blocks[-1][0] * blocks[-2][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    fitted: list[Fraction] = []
    for total, count in blocks:
        fitted.extend([Fraction(total) / count] * count)
    return fitted


def _nearest_degressive(amount: int, weights: Sequence[int]) -> list[int]:
    """A strictly decreasing row of positive integers summing to ``amount`` (≥ K(K+1)/2),
    close to ``amount · w``: with ``b_k = a_k − (K − k + 1)`` (k from 1) the row is any
    non-increasing ``b ≥ 0`` summing to ``amount − K(K+1)/2``; ``b`` is the isotonic fit of
    the shifted ideal (tail clamped at 0), floored, the missing units on the earliest years
    (adding 1 to a prefix keeps ``b`` non-increasing).
    """
    size = len(weights)
    rest = amount - size * (size + 1) // 2
    target = [Fraction(amount * w, SCALE) - (size - k) for k, w in enumerate(weights)]
    length = size
    while True:
        head = target[:length]
        shift = (rest - sum(head, Fraction(0))) / length
        fitted = [v + shift for v in _pava_nonincreasing(head)]
        if fitted[-1] >= 0 or length == 1:
            break
        length -= 1
    fitted += [Fraction(0)] * (size - length)
    base = [floor(v) for v in fitted]
    for k in range(rest - sum(base)):
        base[k] += 1
    return [b + size - k for k, b in enumerate(base)]


def _cost(vector: Sequence[int], amount: int, weights: Sequence[int]) -> int:
    """Σ |a_k − x_k|, times SCALE (an integer)."""
    return sum(abs(a * SCALE - amount * w) for a, w in zip(vector, weights, strict=True))


def _degressive(vector: Sequence[int]) -> bool:
    return vector[-1] >= 1 and all(a > b for a, b in zip(vector, vector[1:], strict=False))


def _within_one_unit(amount: int, floors: list[int], rems: list[int]) -> list[tuple[int, ...]]:
    """Every strictly degressive row summing to ``amount`` with ``|a_k − x_k| ≤ 1``."""
    size = len(floors)
    options = [(f, f + 1) if r else (f - 1, f, f + 1) for f, r in zip(floors, rems, strict=True)]
    low = [0] * (size + 1)
    high = [0] * (size + 1)
    for k in range(size - 1, -1, -1):
        low[k] = low[k + 1] + max(1, options[k][0])
        high[k] = high[k + 1] + options[k][-1]
    found: list[tuple[int, ...]] = []

    def walk(k: int, previous: int | None, left: int, vector: list[int]) -> None:
        if k == size:
            if left == 0:
                found.append(tuple(vector))
            return
        for value in options[k]:
            if value < 1 or (previous is not None and value >= previous):
                continue
            remaining = left - value
            if not low[k + 1] <= remaining <= high[k + 1]:
                continue
            vector.append(value)
            walk(k + 1, value, remaining, vector)
            vector.pop()

    walk(0, None, amount, [])
    return found


@dataclass
class _Table:
    vectors: list[list[int]]
    sums: list[int]
    #: rows fixed further than one unit from the ideal: index → max deviation (units)
    far: dict[int, Fraction]

    def fits(self, caps: Sequence[int]) -> bool:
        return all(s <= c for s, c in zip(self.sums, caps, strict=True))


def _round_table(amounts: Sequence[int], weights: Sequence[int], caps: Sequence[int]) -> _Table:
    """Round ``amounts[i] · weights[k] / SCALE`` (units; every amount ≥ K(K+1)/2) as a whole
    table: exact row sums, strictly degressive rows, column sums within ``caps`` when the
    rounding allows it (see the module docstring)."""
    size = len(weights)
    count = len(amounts)
    floors: list[list[int]] = []
    rems: list[list[int]] = []
    masks = [0] * count
    kinds = bytearray(count)
    valid: dict[int, set[int]] = {}
    fixed: dict[int, list[int]] = {}
    far: dict[int, Fraction] = {}
    need = [0] * count
    items: list[int] = []
    pairs = range(size - 1)
    for i, amount in enumerate(amounts):
        products = [amount * w for w in weights]
        row_floors = [p // SCALE for p in products]
        row_rems = [p % SCALE for p in products]
        floors.append(row_floors)
        rems.append(row_rems)
        missing = amount - sum(row_floors)
        if row_floors[-1] >= 1 and all(
            row_floors[k] > row_floors[k + 1] + (1 if row_rems[k + 1] else 0) for k in pairs
        ):
            # Free: any floor/ceiling choice is strictly degressive.
            if missing:
                need[i] = missing
                for k, r in enumerate(row_rems):
                    if r:
                        items.append(((SCALE - r) * count + i) * size + k)
            continue
        # Constrained: only some floor/ceiling choices are strictly degressive.
        positive = [k for k in range(size) if row_rems[k]]
        best = None
        allowed: set[int] = set()
        for chosen in combinations(positive, missing):
            vector = list(row_floors)
            mask = 0
            for k in chosen:
                vector[k] += 1
                mask |= 1 << k
            if _degressive(vector):
                allowed.add(mask)
                key = (_cost(vector, amount, weights), [-a for a in vector])
                if best is None or key < best[0]:
                    best = (key, mask)
        if best is not None:
            kinds[i] = _CONSTRAINED
            valid[i] = allowed
            masks[i] = best[1]
            continue
        kinds[i] = _FIXED
        near = _within_one_unit(amount, row_floors, row_rems)
        if near:
            vector = list(min(near, key=lambda v: (_cost(v, amount, weights), [-a for a in v])))
        else:
            vector = _nearest_degressive(amount, weights)
            deviation = max(
                abs(Fraction(a * SCALE - amount * w, SCALE))
                for a, w in zip(vector, weights, strict=True)
            )
            if deviation > 1:
                far[i] = deviation
        fixed[i] = vector

    # Column sums of the floors, the constrained rows' choices and the fixed rows.
    sums = [0] * size
    for i in range(count):
        if kinds[i] == _FIXED:
            vector = fixed[i]
            for k in range(size):
                sums[k] += vector[k]
        else:
            row_floors = floors[i]
            mask = masks[i]
            for k in range(size):
                sums[k] += row_floors[k] + (mask >> k & 1)

    # A year already over its envelope with the floors alone will overflow whatever the
    # rounding does: it takes the units nobody else can (the overflow stays where the
    # envelope is short instead of spilling a few units onto the other years).
    hopeless = [s > c for s, c in zip(sums, caps, strict=True)]
    limits = [sum(amounts) if h else c for h, c in zip(hopeless, caps, strict=True)]
    # Largest remainders first, while the year has room.
    items.sort()
    room = [c - s for c, s in zip(limits, sums, strict=True)]
    for key in items:
        k = key % size
        i = key // size % count
        if need[i] and room[k] > 0:
            need[i] -= 1
            room[k] -= 1
            masks[i] |= 1 << k
            sums[k] += 1
    # Units left over: the row's best remaining years (the repair moves them if it can).
    for i in range(count):
        if need[i]:
            row_rems = rems[i]
            order = sorted(
                (k for k in range(size) if row_rems[k] and not masks[i] >> k & 1),
                key=lambda k, r=row_rems: (-r[k], k),
            )
            for k in order[: need[i]]:
                masks[i] |= 1 << k
                sums[k] += 1
            need[i] = 0

    if any(s > c for s, c in zip(sums, limits, strict=True)):
        _repair(size, count, rems, masks, kinds, valid, sums, limits)
    if any(hopeless):
        # Then as little overflow as the rounding allows: units leave the hopeless years
        # for the room left elsewhere.
        _repair(size, count, rems, masks, kinds, valid, sums, caps)

    vectors: list[list[int]] = []
    for i in range(count):
        if kinds[i] == _FIXED:
            vectors.append(fixed[i])
        else:
            mask = masks[i]
            vectors.append([f + (mask >> k & 1) for k, f in enumerate(floors[i])])
    return _Table(vectors, sums, far)


def _repair(size, count, rems, masks, kinds, valid, sums, caps) -> None:
    """Move extra units out of the overflowing years along augmenting paths (in place)."""
    heaps: list[list[tuple[int, int, int]]] = [[] for _ in range(size * size)]
    versions = [0] * count

    def push_moves(i: int, push=heapq.heappush) -> None:
        """Every one-unit move of row ``i`` (cost: twice the remainder given up)."""
        mask = masks[i]
        row_rems = rems[i]
        version = versions[i]
        for k in range(size):
            if not mask >> k & 1:
                continue
            for j in range(size):
                if mask >> j & 1 or not row_rems[j]:
                    continue
                if kinds[i] == _CONSTRAINED and mask ^ (1 << k) ^ (1 << j) not in valid[i]:
                    continue
                push(heaps[k * size + j], (2 * (row_rems[k] - row_rems[j]), i, version))

    for i in range(count):
        if kinds[i] != _FIXED and masks[i]:
            push_moves(i, list.append)
    for heap in heaps:
        heapq.heapify(heap)

    def top(edge: int):
        heap = heaps[edge]
        while heap:
            entry = heap[0]
            if entry[2] == versions[entry[1]]:
                return entry
            heapq.heappop(heap)
        return None

    while True:
        sources = [k for k in range(size) if sums[k] > caps[k]]
        if not sources:
            return
        previous = [-1] * size
        seen = [False] * size
        queue = deque(sources)
        for k in sources:
            seen[k] = True
        target = -1
        while queue:
            k = queue.popleft()
            if sums[k] < caps[k]:
                target = k
                break
            for j in range(size):
                if not seen[j] and top(k * size + j) is not None:
                    seen[j] = True
                    previous[j] = k
                    queue.append(j)
        if target < 0:
            return  # no augmenting path: this overflow cannot be rounded away
        path = [target]
        while previous[path[-1]] >= 0:
            path.append(previous[path[-1]])
        path.reverse()
        edges = [path[n] * size + path[n + 1] for n in range(len(path) - 1)]
        popped = [(edge, heapq.heappop(heaps[edge])) for edge in edges]
        new_masks: dict[int, int] = {}
        for edge, (_, i, _) in popped:
            k, j = divmod(edge, size)
            new_masks[i] = new_masks.get(i, masks[i]) ^ (1 << k) ^ (1 << j)
        bad = next(
            (
                i
                for i, mask in new_masks.items()
                if kinds[i] == _CONSTRAINED and mask not in valid[i]
            ),
            None,
        )
        if bad is not None:
            # A constrained row used twice on the path would stop being degressive: drop
            # its second move from the candidates and try again.
            first = True
            for edge, entry in popped:
                if entry[1] == bad and not first:
                    continue
                if entry[1] == bad:
                    first = False
                heapq.heappush(heaps[edge], entry)
            continue
        sums[path[0]] -= 1
        sums[path[-1]] += 1
        for i, mask in new_masks.items():
            masks[i] = mask
            versions[i] += 1
            push_moves(i)


class _Tables:
    """Rounded tables of one call (weights, envelopes), cached by their funded amounts."""

    def __init__(self, weights: Sequence[int], caps: Sequence[int], minimum: int):
        self.weights = weights
        self.caps = caps
        self.minimum = minimum
        self._cache: dict[tuple[int, ...], _Table] = {}

    def of(self, granted: Iterable[int]) -> _Table:
        """The table of the funded amounts (0 = not funded, left out)."""
        key = tuple(a for a in granted if a)
        table = self._cache.get(key)
        if table is None:
            table = self._cache[key] = _round_table(key, self.weights, self.caps)
        return table

    def fits(self, granted: Iterable[int]) -> bool:
        return self.of(granted).fits(self.caps)


def _largest(low: int, high: int, test) -> int:
    """The largest ``v`` in ``[low, high]`` with ``test(v)``, ``test(low)`` being true and
    ``test`` assumed monotone (true then false)."""
    if test(high):
        return high
    high -= 1
    while low < high:
        middle = (low + high + 1) // 2
        if test(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _proportional(amounts: list[int], tables: _Tables) -> list[int]:
    """Every award times the same factor, rounded down to the unit (module docstring)."""
    weights, caps, minimum = tables.weights, tables.caps, tables.minimum
    total = sum(amounts)
    factor = Fraction(1)
    for w, cap in zip(weights, caps, strict=True):
        factor = min(factor, Fraction(cap * SCALE, total * w))
    step = 0
    while True:
        reduced = [a * factor.numerator // factor.denominator for a in amounts]
        reduced = [a if a >= minimum else 0 for a in reduced]
        table = tables.of(reduced)
        if table.fits(caps):
            return reduced
        # Only with constrained rows: lower the factor by the overflow, doubling each time.
        excess = sum(max(0, s - c) for s, c in zip(table.sums, caps, strict=True))
        kept = sum(reduced)
        factor = max(Fraction(0), factor * Fraction(kept - excess * 2**step, kept))
        step += 1


def _by_rank(amounts: list[int], tables: _Tables) -> list[int]:
    """Full awards in canonical order while they fit, then one partial (module docstring)."""
    weights, caps, minimum = tables.weights, tables.caps, tables.minimum
    count = len(amounts)
    size = len(weights)
    capacity = sum(caps)

    def necessary(base: list[int], total: int, amount: int) -> bool:
        """The floors fit and the total fits (necessary for a rounded table to fit)."""
        return total + amount <= capacity and all(
            base[k] + amount * weights[k] // SCALE <= caps[k] for k in range(size)
        )

    base = [0] * size
    total = 0
    limit = 0
    while limit < count and necessary(base, total, amounts[limit]):
        for k in range(size):
            base[k] += amounts[limit] * weights[k] // SCALE
        total += amounts[limit]
        limit += 1
    # The whole table did not fit (that is why we are here): at most count − 1 in full.
    limit = min(limit, count - 1)
    funded = _largest(0, limit, lambda m: tables.fits(amounts[:m]))
    result = amounts[:funded] + [0] * (count - funded)
    base = [sum(a * w // SCALE for a in amounts[:funded]) for w in weights]
    total = sum(amounts[:funded])
    upper = _largest(0, amounts[funded] - 1, lambda a: necessary(base, total, a))
    if upper >= minimum:
        head = amounts[:funded]
        partial = _largest(minimum - 1, upper, lambda a: a < minimum or tables.fits([*head, a]))
        result[funded] = partial if partial >= minimum else 0
    return result


# --- the schedule -------------------------------------------------------------------------


def compute_schedule(
    envelopes: Mapping[int, Decimal] | Iterable[tuple[int, Decimal]],
    awards: Iterable[ScheduleAward],
    *,
    unit: Decimal = Decimal(1),
    profile: Sequence[Decimal | str] | None = None,
) -> ScheduleResult:
    """The degressive schedules of ``awards`` within ``envelopes`` (module docstring)."""
    with localcontext() as context:
        context.prec = 60
        return _compute(envelopes, awards, unit, profile)


def _compute(envelopes, awards, unit, profile) -> ScheduleResult:
    years, checked_envelopes = _check_envelopes(envelopes)
    unit = _check_unit(unit)
    weights = _check_profile(profile, list(checked_envelopes.values()))
    size = len(years)
    integer_weights = [int(w.scaleb(PROFILE_PLACES)) for w in weights]
    caps = [int(checked_envelopes[y] // unit) for y in years]
    places = max([_places(unit)] + [_places(e) for e in checked_envelopes.values()])
    quantum = Decimal(1).scaleb(-places)
    minimum = size * (size + 1) // 2

    errors: dict[str, str] = {}
    valid: list[tuple[ScheduleAward, int]] = []
    for award in _check_awards(awards):
        units, remainder = divmod(award.amount, unit)
        if remainder:
            errors[award.id] = (
                f"Le montant {format_money(award.amount)} n'est pas un multiple de l'unité "
                f"d'arrondi ({format_money(unit)}) : il ne peut pas être réparti exactement "
                "en tranches de cette unité."
            )
        elif units < minimum:
            errors[award.id] = (
                f"Le montant {format_money(award.amount)} est trop faible pour {size} "
                f"tranche{'s' if size > 1 else ''} strictement dégressive"
                f"{'s' if size > 1 else ''} en multiples de {format_money(unit)} : il faut "
                f"au moins {format_money(minimum_amount(size, unit))} "
                f"({' + '.join(str(k) for k in range(size, 0, -1))} unités)."
            )
        else:
            valid.append((award, int(units)))

    amounts = [units for _, units in valid]
    tables = _Tables(integer_weights, caps, minimum)
    table = tables.of(amounts)

    def make_rows(vectors_of: Sequence[list[int] | None]) -> list[ScheduleRow]:
        rows = []
        for (award, _), vector in zip(valid, vectors_of, strict=True):
            if vector is None:
                tranches = {year: Decimal(0).quantize(quantum) for year in years}
            else:
                tranches = {
                    year: (unit * v).quantize(quantum)
                    for year, v in zip(years, vector, strict=True)
                }
            total = unit * sum(vector) if vector is not None else Decimal(0)
            rows.append(ScheduleRow(award.id, total.quantize(quantum), tranches))
        return rows

    rows = make_rows(table.vectors)
    totals = {year: (unit * table.sums[k]).quantize(quantum) for k, year in enumerate(years)}
    overflow = {
        year: max(Decimal(0), totals[year] - checked_envelopes[year]).quantize(quantum)
        for year in years
    }
    fits = not any(overflow.values())

    warnings: dict[str, str] = {}
    for i, deviation in table.far.items():
        award = valid[i][0]
        gap = (Decimal(deviation.numerator) / deviation.denominator * unit).quantize(
            Decimal("0.01")
        )
        warnings[award.id] = (
            f"Aucun échéancier strictement dégressif ne reste à moins d'une unité "
            f"({format_money(unit)}) de la répartition du profil : le plus proche s'en "
            f"écarte jusqu'à {format_money(gap)} sur une année."
        )

    alternatives = None
    if not fits:
        alternatives = {}
        for name, plan in (("proportional", _proportional), ("by_rank", _by_rank)):
            granted = plan(amounts, tables)
            vectors = iter(tables.of(granted).vectors)
            alternatives[name] = make_rows([next(vectors) if a else None for a in granted])

    return ScheduleResult(
        years=years,
        envelopes=checked_envelopes,
        unit=unit,
        profile=tuple(weights),
        quantum=quantum,
        fits=fits,
        rows=rows,
        totals=totals,
        overflow=overflow,
        errors=errors,
        warnings=warnings,
        alternatives=alternatives,
    )


# --- the JSON of ``grants schedule simulate`` (and of the API) ------------------------------


@dataclass(frozen=True)
class Simulation:
    """The parsed input of a simulation: ``compute_schedule(**simulation.arguments())``."""

    envelopes: dict[int, Decimal]
    awards: list[ScheduleAward]
    unit: Decimal
    profile: list[Decimal] | None

    def arguments(self) -> dict:
        return {
            "envelopes": self.envelopes,
            "awards": self.awards,
            "unit": self.unit,
            "profile": self.profile,
        }


_DECIMAL = re.compile(r"\d+(?:\.\d+)?")
_NEGATIVE = re.compile(r"-\d+(?:\.\d+)?")
_YEAR = re.compile(r"\d{4}")
_KEYS = ("envelopes", "unit", "profile", "awards")
_AWARD_KEYS = ("id", "amount", "rank")


def _decimal_string(value: object, what: str, example: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ScheduleInputError(f'{what} : attendu une chaîne décimale (par exemple "{example}").')
    if isinstance(value, int | float):
        raise ScheduleInputError(
            f'{what} : écrivez le nombre entre guillemets (par exemple "{example}") ; les '
            "nombres JSON sont refusés car ils peuvent être arrondis en binaire."
        )
    if not isinstance(value, str):
        raise ScheduleInputError(f'{what} : attendu une chaîne décimale (par exemple "{example}").')
    if _NEGATIVE.fullmatch(value):
        raise ScheduleInputError(f"{what} : la valeur ne peut pas être négative ({value}).")
    if not _DECIMAL.fullmatch(value):
        raise ScheduleInputError(
            f"{what} : « {value} » n'est pas un nombre décimal (chiffres et point décimal "
            f'uniquement, par exemple "{example}").'
        )
    try:
        return Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already checked it
        raise ScheduleInputError(f"{what} : « {value} » n'est pas un nombre décimal.") from exc


def parse_simulation(data: object) -> Simulation:
    """The simulation JSON (already decoded) → :class:`Simulation`; ScheduleInputError.

    ``{"envelopes": {"2016": "60000", …}, "unit": "1", "profile": null | ["0.4", …],
    "awards": [{"id": "A", "amount": "12000", "rank": 1}, …]}``; ``unit`` (default
    ``"1"``) and ``profile`` (default ``null``) may be left out; amounts and weights are
    strings (JSON numbers are refused), ranks integers.
    """
    if not isinstance(data, dict):
        raise ScheduleInputError(
            "Attendu un objet JSON avec les clés « envelopes », « unit », « profile » et "
            "« awards »."
        )
    unknown = [key for key in data if key not in _KEYS]
    if unknown:
        raise ScheduleInputError(
            f"Clé inconnue : « {unknown[0]} » (clés acceptées : {', '.join(_KEYS)})."
        )
    for key in ("envelopes", "awards"):
        if key not in data:
            raise ScheduleInputError(f"La clé « {key} » est obligatoire.")

    raw_envelopes = data["envelopes"]
    if not isinstance(raw_envelopes, dict) or not raw_envelopes:
        raise ScheduleInputError(
            "« envelopes » doit être un objet non vide année → montant, par exemple "
            '{"2016": "60000", "2017": "55000"}.'
        )
    envelopes: dict[int, Decimal] = {}
    for key, value in raw_envelopes.items():
        if not _YEAR.fullmatch(key) or not MIN_YEAR <= int(key) <= MAX_YEAR:
            raise ScheduleInputError(
                f"« envelopes » : « {key} » n'est pas une année (quatre chiffres entre "
                f'{MIN_YEAR} et {MAX_YEAR}, par exemple "2016").'
            )
        envelopes[int(key)] = _decimal_string(value, f"Enveloppe {key}", "60000")

    unit = Decimal(1)
    if data.get("unit") is not None:
        unit = _decimal_string(data["unit"], "« unit »", "1")

    profile = None
    raw_profile = data.get("profile")
    if raw_profile is not None:
        if not isinstance(raw_profile, list):
            raise ScheduleInputError(
                "« profile » doit valoir null (profil dérivé des enveloppes) ou une liste de "
                'poids, un par année, par exemple ["0.4", "0.33", "0.27"].'
            )
        if len(raw_profile) != len(envelopes):
            raise ScheduleInputError(
                f"« profile » : {len(raw_profile)} poids pour {len(envelopes)} année"
                f"{'s' if len(envelopes) > 1 else ''} ; indiquez un poids par année."
            )
        profile = [
            _decimal_string(w, f"Poids {n} du profil", "0.4")
            for n, w in enumerate(raw_profile, start=1)
        ]

    raw_awards = data["awards"]
    if not isinstance(raw_awards, list):
        raise ScheduleInputError(
            '« awards » doit être une liste, par exemple [{"id": "A", "amount": "12000", '
            '"rank": 1}].'
        )
    awards: list[ScheduleAward] = []
    for n, item in enumerate(raw_awards, start=1):
        if not isinstance(item, dict):
            raise ScheduleInputError(f"Aide n° {n} : attendu un objet {{id, amount, rank}}.")
        extra = [key for key in item if key not in _AWARD_KEYS]
        if extra:
            raise ScheduleInputError(
                f"Aide n° {n} : clé inconnue « {extra[0]} » (clés : id, amount, rank)."
            )
        missing = [key for key in _AWARD_KEYS if key not in item]
        if missing:
            raise ScheduleInputError(f"Aide n° {n} : la clé « {missing[0]} » est obligatoire.")
        award_id = item["id"]
        if not isinstance(award_id, str) or not award_id.strip():
            raise ScheduleInputError(
                f'Aide n° {n} : « id » doit être un texte non vide (par exemple "A").'
            )
        rank = item["rank"]
        if isinstance(rank, bool) or not isinstance(rank, int):
            raise ScheduleInputError(
                f"Aide « {award_id} » : « rank » doit être un nombre entier (par exemple 1)."
            )
        amount = _decimal_string(item["amount"], f"Aide « {award_id} »", "12000")
        if amount == 0:
            raise ScheduleInputError(f"Aide « {award_id} » : le montant doit être positif.")
        awards.append(ScheduleAward(award_id, amount, rank))
    # compute_schedule checks the rest (duplicates, profile, amounts' size).
    return Simulation(envelopes, awards, unit, profile)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise ScheduleInputError(f"La clé « {key} » figure deux fois dans un même objet.")
        result[key] = value
    return result


def parse_simulation_text(text: str) -> Simulation:
    """The simulation file's text → :class:`Simulation` (invalid JSON: ScheduleInputError)."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise ScheduleInputError(
            f"JSON invalide (ligne {exc.lineno}, colonne {exc.colno}) : {exc.msg}."
        ) from exc
    except RecursionError as exc:
        raise ScheduleInputError("JSON invalide : imbrication trop profonde.") from exc
    return parse_simulation(data)


def _row_json(row: ScheduleRow, quantum: Decimal) -> dict:
    return {
        "id": row.id,
        "tranches": {str(year): format_amount(v, quantum) for year, v in row.tranches.items()},
    }


def result_to_json(result: ScheduleResult) -> dict:
    """``{"fits", "schedules", "totals", "overflow"[, "alternatives"][, "errors"]
    [, "warnings"]}``, every amount a decimal string with the result's decimals."""
    quantum = result.quantum
    output: dict = {
        "fits": result.fits,
        "schedules": [_row_json(row, quantum) for row in result.rows],
        "totals": {str(y): format_amount(v, quantum) for y, v in result.totals.items()},
        "overflow": {str(y): format_amount(v, quantum) for y, v in result.overflow.items()},
    }
    if result.alternatives is not None:
        output["alternatives"] = {
            name: [_row_json(row, quantum) for row in rows]
            for name, rows in result.alternatives.items()
        }
    if result.errors:
        output["errors"] = dict(result.errors)
    if result.warnings:
        output["warnings"] = dict(result.warnings)
    return output


def simulate(data: object) -> dict:
    """Decoded simulation JSON → the output JSON (ScheduleInputError when invalid)."""
    return result_to_json(compute_schedule(**parse_simulation(data).arguments()))
