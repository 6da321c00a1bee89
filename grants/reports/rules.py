"""Pure rules of the annual reports (Cerfa 15059): gaps, totals, input, completeness, lateness.

No Flask, no database: the pages, the API, the reminders and the dashboards judge a report
the same way, with the same French messages.

Decisions:

* **Financial report.** One line per line of the application's budget for the report's
  year (account, label, planned amount), with the actual amount and an explanation. The
  planned amounts are copied into the report the first time it is saved, so a later
  change elsewhere never rewrites what the beneficiary reported against.
* **Gap.** A line has a gap when ``|actual − planned| > 10 % × planned``; a line planned at
  0 with an actual amount above 0 has one too. A line whose actual amount is not entered
  yet has none. Every gap needs an explanation before the report can be submitted.
* **Totals.** Charges are accounts 60–68 plus 86 (use of contributions in kind), products
  are 70–78 plus 87 — the sides of the Cerfa form. An actual amount not entered counts 0.
* **Indicators.** Jobs created, jobs maintained and people supported (whole numbers ≥ 0),
  plus the call's own indicators: the call has no list of them, so the beneficiary names
  them freely, ``{name: value}`` (at most 20; a name at most 100 characters, unique
  whatever the case; a value is free text — a number, a percentage, « 3 ateliers » — at
  most 200 characters).
* **Late.** A report is late when its due date (Europe/Paris) has passed and it is still
  to be handed in: due, or returned for corrections.
* **Due date.** Set when the report row is created with the convention's signature
  (:func:`grants.payments.rules.report_due_on`: the end of the call's
  ``report_due_month`` of the following year).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from grants.applications.rules import (
    ACCOUNTS,
    IN_KIND_CONTRIBUTION,
    IN_KIND_USE,
    account_kind,
    format_amount_input,
    parse_amount,
)

ZERO = Decimal("0")
#: a gap is a difference of more than this share of the planned amount
GAP_SHARE = Decimal("0.10")

DUE = "due"
SUBMITTED = "submitted"
ACCEPTED = "accepted"
RETURNED = "returned"
#: the allowed transitions (status values of ``ReportStatus``)
REPORT_TRANSITIONS: dict[str, frozenset[str]] = {
    DUE: frozenset({SUBMITTED}),
    RETURNED: frozenset({SUBMITTED}),
    SUBMITTED: frozenset({ACCEPTED, RETURNED}),
    ACCEPTED: frozenset(),
}
#: the beneficiary edits (and still owes) the report in these states
EDITABLE = frozenset({DUE, RETURNED})

MAX_ACTIVITY = 20_000
MAX_EXPLANATION = 2_000
MAX_COMMENT = 5_000
MAX_INDICATORS = 20
MAX_INDICATOR_NAME = 100
MAX_INDICATOR_VALUE = 200
MAX_COUNT = 1_000_000

COUNT_FIELDS = {
    "jobs_created": "le nombre d'emplois créés",
    "jobs_maintained": "le nombre d'emplois maintenus",
    "people_supported": "le nombre de personnes accompagnées",
}

GAP_MESSAGE = (
    "Écart de plus de 10 % avec le montant prévu : expliquez-le (obligatoire pour remettre "
    "le compte rendu)."
)
ACTUAL_MISSING = "Indiquez le montant réalisé (0 si rien n'a été dépensé ou perçu)."
ACTIVITY_MISSING = "Décrivez l'activité de l'année (compte rendu d'activité)."


def _value(status: Any) -> str:
    return str(getattr(status, "value", status))


def can_transition(status: Any, target: Any) -> bool:
    return _value(target) in REPORT_TRANSITIONS.get(_value(status), frozenset())


def is_editable(status: Any) -> bool:
    return _value(status) in EDITABLE


def is_late(status: Any, due_on: date, today: date) -> bool:
    """Past its due date and still owed (due, or returned for corrections)."""
    return _value(status) in EDITABLE and due_on < today


# --- gaps and totals ------------------------------------------------------------------------


def is_gap(planned: Decimal, actual: Decimal | None) -> bool:
    """More than 10 % away from the planned amount (planned 0: any actual amount above 0)."""
    if actual is None:
        return False
    if planned == 0:
        return actual > 0
    return abs(actual - planned) * 10 > planned  # |a − p| > p / 10, exactly, no rounding


def side(account: str) -> str:
    """``charges`` (60–68 and 86) or ``products`` (70–78 and 87)."""
    kind = account_kind(account)
    if kind == "charge" or account == IN_KIND_USE:
        return "charges"
    if kind == "product" or account == IN_KIND_CONTRIBUTION:
        return "products"
    raise ValueError(f"unknown account {account!r}")  # pragma: no cover (account_kind raised)


@dataclass(frozen=True)
class FinancialLine:
    """One line of the financial report; ``actual`` None until entered."""

    account: str
    label: str
    planned: Decimal
    actual: Decimal | None = None
    explanation: str = ""

    @property
    def gap(self) -> bool:
        return is_gap(self.planned, self.actual)

    @property
    def difference(self) -> Decimal | None:
        return None if self.actual is None else self.actual - self.planned

    @property
    def side(self) -> str:
        return side(self.account)

    @property
    def account_label(self) -> str:
        return f"{self.account} – {ACCOUNTS.get(self.account, '')}".rstrip(" –")

    def as_json(self) -> dict[str, str | None]:
        return {
            "account": self.account,
            "label": self.label,
            "planned": _money_str(self.planned),
            "actual": None if self.actual is None else _money_str(self.actual),
            "explanation": self.explanation,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FinancialLine:
        actual = data.get("actual")
        return cls(
            account=str(data.get("account", "")),
            label=str(data.get("label") or ""),
            planned=Decimal(str(data.get("planned") or "0")),
            actual=None if actual in (None, "") else Decimal(str(actual)),
            explanation=str(data.get("explanation") or ""),
        )


def _money_str(amount: Decimal) -> str:
    return format(amount.quantize(Decimal("0.01")), "f")


@dataclass(frozen=True)
class Totals:
    charges_planned: Decimal = ZERO
    charges_actual: Decimal = ZERO
    products_planned: Decimal = ZERO
    products_actual: Decimal = ZERO

    @property
    def planned_balance(self) -> Decimal:
        return self.products_planned - self.charges_planned

    @property
    def actual_balance(self) -> Decimal:
        """Products minus charges actually realised (a surplus when positive)."""
        return self.products_actual - self.charges_actual

    def as_json(self) -> dict[str, str]:
        return {
            "charges_planned": _money_str(self.charges_planned),
            "charges_actual": _money_str(self.charges_actual),
            "products_planned": _money_str(self.products_planned),
            "products_actual": _money_str(self.products_actual),
        }


def totals(lines: Iterable[FinancialLine]) -> Totals:
    """Planned and actual per side (an actual amount not entered counts 0)."""
    sums = {"charges": [ZERO, ZERO], "products": [ZERO, ZERO]}
    for line in lines:
        pair = sums[line.side]
        pair[0] += line.planned
        pair[1] += line.actual or ZERO
    return Totals(
        charges_planned=sums["charges"][0],
        charges_actual=sums["charges"][1],
        products_planned=sums["products"][0],
        products_actual=sums["products"][1],
    )


def planned_lines(budget_lines: Iterable[Any]) -> list[FinancialLine]:
    """The lines of a report from the application's budget lines of its year (anything
    with ``account``, ``label``, ``amount``), charges first, in the budget's order."""
    rows = [
        FinancialLine(
            account=str(line.account),
            label=str(line.label or ""),
            planned=Decimal(line.amount),
        )
        for line in budget_lines
    ]
    return sorted(rows, key=lambda line: 0 if line.side == "charges" else 1)


