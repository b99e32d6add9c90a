"""A follow-up ticket raised as staging raises one, for the tests that mirror tickets."""

from __future__ import annotations

from collections.abc import Callable

from states.staging.assessment import Category, Disposition, Finding, Severity
from states.staging.tickets import ticket_for
from states.store.db import UnitOfWork
from states.store.models import Review, utcnow


def raise_follow_up(
    uow: Callable[[], UnitOfWork], review_id: int, title: str, severity: Severity = Severity.RED
) -> int:
    """The review's finding `title` (a backup check's) becomes a follow-up ticket; its id."""
    finding = Finding(f"{title.lower()}.found", "backup_jobs", Category.BACKUP, severity, title,
                      Disposition.TICKET, f"{title}: found by the test")  # fmt: skip
    with uow() as work:
        review = work.session.get(Review, review_id)
        assert review is not None
        ticket_id = ticket_for(work.session, review, finding, utcnow())[0].id
        work.commit()
        return ticket_id
