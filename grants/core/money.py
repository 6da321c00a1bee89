"""Money helpers: ``Decimal`` end to end, never ``float``."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency

CENT = Decimal("0.01")


def to_decimal(value: object) -> Decimal:
    """Parse an amount; refuses floats so that no binary rounding sneaks in."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        text = value.replace("\u202f", "").replace("\xa0", "").replace(" ", "")
        text = text.replace("€", "").replace(",", ".")
        try:
            return Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(f"invalid amount: {value!r}") from exc
    raise TypeError(f"cannot read an amount from {type(value).__name__}")


def quantize(amount: Decimal, unit: Decimal = CENT) -> Decimal:
    return amount.quantize(unit, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal | int | None, currency: str = "EUR") -> str:
    """``60000`` → ``60 000,00 €`` (French grouping with narrow no-break spaces)."""
    if amount is None:
        return ""
    return format_currency(to_decimal(amount), currency, locale="fr_FR")
