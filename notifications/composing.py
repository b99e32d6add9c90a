"""A notice's message for its recipient, as the review is now: its text, its signed links and
any meeting invitation.

A delivery pass composes many notices of the same few reviews (a decision tells dozens of
people): what they share is read once per pass (`Shared`) and only each one's own text is
rendered per notice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select

from notifications import gate_notice, invites, links
from notifications.channels import Attachment
from notifications.digest import digest
from notifications.messages import Message, render, review_type_label
from states.errors import NotFound
from states.lifecycle.run_records import installation_id
from states.notices.planning import NOTICE
from states.read.scorecards import report_data
from states.read.views import ReviewView, review_view
from states.settings import Settings
from states.store.db import UnitOfWork
from states.store.models import Client, OutboxMessage, Person, Review, utcnow

LINK_DAYS = 21
_DECIDING = {"approval", "escalation"}  # kinds whose link may approve, not only tick tasks


class Someone(NamedTuple):
    """A person a notice goes to or names: how they are called and how often they hear."""

    name: str
    notify: str


@dataclass
class Shared:
    """What the notices of one delivery pass have in common, each read once, when first
    needed: the reviews as they are now with their clients' time zones, the people, the
    reports' data, the installation's id. Its methods open their own transactions: call them
    outside any `with uow`."""

    reviews: dict[int, tuple[ReviewView, str]] = field(default_factory=dict)
    people: dict[str, Someone | None] = field(default_factory=dict)
    reports: dict[int, dict[str, Any]] = field(default_factory=dict)
    installation: str | None = None

    def review(self, uow: UnitOfWork, review_id: int) -> tuple[ReviewView, str]:
        """The review as this pass first read it, and its client's time zone."""
        if review_id not in self.reviews:
            view = review_view(uow, review_id)
            with uow:
                zone = uow.session.scalar(
                    select(Client.timezone)
                    .join(Review, Review.client_id == Client.id)
                    .where(Review.id == review_id)
                )
            self.reviews[review_id] = (view, zone or "UTC")
        return self.reviews[review_id]

    def know(self, uow: UnitOfWork, emails: list[str]) -> None:
        """Read the people of these emails not read yet, in one query."""
        wanted = {e for e in emails if e not in self.people and not e.startswith("role:")}
        if not wanted:
            return
        with uow:
            rows = uow.session.execute(
                select(Person.email, Person.name, Person.notify).where(Person.email.in_(wanted))
            )
            found = {email: Someone(name, notify) for email, name, notify in rows}
        self.people.update({email: found.get(email) for email in wanted})

    def person(self, uow: UnitOfWork, email: str) -> Someone | None:
        """The person with this email; None for a role or someone not in the directory."""
        self.know(uow, [email])
        return self.people.get(email)

    def name(self, uow: UnitOfWork, email: str) -> str:
        """How a recipient is greeted: a person's name, a role in words, else the email."""
        if email.startswith("role:"):
            return email.removeprefix("role:").replace("_", " ")
        person = self.person(uow, email)
        return person.name if person else email

    def report(self, uow: UnitOfWork, review_id: int, currency: str) -> dict[str, Any]:
        """The review's report data, for the approval notices that show its evidence."""
        if review_id not in self.reports:
            self.reports[review_id] = report_data(uow, review_id, currency=currency)
        return self.reports[review_id]

    def installation_id(self, uow: UnitOfWork) -> str:
        """This installation's id, for the invitations' UIDs."""
        if self.installation is None:
            self.installation = installation_id(uow)
        return self.installation


def compose(
    uow: UnitOfWork, settings: Settings, key: bytes, message_id: int, shared: Shared | None = None
) -> tuple[Message, list[Attachment]]:
    """A notice's text for its recipient as the review is now, and any attachment; `shared`
    keeps what the other notices of the same pass read too."""
    with uow:
        row = uow.session.get(OutboxMessage, message_id)
        if row is None or not row.kind.startswith(NOTICE):
            raise NotFound(f"no notice {message_id} in the outbox; see `xbr outbox list`")
        payload, to = dict(row.payload), row.recipient or ""
    return compose_payload(uow, settings, key, payload, to, shared or Shared())


def compose_payload(
    uow: UnitOfWork,
    settings: Settings,
    key: bytes,
    payload: dict[str, Any],
    to: str,
    shared: Shared,
) -> tuple[Message, list[Attachment]]:
    """The message of a notice read already (its `payload`, its recipient `to`); a digest
    composes each notice it holds."""
    if payload["kind"] == "digest":
        held = [compose(uow, settings, key, notice, shared)[0] for notice in payload["notices"]]
        return digest(shared.name(uow, to), to, held), []
    context = _context(uow, settings, key, payload, to, shared)
    message = render(payload["kind"], context)
    if payload["kind"] != "invite":
        return message, []
    # each attendee under their name
    people = [(shared.name(uow, email), email) for email in payload.get("attendees", [])]
    inst = shared.installation_id(uow)
    review, zone = context["review"], context["zone"]
    return message, [_invitation(review, payload, inst, zone, message, settings.organizer, people)]


def _context(
    uow: UnitOfWork,
    settings: Settings,
    key: bytes,
    payload: dict[str, Any],
    to: str,
    shared: Shared,
) -> dict[str, Any]:
    """What a notice's templates read: the payload, the recipient, the review and the links."""
    step = payload.get("step")
    if isinstance(step, dict) and "@" in str(step.get("actor", "")):
        # who took the step, by the name people know them by (the audit keeps the email)
        payload = {**payload, "step": {**step, "actor": shared.name(uow, step["actor"])}}
    review, zone = shared.review(uow, payload["review_id"])
    if payload["kind"] == "invite":  # the meeting as it was when this invitation was made
        meeting = payload["meeting_at"]
        review = replace(review, meeting_at=datetime.fromisoformat(meeting) if meeting else None)
    urls = _links(settings, key, review, payload, to)
    if payload.get("role") == "client_contact":
        urls["run"] = None  # the Prefect UI is the MSP's own
    mine = set(payload.get("tasks", []))
    context = {
        **payload,
        "recipient": {"name": shared.name(uow, to), "email": to},
        "review": review,
        "tasks": [t for t in review.tasks if t.key in mine],
        "phase": payload.get("phase") or review.status,
        "links": urls,
        "zone": zone,
    }
    if payload["kind"] == "approval":  # decided with what the phase produced in front
        report = gate_notice.reads_report(review, context["phase"])
        data = shared.report(uow, review.id, settings.currency) if report else None
        context |= gate_notice.approval_context(
            uow, settings, review, context["phase"], urls["action"], to, data
        )
    return context


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
