"""The audit trail: every row of it is written here, inside the transaction of the change it
records, with the way its actor was known (the unit of work's `via`). The database refuses to
update or delete one (see the first migration)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from states.store.models import AuditEntry, Initiative, Review, utcnow

SYSTEM_ACTOR = "xbr"  # what xbr does by itself: passing empty phases, staging, proposing


def record(
    session: Session,
    review_id: int | None,
    source: str | None,
    dest: str | None,
    trigger: str,
    actor: str,
    comment: str = "",
    now: datetime | None = None,
    initiative_id: int | None = None,
) -> None:
    """One audit row: who did what (`trigger`), moving the review (or the initiative) from
    `source` to `dest`."""
    session.add(
        AuditEntry(
            review_id=review_id,
            initiative_id=initiative_id,
            at=now or utcnow(),
            from_state=source,
            to_state=dest,
            trigger=trigger,
            actor=actor,
            comment=comment,
            via=session.info.get("via", ""),
        )
    )


def note(
    session: Session,
    review: Review,
    trigger: str,
    actor: str,
    comment: str = "",
    now: datetime | None = None,
) -> None:
    """One audit row about the review that leaves it where it is (a task done, a refusal)."""
    record(session, review.id, review.status, review.status, trigger, actor, comment, now)


def initiative_step(
    session: Session,
    initiative: Initiative,
    before: str | None,
    after: str,
    trigger: str,
    actor: str,
    comment: str = "",
    now: datetime | None = None,
) -> None:
    """One audit row of an initiative's step (`initiative_<trigger>`), from status `before` to
    `after`, naming the initiative in its comment."""
    text = f"initiative {initiative.id} ({initiative.title})" + (f": {comment}" if comment else "")
    record(session, None, before, after, f"initiative_{trigger}", actor, text, now, initiative.id)


DIRECTORY = "directory_"  # the trigger's prefix of a change to people, roles or clients


def directory_change(session: Session, trigger: str, comment: str) -> None:
    """One row of the directory's trail (`directory_<trigger>`): a person, their roles, a client
    or its settings changed, by the unit of work's actor (xbr itself when it names none)."""
    actor = session.info.get("actor") or SYSTEM_ACTOR
    record(session, None, None, None, f"{DIRECTORY}{trigger}", actor, comment[:2000])
