"""The degressive schedules on hand-checked examples (DESIGN §4)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from grants.calls.rules import default_profile
from grants.funding.rules import (
    ScheduleAward,
    ScheduleInputError,
    column_totals,
    compute_schedule,
    minimum_amount,
    result_to_json,
)
from tests.funding.schedule_checks import check_result

D = Decimal
SEEDS = {2016: D("60000"), 2017: D("55000"), 2018: D("50000")}
#: the call's profile, derived from the seeds' envelopes
SEEDS_PROFILE = [D("0.363637"), D("0.333333"), D("0.303030")]
#: six laureates of the 2016-18 call, by rank: 165,000 EUR, the three envelopes exactly
LAUREATES = [
    ScheduleAward("atelier-velo", D("40000"), 1),
    ScheduleAward("recyclerie", D("35000"), 2),
    ScheduleAward("epicerie-solidaire", D("30000"), 3),
    ScheduleAward("tiers-lieu", D("25000"), 4),
    ScheduleAward("cooperative-batiment", D("20000"), 5),
    ScheduleAward("jardin-insertion", D("15000"), 6),
]


def tranches(rows):
    return {row.id: tuple(int(v) for v in row.tranches.values()) for row in rows}


def largest_remainder_row(amount_units: int, weights) -> list[int]:
    """One row rounded on its own: floors, then the missing units to the largest remainders."""
    ideal = [Fraction(amount_units) * Fraction(w) for w in weights]
    row = [int(x) for x in ideal]
    order = sorted(range(len(ideal)), key=lambda k: (-(ideal[k] - row[k]), k))
    for k in order[: amount_units - sum(row)]:
        row[k] += 1
    return row


def test_the_seeds_profile_is_the_calls_one():
    assert default_profile(list(SEEDS.values())) == SEEDS_PROFILE


def test_the_seeds_call_with_six_laureates_fits_exactly():
    result = compute_schedule(SEEDS, LAUREATES)

    assert result.fits
    assert result.alternatives is None
    assert result.errors == {} and result.warnings == {}
    # Ideal tranches (A · w): 14545.48 / 13333.32 / 12121.20 for the first one, etc.
    assert tranches(result.rows) == {
        "atelier-velo": (14545, 13333, 12122),
        "recyclerie": (12727, 11667, 10606),
        "epicerie-solidaire": (10909, 10000, 9091),
        "tiers-lieu": (9091, 8333, 7576),
        "cooperative-batiment": (7273, 6667, 6060),
        "jardin-insertion": (5455, 5000, 4545),
    }
    assert result.totals == {2016: D("60000"), 2017: D("55000"), 2018: D("50000")}
    assert result.overflow == {2016: D("0"), 2017: D("0"), 2018: D("0")}
    check_result(result, SEEDS, LAUREATES, D("1"), SEEDS_PROFILE)


def test_rounding_each_row_on_its_own_would_overflow_2016():
    """Why the table is rounded as a whole: row by row, 2016 gets 60,001 EUR."""
    rows = [largest_remainder_row(int(a.amount), SEEDS_PROFILE) for a in LAUREATES]
    assert [sum(column) for column in zip(*rows, strict=True)] == [60001, 55000, 49999]
    # The whole-table rounding gives the unit to 2018 for the first laureate instead
    # (12121.20 rounded up), still within one unit of its ideal tranche.
    result = compute_schedule(SEEDS, LAUREATES)
    assert tranches(result.rows)["atelier-velo"] == (14545, 13333, 12122)


def test_the_seeds_fallback_of_30500_for_2016_overflows_and_proposes_two_tables():
    envelopes = {**SEEDS, 2016: D("30500")}
    result = compute_schedule(envelopes, LAUREATES, profile=SEEDS_PROFILE)

    assert not result.fits
    assert result.overflow == {2016: D("29500"), 2017: D("0"), 2018: D("0")}
    assert result.totals == {2016: D("60000"), 2017: D("55000"), 2018: D("50000")}
    check_result(result, envelopes, LAUREATES, D("1"), SEEDS_PROFILE)

    # (a) Every award × f = 30500 / 60000.105 (the 2016 share of 165,000), rounded down.
    proportional = result.alternatives["proportional"]
    assert [row.total for row in proportional] == [
        D("20333"),
        D("17791"),
        D("15249"),
        D("12708"),
        D("10166"),
        D("7624"),
    ]
    assert column_totals(proportional, result.years)[2016] == D("30500")

    # (b) By rank: the first two in full, the third gets what 2016 has left, then nothing.
    by_rank = result.alternatives["by_rank"]
    assert [row.total for row in by_rank] == [
        D("40000"),
        D("35000"),
        D("8879"),
        D("0"),
        D("0"),
        D("0"),
    ]
    assert tranches(by_rank)["epicerie-solidaire"] == (3228, 2960, 2691)
    assert tranches(by_rank)["tiers-lieu"] == (0, 0, 0)
    assert column_totals(by_rank, result.years)[2016] == D("30500")
    # One more euro for the third award does not fit (2016 floors: 14545 + 12727 + 3229).
    more = [*LAUREATES[:2], ScheduleAward("epicerie-solidaire", D("8880"), 3)]
    assert not compute_schedule(envelopes, more, profile=SEEDS_PROFILE).fits
    assert compute_schedule(
        envelopes, more[:2] + [ScheduleAward("c", D("8879"), 3)], profile=SEEDS_PROFILE
    ).fits


def test_the_seeds_fallback_needs_a_profile_since_the_envelopes_no_longer_decrease():
    with pytest.raises(ScheduleInputError, match="ne peut pas être dérivé"):
        compute_schedule({**SEEDS, 2016: D("30500")}, LAUREATES)


def test_a_unit_is_moved_along_an_augmenting_path_when_a_year_is_full():
    """2018 has room for two extra units, 2016 and 2017 for one each: the last row's
    preferred year (2018) is taken, so another row gives its 2018 unit up for 2016."""
    envelopes = {2016: D("220"), 2017: D("131"), 2018: D("88")}
    profile = [D("0.5"), D("0.3"), D("0.2")]
    awards = [
        ScheduleAward("A", D("98"), 1),
        ScheduleAward("B", D("143"), 2),
        ScheduleAward("C", D("198"), 3),
    ]
    result = compute_schedule(envelopes, awards, profile=profile)

    assert result.fits
    # Ideal: A 49 / 29.4 / 19.6, B 71.5 / 42.9 / 28.6, C 99 / 59.4 / 39.6.
    assert tranches(result.rows) == {"A": (49, 29, 20), "B": (72, 43, 28), "C": (99, 59, 40)}
    check_result(result, envelopes, awards, D("1"), profile)


def test_the_overflow_stays_in_the_short_year():
    """2016 gets half of its share; 2017 and 2018 exactly the ceiling of theirs. The 2016
    overflow is unavoidable, but no unit may spill over onto 2017 or 2018."""
    amounts = [16533, 21503, 20033, 3147, 20844, 1431, 28442]
    awards = [ScheduleAward(chr(65 + n), D(a), n + 1) for n, a in enumerate(amounts)]
    envelopes = {2016: D("20351"), 2017: D("37311"), 2018: D("33920")}
    result = compute_schedule(envelopes, awards, profile=SEEDS_PROFILE)

    assert result.overflow == {2016: D("20351"), 2017: D("0"), 2018: D("0")}
    check_result(result, envelopes, awards, D("1"), SEEDS_PROFILE)


def test_ties_between_equal_awards_are_broken_by_rank_then_id():
    # Each ideal row is 8.25 / 6.75: 2017 has room for two of the three extra units.
    envelopes = {2016: D("25"), 2017: D("20")}
    profile = [D("0.55"), D("0.45")]
    awards = [
        ScheduleAward("x", D("15"), 3),
        ScheduleAward("y", D("15"), 1),
        ScheduleAward("z", D("15"), 2),
    ]
    result = compute_schedule(envelopes, awards, profile=profile)

    assert [row.id for row in result.rows] == ["y", "z", "x"]
    assert tranches(result.rows) == {"y": (8, 7), "z": (8, 7), "x": (9, 6)}
    assert compute_schedule(envelopes, awards[::-1], profile=profile) == result


def test_cents_as_the_unit():
    awards = [ScheduleAward("A", D("12345.67"), 1), ScheduleAward("B", D("9999.99"), 2)]
    result = compute_schedule(SEEDS, awards, unit=D("0.01"))

    assert result.fits
    for award, row in zip(awards, result.rows, strict=True):
        expected = largest_remainder_row(int(award.amount * 100), SEEDS_PROFILE)
        assert [v * 100 for v in row.tranches.values()] == expected
    assert tranches(result.rows) == {"A": (4489, 4115, 3741), "B": (3636, 3333, 3030)}
    assert result.rows[0].tranches == {2016: D("4489.34"), 2017: D("4115.22"), 2018: D("3741.11")}
    assert result_to_json(result)["overflow"] == {"2016": "0.00", "2017": "0.00", "2018": "0.00"}
    check_result(result, SEEDS, awards, D("0.01"), SEEDS_PROFILE)


def test_a_single_year_is_a_single_tranche():
    awards = [ScheduleAward("A", D("6000"), 1), ScheduleAward("B", D("5000"), 2)]
    fits = compute_schedule({2016: D("11000")}, awards)
    assert fits.fits
    assert tranches(fits.rows) == {"A": (6000,), "B": (5000,)}

    short = compute_schedule({2016: D("10000")}, awards)
    assert short.overflow == {2016: D("1000")}
    assert [r.total for r in short.alternatives["proportional"]] == [D("5454"), D("4545")]
    assert [r.total for r in short.alternatives["by_rank"]] == [D("6000"), D("4000")]
    check_result(short, {2016: D("10000")}, awards, D("1"), [D("1")])


def test_a_year_with_a_zero_envelope_funds_nothing():
    envelopes = {2016: D("1000"), 2017: D("0")}
    awards = [ScheduleAward("A", D("100"), 1)]
    result = compute_schedule(envelopes, awards, profile=["0.6", "0.4"])

    assert tranches(result.rows) == {"A": (60, 40)}
    assert result.overflow == {2016: D("0"), 2017: D("40")}
    for rows in result.alternatives.values():
        assert tranches(rows) == {"A": (0, 0)}
    check_result(result, envelopes, awards, D("1"), [D("0.6"), D("0.4")])


def test_one_award_equal_to_the_three_envelopes():
    awards = [ScheduleAward("A", D("165000"), 1)]
    result = compute_schedule(SEEDS, awards)
    # Ideal 60000.105 / 54999.945 / 49999.95: 2016 rounds down so that it holds.
    assert result.fits
    assert tranches(result.rows) == {"A": (60000, 55000, 50000)}


def test_the_minimum_award_is_k_plus_k_minus_one_down_to_one_unit():
    assert minimum_amount(3) == D("6")
    assert minimum_amount(3, D("0.01")) == D("0.06")
    assert minimum_amount(1) == D("1")
    result = compute_schedule(
        SEEDS, [ScheduleAward("min", D("6"), 1), ScheduleAward("less", D("5"), 2)]
    )
    assert tranches(result.rows) == {"min": (3, 2, 1)}
    assert result.errors == {
        "less": "Le montant 5,00\xa0€ est trop faible pour 3 tranches strictement "
        "dégressives en multiples de 1,00\xa0€ : il faut au moins 6,00\xa0€ "
        "(3 + 2 + 1 unités)."
    }


def test_an_amount_that_is_not_a_multiple_of_the_unit_is_an_error_for_that_award_only():
    awards = [ScheduleAward("A", D("12000.50"), 1), ScheduleAward("B", D("12000"), 2)]
    result = compute_schedule(SEEDS, awards)
    assert [row.id for row in result.rows] == ["B"]
    assert result.errors == {
        "A": "Le montant 12\u202f000,50\xa0€ n'est pas un multiple de l'unité d'arrondi "
        "(1,00\xa0€) : il ne peut pas être réparti exactement en tranches de cette unité."
    }
    assert result_to_json(result)["errors"] == result.errors


def test_nearly_equal_weights_give_the_nearest_degressive_row_and_a_warning():
    # Ideal 33333.5 / 33333.3 / 33333.2: no rounding down or up is strictly degressive.
    profile = ["0.333335", "0.333333", "0.333332"]
    envelopes = {2016: D("40000"), 2017: D("40000"), 2018: D("40000")}
    awards = [ScheduleAward("A", D("100000"), 1)]
    result = compute_schedule(envelopes, awards, profile=profile)

    assert tranches(result.rows) == {"A": (33335, 33333, 33332)}
    assert "1,50\xa0€" in result.warnings["A"]
    check_result(result, envelopes, awards, D("1"), [D(w) for w in profile])


def test_a_small_row_moves_a_unit_to_an_earlier_year_when_it_stays_within_one_unit():
    # Ideal 2.18 / 1.999998 / 1.82 (6 units): floors 2/1/1, and 3/2/1 is the only
    # strictly degressive choice of floors and ceilings.
    result = compute_schedule(SEEDS, [ScheduleAward("A", D("6"), 1)])
    assert tranches(result.rows) == {"A": (3, 2, 1)}
    assert result.warnings == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"envelopes": {}}, "au moins une année"),
        ({"envelopes": {2016: D("-1")}}, "ne peut pas être négatif"),
        ({"envelopes": {2016: D("1.001")}}, "au plus deux décimales"),
        ({"envelopes": {2016: 60000.0}}, "attendu un montant décimal"),
        ({"unit": D("0")}, "strictement positif"),
        ({"unit": D("0.001")}, "au plus deux décimales"),
        ({"profile": ["0.5", "0.3", "0.1"]}, "somme des poids"),
        ({"profile": ["0.3", "0.4", "0.3"]}, "strictement dégressif"),
        ({"profile": ["0.5", "0.5"]}, "un poids par année"),
        ({"envelopes": {2016: D("50000"), 2017: D("55000")}}, "ne peut pas être dérivé"),
        (
            {"awards": [ScheduleAward("A", D("10"), 1), ScheduleAward("A", D("20"), 2)]},
            "figure deux fois",
        ),
        ({"awards": [ScheduleAward("A", 10.0, 1)]}, "attendu un montant décimal"),
        ({"awards": [ScheduleAward("A", D("0"), 1)]}, "strictement positif"),
        ({"awards": [ScheduleAward("A", D("10"), True)]}, "rang"),
        ({"awards": [ScheduleAward("", D("10"), 1)]}, "identifiant"),
    ],
)
def test_invalid_global_input_is_refused_with_a_french_message(kwargs, message):
    arguments = {"envelopes": SEEDS, "awards": LAUREATES, **kwargs}
    with pytest.raises(ScheduleInputError, match=message):
        compute_schedule(**arguments)


def test_no_awards_is_an_empty_table_that_fits():
    result = compute_schedule(SEEDS, [])
    assert result.fits and result.rows == []
    assert result.totals == {2016: D("0"), 2017: D("0"), 2018: D("0")}


def test_the_json_shape_of_a_fitting_table():
    output = result_to_json(compute_schedule(SEEDS, LAUREATES[:1]))
    assert output == {
        "fits": True,
        "schedules": [
            {"id": "atelier-velo", "tranches": {"2016": "14546", "2017": "13333", "2018": "12121"}}
        ],
        "totals": {"2016": "14546", "2017": "13333", "2018": "12121"},
        "overflow": {"2016": "0", "2017": "0", "2018": "0"},
    }
