"""The directory's trail: who added or changed a person, their roles, a client or its
settings, when and how they were known, newest first."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from states.lifecycle.audit import DIRECTORY
from states.store.db import UnitOfWork
from states.store.models import AuditEntry

MOST = 500  # changes shown at once: a screenful for a person, enough for a script's window


@dataclass(frozen=True)
class DirectoryChange:
    """One change to the directory as its audit row has it."""

    id: int
    at: str
    change: str  # e.g. "roles_set", the trigger without its prefix
    what: str
    actor: str
    via: str

    def data(self) -> dict[str, Any]:
        return asdict(self)


def directory_changes(uow: UnitOfWork, limit: int = 50) -> list[DirectoryChange]:
    """The newest `limit` changes to the directory (at most MOST)."""
    with uow.reading():
        rows = uow.session.execute(
            select(
                AuditEntry.id,
                AuditEntry.at,
                AuditEntry.trigger,
                AuditEntry.comment,
                AuditEntry.actor,
                AuditEntry.via,
            )
            .where(AuditEntry.trigger.startswith(DIRECTORY, autoescape=True))
            .order_by(AuditEntry.id.desc())
            .limit(max(1, min(limit, MOST)))
        ).all()
    return [
        DirectoryChange(
            row.id,
            row.at.isoformat(timespec="seconds"),
            row.trigger.removeprefix(DIRECTORY),
            row.comment,
            row.actor,
            row.via,
        )
        for row in rows
    ]
