"""Fiscal quarters for any fiscal-year start, and money that stays exact to the cent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from states.errors import InvalidInput
from states.plans.fiscal import (
    FiscalQuarter,
    months_in_quarter_running,
    quarters_from,
    validate_start_month,
)
from states.plans.money import (
    CENT,
    display_amount,
    format_amount,
    parse_amount,
    total,
    validate_currency,
)

D = date.fromisoformat
Q = FiscalQuarter.parse
START_MONTHS = st.integers(min_value=1, max_value=12)
DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
QUARTERS = st.builds(FiscalQuarter, st.integers(min_value=2001, max_value=2099), st.integers(1, 4))
AMOUNTS = st.decimals(min_value=0, max_value=Decimal("1000000000.00"), places=2)


def _month(day: date) -> int:
    return day.year * 12 + day.month


def _index(quarter: FiscalQuarter) -> int:
    return quarter.year * 4 + quarter.quarter


# --- fiscal quarters -----------------------------------------------------------------------

QUARTER_OF = [
    ("july-start-fy-begins", "2026-07-01", 7, "FY2027-Q1"),
    ("july-start-day-before", "2026-06-30", 7, "FY2026-Q4"),
    ("july-start-ends-june", "2027-06-30", 7, "FY2027-Q4"),
    ("july-start-q2", "2026-10-01", 7, "FY2027-Q2"),
    ("january-start-feb", "2027-02-10", 1, "FY2027-Q1"),
    ("january-start-dec", "2027-12-31", 1, "FY2027-Q4"),
    ("october-start-oct", "2026-10-01", 10, "FY2027-Q1"),
    ("october-start-sep", "2026-09-30", 10, "FY2026-Q4"),
    ("december-start", "2026-12-01", 12, "FY2027-Q1"),
    ("december-start-nov", "2027-11-30", 12, "FY2027-Q4"),
    ("february-start-jan", "2027-01-31", 2, "FY2027-Q4"),
]


@pytest.mark.parametrize(
    ("day", "start_month", "label"),
    [case[1:] for case in QUARTER_OF],
    ids=[case[0] for case in QUARTER_OF],
)
def test_quarter_of_a_day(day: str, start_month: int, label: str) -> None:
    """A fiscal year is named by the calendar year in which it ends."""
    assert FiscalQuarter.of(D(day), start_month).label == label


def test_fy2027_with_a_july_start_runs_july_to_june() -> None:
    """FY2027 with a July start: 2026-07-01 to 2027-06-30, its quarters three months each."""
    assert Q("FY2027-Q1").start(7) == D("2026-07-01")
    assert Q("FY2027-Q1").end(7) == D("2026-09-30")
    assert Q("FY2027-Q4").end(7) == D("2027-06-30")
    assert Q("FY2027-Q2").months(7) == [D("2026-10-01"), D("2026-11-01"), D("2026-12-01")]


def test_january_start_is_the_calendar_year() -> None:
    """With a January start, FY2027 is calendar 2027."""
    assert Q("FY2027-Q1").start(1) == D("2027-01-01")
    assert Q("FY2027-Q1").end(1) == D("2027-03-31")
    assert Q("FY2027-Q4").end(1) == D("2027-12-31")


@pytest.mark.parametrize("text", ["FY2027-Q1", "fy2027-q1", "2027-Q1", "2027Q1", " FY 2027 - Q1 "])
def test_parse_accepts_the_usual_spellings(text: str) -> None:
    """The forms people write all name the same quarter."""
    assert FiscalQuarter.parse(text) == FiscalQuarter(2027, 1)


@pytest.mark.parametrize(
    "text", ["", "x", "FY2027", "FY2027-Q5", "FY2027-Q0", "Q1-2027", "FY27-Q1", "FY1999-Q4",
             "FY2101-Q1", "FY2027--Q1", "FY٢٠٢٧-Q1", "FY2027-Q1\nrm", "a" * 500],
)  # fmt: skip
def test_parse_refuses_anything_else_in_one_line(text: str) -> None:
    """Anything else is one line naming the text, bounded, and the form to write."""
    with pytest.raises(InvalidInput) as raised:
        FiscalQuarter.parse(text)
    message = str(raised.value)
    assert "\n" not in message
    assert "write e.g. FY2027-Q3" in message
    assert repr(text[:40]) in message
    assert len(message) < 160


@pytest.mark.parametrize("value", [0, 13, -1, True, "7"])
def test_start_month_is_a_month(value: int) -> None:
    """fiscal_year_start is 1 to 12; anything else is refused with the range."""
    with pytest.raises(InvalidInput, match="fiscal_year_start must be a month, 1 to 12"):
        validate_start_month(value)
    with pytest.raises(InvalidInput):
        FiscalQuarter.of(D("2027-01-01"), value)
    with pytest.raises(InvalidInput):
        FiscalQuarter(2027, 1).start(value)


def test_a_quarter_is_one_to_four() -> None:
    """A quarter 5 cannot be built (a programming error, not an input)."""
    with pytest.raises(ValueError, match="1 to 4"):
        FiscalQuarter(2027, 5)


def test_next_and_previous_cross_the_year() -> None:
    """Q4 is followed by Q1 of the next fiscal year, and the other way round."""
    assert Q("FY2027-Q4").next() == Q("FY2028-Q1")
    assert Q("FY2028-Q1").previous() == Q("FY2027-Q4")
    assert Q("FY2027-Q2").next(7) == Q("FY2029-Q1")
    assert Q("FY2027-Q2").next(-6) == Q("FY2025-Q4")
    assert quarters_from(Q("FY2027-Q3"), 3) == [Q("FY2027-Q3"), Q("FY2027-Q4"), Q("FY2028-Q1")]
    assert quarters_from(Q("FY2027-Q3"), 0) == []


@given(DAYS, START_MONTHS)
def test_any_day_lands_in_exactly_one_quarter(day: date, start_month: int) -> None:
    """The day's quarter holds it, and neither neighbor does."""
    quarter = FiscalQuarter.of(day, start_month)
    assert quarter.start(start_month) <= day <= quarter.end(start_month)
    assert day > quarter.previous().end(start_month)
    assert day < quarter.next().start(start_month)
    assert FiscalQuarter.of(quarter.start(start_month), start_month) == quarter
    assert FiscalQuarter.of(quarter.end(start_month), start_month) == quarter


