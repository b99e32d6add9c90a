"""Delivering the outbox's notices: claim them, render each, send it on each channel, record.

A notice is claimed with a lease before it is sent, so two deliverers never send the same one;
a deliverer that dies mid-send leaves the lease to run out, and the notice is sent again on the
channels that had not confirmed it. Failures back off and never touch the review. The notices
that ask someone to act go first, claimed and sent before the others are even claimed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import aliased

from notifications import links, psa
from notifications.channels import Channels, label, load_channels, redact, send
from notifications.composing import Shared, compose_payload
from notifications.composing import compose as compose  # re-exported: callers import it here
from notifications.messages import render
from psa import connection as psa_connection
from psa.connectors import open_connector
from psa.http import Refused, Throttled
from psa.mirror import Mirror
from states.errors import NotFound, XbrError
from states.notices.digests import HELD, holds
from states.notices.planning import NOTICE, act_first, asks_to_act, due
from states.plans.initiatives import load_initiative
from states.psa.links import installation_tag
from states.psa.mirroring import PSA
from states.read.plans import initiative_view
from states.read.scorecards import ticket_by_id
from states.settings import Settings
from states.staging.ticket_exports import TICKET
from states.store.db import UnitOfWork
from states.store.models import OutboxMessage, utcnow

LEASE = timedelta(minutes=5)
EXPORT_BATCH = 10  # ticket exports per pass: with the webhook's 10 s timeout, well within LEASE
PSA_BATCH = 25  # PSA messages per pass: a few requests each, paced, well within LEASE
PSA_ROUNDS = 8  # passes a delivery makes at most: a review's steps go one per pass, in turn
BACKOFF_MINUTES = (1, 5, 15, 60, 240, 720)
SENT, FAILED, SKIPPED = "sent", "failed", "skipped"
NO_CHANNEL = "no-channel"  # a role without a shared channel: its people are told one by one
# what `xbr outbox` lists and retries: notices to people, ticket exports to the PSA
_deliverable = or_(
    OutboxMessage.kind.startswith(NOTICE),
    OutboxMessage.kind.startswith(TICKET),
    OutboxMessage.kind.startswith(PSA),
)


@dataclass(frozen=True)
class Delivery:
    """What became of one notice."""

    id: int
    recipient: str
    kind: str
    status: str
    results: dict[str, str]


def claim(
    uow: UnitOfWork,
    now: datetime,
    review_id: int | None = None,
    ids: list[int] | None = None,
    kind: str = NOTICE,
    limit: int = 200,
    acting_only: bool = False,
    in_turn: bool = False,
) -> list[int]:
    """Take the messages of `kind` due for (another) try, those that ask someone to act first,
    then by id (`acting_only`: only those): each id goes to one deliverer only. `in_turn`: a
    review's message waits until its earlier ones of the kind are delivered."""
    with uow:
        query = select(OutboxMessage.id).where(due(now, kind))
        if in_turn:
            query = query.where(~_earlier_waits(kind))
        if review_id is not None:
            query = query.where(OutboxMessage.review_id == review_id)
        if ids is not None:
            query = query.where(OutboxMessage.id.in_(ids))
        if acting_only:
            query = query.where(asks_to_act())
        ordered = query.order_by(act_first(), OutboxMessage.id).limit(limit)
        candidates = list(uow.session.scalars(ordered))
        claimed = []
        for message_id in candidates:
            # the same condition again, atomically: of two deliverers, one updates the row
            taken = uow.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, due(now, kind))
                .values(
                    status="sending",
                    attempts=OutboxMessage.attempts + 1,
                    next_attempt_at=now + LEASE,
                )
            )
            if getattr(taken, "rowcount", 0) == 1:
                claimed.append(message_id)
        uow.commit()
        return claimed


def _earlier_waits(kind: str) -> Any:
    """An earlier message of the same review and kind is not delivered yet."""
    earlier = aliased(OutboxMessage)
    return exists().where(
        earlier.kind.startswith(kind),
        earlier.review_id == OutboxMessage.review_id,
        earlier.id < OutboxMessage.id,
        earlier.status.in_(["pending", "failed", "sending"]),
    )


