"""Pure rules: budget balance, funding plan, de minimis window and caps, eligibility."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from grants.applications import rules
from grants.applications.rules import Line

D = Decimal
CHARGES = sorted(rules.CHARGE_ACCOUNTS)
PRODUCTS = sorted(rules.PRODUCT_ACCOUNTS)

amounts = st.decimals(min_value=0, max_value=D("9999999.99"), places=2, allow_nan=False)
positive = st.decimals(min_value=D("0.01"), max_value=D("9999999.99"), places=2)
lines_st = st.lists(
    st.builds(
        Line,
        account=st.sampled_from(list(rules.ACCOUNTS)),
        amount=amounts,
        is_request=st.booleans(),
    ),
    max_size=25,
)


# --- Chart and amounts --------------------------------------------------------------------


def test_chart_of_accounts_is_the_cerfa_one():
    assert list(rules.CHARGE_ACCOUNTS) == [f"6{i}" for i in range(9)]
    assert list(rules.PRODUCT_ACCOUNTS) == [f"7{i}" for i in range(9)]
    assert rules.ACCOUNTS["64"] == "Charges de personnel"
    assert rules.ACCOUNTS["74"] == "Subventions d'exploitation"
    assert rules.ACCOUNTS["86"] == "Emplois des contributions volontaires en nature"
    assert rules.ACCOUNTS["87"] == "Contributions volontaires en nature"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("12 500", D("12500.00")), ("12500,5", D("12500.50")), ("1\u202f000,00 €", D("1000.00"))],
)
def test_parse_amount_reads_french_input(typed, expected):
    assert rules.parse_amount(typed) == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("-5", "négatif"),
        ("12,345", "2 décimales"),
        ("douze", "montant en euros"),
        ("1.2.3", "montant en euros"),
        ("9" * 14, "trop grand"),
    ],
)
def test_parse_amount_refuses_with_a_french_message(typed, message):
    with pytest.raises(ValueError, match=message):
        rules.parse_amount(typed)


@given(amounts)
def test_amount_input_round_trips(amount):
    assert rules.parse_amount(rules.format_amount_input(amount)) == amount


# --- Budget balance (property tests) ------------------------------------------------------


@given(lines_st)
def test_totals_add_up_by_side(lines):
    totals = rules.budget_totals(lines)
    assert totals.charges == sum((x.amount for x in lines if x.account in CHARGES), D(0))
    assert totals.products == sum((x.amount for x in lines if x.account in PRODUCTS), D(0))
    assert totals.total_charges == totals.charges + totals.in_kind_use
    assert totals.total_products == totals.products + totals.in_kind_contributions
    # only line 74 can carry the request
    assert totals.requested == sum(
        (x.amount for x in lines if x.is_request and x.account == "74"), D(0)
    )
    assert totals.is_balanced == (
        totals.total_charges == totals.total_products
        and totals.in_kind_use == totals.in_kind_contributions
    )


@given(lines_st, st.permutations(range(25)))
def test_totals_do_not_depend_on_the_order(lines, order):
    shuffled = [lines[i] for i in order if i < len(lines)]
    assert rules.budget_totals(shuffled) == rules.budget_totals(lines)


@given(lines_st, positive)
def test_a_balancing_line_balances_and_a_request_completes(lines, request):
    """Whatever the lines, adding the missing side (and 86/87) gives no budget problem."""
    totals = rules.budget_totals(lines)
    completed = [*lines, Line("74", request, True), Line("60", request)]
    gap = totals.total_charges - totals.total_products
    if gap > 0:
        completed.append(Line("75", gap))
    elif gap < 0:
        completed.append(Line("61", -gap))
    in_kind_gap = totals.in_kind_use - totals.in_kind_contributions
    if in_kind_gap > 0:  # more 86 than 87: add 87 and the same charge to stay balanced
        completed += [Line("87", in_kind_gap), Line("62", in_kind_gap)]
    elif in_kind_gap < 0:
        completed += [Line("86", -in_kind_gap), Line("75", -in_kind_gap)]
    assert rules.budget_totals(completed).is_balanced
    assert rules.budget_problems({2016: completed}, [2016]) == []


@given(lines_st, positive)
def test_an_unbalanced_year_is_reported_with_both_totals(lines, extra):
    lines = [*lines, Line("74", D(1), True)]
    totals = rules.budget_totals(lines)
    assume(totals.in_kind_balanced)
    unbalanced = [*lines, Line("60", totals.balance + extra)] if totals.balance >= 0 else lines
    problems = rules.budget_problems({2017: unbalanced}, [2017])
    codes = [p.code for p in problems]
    assert "budget_unbalanced" in codes
    message = next(p.message for p in problems if p.code == "budget_unbalanced")
    assert "Budget 2017 non équilibré" in message
    assert "charges" in message and "produits" in message


def test_budget_problems_name_each_year_and_what_to_fix():
    balanced = [Line("64", D(15000)), Line("74", D(10000), True), Line("70", D(5000))]
    no_request = [Line("64", D(5000)), Line("70", D(5000))]
    in_kind = [*balanced, Line("86", D(100)), Line("75", D(100))]
    problems = rules.budget_problems(
        {2016: balanced, 2017: no_request, 2018: in_kind, 2019: balanced}, [2016, 2017, 2018, 2020]
    )
    codes = [(p.code, p.message.split(" ")[1]) for p in problems]
    assert ("budget_request_missing", "2017") in codes
    assert ("budget_in_kind_unbalanced", "2018") in codes
    assert ("budget_missing", "2020") in codes
    assert any(p.code == "budget_year_outside_call" and "2019" in p.message for p in problems)
    assert not any("2016" in p.message for p in problems)


def test_requested_by_year():
    lines = [
        Line("74", D(100), True, 2016),
        Line("74", D(50), False, 2016),  # another funder's subsidy
        Line("74", D(80), True, 2017),
        Line("64", D(500), False, 2017),
    ]
    assert rules.requested_by_year(lines) == {2016: D(100), 2017: D(80)}


# --- Funding plan (investment aid) --------------------------------------------------------


def _source(amount, funder_type="region"):
    return {"name": "X", "funder_type": funder_type, "amount": D(amount), "status": "requested"}


def test_funding_plan_balanced_within_share_and_ceiling():
    expenses = [
        {"label": "Ligne de tri", "amount": D(200000)},
        {"label": "Frais", "amount": D(20000), "eligible": False},
    ]
    sources = [_source(100000, "authority"), _source(80000), _source(40000, "own_funds")]
    assert rules.funding_plan_problems(expenses, sources, D("0.5"), D(100000)) == []
    plan = rules.funding_plan(expenses, sources, D("0.5"), D(100000))
    assert plan.authority_percent_of_eligible == D("50.00")
    assert plan.authority_percent_of_cost == D("45.45")
    assert plan.max_aid == D(100000)


def plain(text: str) -> str:
    """French money formatting uses narrow and no-break spaces; compare with plain ones."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def test_funding_plan_problems_say_what_to_fix():
    expenses = [{"label": "Ligne", "amount": D(100000)}]
    sources = [_source(60000, "authority"), _source(30000)]
    problems = {
        p.code: p.message
        for p in rules.funding_plan_problems(expenses, sources, D("0.5"), D(55000))
    }
    assert "il manque 10 000,00 €" in plain(problems["funding_unbalanced"])
    assert "réduisez-le à 50 000,00 €" in plain(problems["funding_share_exceeded"])
    assert "plafond" in problems["funding_ceiling_exceeded"]
    missing = rules.funding_plan_problems([], [], D("0.5"), None)
    assert {p.code for p in missing} == {"expenses_missing", "funding_request_missing"}


