"""Business days, meeting-relative anchor dates and due times in the client's time zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from states.calendar.business_days import (
    Anchor,
    WorkingCalendar,
    add_business_days,
    anchor_dates,
    due_at,
    is_business_day,
    local_date,
    parse_moment,
    zone,
)
from states.errors import InvalidInput

D = date.fromisoformat
WEEKENDS = WorkingCalendar(zone("UTC"))  # no country: weekends only

# December 2026: Fri 11, Sat 12, Sun 13, Mon 14, Tue 15, Wed 16.
BUSINESS_DAYS = [
    ("fri+1-is-mon", "2026-12-11", 1, "2026-12-14"),
    ("sat+0-is-mon", "2026-12-12", 0, "2026-12-14"),
    ("sun+0-is-mon", "2026-12-13", 0, "2026-12-14"),
    ("mon+0-stays", "2026-12-14", 0, "2026-12-14"),
    ("sat+1-is-mon", "2026-12-12", 1, "2026-12-14"),
    ("sun+1-is-mon", "2026-12-13", 1, "2026-12-14"),
    ("sat-1-is-fri", "2026-12-12", -1, "2026-12-11"),
    ("sun-1-is-fri", "2026-12-13", -1, "2026-12-11"),
    ("mon-1-is-fri", "2026-12-14", -1, "2026-12-11"),
    ("tue-1-is-mon", "2026-12-15", -1, "2026-12-14"),
    ("thu+2-is-mon", "2026-12-10", 2, "2026-12-14"),
    ("tue-2-is-fri", "2026-12-15", -2, "2026-12-11"),
    ("wed+5-is-next-wed", "2026-12-16", 5, "2026-12-23"),
    ("wed-5-is-last-wed", "2026-12-16", -5, "2026-12-09"),
    ("fri+5-is-next-fri", "2026-12-11", 5, "2026-12-18"),
    ("mon-5-is-last-mon", "2026-12-14", -5, "2026-12-07"),
    ("sat+5-is-fri", "2026-12-12", 5, "2026-12-18"),
    ("sun-5-is-mon", "2026-12-13", -5, "2026-12-07"),
    ("mon+10-two-weeks", "2026-12-14", 10, "2026-12-28"),
    ("across-year-end", "2026-12-31", 2, "2027-01-04"),
]


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [case[1:] for case in BUSINESS_DAYS],
    ids=[case[0] for case in BUSINESS_DAYS],
)
def test_add_business_days(start: str, n: int, expected: str) -> None:
    """Counting business days skips Saturdays and Sundays in both directions."""
    assert add_business_days(D(start), n, WEEKENDS) == D(expected)


@pytest.mark.parametrize("n", [-12, -5, -1, 1, 3, 5, 12])
def test_add_business_days_lands_on_a_business_day_and_returns(n: int) -> None:
    """From each day of a week, a non-zero count lands on a weekday; from a weekday it returns."""
    for offset in range(7):
        day = D("2026-12-14") + timedelta(days=offset)
        moved = add_business_days(day, n, WEEKENDS)
        assert is_business_day(moved, WEEKENDS)
        assert (moved > day) == (n > 0)
        if is_business_day(day, WEEKENDS):
            assert add_business_days(moved, -n, WEEKENDS) == day


@pytest.mark.parametrize(
    ("day", "expected"),
    [("2026-12-11", True), ("2026-12-12", False), ("2026-12-13", False), ("2026-12-14", True)],
)
def test_is_business_day(day: str, expected: bool) -> None:
    """Monday to Friday are business days."""
    assert is_business_day(D(day), WEEKENDS) is expected


# (id, meeting, prep before, staging before prep, post after, prep, staging done, post)
ANCHORS = [
    ("btr-tuesday", "2026-12-15", 2, 5, 1, "2026-12-11", "2026-12-04", "2026-12-16"),
    ("btr-monday", "2026-12-14", 2, 5, 1, "2026-12-10", "2026-12-03", "2026-12-15"),
    ("btr-friday", "2026-12-18", 2, 5, 1, "2026-12-16", "2026-12-09", "2026-12-21"),
    ("checkin-monday", "2026-12-14", 1, 0, 1, "2026-12-11", "2026-12-11", "2026-12-15"),
]


@pytest.mark.parametrize(
    ("meeting", "prep_before", "staging_before", "post_after", "prep", "staging", "post"),
    [case[1:] for case in ANCHORS],
    ids=[case[0] for case in ANCHORS],
)
def test_anchor_dates_around_a_meeting(
    meeting: str,
    prep_before: int,
    staging_before: int,
    post_after: int,
    prep: str,
    staging: str,
    post: str,
) -> None:
    """Prep meeting before the meeting, staging done before prep, post-meeting after, in
    business days."""
    start = D("2026-10-20")
    dates = anchor_dates(start, D(meeting), prep_before, staging_before, post_after, WEEKENDS)
    assert dates == {
        Anchor.START: start,
        Anchor.MEETING: D(meeting),
        Anchor.PREP_MEETING: D(prep),
        Anchor.STAGING_DONE: D(staging),
        Anchor.POST_MEETING: D(post),
    }


def test_anchor_dates_without_a_meeting() -> None:
    """Until the meeting is set, only the start date is known."""
    start = D("2026-10-20")
    dates = anchor_dates(start, None, 2, 5, 1, WEEKENDS)
    assert dates == {
        Anchor.START: start,
        Anchor.MEETING: None,
        Anchor.PREP_MEETING: None,
        Anchor.STAGING_DONE: None,
        Anchor.POST_MEETING: None,
    }


# (id, time zone, anchor, business days, local hour, expected UTC)
DUE = [
    ("new-york-summer", "America/New_York", "2026-07-15", 0, 17, "2026-07-15T21:00"),
    ("new-york-winter", "America/New_York", "2026-01-14", 0, 17, "2026-01-14T22:00"),
    ("new-york-morning", "America/New_York", "2026-07-15", 0, 9, "2026-07-15T13:00"),
    ("new-york-fri-before-dst-end", "America/New_York", "2026-10-30", 0, 17, "2026-10-30T21:00"),
    ("new-york-across-dst-end", "America/New_York", "2026-10-30", 1, 17, "2026-11-02T22:00"),
    ("new-york-back-across-dst-end", "America/New_York", "2026-11-02", -1, 17, "2026-10-30T21:00"),
    ("new-york-from-dst-sunday", "America/New_York", "2026-11-01", 0, 17, "2026-11-02T22:00"),
    ("berlin-fri-before-dst-start", "Europe/Berlin", "2026-03-27", 0, 17, "2026-03-27T16:00"),
    ("berlin-across-dst-start", "Europe/Berlin", "2026-03-27", 1, 17, "2026-03-30T15:00"),
    ("berlin-from-dst-sunday", "Europe/Berlin", "2026-03-29", 0, 17, "2026-03-30T15:00"),
    ("auckland-summer", "Pacific/Auckland", "2026-01-14", 0, 17, "2026-01-14T04:00"),
    ("auckland-winter", "Pacific/Auckland", "2026-07-15", 0, 17, "2026-07-15T05:00"),
    ("auckland-9am-is-utc-eve", "Pacific/Auckland", "2026-07-15", 0, 9, "2026-07-14T21:00"),
    ("kolkata", "Asia/Kolkata", "2026-07-15", 0, 17, "2026-07-15T11:30"),
    ("kolkata-weekend-rolls", "Asia/Kolkata", "2026-07-18", 0, 17, "2026-07-20T11:30"),
]


@pytest.mark.parametrize(
    ("tz", "anchor", "days", "hour", "expected"),
    [case[1:] for case in DUE],
    ids=[case[0] for case in DUE],
)
def test_due_at_is_local_hour_in_utc(
    tz: str, anchor: str, days: int, hour: int, expected: str
) -> None:
    """The due time is the local hour on the business day, converted to UTC."""
    due = due_at(D(anchor), days, WorkingCalendar(zone(tz)), hour)
    assert due == datetime.fromisoformat(expected).replace(tzinfo=UTC)
    assert due is not None
    assert due.utcoffset() == timedelta(0)


def test_due_at_without_anchor_is_none() -> None:
    """A due rule counting from an unknown date has no due time yet."""
    assert due_at(None, 3, WorkingCalendar(zone("America/New_York")), 17) is None


@pytest.mark.parametrize(
    ("moment", "tz", "expected"),
    [
        ("2026-12-15T23:30:00+00:00", "America/New_York", "2026-12-15"),
        ("2026-12-16T04:30:00+00:00", "America/New_York", "2026-12-15"),
        ("2026-12-15T12:00:00+00:00", "Pacific/Auckland", "2026-12-16"),
    ],
)
def test_local_date(moment: str, tz: str, expected: str) -> None:
    """The calendar day of a UTC moment depends on the client's time zone."""
    assert local_date(datetime.fromisoformat(moment), zone(tz)) == D(expected)