@given(QUARTERS, START_MONTHS)
def test_a_fiscal_year_starts_in_its_start_month_and_ends_in_its_year(
    quarter: FiscalQuarter, start_month: int
) -> None:
    """Q1 starts on the first of the start month; Q4 ends in the calendar year named."""
    first = FiscalQuarter(quarter.year, 1).start(start_month)
    last = FiscalQuarter(quarter.year, 4).end(start_month)
    assert (first.month, first.day) == (start_month, 1)
    assert last.year == quarter.year
    assert (last - first).days in (364, 365)


@given(QUARTERS, START_MONTHS, st.integers(min_value=0, max_value=40))
def test_quarters_from_are_contiguous_three_months_each(
    first: FiscalQuarter, start_month: int, count: int
) -> None:
    """Consecutive quarters cover consecutive months, three each, in order, with no gap."""
    quarters = quarters_from(first, count)
    assert len(quarters) == count
    assert quarters == sorted(quarters)
    months = [month for quarter in quarters for month in quarter.months(start_month)]
    assert len(months) == 3 * count
    assert all(month.day == 1 for month in months)
    assert all(_month(b) - _month(a) == 1 for a, b in zip(months, months[1:], strict=False))
    for earlier, later in zip(quarters, quarters[1:], strict=False):
        assert (later.start(start_month) - earlier.end(start_month)).days == 1
        assert later.previous() == earlier


@given(QUARTERS)
def test_parse_label_round_trips(quarter: FiscalQuarter) -> None:
    """A quarter's label parses back to the quarter, in each accepted spelling."""
    assert FiscalQuarter.parse(quarter.label) == quarter
    assert FiscalQuarter.parse(quarter.label.lower()) == quarter
    assert FiscalQuarter.parse(f"{quarter.year}Q{quarter.quarter}") == quarter


