"""Staging's record: the evidence a review read, and its assessment written once per evidence.

`store_evidence` keeps validated rows per review and source (all files or none). `assess` runs
the checks and, in one transaction under the client's lock, writes the findings (new or
recurring against the client's previous review), one follow-up ticket per open anomaly (exported
through the outbox), the scorecard, and closes the check tasks whose evidence it assessed, unless
that evidence is in doubt (`states.staging.doubts`). Running it again on the same evidence
changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, Text, cast, delete, insert, literal, select
from sqlalchemy.orm import Session

from states.calendar.business_days import local_date, zone
from states.errors import IllegalTrigger
from states.lifecycle import audit
from states.lifecycle.decisions import load_review
from states.lifecycle.machine import OPEN_PHASES
from states.lifecycle.schedule import review_template
from states.lifecycle.steps import SYSTEM_ACTOR, settle
from states.psa import mirroring
from states.settings import Settings
from states.staging.assessment import Disposition, Finding, Thresholds, score
from states.staging.checks.registry import (
    CHANGE_CHECKS,
    CheckInput,
    checks_that_run,
    run_checks,
)
from states.staging.doubts import (
    Doubt,
    ReadBack,
    doubts,
    previous_assessed_review,
    read_back,
    shown_again,
    staging_day,
    unreadable_line,
)
from states.staging.evidence import Rows, Source
from states.staging.tickets import close_dropped, ticket_for
from states.store.db import UnitOfWork
from states.store.models import (
    Assessment,
    Client,
    EvidenceSet,
    FollowUpTicket,
    Review,
    ReviewFinding,
    utcnow,
)

STALE_DAYS: int = Settings.model_fields["evidence_stale_days"].default
LOOK = "Look at the export and import a corrected one, or tick this task if it is right."


@dataclass(frozen=True)
class ImportedFile:
    """One validated export, ready to store."""

    source: Source
    file_name: str
    sha256: str
    rows: Rows


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
    # per source, why its export is in doubt ("suspect: ...", "stale: ...", "unreadable: ...")
    doubts: dict[str, list[str]] = field(default_factory=dict)
    # one line each for a person: sets left out, exports kept from closing their check tasks
    notes: list[str] = field(default_factory=list)


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
            uow.session.execute(
                insert(EvidenceSet).values(
                    review_id=review_id,
                    client_id=review.client_id,
                    source=file.source.value,
                    file_name=file.file_name,
                    sha256=file.sha256,
                    row_count=len(file.rows),
                    rows=_stored_json(uow.session, file.rows.json()),
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


def _stored_json(session: Session, text: str) -> ColumnElement[Any]:
    """Rows already JSON, as the value of the JSON column: bound as text (given as a list of
    dicts, they would be built and encoded once more, three times the memory of the file),
    cast to JSON where the database has that type."""
    value = literal(text, Text())
    return cast(value, JSON) if session.get_bind().dialect.name == "postgresql" else value


def evidence_digests(session: Session, review_id: int) -> dict[Source, str]:
    """The content hash of each source a review holds."""
    rows = session.execute(
        select(EvidenceSet.source, EvidenceSet.sha256).where(EvidenceSet.review_id == review_id)
    )
    return {Source(source): sha for source, sha in rows}


def _digest(
    digests: dict[Source, str], thresholds: Thresholds, previous: int | None, judged: Any
) -> str:
    text = repr((sorted(digests.items()), thresholds.model_dump(), previous, judged))
    return hashlib.sha256(text.encode()).hexdigest()


def assess(
    uow: UnitOfWork,
    review_id: int,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> StagingResult:
    """Check the review's evidence and record findings, tickets and scores, once per evidence;
    an export in doubt is assessed, but its check task stays open saying why."""
    now = now or utcnow()
    stale_days = settings.evidence_stale_days if settings else STALE_DAYS
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
        day, began = staging_day(session, review, now)
        # exports are judged again once staging begins: before, against the day they came
        digest = _digest(digests, thresholds, previous, (began and day, stale_days))
        existing = session.get(Assessment, review_id)
        if not digests or (existing is not None and existing.evidence_digest == digest):
            scores = dict(existing.scores) if existing else {}
            return StagingResult(review_id, False, 0, 0, 0, [], scores)
        evidence, before = read_back(session, review_id), read_back(session, previous)
        doubted = doubts(evidence, before, day, stale_days)
        today = local_date(now, zone(review.client.timezone))
        findings, assessed = run_checks(CheckInput(evidence.rows, before.rows, thresholds, today))
        new, opened = _record_findings(session, review, findings, previous, evidence, now)
        scores = score(findings, assessed)
        ran = [check.name for check in checks_that_run(evidence.rows)]
        _save_assessment(session, review, scores, ran, digest, now)
        sound = set(evidence.rows) - set(doubted)
        closed = _close_check_tasks(session, review, sound, len(findings), now)
        for doubt in evidence.unreadable:
            doubted.setdefault(doubt.source, []).append(doubt)
        notes = _hold_doubted(session, review, doubted, now)
        summary = f"{len(findings)} findings ({new} new), {opened} tickets opened"
        audit.note(session, review, "assessed", SYSTEM_ACTOR, summary, now)
        session.flush()
        settle(session, review, template, now)
        uow.commit()
        marks = {source.value: [d.mark for d in found] for source, found in doubted.items()}
        counts = (len(findings), new, opened)
        return StagingResult(review_id, True, *counts, closed, scores, marks, notes)


def _record_findings(
    session: Session,
    review: Review,
    findings: list[Finding],
    previous: int | None,
    evidence: ReadBack,
    now: datetime,
) -> tuple[int, int]:
    """Replace the review's findings with `findings`; returns (new, tickets opened)."""
    keys = {finding.key for finding in findings}
    held = _held_open(session, review, keys, evidence)
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
    close_dropped(session, review, keys | held, now)
    return new, opened