# (id, text, time zone, expected UTC)
MOMENTS = [
    ("naive-winter-new-york", "2026-12-15T14:00", "America/New_York", "2026-12-15T19:00"),
    ("naive-summer-new-york", "2026-07-15T14:00", "America/New_York", "2026-07-15T18:00"),
    ("naive-kolkata", "2026-12-15T14:00", "Asia/Kolkata", "2026-12-15T08:30"),
    ("naive-auckland", "2026-12-15T09:00", "Pacific/Auckland", "2026-12-14T20:00"),
    ("space-separated", "2026-12-15 14:00", "America/New_York", "2026-12-15T19:00"),
    ("the-repeated-hour-is-its-first", "2026-11-01T01:30", "America/New_York", "2026-11-01T05:30"),
    ("offset-wins-over-zone", "2026-12-15T14:00+01:00", "America/New_York", "2026-12-15T13:00"),
    ("negative-offset", "2026-12-15T14:00-08:00", "Europe/Berlin", "2026-12-15T22:00"),
    ("z-suffix", "2026-12-15T14:00Z", "Asia/Kolkata", "2026-12-15T14:00"),
    ("seconds", "2026-12-15T14:00:30", "Europe/Berlin", "2026-12-15T13:00:30"),
]


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [case[1:] for case in MOMENTS],
    ids=[case[0] for case in MOMENTS],
)
def test_parse_moment(text: str, tz: str, expected: str) -> None:
    """Without an offset the text is read in the zone; with one, the offset counts. UTC out."""
    moment = parse_moment(text, zone(tz))
    assert moment == datetime.fromisoformat(expected).replace(tzinfo=UTC)
    assert moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text", ["15/12/2026", "2026-02-30", "2026-13-01", "2026-12-15T25:00", "next tuesday", ""]
)
def test_parse_moment_rejects_malformed_dates(text: str) -> None:
    """A malformed date raises InvalidInput naming the option and the value."""
    with pytest.raises(InvalidInput) as raised:
        parse_moment(text, zone("America/New_York"))
    assert str(raised.value).startswith(f"--meeting {text!r} is not an ISO date-time")