def newest_due(uow: UnitOfWork, now: datetime) -> datetime | None:
    """When the newest notice or ticket export that waits to be delivered was planned, None
    when none waits: a look that reads only (no write lock on SQLite), for a notifier looking
    several times a second."""
    with uow.reading():
        waiting = select(func.max(OutboxMessage.created_at)).where(
            or_(due(now), due(now, TICKET), due(now, PSA))
        )
        return uow.session.scalar(waiting)


def deliver(
    uow: UnitOfWork,
    settings: Settings,
    channels: Channels,
    key: bytes,
    message_id: int,
    shared: Shared | None = None,
) -> Delivery:
    """Send one claimed notice on each of its recipient's channels that has not had it yet;
    `key` signs its links, `shared` keeps what other notices of the same pass read too."""
    (notice,) = _read_claimed(uow, [message_id])
    return _deliver(uow, settings, channels, key, notice, shared or Shared())


@dataclass(frozen=True)
class _Claimed:
    """A claimed notice as read once claimed: while its lease lasts, no one else changes it."""

    id: int
    recipient: str
    results: dict[str, str]
    payload: dict[str, Any]


def _read_claimed(uow: UnitOfWork, message_ids: list[int]) -> list[_Claimed]:
    """The claimed notices in the order of `message_ids`, in one query."""
    with uow:
        rows = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(message_ids)))
        found = {
            r.id: _Claimed(r.id, r.recipient or "", dict(r.results or {}), dict(r.payload))
            for r in rows
        }
    for message_id in message_ids:
        if message_id not in found:
            raise NotFound(f"no notice {message_id} in the outbox; see `xbr outbox list`")
    return [found[message_id] for message_id in message_ids]


def _deliver(
    uow: UnitOfWork,
    settings: Settings,
    channels: Channels,
    key: bytes,
    notice: _Claimed,
    shared: Shared,
) -> Delivery:
    recipient, results = notice.recipient, dict(notice.results)
    person = shared.person(uow, recipient)
    if holds(person.notify if person else None, notice.payload.get("kind", "")):
        return _record(uow, notice.id, results, None, HELD)  # for their daily digest
    targets = channels.targets(recipient)
    if not targets and recipient.startswith("role:"):
        return _record(uow, notice.id, results, None, NO_CHANNEL)
    if not targets:
        hint = (
            f"no channel for {recipient}: tag one person:/role: in {settings.apprise_path}"
            " or set XBR_SMTP_URL, then `xbr outbox retry`"
        )
        return _record(uow, notice.id, results, hint, SKIPPED)
    try:
        message, files = compose_payload(uow, settings, key, notice.payload, recipient, shared)
    except Exception as error:  # a template, key or data problem: keep it visible, retry later
        return _record(uow, notice.id, results, f"cannot render: {redact(str(error))}")
    for n, server in enumerate(targets, 1):
        name = label(server)
        if results.get(name) == SENT:
            continue  # sent before a crash or in an earlier try: never twice
        results[name] = send(server, message, files) or SENT
        if n < len(targets):  # the last channel's result is recorded with the notice, below
            _save_results(uow, notice.id, results)
    failed = "; ".join(f"{k}: {v}" for k, v in results.items() if v != SENT)
    return _record(uow, notice.id, results, failed or None)


def _save_results(uow: UnitOfWork, message_id: int, results: dict[str, str]) -> None:
    with uow:
        uow.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id).values(results=results)
        )
        uow.commit()


def _record(
    uow: UnitOfWork,
    message_id: int,
    results: dict[str, str],
    error: str | None,
    final: str | None = None,
    retry_in: timedelta | None = None,
) -> Delivery:
    now = utcnow()
    with uow:
        row = uow.session.get(OutboxMessage, message_id)
        assert row is not None
        row.results = results
        if final is not None:
            row.status, row.next_attempt_at, row.last_error = final, None, error
        elif error is None:
            row.status, row.sent_at, row.next_attempt_at, row.last_error = SENT, now, None, None
        else:
            wait = BACKOFF_MINUTES[min(row.attempts, len(BACKOFF_MINUTES)) - 1]
            row.status, row.last_error = FAILED, error
            row.next_attempt_at = now + (retry_in or timedelta(minutes=wait))
        uow.commit()
        kind = row.payload.get("kind", row.kind)
        return Delivery(row.id, row.recipient or "", kind, row.status, results)


