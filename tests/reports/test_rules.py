"""Pure rules of the annual reports: gaps over 10 %, totals per side, input, completeness,
lateness and due dates — property-tested where it fits."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grants.reports import rules
from grants.reports.rules import FinancialLine

amounts = st.decimals(
    min_value=Decimal("0"), max_value=Decimal("9999999.99"), places=2, allow_nan=False
)
positive = st.decimals(
    min_value=Decimal("0.01"), max_value=Decimal("9999999.99"), places=2, allow_nan=False
)
accounts = st.sampled_from(sorted(rules.ACCOUNTS))


def line(account="64", planned="1000", actual=None, explanation="") -> FinancialLine:
    return FinancialLine(
        account=account,
        label="Ligne",
        planned=Decimal(planned),
        actual=None if actual is None else Decimal(actual),
        explanation=explanation,
    )


# --- gaps -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("planned", "actual", "gap"),
    [
        ("1000", "1100", False),  # exactly 10 %: not over
        ("1000", "1100.01", True),
        ("1000", "900", False),
        ("1000", "899.99", True),
        ("1000", "1000", False),
        ("0", "0", False),
        ("0", "0.01", True),  # planned 0, something spent: a gap
        ("15000", "0", True),
    ],
)
def test_gap_examples(planned, actual, gap):
    assert rules.is_gap(Decimal(planned), Decimal(actual)) is gap


def test_no_actual_no_gap():
    assert rules.is_gap(Decimal("1000"), None) is False


@given(planned=amounts, actual=amounts)
def test_gap_is_more_than_ten_percent_either_way(planned, actual):
    expected = abs(actual - planned) > planned / 10 if planned else actual > 0
    assert rules.is_gap(planned, actual) is expected


@given(planned=positive, delta=amounts)
def test_gap_is_symmetric(planned, delta):
    above = rules.is_gap(planned, planned + delta)
    if planned - delta >= 0:
        assert rules.is_gap(planned, planned - delta) is above


@given(planned=positive, first=amounts, second=amounts)
def test_farther_from_the_plan_stays_a_gap(planned, first, second):
    """Monotone: if an actual amount is a gap, any amount farther on the same side is one."""
    near, far = sorted([first, second])
    if near >= planned and rules.is_gap(planned, planned + near):
        assert rules.is_gap(planned, planned + far)


@given(planned=amounts)
def test_the_plan_itself_is_never_a_gap(planned):
    assert not rules.is_gap(planned, planned)


# --- totals ---------------------------------------------------------------------------------


@st.composite
def financial_lines(draw):
    n = draw(st.integers(min_value=0, max_value=12))
    return [
        FinancialLine(
            account=draw(accounts),
            label="",
            planned=draw(amounts),
            actual=draw(st.none() | amounts),
        )
        for _ in range(n)
    ]


@given(lines=financial_lines())
def test_totals_split_every_line_between_charges_and_products(lines):
    t = rules.totals(lines)
    assert t.charges_planned + t.products_planned == sum((x.planned for x in lines), Decimal(0))
    assert t.charges_actual + t.products_actual == sum(
        (x.actual or Decimal(0) for x in lines), Decimal(0)
    )
    assert t.charges_planned == sum(
        (x.planned for x in lines if x.account[0] == "6" or x.account == "86"), Decimal(0)
    )


@given(lines=financial_lines(), data=st.data())
def test_totals_do_not_depend_on_the_order(lines, data):
    shuffled = data.draw(st.permutations(lines))
    assert rules.totals(shuffled) == rules.totals(lines)


def test_totals_example():
    t = rules.totals(
        [
            line("64", "15000", "16000"),
            line("86", "500", "500"),
            line("74", "10000", "10000"),
            line("70", "5000", None),
            line("87", "500", "500"),
        ]
    )
    assert (t.charges_planned, t.charges_actual) == (Decimal("15500"), Decimal("16500"))
    assert (t.products_planned, t.products_actual) == (Decimal("15500"), Decimal("10500"))
    assert t.actual_balance == Decimal("-6000")


def test_planned_lines_put_charges_first():
    class Row:
        def __init__(self, account, amount):
            self.account, self.label, self.amount = account, f"compte {account}", Decimal(amount)

    lines = rules.planned_lines([Row("70", "5000"), Row("64", "15000"), Row("74", "10000")])
    assert [x.account for x in lines] == ["64", "70", "74"]
    assert all(x.actual is None for x in lines)


@given(lines=financial_lines())
def test_lines_survive_the_json_round_trip(lines):
    assert [FinancialLine.from_json(x.as_json()) for x in lines] == lines


# --- input and completeness -----------------------------------------------------------------

PLANNED = [line("64", "15000"), line("70", "5000"), line("74", "10000")]


def _raw(**overrides):
    raw = {
        "activity": "Deux ateliers ouverts, 40 personnes accueillies.",
        "actual_0": "15 500",
        "actual_1": "5000",
        "actual_2": "10000,00",
        "jobs_created": "2",
        "jobs_maintained": "3",
        "people_supported": "40",
        "indicators": [("Tonnes collectées", "12,5"), ("", "")],
    }
    raw.update(overrides)
    return raw


def test_a_complete_report_reads_and_has_no_problem():
    values, errors = rules.parse_report(_raw(), PLANNED)
    assert errors == {}
    assert [x.actual for x in values.lines] == [Decimal("15500"), Decimal("5000"), Decimal("10000")]
    assert values.indicators == {"Tonnes collectées": "12,5"}
    assert (values.jobs_created, values.jobs_maintained, values.people_supported) == (2, 3, 40)
    assert rules.submission_problems(values) == {}


def test_a_gap_without_explanation_blocks_the_submission_only():
    values, errors = rules.parse_report(_raw(actual_1="2000"), PLANNED)
    assert errors == {}  # a draft may be saved
    assert rules.submission_problems(values) == {"explanation_1": [rules.GAP_MESSAGE]}
    values, _ = rules.parse_report(
        _raw(actual_1="2000", explanation_1="Boutique fermée trois mois (travaux)."), PLANNED
    )
    assert rules.submission_problems(values) == {}


@given(
    planned=amounts,
    actual=amounts,
    explanation=st.sampled_from(["", "Une explication."]),
)
def test_explanation_required_exactly_for_gaps(planned, actual, explanation):
    lines = [line("64", str(planned))]
    values, errors = rules.parse_report(
        _raw(actual_0=str(actual), explanation_0=explanation, actual_1=None, actual_2=None),
        lines,
    )
    assert errors == {}
    problems = rules.submission_problems(values)
    assert ("explanation_0" in problems) is (rules.is_gap(planned, actual) and not explanation)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("actual_0", "douze", "Indiquez un montant en euros"),
        ("actual_0", "-5", "négatif"),
        ("actual_0", "10.555", "2 décimales"),
        ("jobs_created", "2,5", "nombre entier"),
        ("jobs_created", "-1", "nombre entier"),
        ("people_supported", "99999999", "trop grand"),
    ],
)
def test_bad_input_gets_a_french_message_next_to_the_field(field, value, message):
    _, errors = rules.parse_report(_raw(**{field: value}), PLANNED)
    assert list(errors) == [field]
    assert message in errors[field][0]


def test_missing_values_are_listed_for_the_submission():
    values, errors = rules.parse_report({"actual_0": "15000", "indicators": []}, PLANNED)
    assert errors == {}
    problems = rules.submission_problems(values)
    assert set(problems) == {
        "activity",
        "actual_1",
        "actual_2",
        "jobs_created",
        "jobs_maintained",
        "people_supported",
    }
    assert "0 si rien" in problems["actual_1"][0]


def test_indicators_need_a_name_a_value_and_no_duplicate():
    _, errors = rules.parse_report(
        _raw(
            indicators=[
                ("Ateliers", "12"),
                ("ateliers ", "13"),
                ("", "4"),
                ("Bénévoles", ""),
                ("x" * 101, "1"),
            ]
        ),
        PLANNED,
    )
    assert errors == {
        "indicator_name_1": ["Cet indicateur figure déjà plus haut."],
        "indicator_name_2": ["Nommez cet indicateur."],
        "indicator_value_3": ["Indiquez la valeur de cet indicateur."],
        "indicator_name_4": ["100 caractères au plus."],
    }


def test_at_most_twenty_indicators():
    pairs = [(f"Indicateur {i}", "1") for i in range(21)]
    _, errors = rules.parse_report(_raw(indicators=pairs), PLANNED)
    assert errors == {"indicators": ["20 indicateurs au plus."]}


@given(
    actuals=st.lists(st.none() | amounts, min_size=3, max_size=3),
    counts=st.lists(st.none() | st.integers(min_value=0, max_value=10000), min_size=3, max_size=3),
)
def test_raw_from_values_reads_back_the_same_values(actuals, counts):
    values = rules.ReportValues(
        activity="Activité",
        lines=tuple(
            FinancialLine(x.account, x.label, x.planned, a, "expl")
            for x, a in zip(PLANNED, actuals, strict=True)
        ),
        jobs_created=counts[0],
        jobs_maintained=counts[1],
        people_supported=counts[2],
        indicators={"A": "1", "B": "deux"},
    )
    again, errors = rules.parse_report(rules.raw_from_values(values), PLANNED)
    assert errors == {}
    assert again == values


# --- states and dates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "target", "allowed"),
    [
        ("due", "submitted", True),
        ("returned", "submitted", True),
        ("submitted", "accepted", True),
        ("submitted", "returned", True),
        ("due", "accepted", False),
        ("accepted", "returned", False),
        ("accepted", "submitted", False),
        ("submitted", "submitted", False),
    ],
)
def test_transitions(status, target, allowed):
    assert rules.can_transition(status, target) is allowed


@given(
    status=st.sampled_from(["due", "submitted", "accepted", "returned"]),
    offset=st.integers(min_value=-400, max_value=400),
)
def test_late_means_owed_and_past_due(status, offset):
    today = date(2026, 3, 15)
    due_on = today + timedelta(days=offset)
    assert rules.is_late(status, due_on, today) is (
        status in {"due", "returned"} and due_on < today
    )
