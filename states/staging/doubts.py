"""Doubts about a review's exports: one that lost its data, one of last quarter, one the store
cannot read back.

An export with no rows, or with fewer than half the subjects (devices, jobs, accounts ...) of the
client's previous review's export of that source, is suspect; one whose own dates all lie more
than XBR_EVIDENCE_STALE_DAYS before staging began is stale. Both are still assessed, but their
check tasks stay open with a note saying why, so that the staging gate names them until a person
ticks them. A stored set that no longer reads back is reported and left out, never a review stuck.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from states.calendar.business_days import local_date, zone
from states.lifecycle.decisions import load_review
from states.staging.evidence import (
    ROW_MODELS,
    SUBJECTS,
    TAKEN_ON,
    EvidenceRow,
    Source,
    subject_of,
)
from states.store.db import UnitOfWork
from states.store.models import Assessment, AuditEntry, EvidenceSet, Review, utcnow

STAGING = "staging"
_SHAPES = {frozenset(model.model_fields): source for source, model in ROW_MODELS.items()}


@dataclass(frozen=True)
class Doubt:
    """Why one source's export is not taken as this quarter's without a person's look."""

    source: Source
    kind: str  # suspect, stale or unreadable
    reason: str

    @property
    def mark(self) -> str:
        """As `xbr evidence list` shows it."""
        return f"{self.kind}: {self.reason}"


@dataclass(frozen=True)
class ReadBack:
    """A review's evidence as typed rows, its files' names, and the sets left out."""

    rows: dict[Source, list[EvidenceRow]]
    files: dict[Source, str]
    unreadable: list[Doubt]


def read_back(session: Session, review_id: int | None) -> ReadBack:
    """A review's evidence, each set read on its own: one stored before xbr refused numbers that
    JSON cannot hold, or that no longer validates, is left out and named, not fatal."""
    if review_id is None:
        return ReadBack({}, {}, [])
    sets = session.execute(
        select(EvidenceSet.id, EvidenceSet.source, EvidenceSet.file_name)
        .where(EvidenceSet.review_id == review_id)
        .order_by(EvidenceSet.source)
    ).all()
    rows, files, unreadable = {}, {}, []
    for set_id, name, file_name in sets:
        source = Source(name)
        files[source] = file_name
        try:
            stored = session.scalar(select(EvidenceSet.rows).where(EvidenceSet.id == set_id))
            rows[source] = _typed(source, stored or [])
        except (ValueError, TypeError, ValidationError) as error:
            reason = str(error).strip().splitlines()[0][:80] if str(error).strip() else "invalid"
            unreadable.append(Doubt(source, "unreadable", f"{file_name} ({reason})"))
    return ReadBack(rows, files, unreadable)


def _typed(source: Source, stored: list[dict[str, Any]]) -> list[EvidenceRow]:
    model = ROW_MODELS[source]
    stored.reverse()  # taken from the end: each stored dict is freed once it is a row
    typed = []
    while stored:
        typed.append(model.model_validate(stored.pop()))
    return typed


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


