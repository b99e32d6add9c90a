"""Delivering the outbox's notices: claim one, render it, send it on each channel, record.

A notice is claimed with a lease before it is sent, so two deliverers never send the same one;
a deliverer that dies mid-send leaves the lease to run out, and the notice is sent again on the
channels that had not confirmed it. Failures back off and never touch the review.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from notifications import gate_notice, invites, links, psa
from notifications.channels import Attachment, Channels, label, load_channels, redact, send
from notifications.digest import digest
from notifications.messages import Message, render, review_type_label
from states.errors import NotFound, XbrError
from states.lifecycle.run_records import installation_id
from states.notices.digests import HELD, holds
from states.notices.planning import NOTICE, due
from states.plans.initiatives import load_initiative
from states.read.plans import initiative_view
from states.read.scorecards import ticket_by_id
from states.read.views import ReviewView, review_view
from states.settings import Settings
from states.staging.ticket_exports import TICKET
from states.store.db import UnitOfWork
from states.store.models import OutboxMessage, Person, Review, utcnow

LEASE = timedelta(minutes=5)
EXPORT_BATCH = 10  # ticket exports per pass: with the webhook's 10 s timeout, well within LEASE
BACKOFF_MINUTES = (1, 5, 15, 60, 240, 720)
LINK_DAYS = 21
SENT, FAILED, SKIPPED = "sent", "failed", "skipped"
NO_CHANNEL = "no-channel"  # a role without a shared channel: its people are told one by one
_DECIDING = {"approval", "escalation"}  # kinds whose link may approve, not only tick tasks
# what `xbr outbox` lists and retries: notices to people, ticket exports to the PSA
_deliverable = or_(OutboxMessage.kind.startswith(NOTICE), OutboxMessage.kind.startswith(TICKET))


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
) -> list[int]:
    """Take the messages of `kind` due for (another) try: each id goes to one deliverer only."""
    with uow:
        query = select(OutboxMessage.id).where(due(now, kind))
        if review_id is not None:
            query = query.where(OutboxMessage.review_id == review_id)
        if ids is not None:
            query = query.where(OutboxMessage.id.in_(ids))
        candidates = list(uow.session.scalars(query.order_by(OutboxMessage.id).limit(limit)))
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


def _person_name(uow: UnitOfWork, email: str) -> str:
    if email.startswith("role:"):
        return email.removeprefix("role:").replace("_", " ")
    person = uow.session.scalar(select(Person).where(Person.email == email))
    return person.name if person else email


def _links(
    settings: Settings, key: bytes, review: ReviewView, payload: dict[str, Any], to: str
) -> dict[str, Any]:
    if payload["kind"] == "plan":  # the client's contact: their plan page, never the run
        return {"action": _plan_link(settings, key, review, to), "run": None, "code": None}
    ui = os.environ.get("PREFECT_UI_URL", "").rstrip("/")
    run = f"{ui}/runs/flow-run/{review.flow_run_id}" if ui and review.flow_run_id else None
    action = code = None
    if not to.startswith("role:") and review.gate and payload.get("phase") == review.status:
        expires = utcnow() + timedelta(days=LINK_DAYS)
        deciding = payload["kind"] in _DECIDING
        claims = links.LinkClaims(
            review_id=review.id,
            round=review.round,
            email=to,
            action="decide" if deciding else "tasks",
            expires_at=int(expires.timestamp()),
        )
        action = f"{settings.page_url}/r/{links.sign(key, claims)}"
        if deciding and to in review.gate.eligible_approvers:
            code = links.decision_code(key, review.id, review.round, to, expires.date())
    return {"action": action, "run": run, "code": code}


def _plan_link(settings: Settings, key: bytes, review: ReviewView, to: str) -> str | None:
    """The plan page's signed link for a client contact: decides once, for LINK_DAYS."""
    if to.startswith("role:"):
        return None
    expires = utcnow() + timedelta(days=LINK_DAYS)
    claims = links.LinkClaims(review.id, review.round, to, links.PLAN, int(expires.timestamp()))
    return f"{settings.page_url}/r/{links.sign(key, claims)}"


def compose(
    uow: UnitOfWork, settings: Settings, key: bytes, message_id: int
) -> tuple[Message, list[Attachment]]:
    """A notice's text for its recipient as the review is now, and any attachment."""
    with uow:
        row = uow.session.get(OutboxMessage, message_id)
        if row is None or not row.kind.startswith(NOTICE):
            raise NotFound(f"no notice {message_id} in the outbox; see `xbr outbox list`")
        payload, to = dict(row.payload), row.recipient or ""
        name = _person_name(uow, to)
        step = payload.get("step")
        if isinstance(step, dict) and "@" in str(step.get("actor", "")):
            # who took the step, by the name people know them by (the audit keeps the email)
            payload["step"] = {**step, "actor": _person_name(uow, step["actor"])}
        review_row = uow.session.get(Review, payload["review_id"])
        zone = review_row.client.timezone if review_row else "UTC"
    inst = installation_id(uow)
    review = review_view(uow, payload["review_id"])
    if payload["kind"] == "invite":  # the meeting as it was when this invitation was made
        meeting = payload["meeting_at"]
        review = replace(review, meeting_at=datetime.fromisoformat(meeting) if meeting else None)
    urls = _links(settings, key, review, payload, to)
    if payload.get("role") == "client_contact":
        urls["run"] = None  # the Prefect UI is the MSP's own
    mine = set(payload.get("tasks", []))
    context = {
        **payload,
        "recipient": {"name": name, "email": to},
        "review": review,
        "tasks": [t for t in review.tasks if t.key in mine],
        "phase": payload.get("phase") or review.status,
        "links": urls,
        "zone": zone,
    }
    if payload["kind"] == "approval":  # decided with what the phase produced in front
        context |= gate_notice.approval_context(
            uow, settings, review, context["phase"], urls["action"], to
        )
    message = render(payload["kind"], context)
    files = []
    if payload["kind"] == "invite":
        with uow:  # each attendee under their name
            people = [(_person_name(uow, email), email) for email in payload.get("attendees", [])]
        files.append(_invitation(review, payload, inst, zone, message, settings.organizer, people))
    return message, files


