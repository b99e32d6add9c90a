"""Calendar invitations (.ics) for a review's client meeting, updated in place on reschedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vCalAddress, vText

from states.calendar.business_days import zone as time_zone
from states.text import CONTROLS_BUT_LINES as CONTROLS

PRODID = "-//xbr//business review//EN"


def invitation(
    *,
    uid: str,
    sequence: int,
    summary: str,
    description: str,
    start: datetime,
    duration: timedelta,
    zone: str,
    organizer: str,
    attendees: list[tuple[str, str]],
    url: str | None,
    cancelled: bool = False,
) -> bytes:
    """An iTIP REQUEST (or CANCEL) for one meeting, with its times in `zone` and a VTIMEZONE."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware: a naive time has no place on a calendar")
    if duration <= timedelta(0):
        raise ValueError(f"duration must be positive, got {duration}")
    local_start = start.astimezone(time_zone(zone))
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    # A calendar updates the event it already has when UID matches and SEQUENCE is higher.
    cal.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", local_start)
    event.add("dtend", local_start + duration)
    event.add("summary", summary)
    event.add("description", description)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if url:
        event.add("url", url)
    event["organizer"] = vCalAddress(f"mailto:{organizer}")
    for name, email in attendees:
        event.add("attendee", _attendee(name, email), encode=False)
    cal.add_component(event)
    # The zone's rules for a year either side of the meeting: enough for any calendar to place
    # it, and a few lines instead of every DST change from 1970 to 2038.
    day = local_start.date()
    cal.add_missing_timezones(first_date=day - _YEAR, last_date=day + _YEAR)
    return bytes(cal.to_ical())


_YEAR = timedelta(days=366)


def common_name(name: str) -> str:
    """A person's name as a CN parameter: one line, no control character, no double quote,
    which cannot appear inside a quoted parameter value (RFC 5545 3.1), and no backslash,
    which calendar parsers read as escaping the separator after it."""
    return " ".join(CONTROLS.sub("", name).replace('"', "'").replace("\\", "/").split())


def _attendee(name: str, email: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = vText(common_name(name) or email)
    address.params["ROLE"] = "REQ-PARTICIPANT"
    address.params["PARTSTAT"] = "NEEDS-ACTION"
    address.params["RSVP"] = "TRUE"
    return address