def evidence_held(
    uow: UnitOfWork, review_id: int, stale_days: int, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The evidence a review holds, by source (without the rows), each with its doubts: what
    `xbr evidence list` shows. A set that cannot be read back is listed as unreadable."""
    with uow:
        session = uow.session
        review = load_review(session, review_id)
        sets = stored_sets(session, review_id)
        evidence = read_back(session, review_id)
        before = read_back(session, previous_assessed_review(session, review))
        day, _ = staging_day(session, review, now or utcnow())
        found = doubts(evidence, before, day, stale_days)
        for doubt in evidence.unreadable:
            found.setdefault(doubt.source, []).append(doubt)
        return [
            {**held, "doubts": [d.mark for d in found.get(Source(held["source"]), [])]}
            for held in sets
        ]


def stored_sets(session: Session, review_id: int) -> list[dict[str, Any]]:
    """The evidence sets a review holds, by source: file, row count, hash, who imported it and
    when. The columns, not the rows: a set that no longer reads back still lists."""
    sets = session.execute(
        select(
            EvidenceSet.source,
            EvidenceSet.file_name,
            EvidenceSet.row_count,
            EvidenceSet.sha256,
            EvidenceSet.imported_at,
            EvidenceSet.imported_by,
        )
        .where(EvidenceSet.review_id == review_id)
        .order_by(EvidenceSet.source)
    )
    return [
        {
            "source": source,
            "file": file_name,
            "rows": rows,
            "sha256": sha256,
            "imported_at": imported_at.isoformat(),
            "imported_by": imported_by,
        }
        for source, file_name, rows, sha256, imported_at, imported_by in sets
    ]


def unreadable_line(review_id: int, doubt: Doubt) -> str:
    """One line naming the review and the source of a set that cannot be read back."""
    return (
        f"review {review_id}: the stored {doubt.source} evidence {doubt.reason} cannot be read "
        f"back and is left out; import the export again (`xbr evidence import {review_id} FILE`)"
    )


def staging_began(session: Session, review: Review) -> datetime | None:
    """When the review last entered staging: its phase's start, else the audit row of the move;
    None before it ever did."""
    if review.status == STAGING:
        return review.phase_entered_at
    return session.scalar(
        select(func.max(AuditEntry.at)).where(
            AuditEntry.review_id == review.id,
            AuditEntry.to_state == STAGING,
            AuditEntry.from_state != STAGING,
        )
    )


def staging_day(session: Session, review: Review, now: datetime) -> tuple[date, bool]:
    """The day exports are judged against, in the client's time zone: the day staging began
    (never after `now`), else today; and whether staging has begun."""
    began = staging_began(session, review)
    moment = min(began, now) if began is not None else now
    return local_date(moment, zone(review.client.timezone)), began is not None


def subjects(source: Source, rows: Sequence[EvidenceRow]) -> set[str]:
    """The distinct subjects of an export's rows."""
    return {subject_of(source, row) for row in rows}


def doubts(
    evidence: ReadBack, previous: ReadBack, day: date, stale_days: int
) -> dict[Source, list[Doubt]]:
    """What is doubtful about each readable export (sources without doubt are left out)."""
    found: dict[Source, list[Doubt]] = {}
    for source, rows in evidence.rows.items():
        name = evidence.files[source]
        own = [*_suspect(source, name, rows, previous.rows.get(source))]
        own += _stale(source, name, rows, day, stale_days)
        if own:
            found[source] = own
    return found


def _suspect(
    source: Source, name: str, rows: list[EvidenceRow], before: list[EvidenceRow] | None
) -> list[Doubt]:
    if not rows:
        return [Doubt(source, "suspect", f"{name} has no rows")]
    if not before:
        return []
    now, then = len(subjects(source, rows)), len(subjects(source, before))
    if 2 * now >= then:
        return []
    noun = SUBJECTS[source].replace("_", " ")
    reason = f"{name} lists {now} {noun}s, fewer than half the {then} of the previous review's"
    return [Doubt(source, "suspect", reason)]


def _stale(
    source: Source, name: str, rows: list[EvidenceRow], day: date, stale_days: int
) -> list[Doubt]:
    columns = TAKEN_ON.get(source, ())
    dates = [d for row in rows for c in columns if isinstance(d := getattr(row, c), date)]
    if not dates or max(dates) >= day - timedelta(days=stale_days):
        return []
    reason = (
        f"{name}'s newest {' or '.join(columns)} is {max(dates)}, more than {stale_days} days "
        f"before staging began on {day}"
    )
    return [Doubt(source, "stale", reason)]


def shown_again(rows: Sequence[Mapping[str, Any]], evidence: Mapping[Source, list[Any]]) -> bool:
    """Whether every subject of a finding's rows is in the new evidence of its source: a ticket
    closes only on an export that shows its devices (jobs, accounts ...) again and healthy."""
    seen: dict[Source, set[str]] = {}
    for row in rows:
        source = _SHAPES.get(frozenset(row))
        if source is None:
            continue  # not a row of any export: nothing to look for
        if source not in evidence:
            return False
        if source not in seen:
            seen[source] = subjects(source, evidence[source])
        if subject_of(source, dict(row)) not in seen[source]:
            return False
    return True
