"""Cadence arithmetic across month ends, leap years, DST changes and time zones."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

import pytest

from states.calendar.business_days import local_date, zone
from states.calendar.cadence import HALF_PERIOD_DAYS, MONTHS, add_months, next_meeting, opens_on
from states.templates.schema import Cadence

D = date.fromisoformat

ADD_MONTHS = [
    ("jan31+1-is-feb28", "2027-01-31", 1, "2027-02-28"),
    ("jan31+1-is-feb29-leap", "2028-01-31", 1, "2028-02-29"),
    ("feb29+12-is-feb28", "2028-02-29", 12, "2029-02-28"),
    ("feb29+48-is-feb29", "2028-02-29", 48, "2032-02-29"),
    ("nov30+3-is-feb28", "2026-11-30", 3, "2027-02-28"),
    ("nov30+3-is-feb29-leap", "2027-11-30", 3, "2028-02-29"),
    ("aug31+6-is-feb28", "2026-08-31", 6, "2027-02-28"),
    ("aug31+6-is-feb29-leap", "2027-08-31", 6, "2028-02-29"),
    ("mar31+1-is-apr30", "2027-03-31", 1, "2027-04-30"),
    ("jan30+1-is-feb28", "2027-01-30", 1, "2027-02-28"),
    ("jan28+1-keeps-day", "2027-01-28", 1, "2027-02-28"),
    ("dec15+1-is-next-jan", "2026-12-15", 1, "2027-01-15"),
    ("dec31+1-is-next-jan31", "2026-12-31", 1, "2027-01-31"),
    ("dec31+2-is-next-feb28", "2026-12-31", 2, "2027-02-28"),
    ("nov15+14-two-years", "2026-11-15", 14, "2028-01-15"),
    ("jan15-1-is-prev-dec", "2027-01-15", -1, "2026-12-15"),
    ("jan31-2-is-prev-nov30", "2027-01-31", -2, "2026-11-30"),
    ("feb28-3-is-prev-nov28", "2027-02-28", -3, "2026-11-28"),
    ("mar31-1-is-feb28", "2027-03-31", -1, "2027-02-28"),
    ("mar31-1-is-feb29-leap", "2028-03-31", -1, "2028-02-29"),
    ("jan10-13-is-dec-two-years-back", "2027-01-10", -13, "2025-12-10"),
    ("feb29-12-is-feb28", "2028-02-29", -12, "2027-02-28"),
]


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [case[1:] for case in ADD_MONTHS],
    ids=[case[0] for case in ADD_MONTHS],
)
def test_add_months(day: str, months: int, expected: str) -> None:
    """Whole calendar months, the day clamped to the end of the target month."""
    assert add_months(D(day), months) == D(expected)


@pytest.mark.parametrize("day", ["2027-01-31", "2028-02-29", "2026-12-31", "2027-06-15"])
def test_add_zero_months_is_identity(day: str) -> None:
    """Adding no months changes nothing, not even at a month end."""
    assert add_months(D(day), 0) == D(day)


def test_months_per_cadence() -> None:
    """Every cadence but NONE has a period in months."""
    assert MONTHS == {
        Cadence.MONTHLY: 1,
        Cadence.QUARTERLY: 3,
        Cadence.SEMIANNUAL: 6,
        Cadence.ANNUAL: 12,
    }
    assert Cadence.NONE not in MONTHS


M, Q, S, A = Cadence.MONTHLY, Cadence.QUARTERLY, Cadence.SEMIANNUAL, Cadence.ANNUAL

# (id, cadence, first meeting, last held meeting, expected next meeting)
NEXT_MEETING = [
    # held on schedule: the next grid date
    ("monthly-on-schedule", M, "2027-01-15", "2027-01-15", "2027-02-15"),
    ("monthly-on-schedule-later", M, "2027-01-15", "2027-05-15", "2027-06-15"),
    ("monthly-on-schedule-year-end", M, "2027-01-15", "2027-12-15", "2028-01-15"),
    ("quarterly-on-schedule", Q, "2027-01-15", "2027-01-15", "2027-04-15"),
    ("quarterly-on-schedule-year-end", Q, "2027-01-15", "2027-10-15", "2028-01-15"),
    ("semiannual-on-schedule", S, "2027-01-15", "2027-01-15", "2027-07-15"),
    ("semiannual-on-schedule-later", S, "2027-01-15", "2027-07-15", "2028-01-15"),
    ("annual-on-schedule", A, "2027-01-15", "2027-01-15", "2028-01-15"),
    ("annual-on-schedule-later", A, "2027-01-15", "2029-01-15", "2030-01-15"),
    # a clamped month does not move the grid: it stays on the first meeting's day
    ("monthly-jan31-to-feb28", M, "2027-01-31", "2027-01-31", "2027-02-28"),
    ("monthly-feb28-to-mar31-not-mar28", M, "2027-01-31", "2027-02-28", "2027-03-31"),
    ("monthly-apr30-to-may31", M, "2027-01-31", "2027-04-30", "2027-05-31"),
    ("monthly-jan31-to-feb29-leap", M, "2028-01-31", "2028-01-31", "2028-02-29"),
    ("monthly-feb29-to-mar31", M, "2028-01-31", "2028-02-29", "2028-03-31"),
    ("quarterly-nov30-to-feb29-leap", Q, "2027-11-30", "2027-11-30", "2028-02-29"),
    ("quarterly-feb29-to-may30", Q, "2027-11-30", "2028-02-29", "2028-05-30"),
    ("quarterly-jan31-apr30-to-jul31", Q, "2027-01-31", "2027-04-30", "2027-07-31"),
    ("semiannual-aug31-to-feb28", S, "2026-08-31", "2026-08-31", "2027-02-28"),
    ("semiannual-feb28-to-aug31", S, "2026-08-31", "2027-02-28", "2027-08-31"),
    ("annual-feb29-to-feb28", A, "2028-02-29", "2028-02-29", "2029-02-28"),
    ("annual-feb28-to-feb28", A, "2028-02-29", "2029-02-28", "2030-02-28"),
    ("annual-back-to-feb29-leap", A, "2028-02-29", "2031-02-28", "2032-02-29"),
    # held late, after the next grid date would have been: the next grid date after it
    ("monthly-late-past-next", M, "2027-01-10", "2027-03-12", "2027-04-10"),
    ("monthly-late-on-next", M, "2027-01-10", "2027-03-10", "2027-04-10"),
    ("monthly-late-two-periods", M, "2027-01-10", "2027-04-12", "2027-05-10"),
    ("quarterly-late-past-next", Q, "2027-01-15", "2027-07-20", "2027-10-15"),
    ("quarterly-late-across-year-end", Q, "2027-01-31", "2028-02-03", "2028-04-30"),
    ("semiannual-late-past-next", S, "2027-01-15", "2027-07-20", "2028-01-15"),
    ("annual-late-past-next", A, "2027-01-15", "2028-03-01", "2029-01-15"),
    ("annual-late-past-leap-day", A, "2027-02-28", "2028-03-01", "2029-02-28"),
    # held early in its period: still the next period's grid date
    # a day after 31 Jan is within half a month of it: January's meeting held late, not
    # February's held early, so the next is 28 Feb
    ("monthly-early", M, "2027-01-31", "2027-02-01", "2027-02-28"),
    ("quarterly-early", Q, "2027-01-15", "2027-04-02", "2027-07-15"),
    ("quarterly-early-year-end", Q, "2027-01-31", "2027-10-01", "2028-01-31"),
    ("semiannual-early", S, "2027-01-15", "2027-07-01", "2028-01-15"),
    ("annual-early", A, "2027-06-30", "2028-06-01", "2029-06-30"),
]


@pytest.mark.parametrize(
    ("cadence", "first", "last", "expected"),
    [case[1:] for case in NEXT_MEETING],
    ids=[case[0] for case in NEXT_MEETING],
)
def test_next_meeting(cadence: Cadence, first: str, last: str, expected: str) -> None:
    """The first grid date (on the first meeting's day of the month) more than half a period
    after the last meeting."""
    assert next_meeting(cadence, D(first), D(last)) == D(expected)


# Held late past the next grid date, into a grid month before its day of the month: the next
# meeting is the first grid date more than half a period after it. 2 Apr + 15 days is 17 Apr,
# before 30 Apr; 5 Oct + 45 days is 19 Nov, after 15 Oct, so the next is 15 Jan.
LATE_INTO_A_GRID_MONTH = [
    ("monthly-feb-meeting-held-apr2", M, "2027-01-31", "2027-04-02", "2027-04-30"),
    ("quarterly-apr-meeting-held-oct5", Q, "2027-01-15", "2027-10-05", "2028-01-15"),
]


@pytest.mark.parametrize(
    ("cadence", "first", "last", "expected"),
    [case[1:] for case in LATE_INTO_A_GRID_MONTH],
    ids=[case[0] for case in LATE_INTO_A_GRID_MONTH],
)
def test_next_meeting_after_a_late_meeting_is_the_first_grid_date_half_a_period_after_it(
    cadence: Cadence, first: str, last: str, expected: str
) -> None:
    """A meeting held after the next grid date would have been: the first grid date more than
    half a period after it."""
    assert next_meeting(cadence, D(first), D(last)) == D(expected)


@pytest.mark.parametrize("cadence", list(MONTHS))
@pytest.mark.parametrize("first", ["2027-01-31", "2028-02-29", "2027-06-15"])
def test_next_meeting_without_a_last_meeting_is_the_first(cadence: Cadence, first: str) -> None:
    """A client that has not met yet meets on its first meeting's day."""
    assert next_meeting(cadence, D(first), None) == D(first)


@pytest.mark.parametrize("last", [None, "2027-01-31"])
def test_next_meeting_without_a_cadence_is_none(last: str | None) -> None:
    """A client without a cadence has no next meeting."""
    assert next_meeting(Cadence.NONE, D("2027-01-31"), D(last) if last else None) is None


WALKS = [
    (
        "monthly-from-jan31",
        M,
        "2027-01-31",
        "2027-02-28 2027-03-31 2027-04-30 2027-05-31 2027-06-30 2027-07-31 2027-08-31 "
        "2027-09-30 2027-10-31 2027-11-30 2027-12-31 2028-01-31 2028-02-29 2028-03-31",
    ),
    (
        "quarterly-from-nov30",
        Q,
        "2026-11-30",
        "2027-02-28 2027-05-30 2027-08-30 2027-11-30 2028-02-29 2028-05-30",
    ),
    (
        "semiannual-from-aug31",
        S,
        "2026-08-31",
        "2027-02-28 2027-08-31 2028-02-29 2028-08-31 2029-02-28",
    ),
    (
        "annual-from-feb29",
        A,
        "2028-02-29",
        "2029-02-28 2030-02-28 2031-02-28 2032-02-29 2033-02-28",
    ),
]


@pytest.mark.parametrize(
    ("cadence", "first", "expected"),
    [case[1:] for case in WALKS],
    ids=[case[0] for case in WALKS],
)
def test_meetings_held_on_schedule_never_drift(cadence: Cadence, first: str, expected: str) -> None:
    """Meeting on every scheduled day walks the grid of the first meeting's day of the month."""
    meetings: list[date] = []
    last: date | None = D(first)
    for _ in expected.split():
        last = next_meeting(cadence, D(first), last)
        assert last is not None
        meetings.append(last)
    assert meetings == [D(day) for day in expected.split()]


@pytest.mark.parametrize("cadence", list(MONTHS))
@pytest.mark.parametrize("first", ["2027-01-31", "2027-11-30", "2028-02-29", "2027-01-15"])
def test_next_meeting_is_after_last_on_the_grid_within_one_period(
    cadence: Cadence, first: str
) -> None:
    """For every day held from the first meeting on for three years: the next meeting is the
    first date of the first meeting's grid more than half a period after it, and at most one
    period after that (to the end of the month, as a clamped grid day can fall after the same
    day one period on: monthly on the 31st, 28 Feb + 1 month is 28 Mar, the grid date 31 Mar)."""
    step = MONTHS[cadence]
    half = timedelta(days=HALF_PERIOD_DAYS * step)
    grid = [add_months(D(first), k * step) for k in range(0, 60)]
    last = D(first)
    while last < D(first) + timedelta(days=3 * 366):
        target = next_meeting(cadence, D(first), last)
        assert target is not None
        assert target in grid, last
        assert target > last + half, last
        index = grid.index(target)
        assert index == 0 or grid[index - 1] <= last + half, last
        bound = add_months(last + half, step)
        bound = bound.replace(day=calendar.monthrange(bound.year, bound.month)[1])
        assert target <= bound, last
        last += timedelta(days=1)


OPENS_ON = [
    ("same-month", "2027-03-24", 2, "2027-03-10"),
    ("across-month-end", "2027-03-03", 2, "2027-02-17"),
    ("across-leap-feb", "2028-03-07", 2, "2028-02-22"),
    ("across-leap-day", "2028-03-01", 1, "2028-02-23"),
    ("across-year-end", "2028-01-05", 3, "2027-12-15"),
    ("from-jan1", "2028-01-01", 1, "2027-12-25"),
    ("zero-weeks-is-meeting-day", "2027-03-03", 0, "2027-03-03"),
    ("over-dst-start", "2027-03-28", 4, "2027-02-28"),
]


@pytest.mark.parametrize(
    ("meeting", "weeks", "expected"),
    [case[1:] for case in OPENS_ON],
    ids=[case[0] for case in OPENS_ON],
)
def test_opens_on(meeting: str, weeks: int, expected: str) -> None:
    """A review opens its longest lead time, in whole weeks, before the meeting."""
    assert opens_on(D(meeting), weeks) == D(expected)


# (id, local wall time, zone, moment in UTC, local day, next quarterly meeting from that day)
DST_MEETINGS = [
    # US DST starts 2027-03-14 at 02:00: 10:00 is already EDT (UTC-4)
    (
        "new-york-dst-start",
        datetime(2027, 3, 14, 10, 0),
        "America/New_York",
        datetime(2027, 3, 14, 14, 0, tzinfo=UTC),
        "2027-03-14",
        "2027-06-14",
    ),
    # EU DST ends 2027-10-31 at 03:00: 01:30 is still CEST (UTC+2), the previous UTC day
    (
        "berlin-dst-end",
        datetime(2027, 10, 31, 1, 30),
        "Europe/Berlin",
        datetime(2027, 10, 30, 23, 30, tzinfo=UTC),
        "2027-10-31",
        "2028-01-31",
    ),
]


@pytest.mark.parametrize(
    ("wall", "tz_name", "moment", "local_day", "next_quarter"),
    [case[1:] for case in DST_MEETINGS],
    ids=[case[0] for case in DST_MEETINGS],
)
def test_meetings_on_dst_change_days_keep_their_local_day(
    wall: datetime, tz_name: str, moment: datetime, local_day: str, next_quarter: str
) -> None:
    """A meeting on the day the clocks change counts on that local day, and the next one
    is on the same day of the month a quarter later."""
    tz = zone(tz_name)
    assert wall.replace(tzinfo=tz).astimezone(UTC) == moment
    day = local_date(moment, tz)
    assert day == D(local_day)
    assert next_meeting(Cadence.QUARTERLY, day, None) == day
    assert next_meeting(Cadence.QUARTERLY, day, day) == D(next_quarter)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2027, 10, 31, 0, 30, tzinfo=UTC),  # 02:30 CEST, before the clocks go back
        datetime(2027, 10, 31, 1, 30, tzinfo=UTC),  # 02:30 CET, after
    ],
    ids=["first-0230", "second-0230"],
)
def test_both_repeated_hours_at_dst_end_are_the_same_local_day(moment: datetime) -> None:
    """The hour Berlin lives twice when DST ends falls on one local day either time."""
    assert local_date(moment, zone("Europe/Berlin")) == D("2027-10-31")


