"""Answers to dialog steps: amounts, dates and bounded text."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from handlers.dialogs import FreeText, parse_amount, parse_day, parse_text
from handlers.errors import (
    DeadlineInPast,
    InvalidAmount,
    InvalidDate,
    TextEmpty,
    TextTooLong,
    UnknownCurrency,
)


@pytest.mark.parametrize(
    ("raw", "amount", "currency"),
    [
        ("150", "150.00", "MAD"),
        ("150 EUR", "150.00", "EUR"),
        ("eur 150", "150.00", "EUR"),
        ("1 500,50 MAD", "1500.50", "MAD"),
        ("1,500.50 usd", "1500.50", "USD"),
        ("0.5", "0.50", "MAD"),
    ],
)
def test_amounts(raw: str, amount: str, currency: str) -> None:
    assert parse_amount(raw) == (Decimal(amount), currency)


@pytest.mark.parametrize("raw", ["", "-5", "0", "abc", "1e400", "NaN", "12..3"])
def test_bad_amounts(raw: str) -> None:
    with pytest.raises((InvalidAmount, UnknownCurrency)):
        parse_amount(raw)


def test_unknown_currency_is_named() -> None:
    with pytest.raises(UnknownCurrency) as refused:
        parse_amount("100 XYZ")
    assert refused.value.params["currency"] == "XYZ"


def test_dates_must_be_future_and_iso() -> None:
    today = date(2026, 11, 26)
    assert parse_day("2027-01-15", today) == date(2027, 1, 15)
    with pytest.raises(DeadlineInPast):
        parse_day("2026-11-26", today)
    with pytest.raises(InvalidDate):
        parse_day("15/01/2027", today)


def test_text_bounds_and_exactness() -> None:
    hostile = "<b>x</b> @everyone *x* \u202eRTL"
    assert parse_text(FreeText(120), f"  {hostile}  ") == hostile
    with pytest.raises(TextTooLong) as refused:
        parse_text(FreeText(10), "x" * 11)
    assert refused.value.params == {"limit": 10, "length": 11}
    with pytest.raises(TextEmpty):
        parse_text(FreeText(10), "   ")
    assert parse_text(FreeText(10, optional=True), " ") is None
