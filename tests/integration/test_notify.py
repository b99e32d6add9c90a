"""Notices by RACI, delivered to real transports: an SMTP server (aiosmtpd) and an HTTP
receiver for json://; SMTP down never stops a review, and a notice arrives exactly once."""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from deploy.mailbox import Mailbox
from deploy.stack import free_port
from notifications.outbox import deliver_due, list_notices, newest_due, retry, send_test
from states.calendar.client_edit import ClientEdit, edit_client
from states.calendar.opening import start_review
from states.directory import assign_role
from states.errors import AlreadyDecided
from states.lifecycle.decisions import DecisionKind, DecisionRequest, complete_task, decide
from states.lifecycle.schedule import review_template
from states.notices.planning import announce, plan_reminders
from states.read.views import review_view
from states.settings import Settings
from states.store.models import AuditEntry, OutboxMessage, Review
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.integration.conftest import Xbr
from tests.receivers import JsonReceiver
from tests.review_mail import Tally, drive_review

MEETING = (datetime.now(UTC) + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
EMAILS = {
    "account_manager": "andy@msp.example",
    "ops_manager": "olga@msp.example",
    "team_lead": "olga@msp.example",
    "exec_assistant": "olga@msp.example",
    "ceo": "vera@msp.example",
    "vcio": "vera@msp.example",
    "client_contact": "carl@client.example",
}


def _settings(tmp_path: Path, smtp_url: str = "", apprise_yaml: str | None = None) -> Settings:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    if apprise_yaml is not None:
        (home / "apprise.yaml").write_text(apprise_yaml)
    return Settings(home=home, smtp_url=smtp_url, public_url="http://xbr.test")


def _notices(uow: UowFactory, review_id: int) -> set[tuple[str, str]]:
    with uow() as work:
        rows = work.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.review_id == review_id, OutboxMessage.kind.startswith("notice.")
            )
        )
        return {(r.payload["kind"], r.recipient or "") for r in rows}


def _qbr(uow: UowFactory, catalog: dict[str, Template], meeting: str | None = None) -> int:
    # the client's contact is its own: another client's contact is never invited
    assign_role(uow(), "Client qbr", "client_contact", EMAILS["client_contact"])
    return start_review(uow(), "Client qbr", catalog, meeting=meeting)


def test_entering_a_phase_tells_each_raci_role_its_part(
    sqlite_uow: UowFactory, catalog: dict[str, Template]
) -> None:
    rid = _qbr(sqlite_uow, catalog)
    raci = catalog["qbr"].phase("needed").raci
    # the accountable person (olga, also a consulted ops manager) is not asked for input on
    # the gate she decides
    consulted = {EMAILS[r] for r in raci.consulted} - {EMAILS[raci.accountable]}
    assert _notices(sqlite_uow, rid) == {
        ("tasks", EMAILS["account_manager"]),
        *(("consult", email) for email in consulted),
        *(("consult", f"role:{r}") for r in raci.consulted),
    }
    # the approval request waits for the required task, then goes to the accountable person
    complete_task(sqlite_uow(), rid, "confirm-qbr-scope", EMAILS["account_manager"])
    assert ("approval", EMAILS[raci.accountable]) in _notices(sqlite_uow, rid)
    before = _notices(sqlite_uow, rid)
    decide(sqlite_uow(), DecisionRequest(rid, DecisionKind.APPROVE, EMAILS[raci.accountable]))
    after = _notices(sqlite_uow, rid) - before
    informed = {("informed", EMAILS[r]) for r in raci.informed} - {
        ("informed", EMAILS[raci.accountable])  # she approved it: not told of her own step
    }
    assert informed <= after
    assert ("tasks", EMAILS["exec_assistant"]) in after  # scheduling's tasks


def test_planning_again_adds_nothing(sqlite_uow: UowFactory, catalog: dict[str, Template]) -> None:
    rid = _qbr(sqlite_uow, catalog)
    complete_task(sqlite_uow(), rid, "confirm-qbr-scope", EMAILS["account_manager"])
    before = _count(sqlite_uow)
    with pytest.raises(AlreadyDecided):
        complete_task(sqlite_uow(), rid, "confirm-qbr-scope", EMAILS["account_manager"])
    with sqlite_uow() as work:  # a replayed flow or a second deliverer plans the same again
        review = work.session.get(Review, rid)
        assert review is not None
        announce(work.session, review, review_template(review))
        work.commit()
    assert _count(sqlite_uow) == before


