"""Amounts of money in the MSP's currency: Decimal, exact to the cent, never float."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, Inexact, localcontext

from states.errors import InvalidInput

CENT = Decimal("0.01")
AMOUNT_MAX = Decimal("1000000000.00")
# digits, grouped by commas in threes or not at all, and any decimals (more than two are
# refused, not rounded: "1.500" may be someone's fifteen hundred)
_AMOUNT = re.compile(r"-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]+))?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_EXAMPLE = "write e.g. 1200 or 1200.50"


def parse_amount(text: str | int | Decimal, what: str) -> Decimal:
    """An amount from 0 to AMOUNT_MAX in cents, from text people type, an int or a Decimal;
    otherwise InvalidInput naming `what` (e.g. "--one-time") and the fix."""
    if isinstance(text, float | bool):
        raise TypeError(f"{what}: money never comes as {type(text).__name__}; give str or Decimal")
    if not isinstance(text, str):
        return _checked(Decimal(text), what, str(text)[:40])
    written = text.strip()
    shown = repr(written[:40])
    if not written:
        raise InvalidInput(f"{what} is empty; {_EXAMPLE}")
    found = _AMOUNT.fullmatch(written)
    if found is None:
        raise InvalidInput(f"{what} {shown} is not an amount; {_EXAMPLE}")
    if found[1] is not None and len(found[1]) > 2:
        raise InvalidInput(f"{what} {shown} has more than 2 decimals; {_EXAMPLE}")
    return _checked(Decimal(written.replace(",", "")), what, shown)


def _checked(value: Decimal, what: str, shown: str) -> Decimal:
    if not value.is_finite():
        raise InvalidInput(f"{what} {shown} is not an amount; {_EXAMPLE}")
    if value < 0:
        raise InvalidInput(f"{what} {shown} is negative; write an amount of 0 or more")
    if value > AMOUNT_MAX:
        raise InvalidInput(f"{what} {shown} is more than 1,000,000,000.00; give a smaller amount")
    if value != value.quantize(CENT):
        raise InvalidInput(f"{what} {shown} has more than 2 decimals; {_EXAMPLE}")
    return value.quantize(CENT).copy_abs()  # copy_abs: -0 is 0


def _cents(value: Decimal) -> Decimal:
    """`value` to two decimals; ValueError when that would round it."""
    if not isinstance(value, Decimal):
        raise TypeError(f"money is a Decimal, not {type(value).__name__}")
    if not value.is_finite() or value != value.quantize(CENT):
        raise ValueError(f"{value} is not an amount in cents")
    cents = value.quantize(CENT)
    return cents.copy_abs() if cents.is_zero() else cents


def format_amount(value: Decimal) -> str:
    """The amount for files and JSON: two decimals, no grouping, e.g. 1200.50."""
    return f"{_cents(value):f}"


def display_amount(value: Decimal, currency: str) -> str:
    """The amount for people: currency code, grouped, two decimals, e.g. USD 1,200.50."""
    return f"{validate_currency(currency)} {_cents(value):,.2f}"


def total(values: Iterable[Decimal]) -> Decimal:
    """The exact sum, in cents: never rounded (ValueError for an amount not in whole cents)."""
    cents = [_cents(value) for value in values]
    with localcontext() as context:
        context.traps[Inexact] = True
        return sum(cents, start=Decimal("0.00"))


def validate_currency(code: str) -> str:
    """An ISO 4217 currency code (three capital letters), or InvalidInput."""
    if _CURRENCY.fullmatch(code) is None:
        raise InvalidInput(
            f"currency {code[:20]!r} is not an ISO 4217 code; write three capital letters, "
            "e.g. USD or EUR"
        )
    return code
