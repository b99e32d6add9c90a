"""Read models for people and scripts: one review in full, review lists and the board."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from states.directory import client_slug
from states.lifecycle.decisions import load_review
from states.lifecycle.machine import FORWARD, OPEN_PHASES, Phase
from states.lifecycle.run_records import REFUSED
from states.lifecycle.schedule import review_template
from states.lifecycle.steps import eligible_approvers, open_required_tasks
from states.standards.answers import ItemState, gate_facts, open_required_keys
from states.store.db import UnitOfWork
from states.store.models import AuditEntry, Installation, Review, ReviewTask
from states.templates.schema import Template


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def review_name(review: Review) -> str:
    """<client>-<type>-<period>, e.g. acme-law-qbr-2026-q4."""
    return review.name


@dataclass(frozen=True, slots=True)
class ReadModel:
    """A typed read model; `to_json()` is its JSON form for scripts (`--json`) and templates:
    its fields in the order declared (a subclass's after its base's), moments as ISO 8601."""

    JSON_NAMES: ClassVar[dict[str, str]] = {}  # field -> its key, where the two differ

    def to_json(self) -> dict[str, Any]:
        return {
            self.JSON_NAMES.get(f.name, f.name): _plain(getattr(self, f.name)) for f in fields(self)
        }


def _plain(value: object) -> object:
    if isinstance(value, ReadModel):
        return value.to_json()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class GatePosition(ReadModel):
    """Where an open review waits: its phase and the round of decisions on it."""

    phase: str
    round: int


@dataclass(frozen=True, slots=True)
class GateView(GatePosition):
    """The decision an open review waits for, who may take it and what still blocks it."""

    trigger: str
    approval: bool
    accountable_role: str
    eligible_approvers: tuple[str, ...]
    open_required_tasks: tuple[str, ...]
    # staging's assessment: its required items without an answer (standard:item)
    open_required_items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TaskView(ReadModel):
    """One checklist task of a review, with who holds it and who closed it."""

    key: str
    phase: str
    title: str
    role: str
    kind: str
    assignee: str | None
    due: datetime | None
    required: bool
    status: str
    completed_by: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class AuditView(ReadModel):
    """One line of a review's audit trail: a move, a step or a refusal, and who made it."""

    JSON_NAMES: ClassVar[dict[str, str]] = {"from_state": "from", "to_state": "to"}

    at: datetime
    from_state: str | None
    to_state: str | None
    trigger: str
    actor: str
    comment: str
    via: str


@dataclass(frozen=True, slots=True)
class ReviewSummary(ReadModel):
    """The short form of a review, as in lists."""

    id: int
    name: str
    client: str
    client_slug: str
    type: str
    period: str
    status: str
    meeting_at: datetime | None
    version: int


@dataclass(frozen=True, slots=True)
class ReviewView(ReviewSummary):
    """Everything about one review: gate, tasks and audit trail (`xbr review show`)."""

    template: str
    round: int
    budget_hours: float
    actual_hours: float
    created_at: datetime
    phase_entered_at: datetime
    gate: GateView | None
    wake_at: datetime | None
    flow_run_id: str | None
    run_generation: int
    progress_artifact_id: str | None
    refusals: int
    last_refusal: str | None
    tasks: tuple[TaskView, ...]
    audit: tuple[AuditView, ...]

    def task(self, key: str) -> TaskView | None:
        """The task of this key, if the review has one."""
        return next((t for t in self.tasks if t.key == key), None)


@dataclass(frozen=True, slots=True)
class RunFacts(ReviewSummary):
    """What a review's flow run is made from: its short form, where it waits, its refusals and
    the installation's id."""

    gate: GatePosition | None
    refusals: int
    installation: str


def _gate(
    session: Session, review: Review, template: Template, items: list[ItemState] | None
) -> GateView | None:
    if review.status not in OPEN_PHASES:
        return None
    spec = template.phase(review.status)
    return GateView(
        phase=review.status,
        round=review.round,
        trigger=FORWARD[Phase(review.status)][0].value,
        approval=spec.approval,
        accountable_role=spec.raci.accountable.value,
        eligible_approvers=tuple(eligible_approvers(session, review, template)),
        open_required_tasks=tuple(open_required_tasks(review)),
        open_required_items=_open_items(session, review, items)
        if review.status == Phase.STAGING
        else (),
    )


