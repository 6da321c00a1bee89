"""Payment conditions, tranche and recovery arithmetic: pure rules, property-tested."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grants.payments import rules
from grants.payments.rules import AwardState, Conditions, TrancheState

D = Decimal


def plain(text: str) -> str:
    """French money text with ordinary spaces (babel uses narrow and no-break ones)."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


cents = st.integers(min_value=0, max_value=10_000_000).map(lambda n: D(n) / 100)
positive_cents = st.integers(min_value=1, max_value=10_000_000).map(lambda n: D(n) / 100)
shares = st.integers(min_value=0, max_value=10_000).map(lambda n: D(n) / 10_000)
days = st.dates(min_value=date(2015, 1, 1), max_value=date(2021, 12, 31))


@st.composite
def awards(draw):
    """An award of 1–4 consecutive yearly tranches with some requested and paid."""
    first = draw(st.integers(min_value=2016, max_value=2018))
    count = draw(st.integers(min_value=1, max_value=4))
    tranches = []
    for year in range(first, first + count):
        amount = draw(cents)
        requested = draw(st.integers(min_value=0, max_value=int(amount * 100))) / D(100)
        paid = draw(st.integers(min_value=0, max_value=int(requested * 100))) / D(100)
        tranches.append(
            TrancheState(
                year, amount, requested, paid, cancelled=draw(st.booleans()) and not requested
            )
        )
    years = [t.year for t in tranches]
    accepted = frozenset(draw(st.lists(st.sampled_from(years), unique=True)))
    state = AwardState(
        tranches=tuple(tranches),
        convention_signed=draw(st.booleans()),
        accepted_report_years=accepted,
        accepted_invoices=draw(cents),
    )
    conditions = Conditions(
        advance_share=draw(shares),
        release_on_report=draw(st.booleans()),
        investment=draw(st.booleans()),
        expense_share=draw(st.one_of(st.none(), shares)),
    )
    return state, conditions


@given(awards(), days)
def test_an_allowance_never_passes_the_tranche(world, today):
    state, conditions = world
    for tranche in state.tranches:
        allowed = rules.allowance(tranche, state, conditions, today)
        assert D(0) <= allowed.payable <= allowed.remaining
        assert allowed.remaining == tranche.amount - tranche.requested
        assert tranche.requested + allowed.payable <= tranche.amount
        assert allowed.released <= tranche.amount
        assert allowed.payable == allowed.payable.quantize(D("0.01"))
        if allowed.payable < allowed.remaining:
            assert allowed.reasons, "a blocked amount always says why"


@given(awards(), days)
def test_nothing_is_payable_before_the_signature_or_on_a_cancelled_tranche(world, today):
    state, conditions = world
    unsigned = AwardState(
        state.tranches, False, state.accepted_report_years, state.accepted_invoices
    )
    for tranche in state.tranches:
        assert rules.allowance(tranche, unsigned, conditions, today).payable == 0
        if tranche.cancelled:
            assert rules.allowance(tranche, state, conditions, today).payable == 0


@given(awards(), days, st.integers(min_value=0, max_value=800))
def test_time_and_accepted_reports_only_release_more(world, today, later):
    state, conditions = world
    from datetime import timedelta

    more_reports = AwardState(
        state.tranches,
        state.convention_signed,
        frozenset(t.year for t in state.tranches),
        state.accepted_invoices,
    )
    for tranche in state.tranches:
        now = rules.allowance(tranche, state, conditions, today).payable
        assert (
            rules.allowance(tranche, state, conditions, today + timedelta(days=later)).payable
            >= now
        )
        assert rules.allowance(tranche, more_reports, conditions, today).payable >= now


@given(awards(), days)
def test_investment_aid_is_paid_within_the_accepted_invoices(world, today):
    state, conditions = world
    conditions = Conditions(investment=True, expense_share=conditions.expense_share)
    ceiling = rules.justified_ceiling(state.accepted_invoices, conditions.expense_share)
    for tranche in state.tranches:
        allowed = rules.allowance(tranche, state, conditions, today)
        assert state.requested_total + allowed.payable <= max(ceiling, state.requested_total)