@given(st.lists(positive, min_size=1, max_size=8), st.lists(positive, max_size=8), positive)
def test_funding_plan_balances_iff_sources_equal_cost(costs, others, request):
    expenses = [{"label": "x", "amount": c} for c in costs]
    sources = [_source(request, "authority"), *(_source(o) for o in others)]
    problems = rules.funding_plan_problems(expenses, sources, None, None)
    balanced = sum(costs) == request + sum(others, D(0))
    assert ("funding_unbalanced" not in {p.code for p in problems}) == balanced


# --- De minimis ---------------------------------------------------------------------------


def test_de_minimis_window_is_three_years_both_ends_included():
    assert rules.de_minimis_window(date(2026, 11, 21)) == (date(2023, 11, 21), date(2026, 11, 21))
    assert rules.de_minimis_window(date(2024, 2, 29)) == (date(2021, 2, 28), date(2024, 2, 29))
    on = date(2026, 11, 21)
    aids = [
        (date(2023, 11, 21), D(100000), "general"),  # first day: counted
        (date(2023, 11, 20), D(100000), "general"),  # the day before: not counted
        (date(2026, 11, 21), D(50000), "general"),  # the day itself: counted
        (date(2026, 11, 22), D(50000), "general"),  # future: not counted
    ]
    room = rules.de_minimis_room(aids, on, D(0))
    assert room.total_3y == D(150000)
    assert room.cap == D(300000)
    assert room.room == D(150000)
    assert not room.exceeds
    assert rules.de_minimis_room(aids, on, D("150000.01")).exceeds
    assert not rules.de_minimis_room(aids, on, D(150000)).exceeds