@pytest.mark.parametrize(
    ("text", "tz", "said"),
    [
        ("2026-12-15", "America/New_York", "'2026-12-15' has no time of day; give the meeting's "
         "time too, e.g. 2026-12-15T10:00"),
        ("2027-03-14T02:30", "America/New_York", "'2027-03-14T02:30' does not exist in "
         "America/New_York: the clocks go forward then"),
        ("2027-03-28T02:15", "Europe/Berlin", "does not exist in Europe/Berlin"),
    ],
)  # fmt: skip
def test_a_meeting_without_its_time_or_in_the_skipped_hour_is_refused(
    text: str, tz: str, said: str
) -> None:
    """A date alone would be a meeting at midnight; a time the clocks skip is none at all."""
    with pytest.raises(InvalidInput, match=re.escape(said)):
        parse_moment(text, zone(tz), what="--meeting")


@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)),
    st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "UTC"]),
)
def test_a_local_time_that_exists_reads_back_as_typed(local: datetime, tz: str) -> None:
    """Whatever local time is accepted is the one typed, seen in the client's zone; one is
    refused only on a day the zone's clocks change."""
    text = local.isoformat(timespec="minutes")
    try:
        moment = parse_moment(text, zone(tz), what="--meeting")
    except InvalidInput as refused:
        said = str(refused)
    else:
        seen = moment.astimezone(zone(tz)).replace(tzinfo=None)
        assert seen.isoformat(timespec="minutes") == text
        return
    assert "does not exist" in said
    day = timedelta(days=1)
    assert (local - day).replace(tzinfo=zone(tz)).utcoffset() != (local + day).replace(
        tzinfo=zone(tz)
    ).utcoffset()


def test_parse_moment_names_the_option_it_was_given() -> None:
    """The error names the option the value came from."""
    with pytest.raises(InvalidInput, match=r"^--start 'soon' is not an ISO date-time"):
        parse_moment("soon", zone("Europe/Berlin"), what="--start")


@pytest.mark.parametrize("name", ["America/New_York", "Europe/Berlin", "Pacific/Auckland", "UTC"])
def test_zone_knows_iana_names(name: str) -> None:
    """IANA names give their zone."""
    assert zone(name).key == name


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "", "America/New York", "EST+5", "../etc/passwd", "Europe"]
)
def test_zone_rejects_unknown_names(name: str) -> None:
    """An unknown time zone raises InvalidInput naming the value and the fix."""
    with pytest.raises(InvalidInput) as raised:
        zone(name)
    assert str(raised.value).startswith(f"unknown time zone {name!r}")
    assert "IANA" in str(raised.value)