# 2027-01-31 16:00 UTC is 1 Feb 01:00 in Tokyo (UTC+9) and 31 Jan 08:00 in Los Angeles (UTC-8)
ACROSS_ZONES = [
    ("tokyo-monthly", "Asia/Tokyo", M, "2027-02-01", "2027-03-01"),
    ("los-angeles-monthly", "America/Los_Angeles", M, "2027-01-31", "2027-02-28"),
    ("tokyo-quarterly", "Asia/Tokyo", Q, "2027-02-01", "2027-05-01"),
    ("los-angeles-quarterly", "America/Los_Angeles", Q, "2027-01-31", "2027-04-30"),
]


@pytest.mark.parametrize(
    ("tz_name", "cadence", "local_day", "expected"),
    [case[1:] for case in ACROSS_ZONES],
    ids=[case[0] for case in ACROSS_ZONES],
)
def test_cadence_follows_each_clients_local_day(
    tz_name: str, cadence: Cadence, local_day: str, expected: str
) -> None:
    """One instant is a different day for clients in different zones, and each client's
    cadence counts from its own local day."""
    moment = datetime(2027, 1, 31, 16, 0, tzinfo=UTC)
    day = local_date(moment, zone(tz_name))
    assert day == D(local_day)
    assert next_meeting(cadence, day, day) == D(expected)


def test_same_instant_is_different_days_in_tokyo_and_los_angeles() -> None:
    """The instant is already the next day in Tokyo and still the previous day in LA."""
    moment = datetime(2027, 1, 31, 16, 0, tzinfo=UTC)
    tokyo = local_date(moment, zone("Asia/Tokyo"))
    los_angeles = local_date(moment, zone("America/Los_Angeles"))
    assert tokyo - los_angeles == timedelta(days=1)
    assert moment.date() == los_angeles