RUNNING = [
    ("one-month-inside", "2027-02-01", "2027-02-28", 1, "FY2027-Q1", 1),
    ("mid-month-dates-count-whole", "2027-02-15", "2027-02-03", 1, "FY2027-Q1", 1),
    ("whole-quarter", "2026-01-01", None, 1, "FY2027-Q1", 3),
    ("starts-in-last-month", "2027-03-20", None, 1, "FY2027-Q1", 1),
    ("ends-in-first-month", "2026-01-01", "2027-01-31", 1, "FY2027-Q1", 1),
    ("starts-after", "2027-04-01", None, 1, "FY2027-Q1", 0),
    ("ended-before", "2025-01-01", "2026-12-31", 1, "FY2027-Q1", 0),
    ("july-start-q1", "2026-08-01", "2027-06-30", 7, "FY2027-Q1", 2),
    ("ends-before-it-starts", "2027-03-01", "2027-01-31", 1, "FY2027-Q1", 0),
]


@pytest.mark.parametrize(
    ("starts", "ends", "start_month", "quarter", "months"),
    [case[1:] for case in RUNNING],
    ids=[case[0] for case in RUNNING],
)
def test_months_a_recurring_line_runs_in_a_quarter(
    starts: str, ends: str | None, start_month: int, quarter: str, months: int
) -> None:
    """A line runs whole months, from its start month through its end month."""
    ran = months_in_quarter_running(Q(quarter), start_month, D(starts), ends and D(ends))
    assert ran == months


@given(DAYS, st.none() | DAYS, START_MONTHS, st.integers(min_value=0, max_value=8))
def test_months_running_over_consecutive_quarters_add_up(
    starts: date, ends: date | None, start_month: int, margin: int
) -> None:
    """Over consecutive quarters, the months a line runs in each add up to the months it runs
    (through the last quarter when it runs on)."""
    if ends is not None and ends < starts:
        starts, ends = ends, starts
    first = FiscalQuarter.of(starts, start_month).next(-margin)
    final = FiscalQuarter.of(ends or starts, start_month).next(margin if ends else 12)
    quarters = quarters_from(first, _index(final) - _index(first) + 1)
    ran = sum(months_in_quarter_running(q, start_month, starts, ends) for q in quarters)
    assert ran == _month(ends or final.end(start_month)) - _month(starts) + 1


# --- money ---------------------------------------------------------------------------------

PARSED = [
    ("whole", "1200", "1200.00"),
    ("grouped-with-cents", "1,200.50", "1200.50"),
    ("one-decimal", "1200.5", "1200.50"),
    ("spaces-around", " 99.99 ", "99.99"),
    ("zero", "0", "0.00"),
    ("minus-zero", "-0", "0.00"),
    ("millions-grouped", "1,000,000,000.00", "1000000000.00"),
    ("int", 1200, "1200.00"),
    ("decimal", Decimal("1200.5"), "1200.50"),
    ("decimal-trailing-zeros", Decimal("1200.500"), "1200.50"),
    ("decimal-exponent", Decimal("1.2E+3"), "1200.00"),
]


@pytest.mark.parametrize(
    ("given", "expected"), [case[1:] for case in PARSED], ids=[case[0] for case in PARSED]
)
def test_parse_amount_accepts(given: str | int | Decimal, expected: str) -> None:
    """Text people type, ints and Decimals become an amount in cents."""
    amount = parse_amount(given, "--one-time")
    assert amount == Decimal(expected)
    assert str(amount) == expected


REFUSED = [
    ("letters", "abc", "is not an amount"),
    ("empty", "", "is empty"),
    ("blank", "   ", "is empty"),
    ("negative", "-5", "is negative"),
    ("negative-decimal", Decimal("-0.01"), "is negative"),
    ("negative-int", -1, "is negative"),
    ("three-decimals", "1.500", "more than 2 decimals"),
    ("sub-cent-decimal", Decimal("0.001"), "more than 2 decimals"),
    ("too-large", "1000000000.01", "more than 1,000,000,000.00"),
    ("too-large-int", 10**30, "more than 1,000,000,000.00"),
    ("huge-decimal", Decimal("1E+400"), "more than 1,000,000,000.00"),
    ("nan-text", "NaN", "is not an amount"),
    ("inf-text", "inf", "is not an amount"),
    ("nan-decimal", Decimal("NaN"), "is not an amount"),
    ("inf-decimal", Decimal("Infinity"), "is not an amount"),
    ("exponent-text", "1e3", "is not an amount"),
    ("bad-grouping", "1,20,0", "is not an amount"),
    ("european", "1.200,50", "is not an amount"),
    ("currency-sign", "$1200", "is not an amount"),
    ("other-digits", "١٢٠٠", "is not an amount"),
    ("no-integer-part", ".5", "is not an amount"),
    ("two-lines", "12\n13", "is not an amount"),
    ("long", "9" * 5000, "more than 1,000,000,000.00"),
]


