"""Payment conditions and the arithmetic of tranches, payments and recoveries (pure).

No Flask, no database: plain values in, Decimals and French sentences out, so that the
rules can be property-tested (``tests/payments/test_rules.py``) and the operations only
apply them.

**What can be paid on a tranche, and when** (the call's payment conditions):

* Nothing before the convention is signed, nothing on a cancelled tranche.
* *Call for projects* (operating aid):

  - the **first** tranche: an advance of ``advance_share × amount`` (rounded down to the
    cent) from the signature; its **balance** is released by the acceptance of that
    year's report when the call releases on reports (``release_on_report``), or else
    once that year is over (from 1 January of the next year) — the usual "advance at
    signature, balance after the year" of a French subsidy agreement;
  - every **later** tranche is released whole from 1 January of its year, and, when the
    call releases on reports, only once the report of the previous tranche's year is
    accepted.

* *Investment aid*: paid on justifying invoices. Staff accept invoices; what the award
  may have asked for in all is ``Σ accepted invoices × share`` (the award's share of the
  eligible expenses, rounded down to the cent); a tranche pays at most that, minus what
  the award's tranches already asked, within the tranche, from 1 January of its year
  (advance and report conditions don't apply).

The ceiling is *cumulative* (``released``: how much of the tranche may have been asked
for in all); what can be asked now is ``released − requested``. The operations put the
ceiling in the conditional UPDATE itself (``requested + x <= min(amount, released)``), so
two requests at the same moment can't both take the same room.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal

from grants.core.money import format_money

ZERO = Decimal("0")
CENT = Decimal("0.01")


def cents_down(value: Decimal) -> Decimal:
    """Round down to the cent: an allowance is never rounded up."""
    return value.quantize(CENT, rounding=ROUND_DOWN)


# --- What can be paid ------------------------------------------------------------------


@dataclass(frozen=True)
class Conditions:
    """The call's payment conditions, as plain values."""

    #: share of the first tranche paid at signature (0 ≤ share ≤ 1)
    advance_share: Decimal = Decimal("1")
    #: later tranches (and the first tranche's balance) wait for the reports
    release_on_report: bool = True
    #: investment aid: paid on accepted invoices
    investment: bool = False
    #: investment aid: the award's share of the eligible expenses (0 < share ≤ 1)
    expense_share: Decimal | None = None


@dataclass(frozen=True)
class TrancheState:
    year: int
    amount: Decimal
    requested: Decimal = ZERO
    paid: Decimal = ZERO
    cancelled: bool = False


@dataclass(frozen=True)
class AwardState:
    """What the conditions depend on, for one award."""

    #: the award's tranches (any order)
    tranches: tuple[TrancheState, ...]
    convention_signed: bool
    #: years whose annual report is accepted
    accepted_report_years: frozenset[int] = frozenset()
    #: investment aid: Σ of the accepted invoices' eligible amounts
    accepted_invoices: Decimal = ZERO

    @property
    def first_year(self) -> int | None:
        years = [t.year for t in self.tranches if not t.cancelled]
        return min(years) if years else None

    @property
    def requested_total(self) -> Decimal:
        return sum((t.requested for t in self.tranches), ZERO)

    def previous_year(self, year: int) -> int | None:
        earlier = [t.year for t in self.tranches if t.year < year and not t.cancelled]
        return max(earlier) if earlier else None


@dataclass(frozen=True)
class Allowance:
    """What can be asked for on a tranche now."""

    #: how much of the tranche may have been asked for in all, now (≤ amount)
    released: Decimal
    #: what can be asked for now: ``released − requested`` (never negative)
    payable: Decimal
    #: ``amount − requested``: what is left on the tranche, whatever the conditions
    remaining: Decimal
    #: why not more, in French (empty when the whole remaining amount is payable)
    reasons: tuple[str, ...] = field(default_factory=tuple)


def justified_ceiling(accepted_invoices: Decimal, share: Decimal | None) -> Decimal:
    """Investment aid: what accepted invoices allow the award to ask for in all."""
    if share is None or share <= 0:
        return ZERO
    return cents_down(accepted_invoices * min(share, Decimal("1")))


