"""French formatting of money and dates (Europe/Paris), Decimal-only money."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grants.core.formatting import (
    format_date_fr,
    format_datetime_fr,
    format_number_fr,
)
from grants.core.money import format_money, quantize, to_decimal

NNBSP = "\u202f"  # narrow no-break space: French thousands separator
NBSP = "\u00a0"  # no-break space before the currency sign


def test_money_uses_french_grouping_decimals_and_euro_sign():
    assert format_money(Decimal("60000")) == f"60{NNBSP}000,00{NBSP}€"
    assert format_money(Decimal("1234567.5")) == f"1{NNBSP}234{NNBSP}567,50{NBSP}€"
    assert format_money(Decimal("0.05")) == f"0,05{NBSP}€"
    assert format_money(60000) == f"60{NNBSP}000,00{NBSP}€"
    assert format_money(None) == ""


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        format_money(60000.0)
    with pytest.raises(TypeError):
        to_decimal(0.1)


def test_to_decimal_reads_french_amounts():
    assert to_decimal("60 000,00 €") == Decimal("60000.00")
    assert to_decimal(f"60{NNBSP}000,50{NBSP}€") == Decimal("60000.50")
    assert to_decimal(12) == Decimal(12)
    with pytest.raises(ValueError):
        to_decimal("soixante mille")


@given(st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2))
def test_formatted_money_reads_back_to_the_same_amount(amount):
    assert to_decimal(format_money(amount)) == quantize(amount)


def test_datetime_is_shown_in_paris_time_in_winter_and_summer():
    winter = datetime(2026, 11, 21, 13, 5, tzinfo=UTC)  # UTC+1
    summer = datetime(2026, 7, 14, 12, 0, tzinfo=UTC)  # UTC+2
    assert format_datetime_fr(winter) == "21/11/2026 14:05"
    assert format_datetime_fr(summer) == "14/07/2026 14:00"
    assert format_datetime_fr(None) == ""


def test_date_of_a_late_utc_time_is_the_next_day_in_paris():
    assert format_date_fr(datetime(2026, 11, 21, 23, 30, tzinfo=UTC)) == "22/11/2026"
    assert format_date_fr(date(2026, 3, 1)) == "01/03/2026"


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        format_datetime_fr(datetime(2026, 11, 21, 13, 5))


def test_numbers_use_french_separators():
    assert format_number_fr(Decimal("1234.5")) == f"1{NNBSP}234,5"
    assert format_number_fr(Decimal("2.5"), 2) == "2,50"


def test_template_filters(app_ctx):
    from flask import render_template_string

    html = render_template_string(
        "{{ amount|money }} | {{ when|datetime_fr }} | {{ when|date_fr }} | {{ n|number_fr }}",
        amount=Decimal("60000"),
        when=datetime(2026, 7, 14, 12, 0, tzinfo=UTC),
        n=Decimal("1500"),
    )
    assert html == f"60{NNBSP}000,00{NBSP}€ | 14/07/2026 14:00 | 14/07/2026 | 1{NNBSP}500"