def report_lines(stored: Sequence[Mapping[str, Any]] | None, budget_lines: Iterable[Any]):
    """What the report shows: the stored lines once saved, else the planned budget."""
    if stored:
        return [FinancialLine.from_json(row) for row in stored]
    return planned_lines(budget_lines)


# --- input ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportValues:
    """What the beneficiary entered (parsed): the activity, the financial lines, the
    indicators."""

    activity: str = ""
    lines: tuple[FinancialLine, ...] = ()
    jobs_created: int | None = None
    jobs_maintained: int | None = None
    people_supported: int | None = None
    indicators: dict[str, str] = field(default_factory=dict)


def _text(value: Any) -> str:
    return "" if value is None else str(value).replace("\r\n", "\n").strip()


def parse_count(value: Any) -> int | None:
    """A whole number ≥ 0 (``"12"``, ``12``); empty → None. ValueError in French."""
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise ValueError("Indiquez un nombre entier positif ou nul.")
        return None
    if isinstance(value, int):
        number = value
    else:
        text = "".join(str(value).split())
        if not text:
            return None
        if not text.isdigit():
            raise ValueError("Indiquez un nombre entier positif ou nul (ex. 3).")
        number = int(text)
    if number < 0:
        raise ValueError("Indiquez un nombre entier positif ou nul (ex. 3).")
    if number > MAX_COUNT:
        raise ValueError("Ce nombre est trop grand.")
    return number