def allowance(
    tranche: TrancheState, award: AwardState, conditions: Conditions, today: date
) -> Allowance:
    """What can be asked for on ``tranche`` on ``today`` (see the module's doc)."""
    remaining = max(tranche.amount - tranche.requested, ZERO)
    reasons: list[str] = []

    def result(released: Decimal) -> Allowance:
        released = min(max(released, ZERO), tranche.amount)
        payable = min(max(released - tranche.requested, ZERO), remaining)
        return Allowance(
            released, payable, remaining, tuple(reasons) if payable < remaining else ()
        )

    if tranche.cancelled:
        reasons.append("La tranche est annulée.")
        return result(tranche.requested)
    if not award.convention_signed:
        reasons.append("La convention n'est pas encore signée.")
        return result(tranche.requested)

    first = award.first_year
    is_first = first is None or tranche.year <= first
    year_open = today >= date(tranche.year, 1, 1)

    if conditions.investment:
        if not is_first and not year_open:
            reasons.append(f"La tranche {tranche.year} est payable à partir du 1er janvier.")
            return result(tranche.requested)
        ceiling = justified_ceiling(award.accepted_invoices, conditions.expense_share)
        room = max(ceiling - award.requested_total, ZERO)
        if room < remaining:
            reasons.append(
                "Les factures acceptées justifient "
                f"{format_money(ceiling)} d'aide en tout, dont "
                f"{format_money(min(award.requested_total, ceiling))} déjà demandés : "
                "déposez et faites accepter d'autres factures pour aller au-delà."
            )
        return result(tranche.requested + room)

    if is_first:
        advance = cents_down(tranche.amount * conditions.advance_share)
        if conditions.release_on_report:
            balance_free = tranche.year in award.accepted_report_years
            why = (
                f"Le solde de la tranche {tranche.year} est versé après l'acceptation du "
                f"compte rendu {tranche.year}."
            )
        else:
            balance_free = today >= date(tranche.year + 1, 1, 1)
            why = (
                f"Le solde de la tranche {tranche.year} est versé à partir du "
                f"1er janvier {tranche.year + 1}."
            )
        if balance_free:
            return result(tranche.amount)
        if advance < tranche.amount:
            reasons.append(
                f"Avance de {percent(conditions.advance_share)} à la signature "
                f"({format_money(advance)}). {why}"
            )
        return result(advance)

    if not year_open:
        reasons.append(
            f"La tranche {tranche.year} est payable à partir du 1er janvier {tranche.year}."
        )
        return result(tranche.requested)
    if conditions.release_on_report:
        previous = award.previous_year(tranche.year)
        if previous is not None and previous not in award.accepted_report_years:
            reasons.append(
                f"La tranche {tranche.year} est versée après l'acceptation du compte rendu "
                f"{previous}."
            )
            return result(tranche.requested)
    return result(tranche.amount)


def percent(share: Decimal) -> str:
    value = (share * 100).quantize(Decimal("0.01")).normalize()
    text = f"{value:f}".replace(".", ",")
    return f"{text} %"


# --- Requests, reductions, recoveries -------------------------------------------------


class RuleError(ValueError):
    """A refused change, in French."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def check_request(amount: Decimal, allowed: Allowance) -> None:
    """A payment of ``amount`` on a tranche whose allowance is ``allowed``."""
    if amount <= 0:
        raise RuleError("Le montant du versement doit être supérieur à 0 €.")
    if amount != amount.quantize(CENT):
        raise RuleError("Le montant est en euros et centimes (deux décimales au plus).")
    if amount > allowed.remaining:
        raise RuleError(
            f"Le versement dépasserait la tranche : il reste {format_money(allowed.remaining)} "
            "à demander sur cette tranche."
        )
    if amount > allowed.payable:
        why = " ".join(allowed.reasons)
        raise RuleError(
            f"Montant trop élevé : {format_money(allowed.payable)} au plus peuvent être "
            f"demandés aujourd'hui sur cette tranche.{(' ' + why) if why else ''}"
        )


@dataclass(frozen=True)
class TrancheChange:
    new_amount: Decimal
    #: new − old: what the award's allocated total moves by
    delta: Decimal


def tranche_change(
    amount: Decimal,
    requested: Decimal,
    new_amount: Decimal,
    award_total: Decimal,
    allocated_total: Decimal,
) -> TrancheChange:
    """A tranche's amount set to ``new_amount``: never below what is already requested,
    never so high that the award's tranches pass its total."""
    if new_amount < 0:
        raise RuleError("Le montant de la tranche ne peut pas être négatif.")
    if new_amount != new_amount.quantize(CENT):
        raise RuleError("Le montant est en euros et centimes (deux décimales au plus).")
    if new_amount < requested:
        raise RuleError(
            "Le montant de la tranche ne peut pas descendre sous ce qui est déjà demandé "
            f"({format_money(requested)}) : annulez d'abord les versements non payés."
        )
    delta = new_amount - amount
    if allocated_total + delta > award_total:
        raise RuleError(
            f"Les tranches dépasseraient le montant de l'aide ({format_money(award_total)}) : "
            f"au plus {format_money(amount + award_total - allocated_total)} pour cette tranche."
        )
    return TrancheChange(new_amount, delta)