def _compose_digest(
    uow: UnitOfWork, settings: Settings, key: bytes, message_id: int
) -> tuple[Message, list[Attachment]]:
    """A digest: each of its held notices composed as the review is now, in one message."""
    with uow:
        row = uow.session.get(OutboxMessage, message_id)
        assert row is not None
        held, to = list(row.payload["notices"]), row.recipient or ""
        name = _person_name(uow, to)
    messages = [compose(uow, settings, key, notice)[0] for notice in held]
    return digest(name, to, messages), []


_INTERNAL = {"prep": " · internal prep meeting", "post": " · internal post-meeting"}


def _invitation(
    review: ReviewView,
    payload: dict[str, Any],
    inst: str,
    zone: str,
    message: Message,
    organizer: str,
    people: list[tuple[str, str]],
) -> Attachment:
    kind = review_type_label(review.type)
    # the client meeting is review-<id>@..., each internal meeting its own event
    internal = payload.get("meeting")
    what = _INTERNAL.get(internal or "", "")
    content = invites.invitation(
        uid=f"review-{review.id}-{internal}@{inst}" if internal else f"review-{review.id}@{inst}",
        sequence=payload["sequence"],
        summary=f"{review.client} · {kind} {review.period.upper()}{what}",
        description=f"{message.subject}\n\nThe review of {review.client} with your MSP.",
        start=datetime.fromisoformat(payload["meeting_at"]),
        duration=timedelta(hours=payload.get("hours", 1)),
        zone=zone,
        organizer=organizer,
        attendees=people,
        url=None,
        cancelled=bool(payload.get("cancelled")),
    )
    return Attachment("invite.ics", "text/calendar", content)


def deliver(
    uow: UnitOfWork, settings: Settings, channels: Channels, key: bytes, message_id: int
) -> Delivery:
    """Send one claimed notice on each of its recipient's channels that has not had it yet;
    `key` signs its links."""
    with uow:
        row = uow.session.get(OutboxMessage, message_id)
        if row is None:
            raise NotFound(f"no notice {message_id} in the outbox; see `xbr outbox list`")
        recipient, results = row.recipient or "", dict(row.results or {})
        kind = row.payload.get("kind", "")
        person = uow.session.scalar(select(Person).where(Person.email == recipient))
        held = holds(person, kind)
    if held:  # for their daily digest, which lists it
        return _record(uow, message_id, results, None, HELD)
    targets = channels.targets(recipient)
    if not targets and recipient.startswith("role:"):
        return _record(uow, message_id, results, None, NO_CHANNEL)
    if not targets:
        hint = (
            f"no channel for {recipient}: tag one person:/role: in {settings.apprise_path}"
            " or set XBR_SMTP_URL, then `xbr outbox retry`"
        )
        return _record(uow, message_id, results, hint, SKIPPED)
    try:
        composing = _compose_digest if kind == "digest" else compose
        message, files = composing(uow, settings, key, message_id)
    except Exception as error:  # a template, key or data problem: keep it visible, retry later
        return _record(uow, message_id, results, f"cannot render: {redact(str(error))}")
    for server in targets:
        name = label(server)
        if results.get(name) == SENT:
            continue  # sent before a crash or in an earlier try: never twice
        refused = send(server, message, files)
        results[name] = refused or SENT
        _save_results(uow, message_id, results)
    failed = "; ".join(f"{k}: {v}" for k, v in results.items() if v != SENT)
    return _record(uow, message_id, results, failed or None)


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
            row.next_attempt_at = now + timedelta(minutes=wait)
        uow.commit()
        kind = row.payload.get("kind", row.kind)
        return Delivery(row.id, row.recipient or "", kind, row.status, results)


def deliver_due(
    uow: UnitOfWork, settings: Settings, review_id: int | None = None, ids: list[int] | None = None
) -> list[Delivery]:
    """Claim and deliver every notice and ticket export that is due (of one review, or the
    given ids)."""
    claimed = claim(uow, utcnow(), review_id, ids)
    delivered = []
    if claimed:
        channels = load_channels(settings)
        key = links.load_key(settings.home, settings.secret_key or None)
        delivered = [deliver(uow, settings, channels, key, message_id) for message_id in claimed]
    # a few at a time: each may wait for the PSA, and all must finish within their lease
    exports = claim(uow, utcnow(), review_id, ids, kind=TICKET, limit=EXPORT_BATCH)
    return delivered + [_export(uow, settings, message_id) for message_id in exports]


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
        if row is None or not row.kind.startswith((NOTICE, TICKET)):
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
