"""Business days skip the public holidays of the client's country and subdivision."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from states.calendar.business_days import (
    Anchor,
    WorkingCalendar,
    add_business_days,
    anchor_dates,
    is_business_day,
    zone,
)
from states.calendar.public_holidays import check_place, holidays_in
from states.errors import InvalidInput

D = date.fromisoformat
NEW_YORK = WorkingCalendar(zone("America/New_York"), ("US", "NY"))
BAVARIA = WorkingCalendar(zone("Europe/Berlin"), ("DE", "BY"))
BERLIN = WorkingCalendar(zone("Europe/Berlin"), ("DE", "BE"))
WEEKENDS = WorkingCalendar(zone("UTC"))

# (id, calendar, from, business days, lands on)
MOVES = [
    ("ny-over-new-year", NEW_YORK, "2026-12-31", 1, "2027-01-04"),
    ("ny-back-over-new-year", NEW_YORK, "2027-01-04", -1, "2026-12-31"),
    ("ny-over-thanksgiving", NEW_YORK, "2026-11-25", 1, "2026-11-27"),
    ("ny-observed-new-year-in-the-old-year", NEW_YORK, "2021-12-30", 1, "2022-01-03"),
    ("ny-new-year-rolls-forward", NEW_YORK, "2027-01-01", 0, "2027-01-04"),
    ("bavaria-over-new-year", BAVARIA, "2026-12-31", 1, "2027-01-04"),
    ("bavaria-over-corpus-christi", BAVARIA, "2026-06-03", 1, "2026-06-05"),
    ("berlin-works-on-corpus-christi", BERLIN, "2026-06-03", 1, "2026-06-04"),
    ("bavaria-works-on-thanksgiving", BAVARIA, "2026-11-25", 1, "2026-11-26"),
    ("bavaria-over-christmas", BAVARIA, "2026-12-24", 1, "2026-12-28"),
    ("weekends-only-on-new-year", WEEKENDS, "2026-12-31", 1, "2027-01-01"),
]


@pytest.mark.parametrize(
    ("cal", "start", "n", "expected"),
    [case[1:] for case in MOVES],
    ids=[case[0] for case in MOVES],
)
def test_business_days_skip_the_places_holidays(
    cal: WorkingCalendar, start: str, n: int, expected: str
) -> None:
    """Counting skips the holidays of the client's country and subdivision, and no others."""
    assert add_business_days(D(start), n, cal) == D(expected)


def test_a_holiday_is_named() -> None:
    """The calendar says which holiday a day is."""
    assert BAVARIA.holiday(D("2026-06-04")) == "Corpus Christi"
    assert BERLIN.holiday(D("2026-06-04")) is None
    assert NEW_YORK.holiday(D("2026-11-26")) == "Thanksgiving Day"
    assert WEEKENDS.holiday(D("2027-01-01")) is None


def test_the_meeting_anchors_move_around_holidays() -> None:
    """Prep two business days before a Monday meeting after Corpus Christi is Wednesday in
    Bavaria, Thursday in Berlin."""
    start, meeting = D("2026-05-01"), D("2026-06-08")
    assert anchor_dates(start, meeting, 2, 5, 1, BAVARIA)[Anchor.PREP_MEETING] == D("2026-06-03")
    assert anchor_dates(start, meeting, 2, 5, 1, BERLIN)[Anchor.PREP_MEETING] == D("2026-06-04")


def test_each_year_is_read_once() -> None:
    """A place's year of holidays is built once and shared by every calendar."""
    first = holidays_in("DE", "BY", 2031)
    assert holidays_in("DE", "BY", 2031) is first


CALENDARS = st.sampled_from([NEW_YORK, BAVARIA, BERLIN, WEEKENDS])
DAYS = st.dates(min_value=D("2020-01-01"), max_value=D("2035-12-31"))


@given(cal=CALENDARS, day=DAYS, n=st.integers(min_value=-40, max_value=40))
def test_a_count_lands_on_a_business_day(cal: WorkingCalendar, day: date, n: int) -> None:
    """Any count, from any day, lands on a weekday that is no holiday there."""
    moved = add_business_days(day, n, cal)
    assert moved.weekday() < 5
    assert cal.holiday(moved) is None
    assert is_business_day(moved, cal)


@given(cal=CALENDARS, day=DAYS, n=st.integers(min_value=-40, max_value=39))
def test_counting_further_goes_later(cal: WorkingCalendar, day: date, n: int) -> None:
    """One business day more never lands earlier, and from a business day it is later."""
    assert add_business_days(day, n + 1, cal) >= add_business_days(day, n, cal)
    if is_business_day(day, cal) and n >= 0:
        assert add_business_days(day, n + 1, cal) > add_business_days(day, n, cal)


@given(cal=CALENDARS, day=DAYS, n=st.integers(min_value=1, max_value=40))
def test_counting_back_returns(cal: WorkingCalendar, day: date, n: int) -> None:
    """From a business day, n forward then n back is the same day; n days forward are at
    least n calendar days later."""
    if not is_business_day(day, cal):
        return
    moved = add_business_days(day, n, cal)
    assert moved - day >= timedelta(days=n)
    assert add_business_days(moved, -n, cal) == day


@pytest.mark.parametrize(
    ("country", "subdivision", "expected"),
    [
        ("us", "ny", ("US", "NY")),
        ("DE", "BY", ("DE", "BY")),
        ("DE", None, ("DE", None)),
        (None, None, (None, None)),
        ("", "", (None, None)),
    ],
)
def test_check_place_spells_codes_as_the_library(
    country: str | None, subdivision: str | None, expected: tuple[str | None, str | None]
) -> None:
    """Codes are taken in any case and kept as the library spells them."""
    assert check_place(country, subdivision) == expected


@pytest.mark.parametrize(
    ("country", "subdivision", "message"),
    [
        ("XX", None, r"^unknown country 'XX'; give an ISO 3166 code such as "),
        ("USA", None, r"^unknown country 'USA'; give an ISO 3166 code such as .*US"),
        ("DE", "NY", r"^country DE has no subdivision 'NY'; use one of BB, BE, .*BY"),
        ("US", "ZZ", r"^country US has no subdivision 'ZZ'; use one of .* \(\d+ in all\)$"),
        (None, "NY", r"^subdivision 'NY' needs its country; give --country too"),
    ],
)
def test_check_place_names_what_is_unknown(
    country: str | None, subdivision: str | None, message: str
) -> None:
    """An unknown country or subdivision is one line naming it and the valid ones near it."""
    with pytest.raises(InvalidInput, match=message):
        check_place(country, subdivision)
