"""Meeting invitations as a mail client receives them: delivered through a real SMTP server
(aiosmtpd), parsed with the email package and icalendar: an inline text/calendar alternative
whose method is the calendar's METHOD, the organizer, every attendee by name, one event
updated in place on a reschedule and cancelled with the review; the staff's own prep and post
meetings; and plain text that carries every address of the HTML."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from icalendar import Calendar

from deploy.mailbox import Mailbox
from notifications.outbox import deliver_due
from states.calendar.opening import start_review
from states.directory import assign_role
from states.lifecycle.decisions import DecisionKind, DecisionRequest, complete_task, decide
from states.read.views import review_view
from states.settings import Settings
from states.templates.schema import Template
from tests.conftest import UowFactory

MEETING = (datetime.now(UTC) + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
LATER = (datetime.now(UTC) + timedelta(weeks=7)).strftime("%Y-%m-%dT14:00")
CARL, OLGA, ANDY, VERA = (
    "carl@client.example", "olga@msp.example", "andy@msp.example", "vera@msp.example",
)  # fmt: skip
NAMES = {CARL: "Carl Client", OLGA: "Olga Ops", ANDY: "Andy Account", VERA: "Vera Vcio"}
STAFF = {OLGA, ANDY, VERA}  # vCIO, account manager and the qbr prep phase's roles


def _settings(tmp_path: Path, mailbox: Mailbox) -> Settings:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return Settings(home=home, smtp_url=mailbox.url, public_url="http://xbr.test")


def _review(uow: UowFactory, catalog: dict[str, Template]) -> int:
    assign_role(uow(), "Client qbr", "client_contact", CARL)
    return start_review(uow(), "Client qbr", catalog, meeting=MEETING)


def _calendar(message: EmailMessage) -> tuple[EmailMessage, Any] | None:
    """The text/calendar alternative and its event, if the message carries one."""
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            assert isinstance(part, EmailMessage)
            calendar = Calendar.from_ical(part.get_content())
            (event,) = calendar.walk("VEVENT")
            return part, event
    return None


def _invitations(mailbox: Mailbox) -> list[tuple[str, EmailMessage, Any, Any]]:
    """(recipient, calendar part, calendar, event) of every invitation received."""
    found = []
    for message in mailbox.messages:
        calendar = _calendar(message)
        if calendar is not None:
            part, event = calendar
            to = message["To"].addresses[0].addr_spec
            found.append((to, part, Calendar.from_ical(part.get_content()), event))
    return found


def _attendees(event: Any) -> dict[str, Any]:
    attendees = event["ATTENDEE"]
    attendees = attendees if isinstance(attendees, list) else [attendees]
    return {str(a).removeprefix("mailto:"): a for a in attendees}


def _reschedule(uow: UowFactory, review_id: int) -> None:
    complete_task(uow(), review_id, "confirm-qbr-scope", ANDY)
    decide(uow(), DecisionRequest(review_id, DecisionKind.APPROVE, OLGA))
    for key in ("schedule-qbr", "ask-client-for-topics"):
        complete_task(uow(), review_id, key, OLGA)
    approver = review_view(uow(), review_id).to_json()["gate"]["eligible_approvers"][0]
    decide(uow(), DecisionRequest(review_id, DecisionKind.APPROVE, approver, "", LATER))


def _invited_and_moved(
    uow: UowFactory, review_id: int, tmp_path: Path, mailbox: Mailbox
) -> Settings:
    """The review's invitations delivered, its meeting moved, and the updates delivered."""
    settings = _settings(tmp_path, mailbox)
    deliver_due(uow(), settings, review_id)
    _reschedule(uow, review_id)
    deliver_due(uow(), settings, review_id)
    return settings


