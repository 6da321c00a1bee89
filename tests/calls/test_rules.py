"""Pure rules of calls: the degressive profile, amounts, windows, the grid (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from grants.calls import rules
from grants.core.money import format_money

UNIT = Fraction(1, 10**rules.PROFILE_PLACES)

cents = st.integers(min_value=1, max_value=10**13).map(lambda c: Decimal(c).scaleb(-2))


@st.composite
def decreasing_envelopes(draw, min_size=1, max_size=6):
    values = draw(st.lists(cents, min_size=min_size, max_size=max_size, unique=True))
    return sorted(values, reverse=True)


def exact_shares(envelopes):
    total = sum(Fraction(e) for e in envelopes)
    return [Fraction(e) / total for e in envelopes]


# --- the derived profile ----------------------------------------------------------------


def test_the_seeds_envelopes_give_a_profile_summing_to_one():
    profile = rules.default_profile([Decimal("60000"), Decimal("55000"), Decimal("50000")])
    assert profile == [Decimal("0.363637"), Decimal("0.333333"), Decimal("0.303030")]
    assert sum(profile) == 1


@given(decreasing_envelopes())
@example([Decimal("60000"), Decimal("55000"), Decimal("50000")])
@example([Decimal("1000000"), Decimal("999999.99")])
@example([Decimal("1"), Decimal("0.01")])
def test_a_derived_profile_sums_to_exactly_one_and_decreases(envelopes):
    profile = rules.default_profile(envelopes)
    shares = exact_shares(envelopes)
    # Rounding down to 10⁻⁶ keeps strict decrease exactly when consecutive shares are a
    # millionth apart and the last share is at least a millionth.
    derivable = all(a - b >= UNIT for a, b in zip(shares, shares[1:], strict=False)) and (
        shares[-1] >= UNIT
    )
    if derivable:
        assert profile is not None
    if profile is None:
        return
    assert len(profile) == len(envelopes)
    assert sum(profile) == Decimal(1)
    assert all(w > 0 for w in profile)
    assert all(a > b for a, b in zip(profile, profile[1:], strict=False))
    assert all(-w.as_tuple().exponent <= rules.PROFILE_PLACES for w in profile)
    # Each weight is within K millionths of the exact share E_k / ΣE.
    for weight, share in zip(profile, shares, strict=True):
        assert abs(Fraction(weight) - share) < len(envelopes) * UNIT
    # And the derived profile is a valid configured profile.
    assert rules.profile_problems(profile, len(envelopes)) == []


@given(st.lists(cents, min_size=2, max_size=6))
def test_no_profile_is_derived_from_envelopes_that_do_not_strictly_decrease(envelopes):
    assume(any(a <= b for a, b in zip(envelopes, envelopes[1:], strict=False)))
    assert rules.default_profile(envelopes) is None


def test_no_profile_from_an_empty_or_zero_envelope():
    assert rules.default_profile([]) is None
    assert rules.default_profile([Decimal("100"), Decimal("0")]) is None


def test_the_effective_profile_prefers_the_configured_one():
    envelopes = [Decimal("50000"), Decimal("50000"), Decimal("50000")]
    assert rules.effective_profile(None, envelopes) is None
    configured = ["0.4", "0.33", "0.27"]
    assert rules.effective_profile(configured, envelopes) == [
        Decimal("0.4"),
        Decimal("0.33"),
        Decimal("0.27"),
    ]
    assert rules.profile_source_problem(None, envelopes)
    assert rules.profile_source_problem(configured, envelopes) == []


# --- configured profiles ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        (["0.4", "0.33", "0.27"], None),
        (["0,5", "0,3", "0,2"], None),
        (["0.4", "0.33"], "un poids par année"),
        (["0.4", None, "0.27"], "un poids par année"),
        (["0.3", "0.4", "0.3"], "strictement dégressif"),
        (["0.4", "0.4", "0.2"], "strictement dégressif"),
        (["0.5", "0.3", "0.1"], "exactement 1"),
        (["1.2", "0", "-0.2"], "strictement positif"),
        (["0.4", "beaucoup", "0.2"], "Poids 2"),
        (["0.4000001", "0.33", "0.2699999"], "6 décimales"),
    ],
)
def test_profile_problems(weights, expected):
    problems = rules.profile_problems(weights, [2016, 2017, 2018])
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


@given(st.permutations([Decimal("0.5"), Decimal("0.3"), Decimal("0.2")]))
def test_only_the_decreasing_order_of_a_profile_is_accepted(weights):
    problems = rules.profile_problems(list(weights), 3)
    assert (problems == []) == (list(weights) == sorted(weights, reverse=True))


# --- amounts -----------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=10**13).map(lambda c: Decimal(c).scaleb(-2)))
def test_a_formatted_amount_parses_back_to_the_same_decimal(amount):
    assert rules.parse_money(format_money(amount)) == amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60000", Decimal("60000.00")),
        ("60 000,00", Decimal("60000.00")),
        ("60\u202f000,50 €", Decimal("60000.50")),
        ("60000.5", Decimal("60000.50")),
        ("", None),
        ("  ", None),
    ],
)
def test_parse_money(text, expected):
    assert rules.parse_money(text) == expected


@pytest.mark.parametrize("text", ["60.000,00", "12,345", "-5", "abc", "1e5"])
def test_parse_money_refuses_with_a_french_message(text):
    with pytest.raises(ValueError) as exc:
        rules.parse_money(text)
    assert "montant" in str(exc.value).lower()


def test_money_is_never_a_float():
    with pytest.raises(ValueError):
        rules.parse_money(60000.0)


@pytest.mark.parametrize(
    ("text", "share"),
    [("50", Decimal("0.5")), ("33,33 %", Decimal("0.3333")), ("100", Decimal("1"))],
)
def test_parse_percentage(text, share):
    assert rules.parse_percentage(text) == share
    assert rules.parse_percentage(rules.share_to_percentage(share)) == share


@pytest.mark.parametrize("text", ["0", "101", "12,345", "moitié"])
def test_parse_percentage_refuses(text):
    with pytest.raises(ValueError):
        rules.parse_percentage(text)


# --- windows and times --------------------------------------------------------------------------


def test_paris_local_times_are_stored_in_utc():
    winter = rules.parse_local_datetime("2016-03-01T09:00")
    summer = rules.parse_local_datetime("2016-07-01T09:00")
    assert winter == datetime(2016, 3, 1, 8, 0, tzinfo=UTC)
    assert summer == datetime(2016, 7, 1, 7, 0, tzinfo=UTC)
    assert rules.to_local_input(winter) == "2016-03-01T09:00"


def test_the_spring_forward_hour_does_not_exist():
    with pytest.raises(ValueError, match="heure d'été"):
        rules.parse_local_datetime("2016-03-27T02:30")


def test_a_malformed_date_gets_a_french_message():
    with pytest.raises(ValueError, match="Date et heure invalides"):
        rules.parse_local_datetime("demain midi")


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)),
    st.timedeltas(min_value=timedelta(days=-400), max_value=timedelta(days=400)),
)
def test_window_and_extension(opens, delta):
    opens = opens.replace(tzinfo=UTC)
    closes = opens + delta
    assert (rules.window_problems(opens, closes) == []) == (closes > opens)
    assert (rules.extension_problem(opens, closes) is None) == (closes > opens)


def test_shortening_is_explained():
    now = datetime(2016, 4, 30, 10, tzinfo=UTC)
    assert "reportée" in rules.extension_problem(now, now - timedelta(hours=1))


# --- years, documents and grid -----------------------------------------------------------------


def test_years_must_follow_each_other_and_have_an_envelope():
    ok = [(2016, Decimal("60000")), (2017, Decimal("55000")), (2018, Decimal("50000"))]
    assert rules.years_problems(ok) == []
    assert rules.years_problems([]) == [
        "Indiquez au moins une année budgétaire avec son enveloppe."
    ]
    assert any("se suivre" in p for p in rules.years_problems([(2016, 1), (2018, 1)]))
    assert any("deux fois" in p for p in rules.years_problems([(2016, 1), (2016, 1)]))
    assert any("enveloppe" in p for p in rules.years_problems([(2016, None)]))
    assert any("1999" not in p and "entre" in p for p in rules.years_problems([(1999, 1)]))


criteria = st.lists(
    st.fixed_dictionaries(
        {
            "label": st.sampled_from(["Innovation", "Emploi", "Ancrage", "innovation", ""]),
            "weight": st.one_of(st.none(), st.integers(min_value=-5, max_value=50)),
            "scale_max": st.integers(min_value=0, max_value=120),
        }
    ),
    max_size=6,
)


@given(criteria)
def test_grid_problems_accept_exactly_the_valid_grids(grid):
    labels = [c["label"].casefold() for c in grid]
    valid = (
        all(labels)
        and len(set(labels)) == len(labels)
        and all(c["weight"] is not None and c["weight"] > 0 for c in grid)
        and all(1 <= c["scale_max"] <= 100 for c in grid)
    )
    assert (rules.grid_problems(grid) == []) == valid


def test_grid_messages_are_french_and_name_the_criterion():
    problems = rules.grid_problems(
        [
            {"label": "Innovation sociale", "weight": 0, "scale_max": 5},
            {"label": "Innovation sociale", "weight": 10, "scale_max": 5},
        ]
    )
    assert "Critère « Innovation sociale » : le poids doit être un entier strictement positif." in (
        problems
    )
    assert "Le critère « Innovation sociale » figure deux fois." in problems


def test_documents_need_a_label_and_known_types():
    types = ["pdf", "odt"]
    assert rules.documents_problems([{"label": "Statuts", "accepted_types": ["pdf"]}], types) == []
    problems = rules.documents_problems(
        [{"label": "", "accepted_types": []}, {"label": "RIB", "accepted_types": ["exe"]}], types
    )
    assert any("intitulé" in p for p in problems)
    assert any("au moins un type" in p for p in problems)
    assert any("inconnu (exe)" in p for p in problems)


@pytest.mark.parametrize(
    ("prefix", "ok"),
    [("AAP-2016", True), ("aap-2016", True), ("INV2016", True), ("AAP 2016", True)]
    + [("AAP--2016", False), ("-AAP", False), ("AAP_2016", False), ("ÉTÉ", False), ("", False)],
)
def test_prefix(prefix, ok):
    assert (rules.prefix_problem(prefix) is None) == ok
