"""Aggregation, normalisation, ranking and running sums: pure rules, property-tested."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grants.decisions import rules
from grants.decisions.rules import GridCriterion

GRID = [GridCriterion(1, 30, 5), GridCriterion(2, 25, 5), GridCriterion(3, 20, 5)]
TINY = Decimal("1e-20")

scores_0_100 = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False)


@st.composite
def grids_and_scores(draw):
    n = draw(st.integers(min_value=1, max_value=6))
    grid = [
        GridCriterion(
            i,
            draw(st.integers(min_value=1, max_value=50)),
            draw(st.integers(min_value=1, max_value=20)),
        )
        for i in range(n)
    ]
    scores = {c.id: draw(st.integers(min_value=0, max_value=c.scale_max)) for c in grid}
    return grid, scores


# --- review_score -------------------------------------------------------------------------


def test_review_score_is_the_weighted_mean_on_100():
    # (30·5/5 + 25·0/5 + 20·2/5) / 75 × 100 = 38 / 75 × 100 = 50.666…
    score = rules.review_score(GRID, {1: 5, 2: 0, 3: 2})
    assert rules.display(score) == Decimal("50.67")
    assert rules.review_score(GRID, {1: 5, 2: 5, 3: 5}) == 100
    assert rules.review_score(GRID, {1: 0, 2: 0, 3: 0}) == 0


def test_review_score_without_scores_is_none_and_missing_criteria_are_left_out():
    assert rules.review_score(GRID, {}) is None
    assert rules.review_score(GRID, {1: 4}) == 80


@given(grids_and_scores())
def test_review_score_lies_between_0_and_100(data):
    grid, scores = data
    assert 0 <= rules.review_score(grid, scores) <= 100


@given(grids_and_scores(), st.integers(min_value=2, max_value=7), st.integers(1, 9))
def test_review_score_is_scale_invariant(data, factor, weight_factor):
    """Scores and scales multiplied together, or all weights multiplied: the same score."""
    grid, scores = data
    scaled = [GridCriterion(c.id, c.weight, c.scale_max * factor) for c in grid]
    reweighted = [GridCriterion(c.id, c.weight * weight_factor, c.scale_max) for c in grid]
    base = rules.review_score(grid, scores)
    assert rules.review_score(scaled, {k: v * factor for k, v in scores.items()}) == base
    assert rules.review_score(reweighted, scores) == base


# --- aggregate ----------------------------------------------------------------------------


def test_aggregate_mean_population_deviation_count_and_flag():
    summary = rules.aggregate([Decimal("60"), Decimal("80")])
    assert summary.count == 2
    assert summary.mean == 70
    assert summary.std_dev == 10  # population: sqrt(((60-70)² + (80-70)²) / 2)
    assert summary.spread == 20
    assert summary.disagreement is False  # exactly 20 points apart: not beyond
    assert rules.aggregate([Decimal("60"), Decimal("80.01")]).disagreement is True
    single = rules.aggregate([Decimal("42")])
    assert (single.count, single.mean, single.std_dev, single.disagreement) == (1, 42, 0, False)
    empty = rules.aggregate([])
    assert (empty.count, empty.mean, empty.std_dev) == (0, None, None)


@given(st.lists(scores_0_100, min_size=1, max_size=12))
def test_the_mean_lies_between_min_and_max(values):
    summary = rules.aggregate(values)
    assert min(values) <= summary.mean <= max(values)
    assert summary.std_dev >= 0
    assert summary.std_dev <= (max(values) - min(values))
    assert summary.disagreement == (max(values) - min(values) > rules.DISAGREEMENT_THRESHOLD)


@given(st.lists(scores_0_100, min_size=1, max_size=12))
def test_aggregate_does_not_depend_on_the_order(values):
    shuffled = list(values)
    random.Random(4).shuffle(shuffled)
    assert rules.aggregate(values) == rules.aggregate(shuffled)


# --- z-scores -----------------------------------------------------------------------------


def test_z_scores_of_a_single_review_or_a_constant_reviewer_are_zero():
    assert rules.z_scores([Decimal("70")]) == [0]
    assert rules.z_scores([Decimal("70")] * 3) == [0, 0, 0]
    assert rules.z_scores([Decimal("60"), Decimal("80")]) == [-1, 1]


@given(st.lists(scores_0_100, min_size=1, max_size=15))
def test_z_scores_of_a_reviewer_sum_to_zero(values):
    assert abs(sum(rules.z_scores(values))) < TINY


@given(
    st.lists(scores_0_100, min_size=1, max_size=15),
    st.decimals(min_value=-50, max_value=50, places=2, allow_nan=False),
)
def test_adding_a_constant_to_a_reviewer_does_not_change_their_z_scores(values, shift):
    assert rules.z_scores([v + shift for v in values]) == rules.z_scores(values)


@given(st.lists(scores_0_100, min_size=2, max_size=15), st.integers(min_value=2, max_value=5))
def test_multiplying_a_reviewer_by_a_constant_does_not_change_their_z_scores(values, factor):
    scaled = rules.z_scores([v * factor for v in values])
    for a, b in zip(scaled, rules.z_scores(values), strict=True):
        assert abs(a - b) < TINY


def test_normalisation_removes_a_harsh_reviewer():
    """A harsh and a lenient reviewer who rank three files the same way give each file the
    same normalised score."""
    harsh = [("A", Decimal("20")), ("B", Decimal("30")), ("C", Decimal("40"))]
    lenient = [("A", Decimal("70")), ("B", Decimal("80")), ("C", Decimal("90"))]
    z = rules.normalised_scores({1: harsh, 2: lenient})
    assert z["A"] < z["B"] < z["C"]
    assert z["B"] == 0
    assert z["A"] == -z["C"]


@given(
    st.dictionaries(
        st.integers(1, 5),
        st.lists(st.tuples(st.integers(1, 8), scores_0_100), max_size=6, unique_by=lambda t: t[0]),
        max_size=5,
    ),
    st.dictionaries(
        st.integers(1, 5), st.decimals(min_value=-30, max_value=30, places=1), max_size=5
    ),
)
def test_normalised_scores_ignore_each_reviewers_offset(reviews, shifts):
    shifted = {
        r: [(app, s + shifts.get(r, Decimal(0))) for app, s in items]
        for r, items in reviews.items()
    }
    assert rules.normalised_scores(shifted) == rules.normalised_scores(reviews)


# --- ranking ------------------------------------------------------------------------------


def _rows():
    return [
        {"id": 1, "reference": "AAP-0001", "score": Decimal("70"), "normalised": Decimal("0.5"),
         "requested_total": Decimal("30000")},
        {"id": 2, "reference": "AAP-0002", "score": None, "normalised": None,
         "requested_total": Decimal("10000")},
        {"id": 3, "reference": "AAP-0003", "score": Decimal("85"), "normalised": Decimal("-0.2"),
         "requested_total": Decimal("20000")},
        {"id": 4, "reference": "AAP-0004", "score": Decimal("70"), "normalised": Decimal("1.1"),
         "requested_total": Decimal("30000")},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("note", [3, 1, 4, 2]),
        ("normalisee", [4, 1, 3, 2]),
        ("demande", [1, 4, 3, 2]),
        ("reference", [1, 2, 3, 4]),
        ("n'importe quoi", [3, 1, 4, 2]),
    ],
)
def test_ranking_sorts_with_missing_scores_last_and_ties_by_reference(key, expected):
    assert [r["id"] for r in rules.ranking(_rows(), key)] == expected


@given(st.permutations(_rows()), st.sampled_from(list(rules.SORT_KEYS)))
def test_ranking_does_not_depend_on_the_input_order(rows, key):
    assert rules.ranking(rows, key) == rules.ranking(_rows(), key)


# --- running sums -------------------------------------------------------------------------


def test_running_sums_flag_the_row_where_an_envelope_runs_out():
    envelopes = {2016: Decimal("25000"), 2017: Decimal("100000")}
    asked = [{2016: Decimal("10000")}, {2016: Decimal("10000")}, {2016: Decimal("10000")}, {}]
    rows = rules.running_sums(asked, envelopes)
    assert [r.years[0].cumulative for r in rows] == [10000, 20000, 30000, 30000]
    assert [r.years[0].runs_out for r in rows] == [False, False, True, False]
    assert [r.years[0].over for r in rows] == [False, False, True, True]
    assert rows[2].runs_out_years == [2016]
    assert not any(r.years[1].over for r in rows)
    assert [r.cumulative_total for r in rows] == [10000, 20000, 30000, 30000]
    assert not any(r.runs_out_total for r in rows)


money = st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False)


@given(
    st.lists(st.dictionaries(st.sampled_from([2016, 2017, 2018, 2019]), money), max_size=20),
    st.dictionaries(st.sampled_from([2016, 2017, 2018]), money, min_size=1),
)
@settings(max_examples=200)
def test_running_sums_are_monotone_and_run_out_once(asked, envelopes):
    rows = rules.running_sums(asked, envelopes)
    assert len(rows) == len(asked)
    for year_index, year in enumerate(sorted(envelopes)):
        cumulative = [r.years[year_index].cumulative for r in rows]
        assert cumulative == sorted(cumulative)  # monotone
        assert sum(r.years[year_index].runs_out for r in rows) <= 1
        running = Decimal(0)
        for row, amounts in zip(rows, asked, strict=True):
            running += amounts.get(year, Decimal(0))
            assert row.years[year_index].cumulative == running
            assert row.years[year_index].over == (running > envelopes[year])
    totals = [r.cumulative_total for r in rows]
    assert totals == sorted(totals)
    assert sum(r.runs_out_total for r in rows) <= 1