def _signed(*tranches, reports=(), invoices="0"):
    return AwardState(tuple(tranches), True, frozenset(reports), D(invoices))


def test_the_first_tranche_pays_the_advance_at_signature_and_the_balance_after_its_report():
    first, second = TrancheState(2016, D("15000")), TrancheState(2017, D("10000"))
    conditions = Conditions(advance_share=D("0.6"), release_on_report=True)
    state = _signed(first, second)
    allowed = rules.allowance(first, state, conditions, date(2016, 3, 1))
    assert allowed.payable == D("9000.00")
    assert "Avance de 60 % à la signature (9 000,00 €)" in plain(allowed.reasons[0])
    assert "compte rendu 2016" in allowed.reasons[0]
    # the second tranche waits for 2017 and for the 2016 report
    assert rules.allowance(second, state, conditions, date(2016, 3, 1)).payable == 0
    waiting = rules.allowance(second, state, conditions, date(2017, 7, 1))
    assert waiting.payable == 0 and "compte rendu 2016" in waiting.reasons[0]
    reported = _signed(first, second, reports=[2016])
    assert rules.allowance(first, reported, conditions, date(2017, 7, 1)).payable == D("15000")
    assert rules.allowance(second, reported, conditions, date(2017, 7, 1)).payable == D("10000")


def test_without_release_on_report_the_calendar_releases():
    first, second = TrancheState(2016, D("15000")), TrancheState(2017, D("10000"))
    conditions = Conditions(advance_share=D("0.5"), release_on_report=False)
    state = _signed(first, second)
    assert rules.allowance(first, state, conditions, date(2016, 12, 31)).payable == D("7500")
    assert rules.allowance(first, state, conditions, date(2017, 1, 1)).payable == D("15000")
    assert rules.allowance(second, state, conditions, date(2016, 12, 31)).payable == 0
    assert rules.allowance(second, state, conditions, date(2017, 1, 1)).payable == D("10000")


def test_what_is_already_requested_is_deducted_and_the_advance_rounds_down():
    tranche = TrancheState(2016, D("10000.01"), requested=D("2000"))
    conditions = Conditions(advance_share=D("0.33335"))
    allowed = rules.allowance(tranche, _signed(tranche), conditions, date(2016, 5, 1))
    assert allowed.released == D("3333.50")  # 3333.5033… rounded down
    assert allowed.payable == D("1333.50")
    assert allowed.remaining == D("8000.01")


def test_investment_aid_follows_the_invoices():
    first, second = TrancheState(2016, D("60000")), TrancheState(2017, D("40000"))
    conditions = Conditions(investment=True, expense_share=D("0.5"))
    state = _signed(first, second, invoices="30000")
    assert rules.allowance(first, state, conditions, date(2016, 6, 1)).payable == D("15000")
    # the whole tranche once enough is justified, never beyond it
    rich = _signed(first, second, invoices="500000")
    assert rules.allowance(first, rich, conditions, date(2016, 6, 1)).payable == D("60000")
    assert rules.allowance(second, rich, conditions, date(2016, 6, 1)).payable == 0
    assert rules.allowance(second, rich, conditions, date(2017, 1, 2)).payable == D("40000")
    # what the other tranche asked for is deducted from the justified amount
    asked = TrancheState(2016, D("60000"), requested=D("15000"))
    state = _signed(asked, second, invoices="40000")
    assert rules.allowance(second, state, conditions, date(2017, 2, 1)).payable == D("5000")


@st.composite
def tranche_changes(draw):
    """A tranche (amount, requested) of an award whose other tranches total ``others``."""
    amount = draw(cents)
    requested = draw(st.integers(min_value=0, max_value=int(amount * 100))) / D(100)
    others = draw(cents)
    total = amount + others + draw(cents)
    return amount, requested, others, max(total, D("0.01")), draw(cents)