def test_the_client_meeting_is_a_real_invitation_updated_and_cancelled_in_place(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    review_id = _review(sqlite_uow, catalog)
    with Mailbox() as mailbox:
        settings = _invited_and_moved(sqlite_uow, review_id, tmp_path, mailbox)
        decide(sqlite_uow(), DecisionRequest(review_id, DecisionKind.CANCEL, OLGA, "next quarter"))
        deliver_due(sqlite_uow(), settings, review_id)
        received = _invitations(mailbox)
    client = [r for r in received if re.match(rf"review-{review_id}@", str(r[3]["UID"]))]
    to_carl = [r for r in client if r[0] == CARL]
    assert len(to_carl) == 3  # invited, moved, cancelled
    sequences = [int(event["SEQUENCE"]) for *_, event in to_carl]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == 3
    assert len({str(event["UID"]) for *_, event in to_carl}) == 1
    methods = []
    for _, part, calendar, event in to_carl:
        method = str(calendar["METHOD"])
        methods.append(method)
        assert part.get_param("method") == method  # the MIME method is the calendar's
        assert part.get_content_disposition() is None  # inline, not an attachment
        assert str(event["ORGANIZER"]) == "mailto:xbr@msp.example"  # from= of XBR_SMTP_URL
        attendees = _attendees(event)
        assert set(attendees) == {CARL, ANDY, VERA}  # the client's contact included
        for email, attendee in attendees.items():
            assert attendee.params["CN"] == NAMES[email]
            assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
            assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
            assert attendee.params["RSVP"] == "TRUE"
    assert methods == ["REQUEST", "REQUEST", "CANCEL"]
    assert str(to_carl[-1][3]["STATUS"]) == "CANCELLED"
    moved = to_carl[1][3]["DTSTART"].dt
    assert (moved.hour, str(moved.tzinfo)) == (14, "America/New_York")


def test_staff_are_invited_to_the_internal_prep_and_post_meetings_and_the_client_never(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    review_id = _review(sqlite_uow, catalog)
    with Mailbox() as mailbox:
        _invited_and_moved(sqlite_uow, review_id, tmp_path, mailbox)
        received = _invitations(mailbox)
    schedule = catalog["qbr"].schedule
    by_meeting: dict[str, list[tuple[str, Any]]] = {"prep": [], "post": []}
    for to, _, _, event in received:
        found = re.match(rf"review-{review_id}-(prep|post)@", str(event["UID"]))
        if found:
            by_meeting[found.group(1)].append((to, event))
    for name, hours in (
        ("prep", schedule.prep_meeting_hours),
        ("post", schedule.post_meeting_hours),
    ):
        invited = by_meeting[name]
        assert {to for to, _ in invited} == STAFF  # the client's contact never
        assert CARL not in {to for to, _ in invited}
        for _, event in invited:
            assert set(_attendees(event)) == STAFF
            assert event["DTEND"].dt - event["DTSTART"].dt == timedelta(hours=hours)
        first, last = invited[0][1], invited[-1][1]
        assert str(first["UID"]) == str(last["UID"])
        assert int(last["SEQUENCE"]) > int(first["SEQUENCE"])  # moved with the meeting
        assert last["DTSTART"].dt.date() != first["DTSTART"].dt.date()
        assert last["DTSTART"].dt.hour == 14  # at the client meeting's local time
    prep = by_meeting["prep"][-1][1]["DTSTART"].dt
    post = by_meeting["post"][-1][1]["DTSTART"].dt
    assert prep < post
    assert (schedule.prep_meeting_hours, schedule.post_meeting_hours) == (2, 1)  # the BTR's


def test_the_plain_text_carries_every_address_of_the_html(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    review_id = _review(sqlite_uow, catalog)
    complete_task(sqlite_uow(), review_id, "confirm-qbr-scope", ANDY)
    with Mailbox() as mailbox:
        deliver_due(sqlite_uow(), _settings(tmp_path, mailbox), review_id)
        approval = mailbox.wait_for(
            lambda m: OLGA in str(m["To"]) and "approv" in str(m["Subject"]).lower()
        )
    assert approval.get_content_type() == "multipart/alternative"
    html_part = approval.get_body(preferencelist=("html",))
    text_part = approval.get_body(preferencelist=("plain",))
    assert html_part is not None
    assert text_part is not None
    assert text_part.get_content_charset() == "utf-8"
    html, text = str(html_part.get_content()), str(text_part.get_content())
    hrefs = re.findall(r'href="([^"]+)"', html)
    action = next(h for h in hrefs if h.startswith("http://xbr.test/r/"))
    assert re.search(rf'<a href="{re.escape(action)}" style="[^"]+">Approve', html)  # a button
    assert f"Approve, reject or reschedule: {action}" in text
    for href in hrefs:
        assert href.replace("&amp;", "&") in text
    assert "<" not in text.replace("<script>", "")  # no markup in the plain text
