"""Staging's record: the evidence a review read, and its assessment written once per evidence.

`store_evidence` keeps validated rows per review and source (all files or none). `assess` runs
the checks and, in one transaction under the client's lock, writes the findings (new or
recurring against the client's previous review), one follow-up ticket per open anomaly (exported
through the outbox), the scorecard, and closes the check tasks whose evidence it assessed.
Running it again on the same evidence changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from states.calendar.business_days import local_date, zone
from states.errors import IllegalTrigger
from states.lifecycle import audit
from states.lifecycle.decisions import load_review
from states.lifecycle.machine import OPEN_PHASES
from states.lifecycle.schedule import review_template
from states.lifecycle.steps import SYSTEM_ACTOR, settle
from states.staging.assessment import Disposition, Finding, Thresholds, score
from states.staging.checks.registry import CHANGE_CHECKS, CheckInput, run_checks
from states.staging.evidence import ROW_MODELS, EvidenceRow, Source
from states.staging.tickets import close_dropped, ticket_for
from states.store.db import UnitOfWork
from states.store.models import (
    Assessment,
    Client,
    EvidenceSet,
    Review,
    ReviewFinding,
    utcnow,
)


@dataclass(frozen=True)
class ImportedFile:
    """One validated export, ready to store."""

    source: Source
    file_name: str
    sha256: str
    rows: Sequence[EvidenceRow]


@dataclass(frozen=True)
class StagingResult:
    """What an assessment found; `changed` is False when the evidence was assessed already."""

    review_id: int
    changed: bool
    findings: int
    new: int
    tickets_opened: int
    tasks_closed: list[str]
    scores: dict[str, int | None]


def store_evidence(
    uow: UnitOfWork, review_id: int, files: Sequence[ImportedFile], actor: str
) -> list[dict[str, Any]]:
    """Keep the files' rows as the review's evidence (a source imported again is replaced)."""
    now = utcnow()
    with uow:
        review = load_review(uow.session, review_id, for_update=True)
        if review.status not in OPEN_PHASES:
            raise IllegalTrigger(f"review {review_id} is {review.status}; evidence is closed")
        stored = []
        for file in files:
            uow.session.execute(
                delete(EvidenceSet).where(
                    EvidenceSet.review_id == review_id, EvidenceSet.source == file.source.value
                )
            )
            uow.session.add(
                EvidenceSet(
                    review_id=review_id,
                    client_id=review.client_id,
                    source=file.source.value,
                    file_name=file.file_name,
                    sha256=file.sha256,
                    row_count=len(file.rows),
                    rows=[row.model_dump(mode="json") for row in file.rows],
                    imported_at=now,
                    imported_by=actor,
                )
            )
            stored.append(
                {"source": file.source.value, "file": file.file_name, "rows": len(file.rows)}
            )
        names = ", ".join(f"{s['file']} ({s['rows']} rows)" for s in stored)
        audit.note(uow.session, review, "evidence_imported", actor, names, now)
        uow.commit()
        return stored


def evidence_digests(session: Session, review_id: int) -> dict[Source, str]:
    """The content hash of each source a review holds."""
    rows = session.execute(
        select(EvidenceSet.source, EvidenceSet.sha256).where(EvidenceSet.review_id == review_id)
    )
    return {Source(source): sha for source, sha in rows}


def load_evidence(session: Session, review_id: int | None) -> dict[Source, list[EvidenceRow]]:
    """A review's evidence as typed rows ({} for no review)."""
    if review_id is None:
        return {}
    sets = session.scalars(select(EvidenceSet).where(EvidenceSet.review_id == review_id))
    return {
        Source(s.source): [ROW_MODELS[Source(s.source)].model_validate(r) for r in s.rows]
        for s in sets
    }


def previous_assessed_review(session: Session, review: Review) -> int | None:
    """The client's latest review before this one that was assessed."""
    return session.scalar(
        select(Review.id)
        .join(Assessment, Assessment.review_id == Review.id)
        .where(Review.client_id == review.client_id)
        .where(
            or_(
                Review.created_at < review.created_at,
                and_(Review.created_at == review.created_at, Review.id < review.id),
            )
        )
        .order_by(Review.created_at.desc(), Review.id.desc())
        .limit(1)
    )


def _digest(digests: dict[Source, str], thresholds: Thresholds, previous: int | None) -> str:
    text = repr((sorted(digests.items()), thresholds.model_dump(), previous))
    return hashlib.sha256(text.encode()).hexdigest()