def _count(uow: UowFactory) -> int:
    with uow() as work:
        return work.session.query(OutboxMessage).count()


def _html(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return " ".join(str(part.get_content()).split())


def test_each_person_gets_one_email_with_their_tasks_and_a_link(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    rid = _qbr(sqlite_uow, catalog)
    complete_task(sqlite_uow(), rid, "confirm-qbr-scope", EMAILS["account_manager"])
    assert newest_due(sqlite_uow(), datetime.now(UTC))  # what the notifier looks for
    with Mailbox() as mailbox:
        settings = _settings(tmp_path, mailbox.url)
        done = deliver_due(sqlite_uow(), settings, rid)
        people = [d for d in done if not d.recipient.startswith("role:")]
        assert people
        assert all(d.status == "sent" for d in people)
        assert {d.status for d in done if d.recipient.startswith("role:")} == {"no-channel"}
        approval = mailbox.wait_for(lambda m: EMAILS["ops_manager"] in str(m["To"]) and
                                    "approv" in str(m["Subject"]).lower())  # fmt: skip
        links = re.findall(r'href="(http://xbr\.test/r/[^"]+)"', _html(approval))
        assert links, _html(approval)
        assert len(mailbox.messages) == len(people)
    assert deliver_due(sqlite_uow(), settings, rid) == []  # nothing twice
    assert newest_due(sqlite_uow(), datetime.now(UTC)) is None


def test_a_role_channel_gets_json(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    rid = _qbr(sqlite_uow, catalog)
    with JsonReceiver() as receiver:
        config = f'urls:\n  - "{receiver.url("ceo")}":\n      - tag: role:ceo\n'
        done = deliver_due(sqlite_uow(), _settings(tmp_path, apprise_yaml=config), rid)
        assert [d.status for d in done if d.recipient == "role:ceo"] == ["sent"]
        (path, body), *rest = receiver.wait(1)
        assert not rest
        assert path == "/ceo"
        assert "Client qbr" in body["title"]
        assert body["message"]


def test_smtp_down_never_stops_the_review_and_the_email_arrives_once(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    port = free_port()
    settings = _settings(tmp_path, f"mailto://127.0.0.1:{port}?from=xbr@msp.example")
    rid = _qbr(sqlite_uow, catalog)
    complete_task(sqlite_uow(), rid, "confirm-qbr-scope", EMAILS["account_manager"])
    decide(sqlite_uow(), DecisionRequest(rid, DecisionKind.APPROVE, EMAILS["ops_manager"]))
    failed = [d for d in deliver_due(sqlite_uow(), settings, rid) if d.status == "failed"]
    assert failed
    with sqlite_uow() as work:
        assert work.session.get(Review, rid).status == "scheduling"  # type: ignore[union-attr]
    listed = list_notices(sqlite_uow(), failed_only=True)
    assert {n["id"] for n in listed} == {d.id for d in failed}
    assert deliver_due(sqlite_uow(), settings, rid) == []  # backing off: not due yet
    with Mailbox(port=port) as mailbox:
        for delivery in failed:
            retry(sqlite_uow(), delivery.id)
        again = deliver_due(sqlite_uow(), settings, rid)
        assert {d.status for d in again} == {"sent"}
        assert deliver_due(sqlite_uow(), settings, rid) == []
        assert len(mailbox.messages) == len(failed)
        assert len({(str(m["To"]), str(m["Subject"])) for m in mailbox.messages}) == len(failed)


def _invite(message: EmailMessage) -> Any:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return Calendar.from_ical(part.get_content())
    raise AssertionError("no text/calendar part")


def test_a_rescheduled_meeting_updates_the_same_invitation(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    rid = _qbr(sqlite_uow, catalog, MEETING)
    assert ("invite", EMAILS["client_contact"]) in _notices(sqlite_uow, rid)
    with Mailbox() as mailbox:
        settings = _settings(tmp_path, mailbox.url)
        deliver_due(sqlite_uow(), settings, rid)
        first = _invite(mailbox.wait_for(lambda m: "carl@" in str(m["To"]) and
                                         bool(list(m.iter_attachments()))))  # fmt: skip
        later = (datetime.now(UTC) + timedelta(weeks=7)).strftime("%Y-%m-%dT14:00")
        complete_task(sqlite_uow(), rid, "confirm-qbr-scope", EMAILS["account_manager"])
        decide(sqlite_uow(), DecisionRequest(rid, DecisionKind.APPROVE, EMAILS["ops_manager"]))
        for key in ("schedule-qbr", "ask-client-for-topics"):
            complete_task(sqlite_uow(), rid, key, EMAILS["exec_assistant"])
        approver = review_view(sqlite_uow(), rid).to_json()["gate"]["eligible_approvers"][0]
        decide(sqlite_uow(), DecisionRequest(rid, DecisionKind.APPROVE, approver, "", later))
        deliver_due(sqlite_uow(), settings, rid)
        invites = [
            _invite(m) for m in mailbox.messages
            if "carl@" in str(m["To"]) and list(m.iter_attachments())
        ]  # fmt: skip
    assert len(invites) == 2
    event0, event1 = (next(iter(c.walk("VEVENT"))) for c in (first, invites[-1]))
    assert event0["UID"] == event1["UID"]
    assert int(event1["SEQUENCE"]) == int(event0["SEQUENCE"]) + 1
    start = event1["DTSTART"].dt
    assert (start.hour, str(start.tzinfo)) == (14, "America/New_York")  # the client's zone


def _weekday(moment: datetime) -> datetime:
    """The moment, or the same time on the next weekday (nobody is chased on a weekend)."""
    while moment.weekday() >= 5:
        moment += timedelta(days=1)
    return moment


def test_an_escalation_due_on_a_weekend_or_holiday_waits_for_the_next_business_day(
    sqlite_uow: UowFactory, catalog: dict[str, Template]
) -> None:
    """The needed phase's age passes its warning on Christmas Day 2026, a Friday, for a client
    in Berlin's holidays: the accountable person hears of it after the weekend, on Monday the
    28th at the start of the client's day."""
    entered = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # + 30 days: Christmas
    rid = start_review(sqlite_uow(), "Client qbr", catalog, now=entered)
    edit_client(sqlite_uow(), catalog, "Client qbr", ClientEdit("DE", "BE"))
    warning = catalog["qbr"].phase("needed").age_warning_days
    assert warning == 30
    christmas = entered + timedelta(days=warning, hours=1)
    plan_reminders(sqlite_uow(), christmas)  # the overdue task is told of, not the age
    assert ("escalation", EMAILS["ops_manager"]) not in _notices(sqlite_uow, rid)
    with sqlite_uow() as work:
        review = work.session.get(Review, rid)
        assert review is not None
        waits_until, zone = review.escalate_at, ZoneInfo(review.client.timezone)
    assert waits_until is not None
    monday = waits_until.astimezone(zone)  # in the client's time zone
    assert (monday.date().isoformat(), monday.hour) == ("2026-12-28", 8)
    plan_reminders(sqlite_uow(), waits_until)
    assert ("escalation", EMAILS["ops_manager"]) in _notices(sqlite_uow, rid)


def test_reminders_and_escalations_are_sent_once_per_threshold(
    sqlite_uow: UowFactory, catalog: dict[str, Template]
) -> None:
    rid = _qbr(sqlite_uow, catalog, MEETING)
    with sqlite_uow() as work:
        review = work.session.get(Review, rid)
        assert review is not None
        due = next(t.due_at for t in review.tasks if t.key == "confirm-qbr-scope")
        entered = review.phase_entered_at
    assert due is not None
    plan_reminders(sqlite_uow(), due - timedelta(hours=12))
    assert ("reminder", EMAILS["account_manager"]) in _notices(sqlite_uow, rid)
    assert ("overdue", EMAILS["account_manager"]) not in _notices(sqlite_uow, rid)
    assert plan_reminders(sqlite_uow(), due - timedelta(hours=11)) == 0
    plan_reminders(sqlite_uow(), due + timedelta(hours=1))
    assert ("overdue", EMAILS["account_manager"]) in _notices(sqlite_uow, rid)
    warning = catalog["qbr"].phase("needed").age_warning_days
    assert warning is not None
    first = _weekday(entered + timedelta(days=warning, hours=1))
    plan_reminders(sqlite_uow(), first)
    assert ("escalation", EMAILS["ops_manager"]) in _notices(sqlite_uow, rid)
    count = len(_notices(sqlite_uow, rid))
    assert plan_reminders(sqlite_uow(), first + timedelta(hours=1)) == 0
    plan_reminders(sqlite_uow(), _weekday(entered + timedelta(days=2 * warning, hours=1)))
    assert len(_notices(sqlite_uow, rid)) >= count  # ops_manager: the same person here
    with sqlite_uow() as work:
        levels = {
            r.payload["level"]
            for r in work.session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "notice.escalation")
            )
        }
    assert levels == {1, 2}


def test_a_test_message_reports_each_channel(sqlite_uow: UowFactory, tmp_path: Path) -> None:
    with Mailbox() as mailbox, JsonReceiver() as receiver:
        config = f'urls:\n  - "{receiver.url()}":\n      - tag: person:vera@msp.example\n'
        settings = _settings(tmp_path, mailbox.url, config)
        assert list(send_test(settings, "vera@msp.example").values()) == ["sent"]
        assert receiver.wait(1)
        assert list(send_test(settings, "andy@msp.example").values()) == ["sent"]
        mailbox.wait_for(lambda m: "andy@" in str(m["To"]))


def test_no_secret_of_a_channel_is_stored_or_shown(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    down = free_port()
    with JsonReceiver() as receiver:
        config = (
            f'urls:\n  - "json://bot:s3cret-pw@127.0.0.1:{down}/hook?token=s3cret-token":\n'
            "      - tag: person:andy@msp.example\n"
        )
        settings = _settings(
            tmp_path, f"mailto://user:s3cret-pw@127.0.0.1:{down}?from=xbr@msp.example", config
        )
        rid = _qbr(sqlite_uow, catalog)
        done = deliver_due(sqlite_uow(), settings, rid)
        assert {d.status for d in done if "@" in d.recipient} == {"failed"}
        assert receiver.posts == []
    with sqlite_uow() as work:
        stored = [
            (r.last_error, r.results)
            for r in work.session.scalars(select(OutboxMessage).where(OutboxMessage.attempts > 0))
        ]
    shown = repr(stored) + repr(list_notices(sqlite_uow())) + repr(done)
    assert "s3cret" not in shown
    assert f"127.0.0.1:{down}" in shown  # still says which channel failed


def test_audit_is_untouched_by_delivery(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    rid = _qbr(sqlite_uow, catalog)
    with sqlite_uow() as work:
        before = work.session.query(AuditEntry).count()
    deliver_due(sqlite_uow(), _settings(tmp_path), rid)
    with sqlite_uow() as work:
        assert work.session.query(AuditEntry).count() == before
        statuses = {r.status for r in work.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind.startswith("notice.")))}  # fmt: skip
    assert statuses == {"skipped", "no-channel"}


def test_cli_notify_test_and_outbox(
    xbr: Xbr,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    monkeypatch.setenv("XBR_SMTP_URL", f"mailto://127.0.0.1:{port}?from=xbr@msp.example")
    code, _, err = xbr("notify", "test", "vera@msp.example", ok=False)
    assert code == 1  # the channel is down: reported, not a usage error
    started = xbr.json("review", "start", "Client qbr", "--no-flow")
    failed = xbr.json("outbox", "list", "--failed")
    assert failed
    assert {n["review_id"] for n in failed} == {started["id"]}
    with Mailbox(port=port) as mailbox:
        assert xbr.json("notify", "test", "vera@msp.example") == {
            f"mailto://127.0.0.1:{port} to vera@msp.example": "sent"
        }
        sent = xbr.json("outbox", "retry", str(failed[0]["id"]))
        assert sent["status"] == "sent"
        mailbox.wait_for(lambda m: str(m["To"]) == failed[0]["recipient"])
    code, _, err = xbr("outbox", "retry", str(failed[0]["id"]), ok=False)
    assert (code, err.count("\n")) == (2, 1)
    assert "sent already" in err


@pytest.mark.parametrize(
    ("argv", "env", "says"),
    [
        (["notify", "test", "nobody@x.example"], {}, "no channel reaches nobody@x.example"),
        (["notify", "test", "a@b.example"], {"XBR_SMTP_URL": "smtp://host"}, "not an email URL"),
        (["outbox", "retry", "99999"], {}, "no notice 99999"),
        (["notify", "test", "a@b.example"], {"XBR_APPRISE_CONFIG": "/nonexistent.yaml"},
         "does not exist"),
    ],
)  # fmt: skip
def test_cli_refuses_bad_notification_input_with_one_line(
    xbr: Xbr,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    says: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out, err = xbr(*argv, ok=False)
    assert code == 2
    assert err.count("\n") == 1
    assert says in err


def test_another_clients_contact_is_never_invited(
    sqlite_uow: UowFactory, catalog: dict[str, Template]
) -> None:
    # Carl holds the client_contact role, but for no client here: the QBR invites nobody of theirs
    rid = start_review(sqlite_uow(), "Client qbr", catalog, meeting=MEETING)
    assert ("invite", EMAILS["client_contact"]) not in _notices(sqlite_uow, rid)


def test_nobody_is_told_of_their_own_step(
    sqlite_uow: UowFactory, catalog: dict[str, Template]
) -> None:
    rid = _qbr(sqlite_uow, catalog)
    raci = catalog["qbr"].phase("needed").raci
    approver = EMAILS[raci.accountable]
    assert approver in {EMAILS[r] for r in raci.informed}  # olga would hear of her own approval
    complete_task(sqlite_uow(), rid, "confirm-qbr-scope", EMAILS["account_manager"])
    decide(sqlite_uow(), DecisionRequest(rid, DecisionKind.APPROVE, approver))
    informed = {to for kind, to in _notices(sqlite_uow, rid) if kind == "informed"}
    assert approver not in informed
    assert {f"role:{r}" for r in raci.informed} <= informed  # a shared channel still hears
    with sqlite_uow() as work:
        actors = {
            r.payload["step"]["actor"]
            for r in work.session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "notice.informed")
            )
            if r.recipient == r.payload["step"]["actor"]
        }
    assert actors == set()


def test_the_accountable_person_is_asked_to_decide_not_for_input(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    rid = _qbr(sqlite_uow, catalog)
    approver = EMAILS[catalog["qbr"].phase("needed").raci.accountable]
    assert ("consult", approver) not in _notices(sqlite_uow, rid)
    complete_task(sqlite_uow(), rid, "confirm-qbr-scope", EMAILS["account_manager"])
    assert ("approval", approver) in _notices(sqlite_uow, rid)
    with Mailbox() as mailbox:
        deliver_due(sqlite_uow(), _settings(tmp_path, mailbox.url), rid)
        mailbox.wait_for(lambda m: approver in str(m["To"]))
        for message in mailbox.messages:
            if approver in str(message["To"]):
                assert f"before {approver} approves" not in _html(message)
                assert "input is wanted" not in str(message["Subject"])


def test_a_whole_qbr_review_sends_each_person_only_their_part(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    """The counts of bench/emails.py (README, Benchmarks): one qbr review, needed to closed."""
    tally = Tally()
    with Mailbox() as mailbox:
        drive_review(sqlite_uow, catalog, _settings(tmp_path, mailbox.url), tally)
        mailbox.wait_for(lambda m: len(mailbox.messages) >= tally.total)
    # meeting invitations are counted apart: one per change of the meeting, to its attendees
    told = Counter(
        who for (kind, who), n in tally.sent.items() if kind != "invite" for _ in range(n)
    )
    assert told == {
        EMAILS["account_manager"]: 7,
        EMAILS["ops_manager"]: 8,
        EMAILS["vcio"]: 7,
        EMAILS["client_contact"]: 2,
        "sam@msp.example": 2,
        "tina@msp.example": 2,
    }
    assert tally.by_kind["approval"] == 8  # one per gate, to its accountable person
    for step in tally.steps:  # one message per person and step, but the calendar's
        told_once = [e.split(" -> ")[1] for e in step["emails"] if not e.startswith("invite")]
        assert len(told_once) == len(set(told_once)), step
    needed_approved = tally.steps[2]
    assert f"informed -> {EMAILS['ops_manager']}" not in needed_approved["emails"]  # her own


def test_what_else_happened_rides_on_the_one_message_a_person_gets(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    """Staging's people get their tasks and the assessment's request in one email; someone
    informed of a step who also gets something else from it reads the step there."""
    tally = Tally()
    with Mailbox() as mailbox:
        drive_review(sqlite_uow, catalog, _settings(tmp_path, mailbox.url), tally)
        mailbox.wait_for(lambda m: len(mailbox.messages) >= tally.total)
        by_step = {s["step"]: s["emails"] for s in tally.steps}
        staging = by_step["scheduled approved"]
        assert "tasks -> sam@msp.example" in staging
        assert "assess -> sam@msp.example" not in staging
        andy = EMAILS["account_manager"]
        assert f"informed -> {andy}" not in staging
        assert f"assess -> {andy}" in staging
        sams = [m for m in mailbox.messages if "sam@" in str(m["To"])]
        first = _text(sams[0])
        assert "Your tasks:" in first
        assert "assesses the client against" in first
        andys = [_text(m) for m in mailbox.messages if andy in str(m["To"])]
        assert any(  # the step names who took it as people know them
            "assesses the client against" in text and "Olga Ops approved scheduled" in text
            for text in andys
        ), andys


def test_a_decisions_next_phase_hears_first_and_the_informed_after(
    uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    """The notices that ask someone to act (the next phase's tasks, a gate's approval) are
    claimed and emailed before those that only tell, though planned after them."""
    rid = start_review(uow(), "Client xbr-sop", catalog)
    for task in review_view(uow(), rid).tasks:
        if task.phase == "needed" and task.required and task.status == "open":
            complete_task(uow(), rid, task.key, task.assignee or "")
    with Mailbox() as mailbox:
        settings = _settings(tmp_path, mailbox.url)
        deliver_due(uow(), settings, rid)  # what opening the review and its task planned
        seen = len(mailbox.messages)
        decide(uow(), DecisionRequest(rid, DecisionKind.APPROVE, EMAILS["ops_manager"]))
        with uow() as work:
            planned = [
                (r.payload["kind"], r.recipient or "")
                for r in work.session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.review_id == rid, OutboxMessage.status == "pending")
                    .where(OutboxMessage.kind.startswith("notice."))
                    .order_by(OutboxMessage.id)
                )
            ]
        kinds = [kind for kind, _ in planned]
        assert kinds.index("informed") < kinds.index("tasks")  # planned in that order
        done = [d for d in deliver_due(uow(), settings, rid) if "@" in d.recipient]
        assert {d.status for d in done} == {"sent"}
        acting = [d.recipient for d in done if d.kind in ("tasks", "approval")]
        telling = [d.recipient for d in done if d.kind in ("informed", "consult")]
        assert acting
        assert len(telling) >= 3  # vCIO, support engineers, interns
        assert [d.recipient for d in done] == acting + telling
        arrived = [str(m["To"]) for m in mailbox.messages[seen:]]
        assert len(arrived) == len(done)
        assert all(to in arrived[n] for n, to in enumerate(acting + telling))


def test_two_deliverers_at_once_send_each_notice_once(
    uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    """Two passes over the same review at the same moment (the web app's and the notifier's):
    each claims its own rows, in both the acting and the telling batch."""
    rid = start_review(uow(), "Client xbr-sop", catalog)
    for task in review_view(uow(), rid).tasks:
        if task.phase == "needed" and task.required and task.status == "open":
            complete_task(uow(), rid, task.key, task.assignee or "")
    decide(uow(), DecisionRequest(rid, DecisionKind.APPROVE, EMAILS["ops_manager"]))
    with Mailbox() as mailbox:
        settings = _settings(tmp_path, mailbox.url)
        start = threading.Barrier(2)
        passes: list[list[Any]] = []

        def deliverer() -> None:
            start.wait()
            passes.append(deliver_due(uow(), settings, rid))

        threads = [threading.Thread(target=deliverer) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done = [d for one in passes for d in one]
        assert len(passes) == 2
        assert len({d.id for d in done}) == len(done)
        emailed = [d for d in done if "@" in d.recipient]
        assert {d.status for d in emailed} == {"sent"}
        assert len(mailbox.messages) == len(emailed)
    assert deliver_due(uow(), settings, rid) == []
