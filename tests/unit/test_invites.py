"""Calendar invitations: parsed back with icalendar, in the client's zone, updated in place;
the email that carries one, parsed back as a mail client does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from icalendar import Calendar, Event

from notifications.email_message import CALENDAR, Attachment, build, mailbox, one_line
from notifications.invites import common_name, invitation
from notifications.messages import Message, plain_text
from states.errors import InvalidInput

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

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


def test_an_attendee_is_named_by_name_on_one_line() -> None:
    """CN is the person's name: a line break or a control character in it does not survive."""
    _, event = parse(make(attendees=[("Pat\r\nO'Brien\x07", "pat@acme-law.example")]))
    attendee = event["ATTENDEE"]
    assert attendee.params["CN"] == "Pat O'Brien"


def test_a_nameless_attendee_is_named_by_address() -> None:
    """A name made only of blanks leaves the address as the name a calendar shows."""
    _, event = parse(make(attendees=[(" \t", "pat@acme-law.example")]))
    assert event["ATTENDEE"].params["CN"] == "pat@acme-law.example"


HOSTILE = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("\"';,:\\\r\n\t\x00\x1b<>=@ ") + ["\u2028", "é", "ß", "東", "😀"]),
        st.characters(exclude_categories=("Cs",)),  # text from a database has no surrogates
    ),
    max_size=40,
)
EMAILS = st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.example", fullmatch=True)


@SETTINGS
@example(summary="", description="", people=[("", "a@l.example"), ("\\", "a@a.example")])
@example(summary="x", description="", people=[('DOMAIN\\carl "C";x', "c@c.example")])
@given(
    summary=HOSTILE,
    description=HOSTILE,
    people=st.lists(st.tuples(HOSTILE, EMAILS), min_size=1, max_size=5, unique_by=lambda p: p[1]),
)
def test_hostile_names_and_titles_never_break_the_calendar(
    summary: str, description: str, people: list[tuple[str, str]]
) -> None:
    """Quotes, line breaks, semicolons, commas and any script in a name or title: the
    invitation parses back as one event with every attendee, and the summary as given."""
    ics = make(summary=summary, description=description, attendees=people)
    _, event = parse(ics)
    attendees = event["ATTENDEE"]
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert [str(a) for a in attendees] == [f"mailto:{email}" for _, email in people]
    for attendee, (name, email) in zip(attendees, people, strict=True):
        assert attendee.params["CN"] == (common_name(name) or email)
        assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert str(event.get("SUMMARY", "")) == summary.replace("\r\n", "\n").replace("\r", "\n")
    assert ics.count(b"BEGIN:VEVENT") == 1


@SETTINGS
@given(title=HOSTILE, name=HOSTILE)
def test_no_header_can_be_injected_through_a_title_or_a_name(title: str, name: str) -> None:
    """The Subject and the To name are one header each, whatever they hold: a mail client
    parses back the same headers and the same one-line values."""
    message = Message(title=title, markdown="Hi\n", html="<p>Hi</p>")
    to = mailbox(name, "carl@client.example")
    email = build(message, mailbox("xbr", "xbr@msp.example"), [to], [])
    parsed = message_from_bytes(email.as_bytes(), policy=policy.default)
    assert sorted(parsed.keys()) == sorted(
        ["Subject", "From", "To", "Date", "Message-ID", "MIME-Version", "Content-Type"]
    )
    # (a long encoded header is folded: decoding may join its words with a space)
    assert _words(str(parsed["Subject"])) == _words(one_line(plain_text(title)))
    assert parsed["To"].addresses[0].addr_spec == "carl@client.example"
    assert _words(parsed["To"].addresses[0].display_name) == _words(one_line(name))
    assert not any(line.lower().startswith(b"bcc") for line in email.as_bytes().splitlines())


def _words(text: str) -> str:
    return "".join(text.split())


def test_an_invitation_is_an_inline_calendar_alternative() -> None:
    """text/plain, text/html and text/calendar with the file's METHOD as alternatives; the
    same file attached as invite.ics."""
    message = Message(title="T", markdown="[Open →](https://x.example/r/1)\n", html="<p>h</p>")
    for cancelled, method in ((False, "REQUEST"), (True, "CANCEL")):
        ics = make(cancelled=cancelled, sequence=3)
        email = build(
            message, mailbox("", "xbr@msp.example"), [mailbox("Carl", "carl@c.example")],
            [Attachment("invite.ics", CALENDAR, ics)],
        )  # fmt: skip
        parsed = message_from_bytes(email.as_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        assert parsed.get_content_type() == "multipart/mixed"
        alternative, attached = parsed.get_payload()  # type: ignore[misc]
        assert [p.get_content_type() for p in alternative.iter_parts()] == [
            "text/plain", "text/html", "text/calendar"
        ]  # fmt: skip
        plain, _, calendar = alternative.iter_parts()
        assert plain.get_content().splitlines() == ["Open: https://x.example/r/1"]
        assert calendar.get_param("method") == method
        assert calendar.get_content_disposition() is None  # inline, not an attachment
        assert str(Calendar.from_ical(calendar.get_content())["METHOD"]) == method
        assert attached.get_content_type() == "application/ics"
        assert attached.get_filename() == "invite.ics"


@pytest.mark.parametrize(
    ("markdown", "text"),
    [
        ("**[Approve, reject or reschedule →](https://a.example/r/x?t=1&u=2)**",
         "Approve, reject or reschedule: https://a.example/r/x?t=1&u=2"),
        (r"Acme \[Law\](https://evil.example) \*x\*", "Acme [Law](https://evil.example) *x*"),
        (r"a \\[b](https://b.example)", r"a \b: https://b.example"),
        ("Run `xbr approve 4`", "Run xbr approve 4"),
    ],
)  # fmt: skip
def test_plain_text_writes_each_link_with_its_address(markdown: str, text: str) -> None:
    """A link of xbr's templates becomes "text: url"; escaped data is never a link."""
    assert plain_text(markdown) == text
