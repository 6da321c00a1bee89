"""Pure rules of an application: budget, funding plan, de minimis, eligibility.

No Flask, no database: the pages, the API and the staff views call these functions on
plain values (or on model rows, read through their attributes), so a file is judged the
same way everywhere, with the same French messages.

Decisions:

* **Budget** (Cerfa 12156, associative chart of accounts): charges are accounts 60–68,
  products 70–78; contributions in kind are 86 (their use, on the charges side) and 87
  (the contributions, on the products side). A year balances when total charges
  (60–68 + 86) equal total products (70–78 + 87) **and** 86 equals 87. The amount asked
  of this call's funder is a line 74 marked ``is_request``; every budget year of the call
  must carry one (the aid is spread over the years of the call, DESIGN §1).
* **Investment aid**: the funding plan (every co-funder, this funder included with the
  type ``authority``) must add up to the total cost of the programme; this funder's
  amount is at most ``max_share`` × the *eligible* expenses and at most the ceiling; its
  percentage is derived (of the eligible expenses, and of the total cost).
* **De minimis** (EU regulations 2023/2831 and 2023/2832): three *rolling* years. The
  window of a check made on day ``on`` runs from ``on`` minus three years (the same day
  and month three years earlier; 29 February → 28 February) **inclusive** to ``on``
  **inclusive**; aid dated after ``on`` is not counted. General de minimis aid is capped
  at 300,000 EUR; SGEI de minimis aid (services of general economic interest) at
  750,000 EUR, and the two may be cumulated up to 750,000 EUR. So a new *general* aid
  must keep general aid ≤ 300,000 and all aid ≤ 750,000; a new *SGEI* aid must keep all
  aid ≤ 750,000. The aid asked of the call is counted as general de minimis aid.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NamedTuple

from grants.core.money import format_money
from grants.organisations.rules import ESUS_DEPENDENT_FORMS, is_ess_form, siret_problem

ZERO = Decimal("0")
CENT = Decimal("0.01")
#: the largest amount a ``Numeric(14, 2)`` column holds
MAX_AMOUNT = Decimal("999999999999.99")

# --- Chart of accounts --------------------------------------------------------------------

CHARGE_ACCOUNTS = {
    "60": "Achats",
    "61": "Services extérieurs",
    "62": "Autres services extérieurs",
    "63": "Impôts et taxes",
    "64": "Charges de personnel",
    "65": "Autres charges de gestion courante",
    "66": "Charges financières",
    "67": "Charges exceptionnelles",
    "68": "Dotation aux amortissements",
}
PRODUCT_ACCOUNTS = {
    "70": "Vente de produits finis, prestations de services, marchandises",
    "71": "Production stockée",
    "72": "Production immobilisée",
    "73": "Dotations et produits de tarification",
    "74": "Subventions d'exploitation",
    "75": "Autres produits de gestion courante",
    "76": "Produits financiers",
    "77": "Produits exceptionnels",
    "78": "Reprises sur amortissements et provisions",
}
IN_KIND_USE = "86"
IN_KIND_CONTRIBUTION = "87"
IN_KIND_ACCOUNTS = {
    IN_KIND_USE: "Emplois des contributions volontaires en nature",
    IN_KIND_CONTRIBUTION: "Contributions volontaires en nature",
}
REQUEST_ACCOUNT = "74"
#: every account of the chart, with its label, in the order of the Cerfa form
ACCOUNTS = {**CHARGE_ACCOUNTS, **PRODUCT_ACCOUNTS, **IN_KIND_ACCOUNTS}


def account_kind(account: str) -> str:
    """``charge``, ``product`` or ``in_kind`` (``ValueError`` for an unknown account)."""
    if account in CHARGE_ACCOUNTS:
        return "charge"
    if account in PRODUCT_ACCOUNTS:
        return "product"
    if account in IN_KIND_ACCOUNTS:
        return "in_kind"
    raise ValueError(f"unknown account {account!r}")


def account_label(account: str) -> str:
    return f"{account} – {ACCOUNTS[account]}" if account in ACCOUNTS else account


class Problem(NamedTuple):
    """A reason why a file can't be submitted: a stable code and what to fix, in French."""

    code: str
    message: str


# --- Amounts ------------------------------------------------------------------------------

_SPACES = re.compile(r"[\s\u00a0\u202f]")