def recovery_room(paid_total: Decimal, recoveries: Iterable[Decimal]) -> Decimal:
    """What can still be recovered: what was paid, minus the recoveries not cancelled."""
    return max(paid_total - sum(recoveries, ZERO), ZERO)


def check_recovery(amount: Decimal, paid_total: Decimal, recoveries: Iterable[Decimal]) -> None:
    room = recovery_room(paid_total, recoveries)
    if amount <= 0:
        raise RuleError("Le montant du reversement doit être supérieur à 0 €.")
    if amount != amount.quantize(CENT):
        raise RuleError("Le montant est en euros et centimes (deux décimales au plus).")
    if amount > room:
        raise RuleError(
            "Le reversement dépasse ce qui a été versé : au plus "
            f"{format_money(room)} peuvent encore être demandés "
            f"(versé : {format_money(paid_total)})."
        )


# --- Statuses and dates ----------------------------------------------------------------


def tranche_status(
    amount: Decimal, paid: Decimal, pending_requested: int, pending_validated: int
) -> str:
    """The tranche's status from its figures and its payments not yet paid.

    ``cancelled`` when nothing is left of it (amount 0); ``paid`` when all is paid;
    ``requested`` while a payment waits for validation; ``validated`` when a validated
    payment waits to be paid or part of the tranche is paid (a partly paid tranche is
    locked against recomputation); else ``planned``.
    """
    if amount <= 0:
        return "cancelled"
    if paid >= amount:
        return "paid"
    if pending_requested:
        return "requested"
    if pending_validated or paid > 0:
        return "validated"
    return "planned"


def award_settled(tranches: Iterable[TrancheState]) -> bool:
    """Everything paid or cancelled: every tranche's paid amount is its amount (a
    cancelled tranche's amount is what was paid of it) and nothing waits to be paid."""
    rows = list(tranches)
    return bool(rows) and all(t.paid == t.amount and t.requested == t.paid for t in rows)


def report_due_on(year: int, month: int) -> date:
    """The report of ``year`` is due on the last day of ``month`` of the next year."""
    return date(year + 1, month, calendar.monthrange(year + 1, month)[1])


def expense_share(
    award_total: Decimal, eligible_expenses: Decimal, call_share: Decimal | None
) -> Decimal | None:
    """The award's share of the eligible expenses (investment aid): the awarded total over
    the eligible expenses, at most 1; the call's maximum share when there are none."""
    if eligible_expenses > 0:
        return min(award_total / eligible_expenses, Decimal("1"))
    return call_share


def describe_conditions(conditions: Conditions, years: list[int], report_month: int) -> list[str]:
    """The payment conditions in French, one sentence per rule (convention, pages)."""
    years = sorted(years)
    if not years:
        return []
    first = years[0]
    month = MONTHS[report_month - 1]
    if conditions.investment:
        share = (
            f" à hauteur de {percent(conditions.expense_share)} de leur montant éligible"
            if conditions.expense_share
            else ""
        )
        lines = [
            "L'aide est versée sur justificatifs : le bénéficiaire dépose ses factures "
            f"acquittées, qui sont retenues{share} une fois acceptées par le service.",
            "Chaque versement est limité au montant de la tranche de l'année et à ce que "
            "justifient les factures acceptées, déduction faite des versements déjà demandés.",
        ]
        if len(years) > 1:
            lines.append(
                "Chaque tranche annuelle est payable à partir du 1er janvier de son année."
            )
        return lines
    advance = conditions.advance_share
    lines = []
    if advance >= 1:
        lines.append(f"La tranche {first} est versée en totalité à la signature de la convention.")
    else:
        balance = (
            f"après l'acceptation du compte rendu {first}"
            if conditions.release_on_report
            else f"à partir du 1er janvier {first + 1}"
        )
        if advance > 0:
            lines.append(
                f"Tranche {first} : une avance de {percent(advance)} est versée à la "
                f"signature de la convention ; le solde est versé {balance}."
            )
        else:
            lines.append(f"La tranche {first} est versée {balance}.")
    for previous, year in zip(years, years[1:], strict=False):
        if conditions.release_on_report:
            lines.append(
                f"La tranche {year} est versée à partir du 1er janvier {year}, après "
                f"l'acceptation du compte rendu {previous}."
            )
        else:
            lines.append(f"La tranche {year} est versée à partir du 1er janvier {year}.")
    lines.append(
        f"Chaque compte rendu annuel est attendu au plus tard le dernier jour de {month} "
        "de l'année suivante."
    )
    return lines


MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip
