"""The daily digest on a real database and a real SMTP server: a digest person's notices wait
for 08:00 in their time zone and arrive in one email, each exactly once; what is urgent does not
wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from deploy.mailbox import Mailbox
from notifications import links
from notifications.channels import load_channels
from notifications.outbox import LEASE, claim, deliver, deliver_due
from states.calendar.opening import start_review
from states.directory import assign_role
from states.lifecycle.decisions import DecisionKind, DecisionRequest, complete_task, decide
from states.notices.digests import last_digest_time, plan_digests, set_rhythm
from states.settings import Settings
from states.store.models import OutboxMessage, Person
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.integration.conftest import Xbr, snapshot

ANDY, OLGA, VERA = "andy@msp.example", "olga@msp.example", "vera@msp.example"
BERLIN = "Europe/Berlin"


def _settings(tmp_path: Path, smtp_url: str) -> Settings:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return Settings(home=home, smtp_url=smtp_url, public_url="http://xbr.test", timezone=BERLIN)


def _qbr(uow: UowFactory, catalog: dict[str, Template]) -> int:
    assign_role(uow(), "Client qbr", "client_contact", "carl@client.example")
    return start_review(uow(), "Client qbr", catalog)


def _rows(uow: UowFactory, **where: object) -> list[OutboxMessage]:
    with uow() as work:
        query = select(OutboxMessage).where(OutboxMessage.kind.startswith("notice."))
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(work.session.scalars(query.order_by(OutboxMessage.id)))


def _morning(zone: str, after: datetime) -> datetime:
    """The first 08:00 in `zone` after `after`."""
    return last_digest_time(after + timedelta(days=1), zone)


def _digests(mailbox: Mailbox, email: str) -> list[str]:
    return [
        str(m.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
        for m in mailbox.messages
        if email in str(m["To"]) and "digest" in str(m["Subject"])
    ]


def test_a_digest_holds_what_came_since_the_last_one_and_nothing_before_eight(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    set_rhythm(sqlite_uow(), VERA, "digest")  # no zone of her own: XBR_TIMEZONE, Berlin
    rid = _qbr(sqlite_uow, catalog)
    with Mailbox() as mailbox:
        settings = _settings(tmp_path, mailbox.url)
        done = deliver_due(sqlite_uow(), settings)
        assert {d.kind for d in done if d.recipient == VERA} == {"consult"}
        assert {d.status for d in done if d.recipient == VERA} == {"held"}
        assert {d.status for d in done if d.recipient.startswith("role:")} == {"no-channel"}
        eight = _morning(BERLIN, datetime.now(UTC))
        assert plan_digests(sqlite_uow(), eight - timedelta(minutes=1), BERLIN) == 0
        assert plan_digests(sqlite_uow(), eight + timedelta(minutes=1), BERLIN) == 1
        first = [r.id for r in _rows(sqlite_uow, recipient=VERA, status="digested")]
        deliver_due(sqlite_uow(), settings)
        (body,) = _digests(mailbox, VERA)
        assert "1 update since your last digest" in body
        assert "needed: your input is wanted" in body
        assert "http://xbr.test/r/" in body  # the review's link, as it works now

        complete_task(sqlite_uow(), rid, "confirm-qbr-scope", ANDY)
        decide(sqlite_uow(), DecisionRequest(rid, DecisionKind.APPROVE, OLGA))
        deliver_due(sqlite_uow(), settings)
        assert plan_digests(sqlite_uow(), eight + timedelta(hours=3), BERLIN) == 0  # had today's
        assert plan_digests(sqlite_uow(), eight + timedelta(days=1), BERLIN) == 1
        (digest,) = _rows(sqlite_uow, recipient=VERA, kind="notice.digest", status="pending")
        assert not set(digest.payload["notices"]) & set(first)  # never told twice
        deliver_due(sqlite_uow(), settings)
        bodies = _digests(mailbox, VERA)
        assert len(bodies) == 2
        assert "scheduling: your input is wanted" in bodies[1]
        assert "needed: your input is wanted" not in bodies[1]
    assert plan_digests(sqlite_uow(), eight + timedelta(days=2), BERLIN) == 0  # nothing held


def test_approval_requests_are_not_held(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    for email in (ANDY, OLGA):
        set_rhythm(sqlite_uow(), email, "digest")
    rid = _qbr(sqlite_uow, catalog)
    with Mailbox() as mailbox:
        settings = _settings(tmp_path, mailbox.url)
        deliver_due(sqlite_uow(), settings)
        complete_task(sqlite_uow(), rid, "confirm-qbr-scope", ANDY)
        done = deliver_due(sqlite_uow(), settings)
        assert [(d.kind, d.status) for d in done if d.recipient == OLGA] == [("approval", "sent")]
        mailbox.wait_for(lambda m: OLGA in str(m["To"]) and "approval" in str(m["Subject"]))
    assert [r.payload["kind"] for r in _rows(sqlite_uow, status="held")] == ["tasks"]  # andy's


def test_two_people_in_two_time_zones_each_get_theirs_at_their_eight(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    set_rhythm(sqlite_uow(), ANDY, "digest", "America/Los_Angeles")
    set_rhythm(sqlite_uow(), VERA, "digest", "Asia/Tokyo")
    _qbr(sqlite_uow, catalog)
    with Mailbox() as mailbox:
        settings = _settings(tmp_path, mailbox.url)
        deliver_due(sqlite_uow(), settings)
        tokyo = _morning("Asia/Tokyo", datetime.now(UTC) + timedelta(days=1))
        with sqlite_uow() as work:  # both had a digest two hours before Tokyo's 08:00
            work.session.execute(update(Person).values(digest_sent_at=tokyo - timedelta(hours=2)))
            work.commit()
        at = tokyo + timedelta(minutes=30)
        assert at.astimezone(ZoneInfo("America/Los_Angeles")).hour in (15, 16)  # not yet LA's
        assert plan_digests(sqlite_uow(), at, BERLIN) == 1
        assert [r.recipient for r in _rows(sqlite_uow, kind="notice.digest")] == [VERA]
        la = _morning("America/Los_Angeles", at)
        assert plan_digests(sqlite_uow(), la - timedelta(minutes=1), BERLIN) == 0
        assert plan_digests(sqlite_uow(), la + timedelta(minutes=1), BERLIN) == 1
        deliver_due(sqlite_uow(), settings)
        assert len(_digests(mailbox, VERA)) == len(_digests(mailbox, ANDY)) == 1


def test_a_digest_planned_and_claimed_by_a_deliverer_that_died_is_sent_once(
    sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    set_rhythm(sqlite_uow(), VERA, "digest")
    _qbr(sqlite_uow, catalog)
    with Mailbox() as mailbox:
        settings = _settings(tmp_path, mailbox.url)
        deliver_due(sqlite_uow(), settings)
        now = datetime.now(UTC)
        assert plan_digests(sqlite_uow(), _morning(BERLIN, now), BERLIN) == 1
        (taken,) = claim(sqlite_uow(), now)  # and the process dies before it sends
        assert deliver_due(sqlite_uow(), settings) == []  # leased: nobody else sends it
        again = claim(sqlite_uow(), now + LEASE + timedelta(seconds=1))
        assert again == [taken]
        key = links.load_key(settings.home, None)
        delivery = deliver(sqlite_uow(), settings, load_channels(settings), key, taken)
        assert delivery.status == "sent"
        assert deliver_due(sqlite_uow(), settings) == []
        assert plan_digests(sqlite_uow(), _morning(BERLIN, now), BERLIN) == 0
        mailbox.wait_for(lambda m: "digest" in str(m["Subject"]))
        assert len(_digests(mailbox, VERA)) == 1


def test_cli_sets_a_persons_rhythm_and_refuses_bad_values_with_one_line(
    xbr: Xbr, database_url: str
) -> None:
    added = xbr.json(
        "person", "add", "Dora Digest", "--email", "dora@msp.example", "--role", "intern",
        "--notify", "digest", "--timezone", "Asia/Tokyo",
    )  # fmt: skip
    assert (added["notify"], added["timezone"]) == ("digest", "Asia/Tokyo")
    edited = xbr.json("person", "edit", "dora@msp.example", "--notify", "immediate")
    assert (edited["notify"], edited["timezone"]) == ("immediate", "Asia/Tokyo")
    before = snapshot(database_url)
    for argv, says in [
        (["person", "edit", "dora@msp.example", "--notify", "weekly"], "unknown --notify 'weekly'"),
        (["person", "edit", "dora@msp.example", "--timezone", "Mars/Olympus"], "Mars/Olympus"),
        (["person", "add", "Eve", "--email", "eve@msp.example", "--role", "intern",
          "--notify", "hourly"], "use immediate or digest"),
        (["person", "edit", "nobody@msp.example", "--notify", "digest"], "unknown person"),
    ]:  # fmt: skip
        code, _, err = xbr(*argv, ok=False)
        assert (code, err.count("\n")) == (2, 1), err
        assert says in err
    assert snapshot(database_url) == before