def parse_amount(value: Any) -> Decimal:
    """An amount typed by a person (``"12 500,50"``, ``"12500.5 €"``) → Decimal (cents).

    ``ValueError`` with a French message when it is not an amount of at most 2 decimals,
    is negative or too large.
    """
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, Decimal):
        number = value
    else:
        text = _SPACES.sub("", str(value if value is not None else "")).replace("€", "")
        text = text.replace(",", ".")
        if not text:
            raise ValueError("Indiquez un montant en euros.")
        if text.count(".") > 1 or not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
            raise ValueError("Indiquez un montant en euros, par exemple 12 500 ou 12 500,50.")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError("Indiquez un montant en euros, par exemple 12 500,50.") from None
    if not number.is_finite():
        raise ValueError("Indiquez un montant en euros, par exemple 12 500,50.")
    if number < 0:
        raise ValueError("Le montant ne peut pas être négatif.")
    if number != number.quantize(CENT, rounding=ROUND_HALF_UP):
        raise ValueError("Indiquez au plus 2 décimales (les centimes).")
    if number > MAX_AMOUNT:
        raise ValueError("Ce montant est trop grand.")
    return number.quantize(CENT)


def format_amount_input(value: Decimal | None) -> str:
    """``Decimal("12500.50")`` → ``"12500,50"``; whole euros without decimals."""
    if value is None:
        return ""
    value = Decimal(value)
    if value == value.to_integral_value():
        return f"{value.quantize(Decimal(1)):f}"
    return f"{value.quantize(CENT):f}".replace(".", ",")