@given(tranche_changes())
def test_a_tranche_change_keeps_the_award_within_its_total(case):
    amount, requested, others, total, new = case
    allocated = amount + others
    try:
        change = rules.tranche_change(amount, requested, new, total, allocated)
    except rules.RuleError as exc:
        assert new < requested or others + new > total
        assert exc.message
    else:
        assert requested <= change.new_amount == new
        assert allocated + change.delta == others + new <= total


def test_tranche_change_messages():
    with pytest.raises(rules.RuleError, match="déjà demandé"):
        rules.tranche_change(D("10000"), D("4000"), D("3999.99"), D("30000"), D("30000"))
    with pytest.raises(rules.RuleError, match="dépasseraient le montant de l'aide"):
        rules.tranche_change(D("10000"), D("0"), D("10000.01"), D("30000"), D("30000"))
    assert rules.tranche_change(
        D("10000"), D("4000"), D("4000"), D("30000"), D("30000")
    ).delta == D("-6000")


@given(cents, st.lists(cents, max_size=5), positive_cents)
def test_recoveries_never_pass_what_was_paid(paid, earlier, amount):
    try:
        rules.check_recovery(amount, paid, earlier)
    except rules.RuleError:
        assert amount > rules.recovery_room(paid, earlier)
    else:
        assert sum(earlier, D(0)) + amount <= paid


def test_request_messages():
    allowed = rules.Allowance(D("5000"), D("3000"), D("8000"), ("Avance de 50 %.",))
    with pytest.raises(rules.RuleError, match="dépasserait la tranche"):
        rules.check_request(D("8000.01"), allowed)
    with pytest.raises(rules.RuleError) as too_much:
        rules.check_request(D("3000.01"), allowed)
    assert "3 000,00 € au plus" in plain(too_much.value.message)
    assert "Avance de 50 %." in too_much.value.message
    with pytest.raises(rules.RuleError, match="supérieur à 0"):
        rules.check_request(D("0"), allowed)
    rules.check_request(D("3000"), allowed)


@pytest.mark.parametrize(
    ("amount", "paid", "requested", "validated", "status"),
    [
        ("0", "0", 0, 0, "cancelled"),
        ("100", "100", 0, 0, "paid"),
        ("100", "0", 1, 1, "requested"),
        ("100", "0", 0, 1, "validated"),
        ("100", "40", 0, 0, "validated"),
        ("100", "0", 0, 0, "planned"),
    ],
)
def test_tranche_status(amount, paid, requested, validated, status):
    assert rules.tranche_status(D(amount), D(paid), requested, validated) == status


def test_an_award_is_settled_when_everything_is_paid_or_cancelled():
    assert rules.award_settled(
        [TrancheState(2016, D("10"), D("10"), D("10")), TrancheState(2017, D("0"))]
    )
    assert not rules.award_settled([TrancheState(2016, D("10"), D("10"), D("5"))])
    assert not rules.award_settled([])


def test_report_due_dates_are_the_last_day_of_the_month_of_the_next_year():
    assert rules.report_due_on(2016, 6) == date(2017, 6, 30)
    assert rules.report_due_on(2023, 2) == date(2024, 2, 29)
    assert rules.report_due_on(2016, 12) == date(2017, 12, 31)


def test_conditions_in_words():
    lines = rules.describe_conditions(Conditions(advance_share=D("0.5")), [2016, 2017], 6)
    assert lines[0].startswith("Tranche 2016 : une avance de 50 % est versée à la signature")
    assert "après l'acceptation du compte rendu 2016" in lines[1]
    assert "juin" in lines[-1]
    invest = rules.describe_conditions(
        Conditions(investment=True, expense_share=D("0.4")), [2016], 6
    )
    assert "40 %" in invest[0]