def deliver_due(
    uow: UnitOfWork, settings: Settings, review_id: int | None = None, ids: list[int] | None = None
) -> list[Delivery]:
    """Claim and deliver every notice and ticket export that is due (of one review, or the
    given ids): the notices that ask someone to act first, then those that only tell."""
    notices = _Pass(uow, settings)
    # the people asked to act get theirs before the others are even claimed
    delivered = notices.deliver(claim(uow, utcnow(), review_id, ids, acting_only=True))
    delivered += notices.deliver(claim(uow, utcnow(), review_id, ids))
    # a few at a time: each may wait for the PSA, and all must finish within their lease
    exports = claim(uow, utcnow(), review_id, ids, kind=TICKET, limit=EXPORT_BATCH)
    delivered += [_export(uow, settings, message_id) for message_id in exports]
    for _ in range(PSA_ROUNDS):  # a review's next message is claimed once its last one went
        claimed = claim(uow, utcnow(), review_id, ids, kind=PSA, limit=PSA_BATCH, in_turn=True)
        if not claimed:
            break
        mirrored, stopped = psa_pass(uow, settings, claimed)
        delivered += mirrored
        if stopped:
            break
    return delivered


def psa_pass(
    uow: UnitOfWork, settings: Settings, claimed: list[int]
) -> tuple[list[Delivery], bool]:
    """Carry out claimed PSA messages in order, with one connector; whether a rate limit or
    refused credentials stopped the pass (the rest wait: as long as the PSA asked, or backed
    off)."""
    try:
        connection = psa_connection.load(settings.home)
    except XbrError as error:
        return [_record(uow, message_id, {}, str(error)) for message_id in claimed], True
    if connection is None:
        unset = "no PSA connected: `xbr psa connect`, then `xbr outbox retry`"
        return [_record(uow, message_id, {}, unset, SKIPPED) for message_id in claimed], True
    connector = open_connector(connection)
    mirror = Mirror(uow, connection, connector, installation_tag(uow))
    delivered: list[Delivery] = []
    try:
        for n, message_id in enumerate(claimed):
            try:
                with uow.reading():  # no write lock: the claim keeps the row ours
                    row = uow.session.get(OutboxMessage, message_id)
                    assert row is not None
                    kind, payload = row.kind, dict(row.payload)
                mirror.deliver(kind, payload)
            except (Throttled, Refused) as stop:
                wait = timedelta(seconds=stop.seconds) if isinstance(stop, Throttled) else None
                rest = [_record(uow, i, {}, str(stop), retry_in=wait) for i in claimed[n:]]
                return delivered + rest, True
            except Exception as error:  # the PSA's error, a bad answer, a busy database: kept,
                # tried again after its backoff, not held for the claim's whole lease
                delivered.append(_record(uow, message_id, {}, redact(str(error))[:500]))
            else:
                delivered.append(_record(uow, message_id, {connection.name: SENT}, None))
    finally:
        connector.close()
    return delivered, False


class _Pass:
    """One deliverer's pass over claimed notices: the channels and the signing key loaded once
    something is to be sent, and what the notices share read once (`Shared`)."""

    def __init__(self, uow: UnitOfWork, settings: Settings) -> None:
        self.uow, self.settings, self.shared = uow, settings, Shared()
        self.channels: Channels | None = None
        self.key = b""

    def deliver(self, claimed: list[int]) -> list[Delivery]:
        """Deliver these claimed notices, in this order."""
        if not claimed:
            return []
        if self.channels is None:
            self.channels = load_channels(self.settings)
            self.key = links.load_key(self.settings.home, self.settings.secret_key or None)
        notices = _read_claimed(self.uow, claimed)
        self.shared.know(self.uow, [notice.recipient for notice in notices])
        return [
            _deliver(self.uow, self.settings, self.channels, self.key, notice, self.shared)
            for notice in notices
        ]