def test_sgei_aid_has_its_own_cap_and_cumulates_up_to_750000():
    on = date(2026, 1, 1)
    aids = [(date(2025, 1, 1), D(200000), "general"), (date(2025, 6, 1), D(500000), "sgei")]
    general = rules.de_minimis_room(aids, on, D(60000), "general")
    # general aid alone leaves 100,000, but general + SGEI leave only 50,000
    assert (general.total_3y, general.cap, general.room, general.exceeds) == (
        D(700000),
        D(750000),
        D(50000),
        True,
    )
    sgei = rules.de_minimis_room(aids, on, D(50000), "sgei")
    assert (sgei.cap, sgei.room, sgei.exceeds) == (D(750000), D(50000), False)


aid_st = st.tuples(
    st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 12, 31)),
    positive,
    st.sampled_from(["general", "sgei"]),
)


@given(
    st.lists(aid_st, max_size=15),
    st.dates(min_value=date(2019, 1, 1), max_value=date(2029, 12, 31)),
    amounts,
    st.sampled_from(["general", "sgei"]),
)
def test_de_minimis_room_properties(aids, on, requested, regime):
    room = rules.de_minimis_room(aids, on, requested, regime)
    start, end = rules.de_minimis_window(on)
    inside = [a for a in aids if start <= a[0] <= end]
    general = sum((a[1] for a in inside if a[2] == "general"), D(0))
    combined = sum((a[1] for a in inside), D(0))
    expected_room = D(750000) - combined
    if regime == "general":
        expected_room = min(expected_room, D(300000) - general)
    assert room.room == max(expected_room, D(0))
    assert room.room >= 0
    assert room.exceeds == (requested > room.room)
    # the request fits exactly when no cap is passed
    fits = combined + requested <= D(750000) and (
        regime == "sgei" or general + requested <= D(300000)
    )
    assert room.exceeds == (not fits)
    # aid outside the window changes nothing
    outside = [
        (start - timedelta(days=1), D(999999), "general"),
        (end + timedelta(days=1), D(5), "sgei"),
    ]
    assert rules.de_minimis_room([*aids, *outside], on, requested, regime) == room
    # nor does the order of the declarations
    assert rules.de_minimis_room(list(reversed(aids)), on, requested, regime) == room


@given(
    st.lists(aid_st, max_size=10),
    st.dates(min_value=date(2019, 1, 1), max_value=date(2029, 1, 1)),
    positive,
)
def test_more_declared_aid_never_leaves_more_room(aids, on, extra):
    before = rules.de_minimis_room(aids, on, D(0))
    after = rules.de_minimis_room([*aids, (on, extra, "general")], on, D(0))
    assert after.room <= before.room


# --- Eligibility --------------------------------------------------------------------------


