"""French formatting of dates and numbers for templates and e-mails."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal

from grants.core.money import format_money

PARIS = ZoneInfo("Europe/Paris")


def to_paris(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: store and pass UTC-aware datetimes")
    return value.astimezone(PARIS)


def format_datetime_fr(value: datetime | None) -> str:
    """UTC-aware datetime → ``21/11/2026 14:05`` in Europe/Paris."""
    if value is None:
        return ""
    return to_paris(value).strftime("%d/%m/%Y %H:%M")


def format_date_fr(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_paris(value).date()
    return value.strftime("%d/%m/%Y")


def format_number_fr(value, digits: int | None = None) -> str:
    if value is None:
        return ""
    if digits is None:
        return format_decimal(value, locale="fr_FR")
    return format_decimal(value, format=f"#,##0.{'0' * digits}", locale="fr_FR")


def register_filters(app) -> None:
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["datetime_fr"] = format_datetime_fr
    app.jinja_env.filters["date_fr"] = format_date_fr
    app.jinja_env.filters["number_fr"] = format_number_fr