def _open_items(session: Session, review: Review, items: list[ItemState] | None) -> tuple[str, ...]:
    """Staging's required items without an answer, from its questionnaire if read already."""
    return gate_facts(session, review)[0] if items is None else open_required_keys(items)


def _summary_fields(review: Review) -> dict[str, Any]:
    return {
        "id": review.id,
        "name": review_name(review),
        "client": review.client.name,
        "client_slug": client_slug(review.client.name),
        "type": review.type,
        "period": review.period,
        "status": review.status,
        "meeting_at": review.meeting_at,
        "version": review.version,
    }


def review_summary(review: Review) -> ReviewSummary:
    """The short form of a review, as in lists."""
    return ReviewSummary(**_summary_fields(review))


def review_view(uow: UnitOfWork, review_id: int) -> ReviewView:
    """Everything about one review: gate, tasks and audit trail."""
    with uow:
        return view_of(uow.session, load_review(uow.session, review_id))


def view_of(
    session: Session,
    review: Review,
    template: Template | None = None,
    items: list[ItemState] | None = None,
) -> ReviewView:
    """`review_view` in the caller's transaction; `template` and `items` (its questionnaire)
    when the caller has read them already."""
    template = review_template(review) if template is None else template
    return ReviewView(
        **_summary_fields(review),
        **_columns(review, *_REVIEW_COLUMNS),
        gate=_gate(session, review, template, items),
        refusals=sum(a.trigger == REFUSED for a in review.audit),
        last_refusal=_last_refusal(review),
        tasks=tuple(_task(t) for t in review.tasks),
        audit=tuple(_audit(a) for a in review.audit),
    )


def _task(task: ReviewTask) -> TaskView:
    return TaskView(
        key=task.key,
        phase=task.phase,
        title=task.title,
        role=task.role,
        kind=task.kind,
        assignee=task.assignee.email if task.assignee else None,
        due=task.due_at,
        required=task.required,
        status=task.status,
        completed_by=task.completed_by.email if task.completed_by else None,
        note=task.note or task.skip_reason,
    )


def _audit(entry: AuditEntry) -> AuditView:
    return AuditView(**_columns(entry, *(f.name for f in fields(AuditView))))


def _columns(row: object, *names: str) -> dict[str, Any]:
    """The row's attributes of these names, for a read model's fields of the same names."""
    return {name: getattr(row, name) for name in names}


# ReviewView's fields read straight from the review's columns
_REVIEW_COLUMNS = (
    "template", "round", "budget_hours", "actual_hours", "created_at", "phase_entered_at",
    "wake_at", "flow_run_id", "run_generation", "progress_artifact_id",
)  # fmt: skip


def _last_refusal(review: Review) -> str | None:
    """The reason a decision on the current gate was refused, if the last word was a refusal."""
    for entry in reversed(review.audit):
        if entry.trigger == REFUSED:
            return f"{entry.actor}: {entry.comment}"
        if entry.from_state != entry.to_state or entry.trigger in _STEPS_WITHOUT_MOVE:
            return None
    return None


_STEPS_WITHOUT_MOVE = {"reject", "start"}


def run_facts(uow: UnitOfWork, review_id: int) -> RunFacts:
    """What a review's flow run is made from, read without the template, tasks or audit trail."""
    with uow:
        review = load_review(uow.session, review_id)
        refused = (AuditEntry.review_id == review_id) & (AuditEntry.trigger == REFUSED)
        opened = review.status in OPEN_PHASES
        return RunFacts(
            **_summary_fields(review),
            gate=GatePosition(review.status, review.round) if opened else None,
            refusals=uow.session.scalar(select(func.count()).where(refused)) or 0,
            installation=str(uow.session.scalar(select(Installation.id))),
        )


def list_reviews(
    uow: UnitOfWork, status: str | None = None, client_id: int | None = None
) -> list[ReviewSummary]:
    """Reviews, newest first, optionally of one status or one client."""
    with uow:
        query = select(Review).order_by(Review.id.desc())
        if status:
            query = query.where(Review.status == status)
        if client_id is not None:
            query = query.where(Review.client_id == client_id)
        return [review_summary(r) for r in uow.session.scalars(query)]