def parse_indicators(pairs: Iterable[tuple[Any, Any]]) -> tuple[dict[str, str], dict]:
    """``[(name, value), …]`` (empty pairs ignored) → ``({name: value}, errors)``; the
    errors are keyed ``indicator_name_<i>`` / ``indicator_value_<i>`` (i = the pair's
    position)."""
    result: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    for i, (raw_name, raw_value) in enumerate(pairs):
        name = " ".join(_text(raw_name).split())
        value = _text(raw_value)
        if not name and not value:
            continue
        if not name:
            errors[f"indicator_name_{i}"] = ["Nommez cet indicateur."]
            continue
        if len(name) > MAX_INDICATOR_NAME:
            errors[f"indicator_name_{i}"] = [f"{MAX_INDICATOR_NAME} caractères au plus."]
            continue
        if name.casefold() in seen:
            errors[f"indicator_name_{i}"] = ["Cet indicateur figure déjà plus haut."]
            continue
        if not value:
            errors[f"indicator_value_{i}"] = ["Indiquez la valeur de cet indicateur."]
            continue
        if len(value) > MAX_INDICATOR_VALUE:
            errors[f"indicator_value_{i}"] = [f"{MAX_INDICATOR_VALUE} caractères au plus."]
            continue
        seen.add(name.casefold())
        result[name] = value
    if len(result) > MAX_INDICATORS:
        errors["indicators"] = [f"{MAX_INDICATORS} indicateurs au plus."]
    return result, errors


def parse_report(
    raw: Mapping[str, Any], lines: Sequence[FinancialLine]
) -> tuple[ReportValues, dict[str, list[str]]]:
    """Read what was typed. ``raw`` holds ``activity``, ``actual_<i>`` and
    ``explanation_<i>`` for each line ``i`` of ``lines`` (the planned side), the three
    counts and ``indicators`` (a list of ``(name, value)`` pairs). Returns the values and
    the format errors per field (empty when everything could be read)."""
    errors: dict[str, list[str]] = {}
    activity = _text(raw.get("activity"))
    if len(activity) > MAX_ACTIVITY:
        errors["activity"] = [f"{MAX_ACTIVITY} caractères au plus."]
    parsed: list[FinancialLine] = []
    for i, line in enumerate(lines):
        text = raw.get(f"actual_{i}")
        actual: Decimal | None = None
        if text is not None and _text(text) != "":
            try:
                actual = parse_amount(text if isinstance(text, Decimal) else _text(text))
            except ValueError as exc:
                errors[f"actual_{i}"] = [str(exc)]
        explanation = _text(raw.get(f"explanation_{i}"))
        if len(explanation) > MAX_EXPLANATION:
            errors[f"explanation_{i}"] = [f"{MAX_EXPLANATION} caractères au plus."]
        parsed.append(replace(line, actual=actual, explanation=explanation))
    counts: dict[str, int | None] = {}
    for name in COUNT_FIELDS:
        try:
            counts[name] = parse_count(raw.get(name))
        except ValueError as exc:
            errors[name] = [str(exc)]
            counts[name] = None
    indicators, indicator_errors = parse_indicators(raw.get("indicators") or [])
    errors.update(indicator_errors)
    values = ReportValues(
        activity=activity,
        lines=tuple(parsed),
        indicators=indicators,
        **counts,
    )
    return values, errors


def raw_from_values(values: ReportValues) -> dict[str, Any]:
    """The ``raw`` mapping that :func:`parse_report` reads back into ``values``."""
    raw: dict[str, Any] = {"activity": values.activity}
    for i, line in enumerate(values.lines):
        raw[f"actual_{i}"] = "" if line.actual is None else format_amount_input(line.actual)
        raw[f"explanation_{i}"] = line.explanation
    for name in COUNT_FIELDS:
        number = getattr(values, name)
        raw[name] = "" if number is None else str(number)
    raw["indicators"] = list(values.indicators.items())
    return raw


def submission_problems(values: ReportValues) -> dict[str, list[str]]:
    """What keeps a report from being handed in, per field (French messages)."""
    problems: dict[str, list[str]] = {}
    if not values.activity:
        problems["activity"] = [ACTIVITY_MISSING]
    for i, line in enumerate(values.lines):
        if line.actual is None:
            problems[f"actual_{i}"] = [ACTUAL_MISSING]
        elif line.gap and not line.explanation:
            problems[f"explanation_{i}"] = [GAP_MESSAGE]
    for name, what in COUNT_FIELDS.items():
        if getattr(values, name) is None:
            problems[name] = [f"Indiquez {what} (0 s'il n'y en a pas)."]
    return problems