def _export(uow: UnitOfWork, settings: Settings, message_id: int) -> Delivery:
    """Tell the PSA about one new or closed follow-up ticket: the CSV file, or the webhook;
    a failure is kept and tried again later, and never stops the notices."""
    try:
        return _export_one(uow, settings, message_id)
    except Exception as error:  # a full disk, a bad URL: keep it visible, retry with backoff
        return _record(uow, message_id, {}, f"cannot export: {redact(str(error))}")


def _export_one(uow: UnitOfWork, settings: Settings, message_id: int) -> Delivery:
    with uow:
        row = uow.session.get(OutboxMessage, message_id)
        assert row is not None
        kind, dedupe, results = row.kind, row.dedupe_key, dict(row.results or {})
        payload = dict(row.payload)
    if kind == f"{TICKET}initiative":  # an approved initiative, for the PSA to plan
        if not settings.psa_webhook_url:
            return _record(uow, message_id, results, None, NO_CHANNEL)
        with uow:
            initiative = load_initiative(uow.session, payload["initiative_id"])
            data = initiative_view(initiative).to_json()
        event = f"initiative.{payload.get('event', 'approved')}"
        error = psa.post(settings.psa_webhook_url, event, data, dedupe, "initiative")
        results[psa.masked(settings.psa_webhook_url)] = error or SENT
        return _record(uow, message_id, results, error)
    if kind == f"{TICKET}webhook":
        if not settings.psa_webhook_url:
            return _record(uow, message_id, results, None, NO_CHANNEL)
        ticket = ticket_by_id(uow, payload["ticket_id"])
        event = f"ticket.{payload.get('event', 'created')}"
        error = psa.post(settings.psa_webhook_url, event, ticket, dedupe)
        results[psa.masked(settings.psa_webhook_url)] = error or SENT
        return _record(uow, message_id, results, error)
    path = psa.write_csv(uow, settings.exports / "tickets.csv")
    results[str(path)] = SENT
    return _record(uow, message_id, results, None)


def list_notices(uow: UnitOfWork, failed_only: bool = False) -> list[dict[str, Any]]:
    """Notices not sent yet (or only the failed ones), oldest first, without secrets; `held`
    ones wait for their person's daily digest."""
    statuses = [FAILED] if failed_only else ["pending", "sending", FAILED, SKIPPED, HELD]
    with uow:
        rows = uow.session.scalars(
            select(OutboxMessage)
            .where(_deliverable, OutboxMessage.status.in_(statuses))
            .order_by(OutboxMessage.id)
        )
        return [
            {
                "id": r.id,
                "review_id": r.review_id,
                "kind": r.payload.get("kind", r.kind),
                "recipient": r.recipient,
                "status": r.status,
                "attempts": r.attempts,
                "next_attempt_at": r.next_attempt_at.isoformat() if r.next_attempt_at else None,
                "last_error": r.last_error,
                "results": r.results or {},
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ]


def retry(uow: UnitOfWork, message_id: int) -> None:
    """Make a failed, skipped or waiting notice due now; one already sent stays sent."""
    with uow:
        row = uow.session.get(OutboxMessage, message_id)
        if row is None or not row.kind.startswith((NOTICE, TICKET, PSA)):
            raise NotFound(f"no notice {message_id} in the outbox; see `xbr outbox list`")
        if row.status == SENT:
            raise XbrError(f"notice {message_id} was sent already; nothing to retry")
        row.status, row.next_attempt_at = "pending", None
        uow.commit()


def send_test(settings: Settings, recipient: str) -> dict[str, str]:
    """Send a test message to a person (email) or role (role:<role>): channel -> result."""
    channels = load_channels(settings)
    targets = channels.targets(recipient)
    if not targets:
        raise XbrError(
            f"no channel reaches {recipient}: tag one person:{recipient} (or role:) in "
            f"{settings.apprise_path}, or set XBR_SMTP_URL"
        )
    context = {
        "recipient": {"name": recipient, "email": recipient},
        "links": {"action": None, "run": None},
        "page_url": settings.page_url,
    }
    message = render("test", context)
    return {label(server): send(server, message, []) or SENT for server in targets}
