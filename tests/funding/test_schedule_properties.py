"""Property tests of the schedules over thousands of random calls (hypothesis).

1 to 5 years, 1 to 500 awards, random envelopes (zeros included), derived or configured
profiles (nearly equal weights included), units of 1, 0.01 and 100 EUR, amounts that are
tiny, not multiples of the unit, or huge. ``SCHEDULE_EXAMPLES`` (an environment variable)
raises the number of examples, e.g. ``SCHEDULE_EXAMPLES=3000`` for a thorough run.
"""

from __future__ import annotations

import json
import os
import random
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grants.calls.rules import default_profile
from grants.funding.rules import ScheduleAward, compute_schedule, result_to_json
from tests.funding.schedule_checks import check_result

#: 250 large calls, 2,000 small ones and 125 shuffled pairs by default (about 30 s)
EXAMPLES = int(os.environ.get("SCHEDULE_EXAMPLES", "250"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
UNITS = [Decimal("1"), Decimal("0.01"), Decimal("100")]
SCALE = 10**6


@st.composite
def configured_profiles(draw, size: int) -> list[Decimal]:
    """Strictly decreasing weights of at most 6 decimals summing to 1, sometimes nearly
    equal (a millionth apart)."""
    if draw(st.booleans()):
        base = draw(st.integers(1, SCALE // size - size))
        raw = [base + size - k for k in range(size)]
    else:
        raw = sorted(
            draw(
                st.lists(st.integers(1, SCALE // size), min_size=size, max_size=size, unique=True)
            ),
            reverse=True,
        )
    total = sum(raw)
    units = [r * SCALE // total for r in raw]
    units[0] += SCALE - sum(units)
    return [Decimal(u).scaleb(-6) for u in units]


def amount_units():
    return st.one_of(
        st.integers(0, 40),
        st.integers(40, 10**4),
        st.integers(10**4, 10**8),
    )


@st.composite
def calls(draw, max_awards: int = 500, small: bool = False):
    size = draw(st.integers(1, 5))
    years = list(range(2016, 2016 + size))
    unit = draw(st.sampled_from(UNITS))
    count = draw(st.integers(1, max_awards))
    units = draw(
        st.lists(st.integers(0, 60) if small else amount_units(), min_size=count, max_size=count)
    )
    odd = draw(st.sets(st.integers(0, count - 1), max_size=3))
    awards = []
    for n, u in enumerate(units):
        amount = unit * u
        if n in odd:
            amount += Decimal("0.005") if unit == Decimal("0.01") else Decimal("0.5")
        if amount <= 0:
            amount = unit
        awards.append(ScheduleAward(f"A{n:03d}", amount, draw(st.integers(0, 20))))
    # Envelopes around the total asked: short, exact or generous.
    asked = sum(a.amount for a in awards)
    ratio = draw(st.sampled_from(["0", "0.3", "0.9", "1", "1", "1.02", "3"]))
    budget = asked * Decimal(ratio)
    derived = draw(st.booleans())
    if derived:
        shares = sorted(
            draw(st.lists(st.integers(1, 1000), min_size=size, max_size=size, unique=True)),
            reverse=True,
        )
        envelopes = {
            y: (budget * s / sum(shares)).quantize(Decimal("0.01"))
            for y, s in zip(years, shares, strict=True)
        }
        profile = None
        weights = default_profile(list(envelopes.values()))
        if weights is None:  # envelopes too close (or zero): configure one instead
            derived = False
    if not derived:
        profile = draw(configured_profiles(size))
        weights = profile
        jitter = draw(
            st.lists(st.sampled_from(["0", "0.9", "1", "1.1"]), min_size=size, max_size=size)
        )
        envelopes = {
            y: (budget * w * Decimal(j)).quantize(Decimal("0.01"))
            for y, w, j in zip(years, profile, jitter, strict=True)
        }
    return envelopes, awards, unit, profile, weights


@SETTINGS
@given(calls())
def test_every_invariant_holds_on_random_calls(call):
    envelopes, awards, unit, profile, weights = call
    result = compute_schedule(envelopes, awards, unit=unit, profile=profile)
    check_result(result, envelopes, awards, unit, weights)


@settings(SETTINGS, max_examples=EXAMPLES * 8)
@given(calls(max_awards=12, small=True))
def test_every_invariant_holds_on_small_awards(call):
    """Awards near the minimum: constrained rows, nearly equal weights, warnings."""
    envelopes, awards, unit, profile, weights = call
    result = compute_schedule(envelopes, awards, unit=unit, profile=profile)
    check_result(result, envelopes, awards, unit, weights)


@settings(SETTINGS, max_examples=max(EXAMPLES // 2, 10))
@given(calls(max_awards=200), st.randoms(use_true_random=False))
def test_shuffling_the_awards_changes_nothing(call, rnd: random.Random):
    envelopes, awards, unit, profile, _ = call
    first = compute_schedule(envelopes, awards, unit=unit, profile=profile)
    shuffled = list(awards)
    rnd.shuffle(shuffled)
    second = compute_schedule(
        dict(reversed(list(envelopes.items()))), shuffled, unit=unit, profile=profile
    )
    assert second == first
    assert json.dumps(result_to_json(second)) == json.dumps(result_to_json(first))
