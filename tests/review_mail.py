"""One `qbr` review from needed to closed, the way its people do it, with the outbox delivered
after every step: what the emails of a whole review add up to (bench/emails.py and the tests)."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from notifications.outbox import deliver_due
from states.calendar.opening import start_review
from states.directory import assign_role, client_slug
from states.errors import Refused
from states.lifecycle.decisions import DecisionKind, DecisionRequest, complete_task, decide
from states.read.views import review_view
from states.settings import Settings
from states.staging.intake import stage
from states.store.db import UnitOfWork
from states.templates.schema import Template
from tests.team import answer_assessment, hold_meeting, staging_person

CLIENT = "Client qbr"
EVIDENCE = Path(__file__).resolve().parents[1] / "deploy" / "demo_evidence" / "q1"
# who is who in the demo team, as the counts name them
PEOPLE = {
    "andy@msp.example": "account manager (andy)",
    "olga@msp.example": "ops manager, team lead, exec assistant (olga)",
    "vera@msp.example": "ceo, vcio (vera)",
    "carl@client.example": "client contact (carl)",
}


@dataclass
class Tally:
    """The emails delivered to people (not role channels, not the PSA), by person and kind."""

    by_person: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    sent: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, email)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def add(self, step: str, deliveries: list[Any]) -> None:
        sent = [d for d in deliveries if d.status == "sent" and "@" in d.recipient]
        for delivery in sent:
            self.by_person[PEOPLE.get(delivery.recipient, delivery.recipient)] += 1
            self.by_kind[delivery.kind] += 1
            self.sent[delivery.kind, delivery.recipient] += 1
        self.steps.append(
            {"step": step, "emails": sorted(f"{d.kind} -> {d.recipient}" for d in sent)}
        )

    @property
    def total(self) -> int:
        return sum(self.by_person.values())


def drive_review(
    uow: Callable[[], UnitOfWork],
    catalog: dict[str, Template],
    settings: Settings,
    tally: Tally,
    deliver: Callable[[], list[Any]] | None = None,
) -> int:
    """Open a qbr review for CLIENT and take it to closed: owners tick their phase's tasks,
    the accountable person approves each gate (the meeting is set at scheduling's), staging
    imports the client's exports and assesses them; after every step the outbox is delivered
    and counted. Returns the review's id."""
    send = deliver or (lambda: deliver_due(uow(), settings))
    folder = settings.evidence_root / client_slug(CLIENT)
    shutil.copytree(EVIDENCE, folder, dirs_exist_ok=True)
    assign_role(uow(), CLIENT, "client_contact", "carl@client.example")
    review_id = start_review(uow(), CLIENT, catalog)
    tally.add("start", send())
    meeting = (datetime.now(UTC) + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    while (review := review_view(uow(), review_id)).status not in ("closed", "cancelled"):
        phase = review.status
        if phase == "staging":
            stage(uow(), settings, review_id)
            tally.add("staging assessed", send())
            answer_assessment(uow, review_id, staging_person(review.tasks))
            tally.add("staging answered", send())
        for task in review_view(uow(), review_id).tasks:
            if task.phase == phase and task.status == "open" and task.required:
                complete_task(uow(), review_id, task.key, task.assignee or "")
                tally.add(f"{phase}: {task.key} done", send())
        if phase == "delivery":
            hold_meeting(uow, review_id)
        _approve(uow, review_id, meeting if phase == "scheduling" else None)
        tally.add(f"{phase} approved", send())
    return review_id


def _approve(uow: Callable[[], UnitOfWork], review_id: int, meeting: str | None) -> None:
    """The gate's accountable person approves (another eligible person if four-eyes says so)."""
    gate = review_view(uow(), review_id).gate
    if gate is None or not gate.approval:
        raise RuntimeError(f"review {review_id} waits in {gate and gate.phase} for no approval")
    refusals = []
    for approver in gate.eligible_approvers:
        try:
            decide(uow(), DecisionRequest(review_id, DecisionKind.APPROVE, approver, "", meeting))
            return
        except Refused as refused:
            refusals.append(str(refused))
    raise RuntimeError(f"review {review_id} is stuck: {refusals}")