def _facts(**overrides) -> rules.Facts:
    year_lines = []
    for year in (2016, 2017, 2018):
        year_lines += [
            Line("64", D(15000), False, year),
            Line("74", D(10000), True, year),
            Line("70", D(5000), False, year),
        ]
    values = dict(
        call_kind="project_call",
        call_years=[2016, 2017, 2018],
        eligible_legal_forms=["association", "scop", "esus_company"],
        call_sectors=["Économie circulaire"],
        ceiling=D(40000),
        max_share=None,
        required_documents=[(1, "Statuts", True), (2, "RIB", False)],
        legal_form="scop",
        legal_form_label="SCOP",
        esus_approved=False,
        siret="73282932000074",
        organisation_commune="33063",
        has_economic_activity=False,
        communes={"33063", "33281"},
        territory=["33063"],
        attached_document_ids={1},
        budget_lines=year_lines,
        expenses=[],
        funding_sources=[],
        de_minimis_aids=[],
        today=date(2016, 3, 1),
        title="Projet",
        summary="Résumé",
        objectives="Objectifs",
        sector="Économie circulaire",
        start_date=date(2016, 1, 1),
        end_date=date(2018, 12, 31),
        certified=True,
        signatory_name="Camille",
        signatory_role="Présidente",
        funder="Bordeaux Métropole",
    )
    values.update(overrides)
    return rules.Facts(**values)


def codes(facts) -> set[str]:
    return {p.code for p in rules.eligibility_problems(facts)}


def test_a_complete_file_has_no_problem():
    assert rules.eligibility_problems(_facts()) == []


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"legal_form": "foundation", "legal_form_label": "Fondation"}, "legal_form"),
        ({"legal_form": "esus_company", "esus_approved": False}, "esus_missing"),
        ({"siret": "73282932000075"}, "siret_invalid"),
        ({"organisation_commune": None, "territory": []}, "territory"),
        ({"organisation_commune": None, "territory": ["75056"]}, "territory"),
        ({"ceiling": D(29999)}, "ceiling_exceeded"),
        ({"attached_document_ids": {2}}, "document_missing"),
        ({"title": " "}, "title_missing"),
        ({"sector": "Autre chose"}, "sector_invalid"),
        ({"sector": None}, "sector_missing"),
        ({"end_date": date(2015, 1, 1)}, "dates_order"),
        ({"start_date": None}, "dates_missing"),
        ({"certified": False}, "certification_missing"),
        ({"signatory_role": ""}, "signatory_missing"),
        ({"budget_lines": []}, "budget_missing"),
        (
            {
                "has_economic_activity": True,
                "de_minimis_aids": [(date(2015, 1, 1), D(280000), "general")],
            },
            "de_minimis_exceeded",
        ),
    ],
)
def test_each_failure_has_its_code_and_a_message_saying_what_to_fix(overrides, code):
    problems = rules.eligibility_problems(_facts(**overrides))
    assert code in {p.code for p in problems}
    message = next(p.message for p in problems if p.code == code)
    assert len(message) > 20 and message[0].isupper()
    assert rules.PROBLEM_STEPS[code] in {
        "structure",
        "projet",
        "budget",
        "minimis",
        "pieces",
        "attestation",
    }


def test_project_in_the_metropolis_makes_an_outside_organisation_eligible():
    assert "territory" not in codes(_facts(organisation_commune=None, territory=["33281"]))


def test_approved_esus_company_is_eligible_and_de_minimis_counts_old_aid_out():
    assert codes(_facts(legal_form="esus_company", esus_approved=True)) == set()
    aid = [(date(2013, 2, 28), D(299000), "general")]  # the day before the window
    assert codes(_facts(has_economic_activity=True, de_minimis_aids=aid)) == set()


def test_no_legal_form_list_means_every_ess_form():
    assert codes(_facts(eligible_legal_forms=[], legal_form="foundation")) == set()
    assert codes(_facts(eligible_legal_forms=[], legal_form="other")) == {"esus_missing"}


def test_investment_aid_checks_the_funding_plan_instead_of_the_budget():
    facts = _facts(
        call_kind="investment_aid",
        budget_lines=[],
        max_share=D("0.5"),
        ceiling=D(100000),
        expenses=[{"label": "Ligne", "amount": D(100000)}],
        funding_sources=[_source(50000, "authority"), _source(50000)],
    )
    assert codes(facts) == set()
    facts.funding_sources = [_source(60000, "authority"), _source(30000)]
    assert codes(facts) == {"funding_share_exceeded", "funding_unbalanced"}


def test_reference_format():
    assert rules.reference("AAP-2016", 7) == "AAP-2016-0007"
    assert rules.reference("AAP-2016", 12345) == "AAP-2016-12345"
