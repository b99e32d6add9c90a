"""Calendar invitations: parsed back with icalendar, in the client's zone, updated in place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from notifications.invites import invitation
from states.errors import InvalidInput

NEW_YORK = ZoneInfo("America/New_York")
UID = "review-42@3f9c1e2a-xbr"
MEETING = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)  # Mon 30 Nov 2026, 14:00 in New York
ATTENDEES = [
    ("Andy Account", "andy@msp.example"),
    ("Vera Vcio", "vera@msp.example"),
    ("O'Brien, Pat", "pat@acme-law.example"),
]


def make(**changes: Any) -> bytes:
    args: dict[str, Any] = {
        "uid": UID,
        "sequence": 0,
        "summary": "Acme Law · QBR 2026-Q4",
        "description": "Quarterly Business Review: the quarter's tickets, SLA, security and plans.",
        "start": MEETING,
        "duration": timedelta(hours=1),
        "zone": "America/New_York",
        "organizer": "andy@msp.example",
        "attendees": ATTENDEES,
        "url": "https://xbr.msp.example/reviews/42",
    }
    return invitation(**(args | changes))


def parse(ics: bytes) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(ics)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


def test_request_parses_back() -> None:
    """UID, SEQUENCE, method, status, summary, organizer and URL come back as given."""
    calendar, event = parse(make())
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(event["UID"]) == UID
    assert event.decoded("SEQUENCE") == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["SUMMARY"]) == "Acme Law · QBR 2026-Q4"
    assert str(event["ORGANIZER"]) == "mailto:andy@msp.example"
    assert str(event["URL"]) == "https://xbr.msp.example/reviews/42"
    assert "SLA, security and plans" in str(event["DESCRIPTION"])


def test_times_are_in_the_clients_zone_with_a_vtimezone() -> None:
    """DTSTART/DTEND carry the client's TZID, local wall time, and the zone is defined."""
    ics = make()
    assert b"DTSTART;TZID=America/New_York:20261130T140000" in ics
    assert b"DTEND;TZID=America/New_York:20261130T150000" in ics
    calendar, event = parse(ics)
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert start == MEETING
    assert end - start == timedelta(hours=1)
    assert start.utcoffset() == timedelta(hours=-5)
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    zones = [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")]
    assert zones == ["America/New_York"]


def test_dtstamp_is_now_in_utc() -> None:
    """DTSTAMP says when this version of the invitation was made."""
    before = datetime.now(UTC).replace(microsecond=0)
    _, event = parse(make())
    stamp = event.decoded("DTSTAMP")
    assert stamp.utcoffset() == timedelta(0)
    assert before <= stamp <= datetime.now(UTC)


def test_attendees_with_names() -> None:
    """Every attendee is asked to answer, under their name, even one with a comma and quote."""
    _, event = parse(make())
    attendees = event["ATTENDEE"]
    assert [str(a) for a in attendees] == [f"mailto:{email}" for _, email in ATTENDEES]
    assert [a.params["CN"] for a in attendees] == [name for name, _ in ATTENDEES]
    for attendee in attendees:
        assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
        assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
        assert attendee.params["RSVP"] == "TRUE"


def test_reschedule_updates_the_same_event() -> None:
    """A new date keeps the UID and raises SEQUENCE, so calendars move the meeting."""
    moved = MEETING + timedelta(days=7, hours=-3, minutes=-30)  # Mon 7 Dec, 10:30 New York
    _, first = parse(make(sequence=0))
    _, second = parse(make(sequence=1, start=moved))
    assert str(first["UID"]) == str(second["UID"]) == UID
    assert second.decoded("SEQUENCE") > first.decoded("SEQUENCE")
    assert second.decoded("DTSTART") == moved
    assert second.decoded("DTSTART").astimezone(NEW_YORK).hour == 10


def test_summer_meeting_keeps_local_time() -> None:
    """Across the DST change the wall-clock time in the zone is what the ICS carries."""
    july = datetime(2026, 7, 14, 14, 0, tzinfo=NEW_YORK)
    ics = make(start=july)
    assert b"DTSTART;TZID=America/New_York:20260714T140000" in ics
    _, event = parse(ics)
    assert event.decoded("DTSTART").utcoffset() == timedelta(hours=-4)


def test_cancel() -> None:
    """A cancelled meeting is a CANCEL of the same UID with a higher SEQUENCE."""
    calendar, event = parse(make(sequence=2, cancelled=True))
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == UID
    assert event.decoded("SEQUENCE") == 2
    assert len(event["ATTENDEE"]) == len(ATTENDEES)


def test_without_url() -> None:
    """No link, no URL property."""
    _, event = parse(make(url=None))
    assert "URL" not in event


def test_lines_are_crlf_and_folded() -> None:
    """RFC 5545: CRLF line ends, no line longer than 75 octets."""
    ics = make(description="A long description. " * 20)
    lines = ics.split(b"\r\n")
    assert ics.endswith(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    assert b"\n" not in b"".join(lines)


def test_naive_start_is_refused() -> None:
    """A time without a zone is a programming error."""
    with pytest.raises(ValueError, match="timezone-aware"):
        make(start=datetime(2026, 11, 30, 14, 0))


def test_unknown_zone_is_refused() -> None:
    """A client's misspelt zone names the fix."""
    with pytest.raises(InvalidInput, match="unknown time zone 'America/New_Yrok'"):
        make(zone="America/New_Yrok")