def assess(uow: UnitOfWork, review_id: int, now: datetime | None = None) -> StagingResult:
    """Check the review's evidence and record findings, tickets and scores, once per evidence."""
    now = now or utcnow()
    with uow:
        session = uow.session
        client_id = session.scalar(select(Review.client_id).where(Review.id == review_id))
        # One client's assessments take turns: two reviews never open the same ticket twice.
        session.execute(
            select(Client.id).where(Client.id == client_id).with_for_update(key_share=True)
        )
        review = load_review(session, review_id, for_update=True)
        template = review_template(review)
        thresholds = template.thresholds.merged(review.client.thresholds)
        previous = previous_assessed_review(session, review)
        digests = evidence_digests(session, review_id)
        digest = _digest(digests, thresholds, previous)
        existing = session.get(Assessment, review_id)
        if not digests or (existing is not None and existing.evidence_digest == digest):
            scores = dict(existing.scores) if existing else {}
            return StagingResult(review_id, False, 0, 0, 0, [], scores)
        today = local_date(now, zone(review.client.timezone))
        findings, assessed = run_checks(
            CheckInput(
                load_evidence(session, review_id),
                load_evidence(session, previous),
                thresholds,
                today,
            )
        )
        new, opened = _record_findings(session, review, findings, previous, now)
        scores = score(findings, assessed)
        _save_assessment(session, review, scores, digest, now)
        closed = _close_check_tasks(session, review, set(digests), len(findings), now)
        summary = f"{len(findings)} findings ({new} new), {opened} tickets opened"
        audit.note(session, review, "assessed", SYSTEM_ACTOR, summary, now)
        session.flush()
        settle(session, review, template, now)
        uow.commit()
        return StagingResult(review_id, True, len(findings), new, opened, closed, scores)


def _record_findings(
    session: Session,
    review: Review,
    findings: list[Finding],
    previous: int | None,
    now: datetime,
) -> tuple[int, int]:
    """Replace the review's findings with `findings`; returns (new, tickets opened)."""
    session.execute(delete(ReviewFinding).where(ReviewFinding.review_id == review.id))
    earlier = set()
    if previous is not None:
        earlier = set(
            session.scalars(select(ReviewFinding.key).where(ReviewFinding.review_id == previous))
        )
    new = opened = 0
    for finding in findings:
        ticket = None
        if finding.disposition is Disposition.TICKET:
            ticket, created = ticket_for(session, review, finding, now)
            opened += created
        # a change check reports what is new since the last review: it never recurs as such
        recurring = finding.key in earlier and finding.check not in CHANGE_CHECKS
        new += not recurring
        session.add(
            ReviewFinding(
                review_id=review.id,
                client_id=review.client_id,
                key=finding.key,
                check=finding.check,
                category=finding.category.value,
                severity=finding.severity.value,
                title=finding.title,
                detail=finding.detail,
                disposition=finding.disposition.value,
                owner_role=finding.owner_role,
                evidence=finding.evidence,
                recurring=recurring,
                ticket=ticket,
                created_at=now,
            )
        )
    close_dropped(session, review, {f.key for f in findings}, now)
    return new, opened


def _save_assessment(
    session: Session, review: Review, scores: dict[str, int | None], digest: str, now: datetime
) -> None:
    row = session.get(Assessment, review.id)
    if row is None:
        row = Assessment(review_id=review.id, client_id=review.client_id)
        session.add(row)
    row.scores, row.evidence_digest, row.assessed_at = scores, digest, now


def _close_check_tasks(
    session: Session, review: Review, present: set[Source], findings: int, now: datetime
) -> list[str]:
    """Close the open check tasks of the current phase whose evidence was all assessed."""
    template = review_template(review)
    specs = {spec.key: spec for _, spec in template.tasks()}
    closed = []
    for task in review.tasks:
        spec = specs.get(task.key)
        if task.status != "open" or task.phase != review.status or not spec or not spec.evidence:
            continue
        if not set(spec.evidence) <= present:
            continue
        task.status, task.completed_at = "done", now
        task.note = f"checked automatically: {', '.join(spec.evidence)} ({findings} findings)"
        audit.note(session, review, "task_done", SYSTEM_ACTOR, f"{task.key}: {task.note}", now)
        closed.append(task.key)
    return closed


@dataclass(frozen=True)
class Held:
    """One source a review holds: its content hash, who imported it and when."""

    sha256: str
    imported_by: str
    imported_at: datetime


@dataclass(frozen=True)
class HeldEvidence:
    """What a review holds, and the hashes of its client's previous assessed review."""

    client: str
    held: dict[Source, Held]
    previous: dict[Source, str]


def held_evidence(uow: UnitOfWork, review_id: int) -> HeldEvidence:
    """The review's client, the evidence it holds, and what the previous review assessed."""
    with uow:
        review = load_review(uow.session, review_id)
        sets = uow.session.scalars(select(EvidenceSet).where(EvidenceSet.review_id == review_id))
        held = {Source(s.source): Held(s.sha256, s.imported_by, s.imported_at) for s in sets}
        previous = previous_assessed_review(uow.session, review)
        earlier = evidence_digests(uow.session, previous) if previous is not None else {}
        return HeldEvidence(review.client.name, held, earlier)