def _held_open(session: Session, review: Review, keys: set[str], evidence: ReadBack) -> set[str]:
    """The anomalies of this review's open tickets that the findings no longer show, but whose
    devices (jobs, accounts ...) the new evidence does not show again: their tickets stay open,
    since an export that lost its rows proves nothing fixed."""
    raised = session.execute(
        select(ReviewFinding.key, ReviewFinding.evidence)
        .join(FollowUpTicket, FollowUpTicket.id == ReviewFinding.ticket_id)
        .where(ReviewFinding.review_id == review.id, FollowUpTicket.review_id == review.id)
        .where(FollowUpTicket.status == "open")
    )
    return {key for key, rows in raised if key not in keys and not shown_again(rows, evidence.rows)}


def _hold_doubted(
    session: Session, review: Review, doubted: dict[Source, list[Doubt]], now: datetime
) -> list[str]:
    """Keep open, or open again if xbr closed them, the current phase's check tasks of the
    exports in doubt, each with a note saying why; returns one line per doubt for people."""
    specs = {spec.key: spec for _, spec in review_template(review).tasks()}
    for task in review.tasks:
        spec = specs.get(task.key)
        if task.phase != review.status or not spec or not spec.evidence:
            continue
        reasons = [d.mark for s in spec.evidence for d in doubted.get(Source(s), [])]
        note = f"not closed: {'; '.join(reasons)}. {LOOK}"
        closed_by_xbr = task.completed_by_id is None and task.status == "done"
        if not reasons or not (task.status == "open" or closed_by_xbr) or task.note == note:
            continue
        task.status, task.completed_at, task.note = "open", None, note
        audit.note(session, review, "task_held", SYSTEM_ACTOR, f"{task.key}: {task.note}", now)
    lines = [
        unreadable_line(review.id, d) if d.kind == "unreadable" else f"review {review.id}: {d.mark}"
        for found in doubted.values()
        for d in found
    ]
    if lines:
        audit.note(session, review, "evidence_doubted", SYSTEM_ACTOR, " | ".join(lines), now)
    return lines


def _save_assessment(
    session: Session,
    review: Review,
    scores: dict[str, int | None],
    checks: list[str],
    digest: str,
    now: datetime,
) -> None:
    row = session.get(Assessment, review.id)
    if row is None:
        row = Assessment(review_id=review.id, client_id=review.client_id)
        session.add(row)
    row.scores, row.checks, row.evidence_digest, row.assessed_at = scores, checks, digest, now


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
        mirroring.task_closed(session, review, task.id, task.status)
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
        sets = uow.session.execute(
            select(
                EvidenceSet.source,
                EvidenceSet.sha256,
                EvidenceSet.imported_by,
                EvidenceSet.imported_at,
            ).where(EvidenceSet.review_id == review_id)
        )
        held = {Source(source): Held(*rest) for source, *rest in sets}
        previous = previous_assessed_review(uow.session, review)
        earlier = evidence_digests(uow.session, previous) if previous is not None else {}
        return HeldEvidence(review.client.name, held, earlier)