def _amount(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _value(enum_or_str: Any) -> Any:
    return getattr(enum_or_str, "value", enum_or_str)


# --- Project budget (call for projects) ---------------------------------------------------


class Line(NamedTuple):
    """A budget line as plain values (the model ``BudgetLine`` has the same attributes)."""

    account: str
    amount: Decimal
    is_request: bool = False
    year: int | None = None
    label: str = ""


@dataclass(frozen=True)
class BudgetTotals:
    #: accounts 60–68
    charges: Decimal = ZERO
    #: accounts 70–78
    products: Decimal = ZERO
    #: account 86 (use of contributions in kind)
    in_kind_use: Decimal = ZERO
    #: account 87 (contributions in kind)
    in_kind_contributions: Decimal = ZERO
    #: line 74 amounts asked of this call's funder
    requested: Decimal = ZERO
    by_account: dict = field(default_factory=dict)

    @property
    def total_charges(self) -> Decimal:
        return self.charges + self.in_kind_use

    @property
    def total_products(self) -> Decimal:
        return self.products + self.in_kind_contributions

    @property
    def balance(self) -> Decimal:
        """Products minus charges: 0 when the budget balances."""
        return self.total_products - self.total_charges

    @property
    def in_kind_balanced(self) -> bool:
        return self.in_kind_use == self.in_kind_contributions

    @property
    def is_balanced(self) -> bool:
        return self.balance == 0 and self.in_kind_balanced


def budget_totals(lines: Iterable[Any]) -> BudgetTotals:
    """The totals of one year's lines (anything with ``account``, ``amount``, ``is_request``)."""
    charges = products = use = contributions = requested = ZERO
    by_account: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        account = str(_get(line, "account"))
        amount = _amount(_get(line, "amount"))
        kind = account_kind(account)
        by_account[account] += amount
        if kind == "charge":
            charges += amount
        elif kind == "product":
            products += amount
        elif account == IN_KIND_USE:
            use += amount
        else:
            contributions += amount
        if _get(line, "is_request", False) and account == REQUEST_ACCOUNT:
            requested += amount
    return BudgetTotals(charges, products, use, contributions, requested, dict(by_account))


def group_by_year(lines: Iterable[Any]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for line in lines:
        grouped[int(_get(line, "year"))].append(line)
    return dict(grouped)


def requested_by_year(lines: Iterable[Any]) -> dict[int, Decimal]:
    """The amount asked of the funder (line 74, ``is_request``) per year."""
    result: dict[int, Decimal] = {}
    for year, year_lines in sorted(group_by_year(lines).items()):
        result[year] = budget_totals(year_lines).requested
    return result


def budget_problems(
    lines_by_year: Mapping[int, Iterable[Any]], years: Iterable[int], funder: str = "la Métropole"
) -> list[Problem]:
    """What keeps the project budget of ``years`` from being complete and balanced."""
    problems: list[Problem] = []
    years = list(years)
    for year in years:
        lines = list(lines_by_year.get(year, []))
        if not lines:
            problems.append(
                Problem(
                    "budget_missing",
                    f"Budget {year} : saisissez les charges et les produits du projet pour {year}.",
                )
            )
            continue
        totals = budget_totals(lines)
        if totals.requested <= 0:
            problems.append(
                Problem(
                    "budget_request_missing",
                    f"Budget {year} : indiquez le montant demandé à {funder} "
                    f"(compte 74, subvention demandée) pour {year}.",
                )
            )
        if totals.balance != 0:
            if totals.balance < 0:
                gap = f"les charges dépassent les produits de {format_money(-totals.balance)}"
            else:
                gap = f"les produits dépassent les charges de {format_money(totals.balance)}"
            problems.append(
                Problem(
                    "budget_unbalanced",
                    f"Budget {year} non équilibré : total des charges "
                    f"{format_money(totals.total_charges)}, total des produits "
                    f"{format_money(totals.total_products)} ({gap}). "
                    "Ajustez les montants pour que les deux totaux soient égaux.",
                )
            )
        if not totals.in_kind_balanced:
            problems.append(
                Problem(
                    "budget_in_kind_unbalanced",
                    f"Budget {year} : les emplois des contributions en nature (compte 86, "
                    f"{format_money(totals.in_kind_use)}) doivent être égaux aux "
                    f"contributions volontaires en nature (compte 87, "
                    f"{format_money(totals.in_kind_contributions)}).",
                )
            )
    extra = sorted(set(lines_by_year) - set(years))
    for year in extra:
        if list(lines_by_year[year]):
            problems.append(
                Problem(
                    "budget_year_outside_call",
                    f"Le budget contient des lignes pour {year}, qui n'est pas une année "
                    "de l'appel : supprimez-les.",
                )
            )
    return problems


# --- Investment aid -----------------------------------------------------------------------


@dataclass(frozen=True)
class FundingPlan:
    total_cost: Decimal
    eligible_expenses: Decimal
    total_sources: Decimal
    #: the amount asked of this call's funder (sources of type ``authority``)
    authority_amount: Decimal
    #: the most this funder may give: min(share × eligible expenses, ceiling)
    max_aid: Decimal | None
    #: this funder's share of the eligible expenses, in percent (2 decimals), or None
    authority_percent_of_eligible: Decimal | None
    authority_percent_of_cost: Decimal | None

    @property
    def gap(self) -> Decimal:
        """Total cost minus funding: 0 when the plan balances."""
        return self.total_cost - self.total_sources


def _percent(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole <= 0:
        return None
    return (part * 100 / whole).quantize(CENT, rounding=ROUND_HALF_UP)


def funding_plan(
    expenses: Iterable[Any],
    sources: Iterable[Any],
    max_share: Decimal | None = None,
    ceiling: Decimal | None = None,
) -> FundingPlan:
    expenses = list(expenses)
    sources = list(sources)
    total = sum((_amount(_get(e, "amount")) for e in expenses), ZERO)
    eligible = sum(
        (_amount(_get(e, "amount")) for e in expenses if _get(e, "eligible", True)), ZERO
    )
    funded = sum((_amount(_get(s, "amount")) for s in sources), ZERO)
    authority = sum(
        (
            _amount(_get(s, "amount"))
            for s in sources
            if _value(_get(s, "funder_type")) == "authority"
        ),
        ZERO,
    )
    limits = []
    if max_share is not None:
        limits.append((eligible * _amount(max_share)).quantize(CENT, rounding=ROUND_HALF_UP))
    if ceiling is not None:
        limits.append(_amount(ceiling))
    return FundingPlan(
        total_cost=total,
        eligible_expenses=eligible,
        total_sources=funded,
        authority_amount=authority,
        max_aid=min(limits) if limits else None,
        authority_percent_of_eligible=_percent(authority, eligible),
        authority_percent_of_cost=_percent(authority, total),
    )


def funding_plan_problems(
    expenses: Iterable[Any],
    sources: Iterable[Any],
    max_share: Decimal | None,
    ceiling: Decimal | None,
    funder: str = "la Métropole",
) -> list[Problem]:
    """What keeps an investment's expenses and funding plan from being acceptable."""
    plan = funding_plan(expenses, sources, max_share, ceiling)
    problems: list[Problem] = []
    if plan.total_cost <= 0:
        problems.append(
            Problem(
                "expenses_missing",
                "Dépenses : saisissez les dépenses du programme d'investissement "
                "(libellé et montant de chacune).",
            )
        )
    elif plan.eligible_expenses <= 0:
        problems.append(
            Problem(
                "expenses_none_eligible",
                "Dépenses : aucune dépense n'est marquée éligible ; cochez « éligible » pour "
                "les dépenses que l'aide peut financer.",
            )
        )
    if plan.authority_amount <= 0:
        problems.append(
            Problem(
                "funding_request_missing",
                f"Plan de financement : ajoutez la ligne du montant demandé à {funder} "
                "(type « Métropole (ce dispositif) »).",
            )
        )
    if plan.total_cost > 0 and plan.gap != 0:
        if plan.gap > 0:
            gap = f"il manque {format_money(plan.gap)} de financements"
        else:
            gap = f"les financements dépassent le coût de {format_money(-plan.gap)}"
        problems.append(
            Problem(
                "funding_unbalanced",
                f"Plan de financement non équilibré : coût total {format_money(plan.total_cost)}, "
                f"financements {format_money(plan.total_sources)} ({gap}). Le total des "
                "financements doit être égal au coût total.",
            )
        )
    if max_share is not None and plan.eligible_expenses > 0:
        share_cap = (plan.eligible_expenses * _amount(max_share)).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        if plan.authority_amount > share_cap:
            percent = (_amount(max_share) * 100).normalize()
            problems.append(
                Problem(
                    "funding_share_exceeded",
                    f"Le montant demandé à {funder} ({format_money(plan.authority_amount)}) "
                    f"dépasse {format_percent(percent)} des dépenses éligibles "
                    f"({format_money(share_cap)}) : réduisez-le à {format_money(share_cap)} "
                    "au plus.",
                )
            )
    if ceiling is not None and plan.authority_amount > _amount(ceiling):
        problems.append(
            Problem(
                "funding_ceiling_exceeded",
                f"Le montant demandé à {funder} ({format_money(plan.authority_amount)}) dépasse "
                f"le plafond de l'aide ({format_money(_amount(ceiling))}).",
            )
        )
    return problems


def format_percent(value: Decimal | None) -> str:
    if value is None:
        return "—"
    text = f"{Decimal(value).quantize(CENT):f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") + " %"


# --- De minimis ---------------------------------------------------------------------------

DE_MINIMIS_CAPS = {"general": Decimal("300000"), "sgei": Decimal("750000")}
#: general and SGEI de minimis aid together (Regulation 2023/2832, art. 5)
DE_MINIMIS_COMBINED_CAP = DE_MINIMIS_CAPS["sgei"]
DE_MINIMIS_YEARS = 3


def years_before(day: date, years: int) -> date:
    """The same day ``years`` earlier (29 February → 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def de_minimis_window(on: date) -> tuple[date, date]:
    """The three rolling years of a check made on ``on``, both ends included."""
    return years_before(on, DE_MINIMIS_YEARS), on


class DeMinimisRoom(NamedTuple):
    #: aid counted in the window against the binding cap
    total_3y: Decimal
    #: the binding cap (300,000 or 750,000 EUR)
    cap: Decimal
    #: what may still be granted without passing a cap (never negative)
    room: Decimal
    #: the requested amount would pass a cap
    exceeds: bool


def de_minimis_room(
    aids: Iterable[tuple[date, Decimal, Any]],
    on: date,
    requested: Decimal,
    regime: Any = "general",
) -> DeMinimisRoom:
    """Room left under the de minimis caps for a new aid of ``requested`` (see module doc)."""
    regime = _value(regime)
    if regime not in DE_MINIMIS_CAPS:
        raise ValueError(f"unknown de minimis regime {regime!r}")
    start, end = de_minimis_window(on)
    general = combined = ZERO
    for granted_on, amount, aid_regime in aids:
        if start <= granted_on <= end:
            amount = _amount(amount)
            combined += amount
            if _value(aid_regime) == "general":
                general += amount
    # (counted total, cap) of every cap the new aid must respect
    constraints = [(combined, DE_MINIMIS_COMBINED_CAP)]
    if regime == "general":
        constraints.append((general, DE_MINIMIS_CAPS["general"]))
    total, cap = min(constraints, key=lambda c: c[1] - c[0])
    room = max(cap - total, ZERO)
    return DeMinimisRoom(total, cap, room, _amount(requested) > room)


# --- Eligibility --------------------------------------------------------------------------


@dataclass
class Facts:
    """Everything the eligibility checks read, as plain values."""

    call_kind: str
    call_years: list[int]
    eligible_legal_forms: list[str]
    call_sectors: list[str]
    ceiling: Decimal | None
    max_share: Decimal | None
    #: (id, label, mandatory) of the call's required documents
    required_documents: list[tuple[int, str, bool]]
    legal_form: str
    legal_form_label: str
    esus_approved: bool
    siret: str
    organisation_commune: str | None
    has_economic_activity: bool
    #: INSEE codes of the 28 communes
    communes: set[str]
    territory: list[str]
    #: ids of the required documents that have an attachment
    attached_document_ids: set[int]
    budget_lines: list[Any]
    expenses: list[Any]
    funding_sources: list[Any]
    #: (granted_on, amount, regime) of the organisation's declared de minimis aid
    de_minimis_aids: list[tuple[date, Decimal, Any]]
    today: date
    title: str = ""
    summary: str = ""
    objectives: str = ""
    sector: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    certified: bool = False
    signatory_name: str = ""
    signatory_role: str = ""
    funder: str = "la Métropole"
    legal_form_labels: dict[str, str] = field(default_factory=dict)


def requested_total(facts: Facts) -> Decimal:
    """What the file asks of the call's funder, over all the years."""
    if facts.call_kind == "investment_aid":
        return funding_plan(facts.expenses, facts.funding_sources).authority_amount
    return sum(requested_by_year(facts.budget_lines).values(), ZERO)


def legal_form_problem(facts: Facts) -> Problem | None:
    admitted = list(facts.eligible_legal_forms or [])
    form = facts.legal_form
    if admitted:
        allowed = form in admitted
    else:  # no list on the call: every ESS form
        allowed = is_ess_form(form, facts.esus_approved) or form in ESUS_DEPENDENT_FORMS
    if not allowed:
        names = ", ".join(facts.legal_form_labels.get(f, f) for f in admitted)
        detail = f" (formes admises : {names})" if names else ""
        return Problem(
            "legal_form",
            f"La forme juridique de la structure ({facts.legal_form_label}) n'est pas admise "
            f"par cet appel{detail}. Vérifiez la forme juridique sur la fiche de la structure.",
        )
    if form in ESUS_DEPENDENT_FORMS and not facts.esus_approved:
        return Problem(
            "esus_missing",
            "Une société commerciale n'est éligible qu'avec l'agrément ESUS (entreprise "
            "solidaire d'utilité sociale) : si la structure l'a obtenu, cochez « Agréée ESUS » "
            "sur sa fiche.",
        )
    return None


def project_problems(facts: Facts) -> list[Problem]:
    problems = []
    if not facts.title.strip():
        problems.append(Problem("title_missing", "Projet : indiquez l'intitulé du projet."))
    if not facts.summary.strip():
        problems.append(Problem("summary_missing", "Projet : rédigez le résumé du projet."))
    if not facts.objectives.strip():
        problems.append(Problem("objectives_missing", "Projet : décrivez les objectifs du projet."))
    if facts.call_sectors:
        if not facts.sector:
            problems.append(
                Problem("sector_missing", "Projet : choisissez le secteur prioritaire du projet.")
            )
        elif facts.sector not in facts.call_sectors:
            problems.append(
                Problem(
                    "sector_invalid",
                    f"Projet : le secteur « {facts.sector} » ne fait pas partie des secteurs "
                    "de l'appel ; choisissez-en un dans la liste.",
                )
            )
    if facts.start_date is None or facts.end_date is None:
        problems.append(
            Problem("dates_missing", "Projet : indiquez les dates de début et de fin du projet.")
        )
    elif facts.end_date < facts.start_date:
        problems.append(
            Problem(
                "dates_order",
                "Projet : la date de fin du projet précède sa date de début ; corrigez-les.",
            )
        )
    return problems


def attestation_problems(facts: Facts) -> list[Problem]:
    problems = []
    if not facts.signatory_name.strip() or not facts.signatory_role.strip():
        problems.append(
            Problem(
                "signatory_missing",
                "Attestation : indiquez le nom et la qualité du représentant légal "
                "(ou de la personne qu'il a mandatée).",
            )
        )
    if not facts.certified:
        problems.append(
            Problem(
                "certification_missing",
                "Attestation : cochez la case par laquelle le représentant légal certifie "
                "exactes les informations du dossier.",
            )
        )
    return problems


def eligibility_problems(facts: Facts) -> list[Problem]:
    """Every reason the file can't be submitted yet, each saying what to fix (DESIGN §4)."""
    problems: list[Problem] = []
    if (problem := legal_form_problem(facts)) is not None:
        problems.append(problem)
    if (message := siret_problem(facts.siret)) is not None:
        problems.append(
            Problem("siret_invalid", f"{message} Corrigez-le sur la fiche de la structure.")
        )
    in_metropolis = facts.organisation_commune in facts.communes
    project_inside = any(code in facts.communes for code in facts.territory)
    if not in_metropolis and not project_inside:
        problems.append(
            Problem(
                "territory",
                "La structure n'a pas son siège dans l'une des 28 communes de la métropole : "
                "indiquez, à l'étape « Projet », la ou les communes de la métropole où le "
                "projet se déroule.",
            )
        )
    problems.extend(project_problems(facts))

    if facts.call_kind == "investment_aid":
        problems.extend(
            funding_plan_problems(
                facts.expenses,
                facts.funding_sources,
                facts.max_share,
                facts.ceiling,
                facts.funder,
            )
        )
    else:
        problems.extend(
            budget_problems(group_by_year(facts.budget_lines), facts.call_years, facts.funder)
        )
    total = requested_total(facts)
    if (
        facts.ceiling is not None
        and facts.call_kind != "investment_aid"  # the funding plan checks its own ceiling
        and total > facts.ceiling
    ):
        problems.append(
            Problem(
                "ceiling_exceeded",
                f"Le montant total demandé ({format_money(total)}) dépasse le plafond de "
                f"l'appel ({format_money(facts.ceiling)}) : réduisez les montants demandés "
                "au compte 74.",
            )
        )
    if facts.has_economic_activity:
        room = de_minimis_room(facts.de_minimis_aids, facts.today, total)
        if room.exceeds:
            start, _end = de_minimis_window(facts.today)
            problems.append(
                Problem(
                    "de_minimis_exceeded",
                    f"De minimis : avec les aides déclarées depuis le "
                    f"{start.strftime('%d/%m/%Y')} ({format_money(room.total_3y)}), le montant "
                    f"demandé ({format_money(total)}) dépasserait le plafond de "
                    f"{format_money(room.cap)} sur trois ans glissants. Il reste "
                    f"{format_money(room.room)} disponibles : réduisez la demande ou vérifiez "
                    "les aides déclarées.",
                )
            )
    for doc_id, label, mandatory in facts.required_documents:
        if mandatory and doc_id not in facts.attached_document_ids:
            problems.append(
                Problem("document_missing", f"Pièces : joignez le document « {label} ».")
            )
    problems.extend(attestation_problems(facts))
    return problems


#: the step of the file where each problem is fixed
PROBLEM_STEPS = {
    "legal_form": "structure",
    "esus_missing": "structure",
    "siret_invalid": "structure",
    "territory": "projet",
    "title_missing": "projet",
    "summary_missing": "projet",
    "objectives_missing": "projet",
    "sector_missing": "projet",
    "sector_invalid": "projet",
    "dates_missing": "projet",
    "dates_order": "projet",
    "budget_missing": "budget",
    "budget_request_missing": "budget",
    "budget_unbalanced": "budget",
    "budget_in_kind_unbalanced": "budget",
    "budget_year_outside_call": "budget",
    "expenses_missing": "budget",
    "expenses_none_eligible": "budget",
    "funding_request_missing": "budget",
    "funding_unbalanced": "budget",
    "funding_share_exceeded": "budget",
    "funding_ceiling_exceeded": "budget",
    "ceiling_exceeded": "budget",
    "de_minimis_exceeded": "minimis",
    "document_missing": "pieces",
    "signatory_missing": "attestation",
    "certification_missing": "attestation",
}


def problems_by_step(problems: Iterable[Problem]) -> dict[str, list[Problem]]:
    result: dict[str, list[Problem]] = defaultdict(list)
    for problem in problems:
        result[PROBLEM_STEPS.get(problem.code, "deposer")].append(problem)
    return dict(result)


def reference(prefix: str, sequence: int) -> str:
    """``AAP-2016`` and 7 → ``AAP-2016-0007`` (4 digits at least)."""
    return f"{prefix}-{sequence:04d}"