@pytest.mark.parametrize(
    ("given", "reason"), [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED]
)
def test_parse_amount_refuses_in_one_line(given: str | int | Decimal, reason: str) -> None:
    """Anything else is one line naming what was given, why, and what to write."""
    with pytest.raises(InvalidInput) as raised:
        parse_amount(given, "--one-time")
    message = str(raised.value)
    assert message.startswith("--one-time ")
    assert reason in message
    assert "\n" not in message
    assert len(message) < 160


def test_parse_amount_message_names_the_option_and_the_fix() -> None:
    """The message reads as the CLI shows it."""
    with pytest.raises(InvalidInput) as raised:
        parse_amount("abc", "--one-time")
    assert str(raised.value) == "--one-time 'abc' is not an amount; write e.g. 1200 or 1200.50"


@pytest.mark.parametrize("given", [1200.5, 0.0, True])
def test_money_never_comes_as_float(given: float) -> None:
    """A float (or a bool) is a programming error, not an input."""
    with pytest.raises(TypeError):
        parse_amount(given, "--one-time")


@pytest.mark.parametrize(
    ("value", "json", "shown"),
    [
        ("1200.5", "1200.50", "USD 1,200.50"),
        ("0", "0.00", "USD 0.00"),
        ("-0.00", "0.00", "USD 0.00"),
        ("1000000000", "1000000000.00", "USD 1,000,000,000.00"),
        ("0.07", "0.07", "USD 0.07"),
    ],
)
def test_format_and_display(value: str, json: str, shown: str) -> None:
    """Two decimals, no grouping for files; the currency and grouping for people."""
    assert format_amount(Decimal(value)) == json
    assert display_amount(Decimal(value), "USD") == shown


@pytest.mark.parametrize("value", [Decimal("0.005"), Decimal("NaN"), Decimal("Infinity")])
def test_format_refuses_what_it_would_round(value: Decimal) -> None:
    """Formatting never rounds: an amount that is not whole cents is a programming error."""
    with pytest.raises(ValueError, match="not an amount in cents"):
        format_amount(value)
    with pytest.raises(ValueError, match="not an amount in cents"):
        total([Decimal("1.00"), value])


@given(AMOUNTS)
def test_parse_of_format_round_trips(amount: Decimal) -> None:
    """What format_amount writes, parse_amount reads back to the same amount."""
    assert parse_amount(format_amount(amount), "amount") == amount
    grouped = display_amount(amount, "EUR").removeprefix("EUR ")
    assert parse_amount(grouped, "amount") == amount


@given(st.lists(st.integers(min_value=0, max_value=100_000_000_000), max_size=300))
def test_totals_are_exact(cents: list[int]) -> None:
    """A total of many amounts with cents is exact: the sum of the cents, quantized."""
    amounts = [Decimal(count) * CENT for count in cents]
    summed = total(amounts)
    assert summed == Decimal(sum(cents)) * CENT
    assert summed.as_tuple().exponent == -2


def test_total_of_cents_is_not_float_arithmetic() -> None:
    """Ten times 0.10 is 1.00 exactly; an empty total is 0.00."""
    assert total([Decimal("0.10")] * 10) == Decimal("1.00")
    assert format_amount(total([Decimal("0.10")] * 10)) == "1.00"
    assert format_amount(total([])) == "0.00"


@pytest.mark.parametrize("code", ["USD", "EUR", "CHF"])
def test_currency_codes(code: str) -> None:
    """Three capital letters is the shape of an ISO 4217 code."""
    assert validate_currency(code) == code


@pytest.mark.parametrize("code", ["usd", "US", "USDX", "", "U$D", "USD\n", "ÜSD", "€"])
def test_currency_refused(code: str) -> None:
    """Anything else is one line naming the code and the fix."""
    with pytest.raises(InvalidInput, match="is not an ISO 4217 code; write three capital"):
        validate_currency(code)
    with pytest.raises(InvalidInput):
        display_amount(Decimal("1.00"), code)
