"""Read models for people and scripts: one review in full, review lists and the board."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from states.db import UnitOfWork
from states.decisions import load_review
from states.directory import client_slug
from states.lifecycle import FORWARD, OPEN_PHASES, Phase
from states.models import Review
from states.progress import eligible_approvers, open_required_tasks
from states.runs import REFUSED
from states.schedule import review_template
from states.templates import BOARD_DEFAULTS, Template


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def review_name(review: Review) -> str:
    """<client>-<type>-<period>, e.g. acme-law-qbr-2026-q4."""
    return f"{client_slug(review.client.name)}-{review.type}-{review.period}"


def _gate(session: Any, review: Review, template: Template) -> dict[str, Any] | None:
    if review.status not in OPEN_PHASES:
        return None
    spec = template.phase(review.status)
    return {
        "phase": review.status,
        "round": review.round,
        "trigger": FORWARD[Phase(review.status)][0].value,
        "approval": spec.approval,
        "accountable_role": spec.raci.accountable.value,
        "eligible_approvers": eligible_approvers(session, review, template),
        "open_required_tasks": open_required_tasks(review),
    }


def review_view(uow: UnitOfWork, review_id: int) -> dict[str, Any]:
    """Everything about one review: gate, tasks and audit trail (the `--json` contract)."""
    with uow:
        review = load_review(uow.session, review_id)
        template = review_template(review)
        return {
            **review_summary(review),
            "template": review.template,
            "round": review.round,
            "budget_hours": review.budget_hours,
            "actual_hours": review.actual_hours,
            "created_at": _iso(review.created_at),
            "phase_entered_at": _iso(review.phase_entered_at),
            "gate": _gate(uow.session, review, template),
            "wake_at": _iso(review.wake_at),
            "flow_run_id": review.flow_run_id,
            "run_generation": review.run_generation,
            "progress_artifact_id": review.progress_artifact_id,
            "refusals": sum(a.trigger == REFUSED for a in review.audit),
            "last_refusal": _last_refusal(review),
            "tasks": [
                {
                    "key": t.key,
                    "phase": t.phase,
                    "title": t.title,
                    "role": t.role,
                    "kind": t.kind,
                    "assignee": t.assignee.email if t.assignee else None,
                    "due": _iso(t.due_at),
                    "required": t.required,
                    "status": t.status,
                    "completed_by": t.completed_by.email if t.completed_by else None,
                    "note": t.note or t.skip_reason,
                }
                for t in review.tasks
            ],
            "audit": [
                {
                    "at": _iso(a.at),
                    "from": a.from_state,
                    "to": a.to_state,
                    "trigger": a.trigger,
                    "actor": a.actor,
                    "comment": a.comment,
                }
                for a in review.audit
            ],
        }


def _last_refusal(review: Review) -> str | None:
    """The reason a decision on the current gate was refused, if the last word was a refusal."""
    for entry in reversed(review.audit):
        if entry.trigger == REFUSED:
            return f"{entry.actor}: {entry.comment}"
        if entry.from_state != entry.to_state or entry.trigger in _STEPS_WITHOUT_MOVE:
            return None
    return None


_STEPS_WITHOUT_MOVE = {"reject", "start"}


def review_summary(review: Review) -> dict[str, Any]:
    """The short form of a review, as in lists."""
    return {
        "id": review.id,
        "name": review_name(review),
        "client": review.client.name,
        "client_slug": client_slug(review.client.name),
        "type": review.type,
        "period": review.period,
        "status": review.status,
        "meeting_at": _iso(review.meeting_at),
        "version": review.version,
    }


def list_reviews(
    uow: UnitOfWork, status: str | None = None, client_id: int | None = None
) -> list[dict[str, Any]]:
    """Reviews, newest first, optionally of one status or one client."""
    with uow:
        query = select(Review).order_by(Review.id.desc())
        if status:
            query = query.where(Review.status == status)
        if client_id is not None:
            query = query.where(Review.client_id == client_id)
        return [review_summary(r) for r in uow.session.scalars(query)]


def board(uow: UnitOfWork, now: datetime) -> list[dict[str, Any]]:
    """One column per open phase: the cards, their count against the WIP limit, age warnings."""
    with uow:
        reviews = uow.session.scalars(
            select(Review)
            .where(Review.status.in_([p.value for p in OPEN_PHASES]))
            .options(selectinload(Review.tasks))
            .order_by(Review.meeting_at.is_(None), Review.meeting_at, Review.id)
        ).all()
        columns = []
        for phase in OPEN_PHASES:
            cards = [_card(r, now) for r in reviews if r.status == phase]
            defaults = BOARD_DEFAULTS[phase]
            columns.append(
                {
                    "phase": phase.value,
                    "count": len(cards),
                    "wip_limit": defaults.get("wip_limit"),
                    "wip_minimum": defaults.get("wip_minimum"),
                    "cards": cards,
                }
            )
        return columns


def _card(review: Review, now: datetime) -> dict[str, Any]:
    spec = Template.model_validate(review.template_snapshot).phase(review.status)
    age_days = (now - review.phase_entered_at).total_seconds() / 86400
    overdue = [t.key for t in review.tasks if t.status == "open" and t.due_at and t.due_at < now]
    return {
        **review_summary(review),
        "age_days": round(age_days, 1),
        "age_warning": spec.age_warning_days is not None and age_days > spec.age_warning_days,
        "overdue_tasks": overdue,
    }
